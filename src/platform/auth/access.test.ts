/**
 * Access per app and protected environments, attacked through the HTTP API like any client: a
 * member of one app probing another, a viewer reaching for credentials, a developer's migration
 * aimed at production (checked on production's own database), a developer at production's Neon
 * settings, tokens revoked, expired, out of scope, or of a removed user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eq } from 'drizzle-orm';
import pg from 'pg';
import { apiTokens } from '../store/schema.ts';
import { startTestPlatform, type TestPlatform } from '../test-support.ts';

let t: TestPlatform;

const SHOP = 'app: shop\ndatabases:\n  - name: main\nservices:\n  - name: api\n    databases: [main]\n';
const SHOP_MIGRATIONS = { main: [{ file: '1_users.up.sql', sql: 'CREATE TABLE users (id serial PRIMARY KEY, email text);' }] };
const BANK = 'app: bank\ndatabases:\n  - name: ledger\nservices:\n  - name: teller\n    databases: [ledger]\n';

interface Person {
  name: string;
  password: string;
  cookie: string;
  token: string;
}
const people: Record<string, Person> = {};

/** Calls the API with a session cookie or a token (test-support's `call` is the instance admin's). */
async function as(who: { cookie?: string; token?: string }, method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (who.token) headers.authorization = `Bearer ${who.token}`;
  else if (who.cookie) headers.cookie = who.cookie;
  const response = await fetch(`${t.platform.url}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, text };
}

async function logIn(name: string, password: string): Promise<string> {
  const response = await fetch(`${t.platform.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) });
  assert.equal(response.status, 200, `${name} logs in`);
  return (response.headers.get('set-cookie') ?? '').split(';')[0];
}

/** A user with a session and a token of their own (instance scope, capped by their memberships). */
async function person(name: string, memberships: Record<string, 'viewer' | 'developer' | 'admin'>): Promise<Person> {
  const added = await t.call('POST', '/team', { name, role: 'member' });
  assert.equal(added.status, 201);
  for (const [app, role] of Object.entries(memberships)) assert.equal((await t.call('PUT', `/apps/${app}/members/${name}`, { role })).status, 200);
  const cookie = await logIn(name, added.body.user.password);
  const token = await as({ cookie }, 'POST', '/tokens', { name: `${name}-ci`, role: 'developer' });
  assert.equal(token.status, 201, token.text);
  return (people[name] = { name, password: added.body.user.password, cookie, token: token.body.token });
}

async function tables(uri: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    return (await client.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.tablename);
  } finally {
    await client.end();
  }
}

/** What is on an environment's database, seen by connecting to it (as the instance admin). */
async function tablesOf(app: string, env: string, role: string): Promise<string[]> {
  const revealed = await t.call('POST', `/apps/${app}/environments/${env}/users/${role}/reveal`);
  assert.equal(revealed.status, 200, JSON.stringify(revealed.body));
  return tables(revealed.body.user.connectionUri);
}

before(async () => {
  t = await startTestPlatform();
  // The engine listens on plain http on loopback (said explicitly where the platform asks for it).
  let account = await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale' });
  if (account.status === 400) account = await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  assert.equal(account.status, 201, JSON.stringify(account.body));
  assert.equal((await t.call('POST', '/apps', { model: SHOP, migrations: SHOP_MIGRATIONS })).status, 201);
  assert.equal((await t.call('POST', '/apps', { model: BANK })).status, 201);
  assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'prod', type: 'production', account: 'engine', mode: 'new-project' })).status, 201);
  assert.equal((await t.call('POST', '/apps/bank/environments', { name: 'prod', type: 'production', account: 'engine', mode: 'new-project' })).status, 201);
  await t.waitFor('shop', 'prod', 'ready');
  assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'dev', mode: 'branch-environment', parentEnvironment: 'prod' })).status, 201);
  await t.waitFor('bank', 'prod', 'ready');
  await t.waitFor('shop', 'dev', 'ready');
  await person('dev1', { shop: 'developer' });
  await person('view1', { shop: 'viewer' });
  await person('outsider', {});
});
after(() => t.close());

describe('access per app', () => {
  test('a member of app shop cannot see, list or read app bank: 404, as for an app that does not exist', async () => {
    const dev = people.dev1;
    for (const who of [{ cookie: dev.cookie }, { token: dev.token }]) {
      const apps = await as(who, 'GET', '/apps');
      assert.deepEqual(apps.body.apps.map((a: { name: string; role: string }) => `${a.name}:${a.role}`), ['shop:developer']);
      for (const [method, path, body] of [
        ['GET', '/apps/bank'],
        ['GET', '/apps/bank/environments'],
        ['GET', '/apps/bank/environments/prod'],
        ['GET', '/apps/bank/environments/prod/users'],
        ['GET', '/apps/bank/members'],
        ['GET', '/apps/bank/changes'],
        ['GET', '/apps/bank/previews'],
        ['PATCH', '/apps/bank', { model: BANK }],
        ['PATCH', '/apps/bank/environments/prod/neon', { historyRetentionSeconds: 0 }],
        ['POST', '/apps/bank/environments/prod/users/teller/reveal'],
        ['POST', '/apps/bank/environments', { name: 'x', account: 'engine', mode: 'new-project' }],
        ['DELETE', '/apps/bank/environments/prod?confirm=prod'],
      ] as [string, string, unknown?][]) {
        const probe = await as(who, method, path, body);
        const nowhere = await as(who, method, path.replace('/apps/bank', '/apps/nowhere'), body);
        assert.equal(probe.status, 404, `${method} ${path}: ${probe.text}`);
        assert.equal(nowhere.status, 404);
        assert.equal(probe.body.error.code, nowhere.body.error.code);
        assert.equal(probe.body.error.message.replace('bank', 'nowhere'), nowhere.body.error.message, 'the same answer as for no app');
        assert.ok(!probe.text.includes('teller') && !probe.text.includes('ledger'), 'nothing of bank in the error');
      }
    }
    // The outsider belongs to no app: sees none.
    assert.deepEqual((await as({ cookie: people.outsider.cookie }, 'GET', '/apps')).body.apps, []);
    assert.equal((await as({ cookie: people.outsider.cookie }, 'GET', '/apps/shop')).status, 404);
  });

  test("lists reveal nothing of other apps: Neon projects, audit", async () => {
    const bank = (await t.call('GET', '/apps/bank/environments/prod')).body.environment;
    const shop = (await t.call('GET', '/apps/shop/environments/prod')).body.environment;
    const all = (await t.call('GET', '/accounts/engine/projects')).body.projects;
    assert.ok(all.some((p: { id: string }) => p.id === bank.neon.projectId), 'the instance admin sees every project');
    const seen = await as({ token: people.dev1.token }, 'GET', '/accounts/engine/projects');
    assert.equal(seen.status, 200);
    assert.ok(!seen.text.includes(bank.neon.projectId) && !seen.text.includes(bank.neon.branchId), 'bank\'s project and branch are not listed');
    assert.ok(seen.text.includes(shop.neon.projectId), 'shop\'s project is');
    assert.ok(!(await as({ token: people.outsider.token }, 'GET', '/accounts/engine/projects')).text.includes(shop.neon.projectId));

    // Audit: an app admin sees their app's entries only; a developer sees none.
    await t.call('PUT', '/apps/shop/members/dev1', { role: 'admin' });
    const entries = (await as({ cookie: people.dev1.cookie }, 'GET', '/audit')).body.entries as { target: string }[];
    assert.ok(entries.length > 0 && entries.every((e) => e.target.split('/')[0] === 'shop'), JSON.stringify(entries));
    await t.call('PUT', '/apps/shop/members/dev1', { role: 'developer' });
    assert.deepEqual((await as({ cookie: people.dev1.cookie }, 'GET', '/audit')).body.entries, []);
  });

  test('a viewer reads status but reveals no credentials and creates no environment', async () => {
    const viewer = { cookie: people.view1.cookie };
    assert.equal((await as(viewer, 'GET', '/apps/shop/environments/dev')).body.environment.status, 'ready');
    const users = await as(viewer, 'GET', '/apps/shop/environments/dev/users');
    assert.equal(users.status, 200);
    assert.ok(!users.text.includes('password"'), 'no passwords in the list');
    for (const env of ['dev', 'prod']) {
      const reveal = await as(viewer, 'POST', `/apps/shop/environments/${env}/users/svc_api/reveal`);
      assert.equal(reveal.status, 403, reveal.text);
      assert.equal((await as(viewer, 'POST', `/apps/shop/environments/${env}/users/rotate`, {})).status, 403);
    }
    const create = await as(viewer, 'POST', '/apps/shop/environments', { name: 'mine', account: 'engine', mode: 'new-project' });
    assert.equal(create.status, 403);
    assert.match(create.body.error.message, /developer/);
    assert.equal((await as(viewer, 'PATCH', '/apps/shop', { model: SHOP })).status, 403);
    assert.equal((await as(viewer, 'PUT', '/apps/shop/previews/3', {})).status, 403);
    assert.equal((await as(viewer, 'DELETE', '/apps/shop/environments/dev?confirm=dev')).status, 403);
    // Its own token is no more than a viewer either (capped by the creator's role).
    assert.equal((await as({ token: people.view1.token }, 'POST', '/apps/shop/environments/dev/users/svc_api/reveal')).status, 403);
    const names = (await t.call('GET', '/audit')).body.entries.filter((e: { action: string }) => e.action === 'credentials.reveal').map((e: { actor: string }) => e.actor);
    assert.ok(!names.includes('view1'));
  });

  test('membership: only app admins manage members; a developer cannot raise itself', async () => {
    const dev = { cookie: people.dev1.cookie };
    assert.equal((await as(dev, 'PUT', '/apps/shop/members/dev1', { role: 'admin' })).status, 403);
    assert.equal((await as(dev, 'PUT', '/apps/shop/members/outsider', { role: 'viewer' })).status, 403);
    assert.equal((await as(dev, 'DELETE', '/apps/shop/members/view1')).status, 403);
    const members = (await as(dev, 'GET', '/apps/shop/members')).body.members.map((m: { name: string; role: string }) => `${m.name}:${m.role}`);
    assert.deepEqual(members, ['admin:admin', 'dev1:developer', 'view1:viewer'], 'the creator of the app is its admin');
    // A token cannot be made above its creator's role.
    assert.equal((await as(dev, 'POST', '/tokens', { name: 'sneaky', role: 'admin', app: 'shop' })).status, 403);
    assert.equal((await as(dev, 'POST', '/tokens', { name: 'sneaky', role: 'admin' })).status, 403);
    assert.equal((await as(dev, 'POST', '/tokens', { name: 'sneaky', role: 'viewer', app: 'bank' })).status, 404);
  });

  test('creating an app makes its creator its admin; nobody else sees it', async () => {
    const outsider = { cookie: people.outsider.cookie };
    const created = await as(outsider, 'POST', '/apps', { model: 'app: side\ndatabases:\n  - name: main\nservices: []\n' });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.app.role, 'admin');
    assert.deepEqual((await as(outsider, 'GET', '/apps/side/members')).body.members.map((m: { name: string; role: string }) => `${m.name}:${m.role}`), ['outsider:admin']);
    assert.equal((await as({ cookie: people.dev1.cookie }, 'GET', '/apps/side')).status, 404);
    assert.equal((await as(outsider, 'PUT', '/apps/side/members/view1', { role: 'viewer' })).status, 200);
    assert.equal((await as({ cookie: people.view1.cookie }, 'GET', '/apps/side')).status, 200);
    // The name of an app one cannot see is only "taken".
    const again = await as({ cookie: people.dev1.cookie }, 'POST', '/apps', { model: 'app: side\ndatabases: []\nservices: []\n' });
    assert.equal(again.status, 409);
    assert.doesNotMatch(again.body.error.message, /outsider|PATCH/);
  });
});

describe('protected environments', () => {
  test('production is protected by default; a developer cannot change its Neon settings, delete it, or read its credentials', async () => {
    const dev = { cookie: people.dev1.cookie };
    const prod = (await as(dev, 'GET', '/apps/shop/environments/prod')).body.environment;
    assert.equal(prod.protected, true);
    assert.equal((await as(dev, 'GET', '/apps/shop/environments/dev')).body.environment.protected, false);
    const before = t.engine.engine.project(prod.neon.projectId).history_retention_seconds;
    const erase = await as(dev, 'PATCH', '/apps/shop/environments/prod/neon', { historyRetentionSeconds: 0 });
    assert.equal(erase.status, 403, erase.text);
    assert.match(erase.body.error.message, /protected/);
    assert.equal((await as(dev, 'DELETE', '/apps/shop/environments/prod?confirm=prod')).status, 403);
    assert.equal((await as(dev, 'POST', '/apps/shop/environments/prod/users/svc_api/reveal')).status, 403);
    assert.equal((await as(dev, 'POST', '/apps/shop/environments/prod/users/rotate', {})).status, 403);
    assert.equal((await as(dev, 'PATCH', '/apps/shop/environments/prod', { protected: false })).status, 403);
    assert.equal((await as(dev, 'POST', '/apps/shop/environments', { name: 'prod2', type: 'production', account: 'engine', mode: 'new-project' })).status, 403);
    assert.equal((await as(dev, 'POST', '/apps/shop/environments', { name: 'copy', mode: 'branch-environment', parentEnvironment: 'prod' })).status, 403, 'no copy of production data');
    assert.equal((await as(dev, 'PATCH', '/apps/shop/previews', { parentEnvironment: 'prod' })).status, 403);
    const still = (await t.call('GET', '/apps/shop/environments/prod')).body.environment;
    assert.equal(still.status, 'ready');
    assert.equal(t.engine.engine.project(prod.neon.projectId).history_retention_seconds, before, 'retention untouched on Neon');
    // On the unprotected environment, the developer may change settings (revealing is still an admin's: below).
    assert.equal((await as(dev, 'PATCH', '/apps/shop/environments/dev/neon', { suspendTimeoutSeconds: 600 })).status, 200);
    await t.waitFor('shop', 'dev', 'ready');
  });

  test("a developer's migration reaches dev at once and production only when an app admin approves it", async () => {
    const dev = { token: people.dev1.token };
    const migrations = { main: [...SHOP_MIGRATIONS.main, { file: '2_cards.up.sql', sql: 'CREATE TABLE cards (id serial PRIMARY KEY);' }] };
    const prodBefore = (await t.call('GET', '/apps/shop/environments/prod')).body.environment;
    const patched = await as(dev, 'PATCH', '/apps/shop', { model: SHOP, migrations });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.pending.status, 'pending');
    const id = patched.body.pending.id;
    await t.waitFor('shop', 'dev', 'ready');
    assert.deepEqual(await tablesOf('shop', 'dev', 'db_main_admin'), ['cards', 'schema_migrations', 'users']);
    const prod = (await t.call('GET', '/apps/shop/environments/prod')).body.environment;
    assert.equal(prod.generation, prodBefore.generation, 'production was not asked to change');
    assert.deepEqual(await tablesOf('shop', 'prod', 'db_main_admin'), ['schema_migrations', 'users'], 'the migration did not run on production');

    const changes = (await as(dev, 'GET', '/apps/shop/changes')).body.changes;
    assert.equal(changes[0].id, id);
    assert.deepEqual(changes[0].migrations.main, ['1_users.up.sql', '2_cards.up.sql']);
    assert.equal((await as(dev, 'POST', `/apps/shop/changes/${id}/approve`)).status, 403, 'a developer cannot approve');
    assert.equal((await as({ cookie: people.view1.cookie }, 'POST', `/apps/shop/changes/${id}/approve`)).status, 403);

    const approved = await t.call('POST', `/apps/shop/changes/${id}/approve`);
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.change.status, 'approved');
    await t.waitFor('shop', 'prod', 'ready');
    assert.deepEqual(await tablesOf('shop', 'prod', 'db_main_admin'), ['cards', 'schema_migrations', 'users']);
    assert.equal((await t.call('POST', `/apps/shop/changes/${id}/approve`)).status, 409, 'decided once');
    const audit = (await t.call('GET', '/audit')).body.entries;
    assert.ok(audit.some((e: { action: string; actor: string }) => e.action === 'app.change.approve' && e.actor === 'admin'));
    assert.ok(audit.some((e: { action: string; actor: string }) => e.action === 'app.update.pending' && e.actor === 'token:dev1-ci'));
  });

  test('a rejected change never reaches production; a new service of a pending model has no role there', async () => {
    const dev = { cookie: people.dev1.cookie };
    const model = SHOP + '  - name: payouts\n    databases: [main]\n';
    const migrations = { main: [...SHOP_MIGRATIONS.main, { file: '2_cards.up.sql', sql: 'CREATE TABLE cards (id serial PRIMARY KEY);' }, { file: '3_dump.up.sql', sql: 'CREATE TABLE dump AS SELECT * FROM users;' }] };
    const patched = await as(dev, 'PATCH', '/apps/shop', { model, migrations });
    const id = patched.body.pending.id;
    await t.waitFor('shop', 'dev', 'ready');
    assert.ok((await tablesOf('shop', 'dev', 'db_main_admin')).includes('dump'));
    const prodUsers = (await t.call('GET', '/apps/shop/environments/prod/users')).body.users.map((u: { username: string }) => u.username);
    assert.ok(!prodUsers.includes('svc_payouts'), 'production lists the roles of its approved model');
    const rejected = await t.call('POST', `/apps/shop/changes/${id}/reject`);
    assert.equal(rejected.body.change.status, 'rejected');
    const prod = await t.waitFor('shop', 'prod', 'ready');
    assert.deepEqual(await tablesOf('shop', 'prod', 'db_main_admin'), ['cards', 'schema_migrations', 'users']);
    assert.equal((await t.call('GET', '/apps/shop/environments/prod')).body.environment.generation, prod.generation);
    assert.ok((await t.call('GET', '/audit')).body.entries.some((e: { action: string }) => e.action === 'app.change.reject'));
  });

  test("an app admin's own change reaches production; unprotecting hands it to developers", async () => {
    const admin = await person('owner1', { shop: 'admin' });
    const migrations = { main: [...SHOP_MIGRATIONS.main, { file: '2_cards.up.sql', sql: 'CREATE TABLE cards (id serial PRIMARY KEY);' }, { file: '3_dump.up.sql', sql: 'CREATE TABLE dump AS SELECT * FROM users;' }, { file: '4_notes.up.sql', sql: 'CREATE TABLE notes (id serial PRIMARY KEY);' }] };
    const patched = await as({ cookie: admin.cookie }, 'PATCH', '/apps/shop', { model: SHOP, migrations });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.pending, undefined);
    await t.waitFor('shop', 'prod', 'ready');
    assert.ok((await tablesOf('shop', 'prod', 'db_main_admin')).includes('notes'));
    assert.equal((await as({ cookie: admin.cookie }, 'PATCH', '/apps/shop/environments/dev', { protected: true })).status, 200);
    assert.equal((await as({ cookie: people.dev1.cookie }, 'PATCH', '/apps/shop/environments/dev/neon', { suspendTimeoutSeconds: 300 })).status, 403);
    assert.equal((await as({ cookie: admin.cookie }, 'PATCH', '/apps/shop/environments/dev', { protected: false })).status, 200);
    await t.waitFor('shop', 'dev', 'ready');
    // The full text of a failure (it may carry row data) is an app admin's to read.
    assert.equal((await as({ cookie: admin.cookie }, 'GET', '/apps/shop/environments/prod/error-detail')).status, 200);
    assert.equal((await as({ cookie: people.dev1.cookie }, 'GET', '/apps/shop/environments/prod/error-detail')).status, 403);
    assert.equal((await as({ cookie: people.dev1.cookie }, 'GET', '/apps/shop/environments/dev/error-detail')).status, 403);
    assert.equal((await as({ cookie: people.outsider.cookie }, 'GET', '/apps/shop/environments/prod/error-detail')).status, 404);
  });
});

describe('tokens and users', () => {
  test('tokens are listed without their secret; revoked and expired tokens get 401', async () => {
    const dev = { cookie: people.dev1.cookie };
    const made = await as(dev, 'POST', '/tokens', { name: 'deploy', role: 'viewer', app: 'shop', expiresInSeconds: 3600 });
    assert.equal(made.status, 201);
    const secret: string = made.body.token;
    assert.equal((await as({ token: secret }, 'GET', '/apps/shop')).status, 200);
    assert.equal((await as({ token: secret }, 'GET', '/apps/side')).status, 404, 'scoped to shop');
    const list = await as(dev, 'GET', '/tokens');
    const mine = list.body.tokens.find((x: { name: string }) => x.name === 'deploy');
    assert.deepEqual([mine.scope, mine.role, mine.createdBy], ['shop', 'viewer', 'dev1']);
    assert.ok(mine.lastUsedAt && mine.expiresAt && mine.createdAt);
    assert.ok(Date.parse(mine.expiresAt) - Date.now() <= 3600_000);
    for (const listing of [list.text, (await t.call('GET', '/tokens')).body && JSON.stringify((await t.call('GET', '/tokens')).body)]) {
      for (const p of Object.values(people)) assert.ok(!listing.includes(p.token) && !listing.includes(p.token.slice(10)), 'no secret in a token list');
      assert.ok(!listing.includes(secret.slice(10)) && !/token_?hash/i.test(listing));
    }
    // The default expiry is 90 days.
    const def = (await t.call('GET', '/tokens')).body.tokens.find((x: { name: string }) => x.name === 'dev1-ci');
    assert.ok(Math.abs(Date.parse(def.expiresAt) - (Date.now() + 90 * 86_400_000)) < 3_600_000);
    // Somebody else cannot revoke it (nor learn it exists).
    assert.equal((await as({ cookie: people.outsider.cookie }, 'DELETE', `/tokens/${mine.id}`)).status, 404);
    assert.equal((await as(dev, 'DELETE', `/tokens/${mine.id}`)).status, 204);
    assert.equal((await as({ token: secret }, 'GET', '/apps/shop')).status, 401);
    assert.ok(!(await as(dev, 'GET', '/tokens')).body.tokens.some((x: { name: string }) => x.name === 'deploy'));

    const soon = await as(dev, 'POST', '/tokens', { name: 'soon', role: 'viewer', app: 'shop' });
    assert.equal((await as({ token: soon.body.token }, 'GET', '/me')).status, 200);
    await t.platform.store.db.update(apiTokens).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(apiTokens.id, soon.body.info.id));
    assert.equal((await as({ token: soon.body.token }, 'GET', '/me')).status, 401);
    assert.equal((await as(dev, 'POST', '/tokens', { name: 'forever', role: 'viewer', expiresInSeconds: 400 * 86400 })).body.error.field, 'expiresInSeconds');
  });

  test("a token is never more than its creator is today", async () => {
    const who = await person('temp1', { shop: 'admin' });
    const made = await as({ cookie: who.cookie }, 'POST', '/tokens', { name: 'temp1-admin', role: 'admin', app: 'shop' });
    assert.equal(made.status, 201, made.text);
    const token = made.body.token as string;
    assert.equal((await as({ token }, 'POST', '/apps/shop/environments/dev/users/svc_api/reveal')).status, 200);
    await t.call('PUT', '/apps/shop/members/temp1', { role: 'developer' });
    assert.equal((await as({ token }, 'POST', '/apps/shop/environments/dev/users/svc_api/reveal')).status, 403, 'an admin token of a developer is a developer');
    await t.call('PUT', '/apps/shop/members/temp1', { role: 'viewer' });
    assert.equal((await as({ token: who.token }, 'GET', '/apps/shop')).status, 200);
    assert.equal((await as({ token: who.token }, 'POST', '/apps/shop/environments/dev/users/rotate', { role: 'svc_api' })).status, 403, 'a developer token of a viewer is a viewer');
    await t.call('DELETE', '/apps/shop/members/temp1');
    assert.equal((await as({ token: who.token }, 'GET', '/apps/shop')).status, 404);
  });

  test("a removed user's sessions and tokens get 401", async () => {
    const leaver = await person('leaver', { shop: 'developer' });
    assert.equal((await as({ token: leaver.token }, 'GET', '/apps/shop')).status, 200);
    assert.equal((await as({ cookie: leaver.cookie }, 'GET', '/apps/shop')).status, 200);
    assert.equal((await as({ cookie: people.dev1.cookie }, 'DELETE', '/team/leaver')).status, 403, 'instance admins only');
    assert.equal((await t.call('DELETE', '/team/leaver')).status, 204);
    assert.equal((await as({ token: leaver.token }, 'GET', '/apps/shop')).status, 401);
    assert.equal((await as({ cookie: leaver.cookie }, 'GET', '/me')).status, 401);
    const login = await fetch(`${t.platform.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'leaver', password: leaver.password }) });
    assert.equal(login.status, 401);
    assert.ok(!(await t.call('GET', '/tokens')).body.tokens.some((x: { name: string }) => x.name === 'leaver-ci'));
    assert.ok((await t.call('GET', '/audit')).body.entries.some((e: { action: string; target: string }) => e.action === 'user.remove' && e.target === 'leaver'));
    assert.equal((await t.call('DELETE', '/team/admin')).status, 409, 'the last instance admin stays');
  });
});

describe('credentials', () => {
  /** Every way of reading a credential that a developer has, on an unprotected environment and on a preview. */
  test("revealing a password is an app admin's on every environment, previews included; a developer (token or session) gets 403 and no credential", async () => {
    assert.equal((await t.call('PATCH', '/apps/shop/previews', { parentEnvironment: 'dev' })).status, 200);
    const opened = await as({ token: people.dev1.token }, 'PUT', '/apps/shop/previews/9', {});
    assert.equal(opened.status, 201, opened.text);
    await t.waitFor('shop', 'pr:9', 'ready');
    await t.waitFor('shop', 'dev', 'ready');
    const before = (await t.call('GET', '/audit')).body.entries.filter((e: { action: string }) => e.action === 'credentials.reveal').length;
    const secrets: string[] = [];
    for (const env of ['dev', 'pr:9']) {
      for (const role of ['svc_api', 'db_main_admin']) {
        for (const who of [{ token: people.dev1.token }, { cookie: people.dev1.cookie }]) {
          const path = `/apps/shop/environments/${env}/users/${role}/reveal`;
          const refused = await as(who, 'POST', path);
          assert.equal(refused.status, 403, `${env} ${role}: ${refused.text}`);
          assert.equal(refused.body.error.code, 'forbidden');
          assert.match(refused.body.error.message, /^revealing credentials needs the app's admin role \(app shop\); (token:dev1-ci|dev1) is a developer there \(ask an app admin\)$/);
          secrets.push(refused.text);
        }
        const infra = await as({ token: people.dev1.token }, 'POST', `/apps/shop/environments/${env}/infra-config/reveal`, {});
        assert.equal(infra.status, 403, infra.text);
        assert.match(infra.body.error.message, /needs the app's admin role/);
        secrets.push(infra.text);
      }
    }
    assert.equal((await t.call('GET', '/audit')).body.entries.filter((e: { action: string }) => e.action === 'credentials.reveal').length, before, 'a refused reveal is no reveal');

    // An app admin (and the instance admin) still may; each reveal is audited with its actor.
    const owner = await person('owner2', { shop: 'admin' });
    for (const env of ['dev', 'pr:9']) {
      const revealed = await as({ cookie: owner.cookie }, 'POST', `/apps/shop/environments/${env}/users/svc_api/reveal`);
      assert.equal(revealed.status, 200, revealed.text);
      const { password, connectionUri } = revealed.body.user;
      assert.deepEqual(await tables(connectionUri), ['cards', 'dump', 'notes', 'schema_migrations', 'users']);
      for (const text of secrets) assert.ok(!text.includes(password) && !/postgres(ql)?:\/\//.test(text), 'no credential in a refusal');
    }
    assert.equal((await t.call('POST', '/apps/shop/environments/pr:9/users/db_main_admin/reveal')).status, 200);
    const audited = (await t.call('GET', '/audit')).body.entries.filter((e: { action: string }) => e.action === 'credentials.reveal').slice(0, 3);
    assert.deepEqual(audited.map((e: { actor: string; target: string }) => `${e.actor} ${e.target}`), ['admin shop/pr:9/db_main_admin', 'owner2 shop/pr:9/svc_api', 'owner2 shop/dev/svc_api']);

    // Rotating reveals nothing: a developer still rotates on unprotected environments and previews.
    for (const env of ['dev', 'pr:9']) {
      const rotated = await as({ token: people.dev1.token }, 'POST', `/apps/shop/environments/${env}/users/rotate`, { role: 'svc_api' });
      assert.equal(rotated.status, 200, rotated.text);
      assert.deepEqual(rotated.body.rotated, ['svc_api']);
    }
    assert.equal((await as({ token: people.dev1.token }, 'DELETE', '/apps/shop/previews/9')).status, 202);
  });
});
