/**
 * Preview environments through the API: a pull request opened from CI gets `pr:<n>` on a branch of
 * the chosen environment, with its own passwords and its own migrations; a push applies new
 * migrations; closing deletes it and its branch; an expired preview goes by itself.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startTestPlatform, type TestPlatform } from '../test-support.ts';

let t: TestPlatform;
let ci: string;
const MODEL = 'app: web\ndatabases:\n  - name: main\nservices:\n  - name: api\n    databases: [main]\n';
const BASE = { main: [{ file: '1_users.up.sql', sql: 'CREATE TABLE users (id serial PRIMARY KEY, email text);' }] };

async function tables(uri: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    return (await client.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.tablename);
  } finally {
    await client.end();
  }
}

const reveal = async (env: string, role = 'svc_api') => (await t.call('POST', `/apps/web/environments/${env}/users/${role}/reveal`)).body.user;

before(async () => {
  t = await startTestPlatform();
  ci = (await t.call('POST', '/tokens', { name: 'github-actions', role: 'member' })).body.token;
  await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  await t.call('POST', '/apps', { model: MODEL, migrations: BASE });
  await t.call('POST', '/apps/web/environments', { name: 'staging', account: 'engine', mode: 'new-project' });
  await t.waitFor('web', 'staging', 'ready');
});
after(() => t.close());

test('previews need a parent environment; the error says how to set one', async () => {
  const r = await t.call('PUT', '/apps/web/previews/1', {}, { token: ci });
  assert.equal(r.status, 422);
  assert.match(r.body.error.message, /PATCH \/apps\/web\/previews/);
  const bad = await t.call('PATCH', '/apps/web/previews', { parentEnvironment: 'nope' });
  assert.equal(bad.body.error.field, 'parentEnvironment');
  assert.equal((await t.call('PATCH', '/apps/web/previews', { parentEnvironment: 'staging', ttlSeconds: 3600 })).status, 200);
  assert.equal((await t.call('PUT', '/apps/web/previews/abc', {}, { token: ci })).body.error.field, 'number');
});

test('open, push, close: its own branch, passwords and migrations; then nothing left', async () => {
  const opened = await t.call('PUT', '/apps/web/previews/42', { migrations: { main: [...BASE.main, { file: '2_orders.up.sql', sql: 'CREATE TABLE orders (id serial PRIMARY KEY);' }] } }, { token: ci });
  assert.equal(opened.status, 201);
  assert.equal(opened.body.environment.type, 'preview');
  const pr = await t.waitFor('web', 'pr:42', 'ready');
  const staging = (await t.call('GET', '/apps/web/environments/staging')).body.environment;
  assert.equal(pr.neon.projectId, staging.neon.projectId);
  const branch = t.engine.engine.branch(pr.neon.projectId, pr.neon.branchId);
  assert.equal(branch.name, 'preview/web/pr-42');
  assert.equal(branch.parent_id, staging.neon.branchId);
  assert.ok(branch.expires_at, 'the Neon branch expires too');
  assert.deepEqual(await tables((await reveal('pr:42')).connectionUri), ['orders', 'schema_migrations', 'users']);
  assert.deepEqual(await tables((await reveal('staging')).connectionUri), ['schema_migrations', 'users'], 'the parent is untouched');
  assert.notEqual((await reveal('pr:42')).password, (await reveal('staging')).password);

  const pushed = await t.call('PUT', '/apps/web/previews/42', { migrations: { main: [...BASE.main, { file: '2_orders.up.sql', sql: 'CREATE TABLE orders (id serial PRIMARY KEY);' }, { file: '3_items.up.sql', sql: 'CREATE TABLE items (id serial PRIMARY KEY);' }] } }, { token: ci });
  assert.equal(pushed.status, 200);
  // Each push is recorded, and the expiry counts from it.
  const { pushedAt, expiresAt } = pushed.body.environment.source;
  assert.ok(Date.parse(pushedAt) > Date.parse(opened.body.environment.source.pushedAt), `${pushedAt} after the opening push`);
  assert.ok(Date.parse(expiresAt) > Date.parse(pushedAt));
  await t.waitFor('web', 'pr:42', 'ready');
  assert.deepEqual(await tables((await reveal('pr:42')).connectionUri), ['items', 'orders', 'schema_migrations', 'users']);
  assert.deepEqual((await t.call('GET', '/apps/web/previews', undefined, { token: ci })).body.previews.map((p: { name: string }) => p.name), ['pr:42']);

  assert.equal((await t.call('DELETE', '/apps/web/previews/42', undefined, { token: ci })).status, 202);
  const deadline = Date.now() + 30_000;
  while ((await t.call('GET', '/apps/web/environments/pr:42')).status !== 404) {
    assert.ok(Date.now() < deadline, 'closed in time');
    await new Promise((r) => setTimeout(r, 50));
  }
  await t.engine.engine.idle();
  assert.throws(() => t.engine.engine.branch(pr.neon.projectId, pr.neon.branchId), /not found/);
  assert.deepEqual((await t.call('DELETE', '/apps/web/previews/42', undefined, { token: ci })).body, { deleted: false }, 'closing twice is fine');
});

test('an expired preview is deleted with its branch', async () => {
  await t.call('PUT', '/apps/web/previews/7', {}, { token: ci });
  const pr = await t.waitFor('web', 'pr:7', 'ready');
  // Age it: as if its time to live ran out.
  await t.platform.store.db.execute(`UPDATE environments SET spec = jsonb_set(spec, '{expiresAt}', '"2000-01-01T00:00:00.000Z"') WHERE name = 'pr:7'`);
  const deadline = Date.now() + 30_000;
  while ((await t.call('GET', '/apps/web/environments/pr:7')).status !== 404) {
    assert.ok(Date.now() < deadline, 'expired in time');
    await new Promise((r) => setTimeout(r, 100));
  }
  await t.engine.engine.idle();
  assert.throws(() => t.engine.engine.branch(pr.neon.projectId, pr.neon.branchId), /not found/);
  const audit = (await t.call('GET', '/audit')).body.entries.map((e: { action: string }) => e.action);
  assert.ok(audit.includes('environment.create'));
});
