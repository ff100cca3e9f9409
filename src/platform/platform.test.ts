/**
 * The platform end to end through its HTTP API, with the engine as Neon: accounts, apps, the four
 * ways to create an environment, settings against plan limits, import with a wrong owner then
 * fixed, credentials (admin-only reveal, audited), account removal rules, deletion.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createApiClient } from '@neondatabase/api-client';
import { SHOP_MIGRATIONS, SHOP_MODEL, startTestPlatform, type TestPlatform } from './test-support.ts';

let t: TestPlatform;
let memberToken: string;
let viewerToken: string;
let adminToken: string;

before(async () => {
  t = await startTestPlatform();
  // `member`, the old name of a token's role, is taken as developer (instance scope: every app).
  memberToken = (await t.call('POST', '/tokens', { name: 'ci', role: 'member' })).body.token;
  viewerToken = (await t.call('POST', '/tokens', { name: 'watch', role: 'viewer' })).body.token;
  adminToken = (await t.call('POST', '/tokens', { name: 'ops', role: 'admin' })).body.token;
});
after(() => t.close());

async function query(uri: string, sql: string) {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('auth', () => {
  test('every API call needs a session or a token', async () => {
    const anonymous = await t.call('GET', '/apps', undefined, { anonymous: true });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, 'unauthorized');
    const wrong = await t.call('GET', '/apps', undefined, { token: 'arbor_pat_nope' });
    assert.equal(wrong.status, 401);
    const member = await t.call('GET', '/me', undefined, { token: memberToken });
    assert.deepEqual(member.body.user, { name: 'token:ci', role: 'member', token: { scope: 'instance', role: 'developer' } });
    const bad = await t.call('POST', '/auth/login', { name: 'admin', password: 'wrong' }, { anonymous: true });
    assert.equal(bad.status, 401);
  });

  test('an unknown API path is a JSON 404', async () => {
    const r = await t.call('GET', '/no-such-thing');
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'not_found');
  });

  test('admin-only actions are refused to members', async () => {
    const r = await t.call('POST', '/accounts', { name: 'x', apiKey: 'k' }, { token: memberToken });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /admin/);
    // The audit log: an instance admin's; others see the entries of apps they are admin of (none here).
    assert.deepEqual((await t.call('GET', '/audit', undefined, { token: memberToken })).body.entries, []);
  });

  test('user management: an admin adds a member, who logs in with the one-time password', async () => {
    const added = await t.call('POST', '/team', { name: 'dana', role: 'member' });
    assert.equal(added.status, 201);
    const login = await t.call('POST', '/auth/login', { name: 'dana', password: added.body.user.password }, { anonymous: true });
    assert.deepEqual(login.body.user, { name: 'dana', role: 'member' });
    assert.equal((await t.call('POST', '/team', { name: 'dana', role: 'member' })).status, 409);
    assert.equal((await t.call('POST', '/team', { name: 'Bad Name', role: 'member' })).body.error.field, 'name');
    assert.equal((await t.call('GET', '/team', undefined, { token: memberToken })).status, 403);
    const team = (await t.call('GET', '/team')).body.users.map((u: { name: string; role: string }) => `${u.name}:${u.role}`);
    assert.deepEqual(team, ['admin:admin', 'dana:member']);
  });

  test('OpenAPI document lists the fixed resource paths', async () => {
    const doc = (await t.call('GET', '/openapi.json')).body;
    for (const path of ['/accounts', '/apps', '/apps/{app}/environments', '/apps/{app}/environments/{env}', '/apps/{app}/environments/{env}/neon', '/apps/{app}/environments/{env}/users', '/apps/{app}/environments/{env}/users/{role}/reveal', '/audit']) {
      assert.ok(doc.paths[path], `${path} is documented`);
    }
    assert.ok(doc.paths['/apps/{app}/environments/{env}/neon'].patch.requestBody);
  });
});

describe('accounts', () => {
  test('connect checks the key with a real call; lists show only the last 4 characters', async () => {
    const bad = await t.call('POST', '/accounts', { name: 'broken', apiKey: 'not-a-key', apiUrl: t.engine.url, plan: 'free', allowInsecureUrl: true });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error.field, 'apiKey');
    assert.match(bad.body.error.message, /API key was refused/);
    const unreachable = await t.call('POST', '/accounts', { name: 'away', apiKey: 'k', apiUrl: 'http://127.0.0.1:1/api/v2', allowInsecureUrl: true });
    assert.equal(unreachable.status, 422);
    assert.equal(unreachable.body.error.field, 'apiUrl');
    const ok = await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
    assert.equal(ok.status, 201);
    const free = await t.call('POST', '/accounts', { name: 'engine-free', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'free', allowInsecureUrl: true });
    assert.equal(free.status, 201);
    const list = (await t.call('GET', '/accounts')).body.accounts;
    assert.deepEqual(list.map((a: { name: string }) => a.name), ['engine', 'engine-free']);
    assert.equal(list[0].keyLast4, t.engine.apiKey.slice(-4));
    assert.ok(!JSON.stringify(list).includes(t.engine.apiKey));
  });
});

describe('apps and environments', () => {
  test('an app from arbor.yaml text; bad models name the field', async () => {
    const bad = await t.call('POST', '/apps', { model: 'app: x\nservices:\n  - name: s\n    databases: [nope]\n' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /nope/);
    const created = await t.call('POST', '/apps', { model: SHOP_MODEL, migrations: SHOP_MIGRATIONS });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body.app.migrations.main, ['1_orders.up.sql', '2_seed.up.sql']);
  });

  test('mode branch-environment is refused with an explanation when there is nothing to branch from', async () => {
    const r = await t.call('POST', '/apps/shop/environments', { name: 'dev', mode: 'branch-environment', parentEnvironment: 'staging' });
    assert.equal(r.status, 422);
    assert.match(r.body.error.message, /no environment on Neon to branch from/);
  });

  test('mode new-project: project, branch, roles, grants, migrations, ready; steps recorded', async () => {
    const r = await t.call('POST', '/apps/shop/environments', { name: 'staging', type: 'production', account: 'engine', mode: 'new-project', regionId: 'aws-eu-central-1' });
    assert.equal(r.status, 201);
    const env = await t.waitFor('shop', 'staging', 'ready');
    assert.deepEqual(env.steps.map((s: { step: string }) => s.step), ['neon-resources', 'operations', 'superuser', 'roles', 'settings', 'migrations']);
    assert.ok(env.steps.every((s: { status: string }) => s.status === 'done'));
    assert.match(env.neon.branchId, /^br-/);
    const project = (await t.engine.engine.project(env.neon.projectId));
    assert.equal(project.region_id, 'aws-eu-central-1');
    assert.equal(project.name, 'shop-staging');
    const reveal = await t.call('POST', '/apps/shop/environments/staging/users/svc_orders/reveal');
    assert.equal(reveal.status, 200);
    const rows = await query(reveal.body.user.connectionUri, 'SELECT item FROM orders');
    assert.deepEqual(rows, [{ item: 'first' }]);
  });

  test('a bad region or pg version names the field', async () => {
    const region = await t.call('POST', '/apps/shop/environments', { name: 'x', account: 'engine', mode: 'new-project', regionId: 'mars-1' });
    assert.equal(region.status, 400);
    assert.equal(region.body.error.field, 'regionId');
    const version = await t.call('POST', '/apps/shop/environments', { name: 'x', account: 'engine', mode: 'new-project', pgVersion: 13 });
    assert.equal(version.body.error.field, 'pgVersion');
  });

  test('mode branch-environment: a branch of staging with its own passwords', async () => {
    // staging is production (protected): a copy of it is an app admin's to make, not a developer's.
    const refused = await t.call('POST', '/apps/shop/environments', { name: 'dev', mode: 'branch-environment', parentEnvironment: 'staging' }, { token: memberToken });
    assert.equal(refused.status, 403);
    const r = await t.call('POST', '/apps/shop/environments', { name: 'dev', mode: 'branch-environment', parentEnvironment: 'staging' });
    assert.equal(r.status, 201);
    const dev = await t.waitFor('shop', 'dev', 'ready');
    const staging = (await t.call('GET', '/apps/shop/environments/staging')).body.environment;
    assert.equal(dev.neon.projectId, staging.neon.projectId);
    assert.notEqual(dev.neon.branchId, staging.neon.branchId);
    const users = (await t.call('GET', '/apps/shop/environments/dev/users')).body.users;
    assert.deepEqual(users.map((u: { username: string }) => u.username).sort(), ['db_billing_admin', 'db_main_admin', 'encore_admin', 'encore_platform', 'encore_reader', 'encore_writer', 'svc_invoices', 'svc_orders']);
    for (const { username } of users) {
      const a = (await t.call('POST', `/apps/shop/environments/dev/users/${username}/reveal`)).body.user;
      const b = (await t.call('POST', `/apps/shop/environments/staging/users/${username}/reveal`)).body.user;
      assert.notEqual(a.password, b.password, `${username} does not share its parent's password`);
    }
    const devUri = (await t.call('POST', '/apps/shop/environments/dev/users/svc_orders/reveal')).body.user.connectionUri;
    assert.deepEqual(await query(devUri, 'SELECT item FROM orders'), [{ item: 'first' }]);
  });

  test('mode branch-neon: lists the account\'s projects and branches, then branches the chosen one', async () => {
    const projects = (await t.call('GET', '/accounts/engine/projects')).body.projects;
    const staging = (await t.call('GET', '/apps/shop/environments/staging')).body.environment;
    const project = projects.find((p: { id: string }) => p.id === staging.neon.projectId);
    assert.ok(project.branches.some((b: { id: string }) => b.id === staging.neon.branchId));
    const r = await t.call('POST', '/apps/shop/environments', { name: 'qa', account: 'engine', mode: 'branch-neon', neonProjectId: project.id, neonBranchId: staging.neon.branchId });
    assert.equal(r.status, 201);
    const qa = await t.waitFor('shop', 'qa', 'ready');
    const branch = (await t.engine.engine.branch(project.id, qa.neon.branchId));
    assert.equal(branch.parent_id, staging.neon.branchId);
    const missing = await t.call('POST', '/apps/shop/environments', { name: 'qa2', account: 'engine', mode: 'branch-neon', neonProjectId: project.id, neonBranchId: 'br-no-such-aaaaaaaa' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.field, 'neonBranchId');
  });

  test('settings within and over the plan limits, checked before calling Neon', async () => {
    const ok = await t.call('PATCH', '/apps/shop/environments/staging/neon', { historyRetentionSeconds: 7 * 86400, minCu: 0.5, maxCu: 2, suspendTimeoutSeconds: -1 });
    assert.equal(ok.status, 200);
    const env = await t.waitFor('shop', 'staging', 'ready');
    assert.equal(env.steps.at(-2).detail, 'updated history retention, compute');
    const project = t.engine.engine.project(env.neon.projectId);
    assert.equal(project.history_retention_seconds, 7 * 86400);
    const endpoint = t.engine.engine.data.endpoints.find((e) => e.id === env.neon.endpointId)!;
    assert.deepEqual([endpoint.autoscaling_limit_min_cu, endpoint.autoscaling_limit_max_cu, endpoint.suspend_timeout_seconds], [0.5, 2, -1]);
    const over = await t.call('PATCH', '/apps/shop/environments/staging/neon', { historyRetentionSeconds: 31 * 86400 });
    assert.equal(over.status, 400);
    assert.equal(over.body.error.field, 'historyRetentionSeconds');
    assert.match(over.body.error.message, /scale plan's maximum of 2592000/);
    const range = await t.call('PATCH', '/apps/shop/environments/staging/neon', { minCu: 1, maxCu: 10 });
    assert.match(range.body.error.message, /at most 8/);
    const timeout = await t.call('PATCH', '/apps/shop/environments/staging/neon', { suspendTimeoutSeconds: 30 });
    assert.equal(timeout.body.error.field, 'suspendTimeoutSeconds');
  });

  test('the free plan: 6 h of history and a fixed suspend timeout', async () => {
    const r = await t.call('POST', '/apps/shop/environments', { name: 'free', account: 'engine-free', mode: 'new-project', settings: { historyRetentionSeconds: 86400 } });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /free plan's maximum of 21600/);
    const s = await t.call('POST', '/apps/shop/environments', { name: 'free', account: 'engine-free', mode: 'new-project', settings: { suspendTimeoutSeconds: 600 } });
    assert.match(s.body.error.message, /does not allow changing it/);
  });

  test('import: no new branch, a warning, a wrong owner reported and fixed once an admin confirms; settings read-only', async () => {
    // A branch made outside Arbor, whose database belongs to the wrong role.
    const legacyApi = createApiClient({ apiKey: t.engine.apiKey, baseURL: t.engine.url });
    const { data } = await legacyApi.createProject({ project: { name: 'legacy' } });
    const projectId = data.project.id;
    const settle = async () => {
      for (;;) {
        const ops = (await legacyApi.listProjectOperations({ projectId })).data.operations;
        if (ops.every((o) => o.status === 'finished')) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await settle();
    await legacyApi.createProjectBranchDatabase(projectId, data.branch.id, { database: { name: 'main', owner_name: 'neondb_owner' } });
    await settle();
    const before = (await legacyApi.listProjectBranches({ projectId })).data.branches.length;

    const r = await t.call('POST', '/apps/shop/environments', { name: 'legacy', account: 'engine', mode: 'import', neonProjectId: projectId, neonBranchId: data.branch.id });
    assert.equal(r.status, 201);
    assert.match(r.body.environment.warnings[0], /shared/);
    const imported = await t.waitFor('shop', 'legacy', 'awaiting_confirmation');
    assert.ok(imported.pendingChanges.some((c: string) => /make db_main_admin the owner of database main/.test(c)), JSON.stringify(imported.pendingChanges));
    assert.equal((await legacyApi.listProjectBranches({ projectId })).data.branches.length, before, 'no new branch');
    assert.equal(imported.neon.branchId, data.branch.id);
    const owner = imported.deviations.find((d: { kind: string }) => d.kind === 'wrong-owner');
    assert.ok(owner, `owner deviation reported: ${JSON.stringify(imported.deviations)}`);
    assert.match(owner.message, /db_main_admin/);

    const settings = await t.call('PATCH', '/apps/shop/environments/legacy/neon', { minCu: 1 });
    assert.equal(settings.status, 422);
    assert.match(settings.body.error.message, /read-only/);

    // A developer may not confirm the changes to a branch made outside Arbor.
    assert.equal((await t.call('POST', '/apps/shop/environments/legacy/confirm-import', undefined, { token: memberToken })).status, 403);
    assert.equal((await t.call('POST', '/apps/shop/environments/legacy/confirm-import')).status, 202);
    const fixed = await t.waitFor('shop', 'legacy', 'ready');
    assert.deepEqual(fixed.deviations, []);
    const uri = (await t.call('POST', '/apps/shop/environments/legacy/users/encore_platform/reveal')).body.user.connectionUri;
    const rows = await query(uri.replace(/\/main\?/, '/postgres?'), "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'main'");
    assert.deepEqual(rows, [{ owner: 'db_main_admin' }]);
  });

  test('updating the model reconciles every environment (a new service gets its role)', async () => {
    const model = SHOP_MODEL + '  - name: shipping\n    databases: [main]\n';
    assert.equal((await t.call('PATCH', '/apps/shop', { model })).status, 200);
    for (const env of ['staging', 'dev', 'qa']) {
      await t.waitFor('shop', env, 'ready');
      const users = (await t.call('GET', `/apps/shop/environments/${env}/users`)).body.users;
      assert.ok(users.some((u: { username: string; hasPassword: boolean }) => u.username === 'svc_shipping' && u.hasPassword), `${env} has svc_shipping`);
    }
  });
});

describe('credentials, removal and deletion', () => {
  test('reveal is admin-only and audited; rotation changes the password', async () => {
    const refused = await t.call('POST', '/apps/shop/environments/staging/users/svc_orders/reveal', undefined, { token: memberToken });
    assert.equal(refused.status, 403);
    const before = (await t.call('POST', '/apps/shop/environments/staging/users/svc_orders/reveal')).body.user;
    const rotated = await t.call('POST', '/apps/shop/environments/staging/users/rotate', { role: 'svc_orders' });
    assert.deepEqual(rotated.body.rotated, ['svc_orders']);
    const after = (await t.call('POST', '/apps/shop/environments/staging/users/svc_orders/reveal')).body.user;
    assert.notEqual(after.password, before.password);
    await assert.rejects(query(before.connectionUri, 'SELECT 1'), /password authentication failed/);
    assert.deepEqual(await query(after.connectionUri, 'SELECT 1 AS one'), [{ one: 1 }]);
    const audit = (await t.call('GET', '/audit')).body.entries;
    assert.ok(audit.some((e: { action: string; target: string; actor: string }) => e.action === 'credentials.reveal' && e.target === 'shop/staging/svc_orders' && e.actor === 'admin'));
    assert.ok(!JSON.stringify(audit).includes(after.password));
  });

  test('an account in use cannot be removed; the refusal lists the environments', async () => {
    const r = await t.call('DELETE', '/accounts/engine');
    assert.equal(r.status, 409);
    assert.match(r.body.error.message, /shop\/staging/);
    assert.equal((await t.call('DELETE', '/accounts/engine-free')).status, 204);
  });

  test('deleting needs a developer (an app admin when protected) and the name; it removes the branch Arbor made, never an import', async () => {
    const dev = (await t.call('GET', '/apps/shop/environments/dev')).body.environment;
    assert.equal((await t.call('DELETE', '/apps/shop/environments/dev?confirm=dev', undefined, { token: viewerToken })).status, 403);
    assert.equal((await t.call('DELETE', '/apps/shop/environments/staging?confirm=staging', undefined, { token: memberToken })).status, 403, 'staging is production: protected');
    const unconfirmed = await t.call('DELETE', '/apps/shop/environments/dev');
    assert.equal(unconfirmed.status, 400);
    assert.equal(unconfirmed.body.error.field, 'confirm');
    assert.equal((await t.call('DELETE', '/apps/shop/environments/dev?confirm=dev')).status, 202);
    const legacy = (await t.call('GET', '/apps/shop/environments/legacy')).body.environment;
    assert.equal((await t.call('DELETE', '/apps/shop/environments/legacy?confirm=legacy')).status, 202);
    const deadline = Date.now() + 30_000;
    while ((await t.call('GET', '/apps/shop/environments/dev')).status !== 404 || (await t.call('GET', '/apps/shop/environments/legacy')).status !== 404) {
      const state = async (env: string) => JSON.stringify((await t.call('GET', `/apps/shop/environments/${env}`)).body);
      assert.ok(Date.now() < deadline, `deleted in time: ${await state('dev')} ${await state('legacy')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await t.engine.engine.idle();
    assert.throws(() => t.engine.engine.branch(dev.neon.projectId, dev.neon.branchId), /not found/);
    assert.ok(t.engine.engine.branch(legacy.neon.projectId, legacy.neon.branchId), 'the imported branch is still there');
  });

  test('no secret in the logs or in a plain dump of the metadata database', async () => {
    const secrets = [t.engine.apiKey];
    for (const env of ['staging', 'qa']) {
      for (const role of ['encore_platform', 'svc_orders', 'db_main_admin']) {
        secrets.push((await t.call('POST', `/apps/shop/environments/${env}/users/${role}/reveal`)).body.user.password);
      }
    }
    const tables = ['users', 'sessions', 'api_tokens', 'accounts', 'apps', 'environments', 'environment_steps', 'credentials', 'audit_log'];
    let dump = '';
    for (const table of tables) dump += JSON.stringify(await t.platform.store.db.execute(`SELECT * FROM ${table}`));
    assert.ok(dump.length > 1000, 'the dump has content');
    for (const secret of secrets) {
      assert.ok(!dump.includes(secret), 'a secret is in the metadata dump');
      assert.ok(!t.logs.join('\n').includes(secret), 'a secret is in the log');
    }
    assert.ok(!dump.includes(memberToken));
  });
});

describe('bad input is a 4xx naming the problem, never a 500', () => {
  test('every route with a body, fed malformed bodies', async () => {
    const doc = (await t.call('GET', '/openapi.json')).body;
    const bodies = ['[]', '"text"', '{"name": 12, "model": null}', '{', 'null', JSON.stringify({ unexpected: true })];
    let checked = 0;
    for (const [path, methods] of Object.entries<Record<string, { requestBody?: unknown }>>(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (!op.requestBody) continue;
        const url = path.replace('{app}', 'shop').replace('{env}', 'staging').replace('{role}', 'svc_orders').replace('{account}', 'engine');
        for (const raw of bodies) {
          const response = await fetch(`${t.platform.url}/api/v1${url}`, { method: method.toUpperCase(), headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: raw });
          assert.ok(response.status >= 400 && response.status < 500, `${method} ${url} with ${raw} → ${response.status}`);
          const body = await response.json();
          assert.equal(typeof body.error.message, 'string');
          checked++;
        }
      }
    }
    assert.ok(checked >= 50, `checked ${checked} requests`);
  });
});
