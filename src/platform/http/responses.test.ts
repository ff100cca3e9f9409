/**
 * Every route of the OpenAPI document answers as documented on real data: a real app with an
 * environment and a preview of it on the engine, driven as an instance
 * admin, an app developer and an app viewer. Each success is checked against the route's
 * documented schema (test-support's `call()` does it for every answer) and the test ends by
 * checking that every documented route succeeded at least once. The schemas are strict: a
 * password slipped into what a viewer reads fails the check.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createApiClient } from '@neondatabase/api-client';
import { SHOP_MIGRATIONS, SHOP_MODEL, startTestPlatform, type TestPlatform } from '../test-support.ts';

let t: TestPlatform;
/** Documented routes (`GET /apps/{app}`) that answered 2xx, each checked against the document. */
const succeeded = new Set<string>();

/** A call that must succeed (and so match its documented schema). */
async function ok(method: string, path: string, body?: unknown, auth?: { token?: string; anonymous?: boolean }) {
  const r = await t.call(method, path, body, auth);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  succeeded.add(t.checker.routeOf(method, path) ?? `${method} ${path} (undocumented)`);
  return r.body;
}

let viewer: string;
let developer: string;

before(async () => {
  t = await startTestPlatform();
  await ok('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  await ok('POST', '/apps', { model: SHOP_MODEL, migrations: SHOP_MIGRATIONS });
  viewer = (await ok('POST', '/tokens', { name: 'viewer', role: 'viewer', app: 'shop' })).token;
  developer = (await ok('POST', '/tokens', { name: 'developer', role: 'developer', app: 'shop' })).token;
  // One environment (branches cost a copy each: the preview below is the one branch).
  await ok('POST', '/apps/shop/environments', { name: 'dev', account: 'engine', mode: 'new-project' });
  await t.waitFor('shop', 'dev', 'ready');
});
after(() => t?.close());

test('instance: accounts, users, tokens, login and logout, audit, the webhook', async () => {
  await ok('GET', '/accounts');
  await ok('GET', '/accounts/engine');
  await ok('GET', '/accounts/engine/regions');
  assert.ok((await ok('GET', '/accounts/engine/projects')).projects.length >= 1);
  await ok('POST', '/accounts', { name: 'spare', apiKey: t.engine.apiKey, apiUrl: t.engine.url, allowInsecureUrl: true });
  await ok('DELETE', '/accounts/spare');

  const { user } = await ok('POST', '/team', { name: 'vera', role: 'member' });
  await ok('GET', '/team');
  await ok('PUT', '/apps/shop/members/vera', { role: 'viewer' });
  await ok('GET', '/apps/shop/members', undefined, { token: viewer });
  await ok('POST', '/auth/login', { name: 'vera', password: user.password }, { anonymous: true });
  const { info } = await ok('POST', '/tokens', { name: 'short-lived', role: 'viewer', app: 'shop', expiresInSeconds: 3600 });
  assert.ok((await ok('GET', '/tokens')).tokens.some((k: { id: number }) => k.id === info.id));
  await ok('DELETE', `/tokens/${info.id}`);
  await ok('DELETE', '/apps/shop/members/vera');
  await ok('DELETE', '/team/vera');
  await ok('GET', '/me', undefined, { token: developer });
  await ok('POST', '/auth/logout', undefined, { token: developer });
  assert.ok((await ok('GET', '/audit')).entries.length > 0);

  process.env.ARBOR_GITHUB_WEBHOOK_SECRET = 'responses-test-secret';
  process.env.ARBOR_GITHUB_REPOSITORIES = 'acme/shop=shop';
  try {
    for (const [event, payload] of [
      ['ping', { zen: 'Keep it logically awesome.', hook_id: 1 }],
      ['pull_request', { action: 'opened', number: 7, pull_request: { number: 7, head: { sha: 'a'.repeat(40) } }, repository: { full_name: 'acme/shop' } }],
      ['issues', { action: 'opened' }],
    ] as const) {
      const text = JSON.stringify(payload);
      const response = await fetch(`${t.platform.url}/api/v1/github/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': `delivery-${event}`, 'x-hub-signature-256': `sha256=${createHmac('sha256', 'responses-test-secret').update(text).digest('hex')}` },
        body: text,
      });
      const answer = await response.text();
      assert.ok(response.status === 200 || response.status === 202, `${event}: ${response.status} ${answer}`);
      assert.deepEqual(t.checker.check('POST', '/github/webhook', response.status, answer), [], `${event}: ${answer}`);
    }
    succeeded.add('POST /github/webhook');
    assert.equal((await ok('GET', '/github/webhook')).configured, true);
  } finally {
    delete process.env.ARBOR_GITHUB_WEBHOOK_SECRET;
    delete process.env.ARBOR_GITHUB_REPOSITORIES;
  }
});

test("an app's model, its changes and their approval, as a developer and an app admin", async () => {
  await ok('GET', '/apps', undefined, { token: viewer });
  await ok('GET', '/apps/shop', undefined, { token: viewer });
  const model = SHOP_MODEL.replace('  - name: invoices', '  - name: reports\n    databases: [main]\n  - name: invoices');
  const first = await ok('PATCH', '/apps/shop', { model, migrations: SHOP_MIGRATIONS }, { token: developer });
  assert.equal(first.pending.status, 'pending', 'a developer\'s change waits for the protected environments');
  await ok('POST', `/apps/shop/changes/${first.pending.id}/approve`);
  const second = await ok('PATCH', '/apps/shop', { model: SHOP_MODEL, migrations: SHOP_MIGRATIONS }, { token: developer });
  await ok('POST', `/apps/shop/changes/${second.pending.id}/reject`);
  assert.ok((await ok('GET', '/apps/shop/changes', undefined, { token: viewer })).changes.length >= 2);
  await t.waitFor('shop', 'dev', 'ready');
});

test('environments: what a viewer reads, what a developer changes, credentials, history and a restore', async () => {
  await ok('GET', '/apps/shop/environments', undefined, { token: viewer });
  const { environment } = await ok('GET', '/apps/shop/environments/dev', undefined, { token: viewer });
  assert.equal(environment.status, 'ready');
  const users = (await ok('GET', '/apps/shop/environments/dev/users', undefined, { token: viewer })).users;
  assert.ok(users.some((u: { username: string }) => u.username === 'svc_orders'));
  await ok('GET', '/apps/shop/environments/dev/error-detail');

  await ok('POST', '/apps/shop/environments/dev/users/svc_orders/reveal'); // app admins only (a developer: access.test.ts)
  assert.deepEqual((await ok('POST', '/apps/shop/environments/dev/users/rotate', { role: 'svc_orders' }, { token: developer })).rotated, ['svc_orders']);
  // Each of these runs the environment again (so credentials wait until it is ready).
  await ok('PATCH', '/apps/shop/environments/dev/neon', { suspendTimeoutSeconds: 600 }, { token: developer });
  await ok('PATCH', '/apps/shop/environments/dev', { protected: false });
  await ok('POST', '/apps/shop/environments/dev/retry', undefined, { token: developer });
  await t.waitFor('shop', 'dev', 'ready');
  const { history } = await ok('GET', '/apps/shop/environments/dev/history', undefined, { token: viewer });
  // The window's end (now): the engine's history of a branch begins when its copy is done, which
  // under load can be seconds after the branch's created_at (where the window begins).
  assert.ok((await ok('POST', '/apps/shop/environments/dev/restore', { at: history.to })).environment.restore);
  await t.waitFor('shop', 'dev', 'ready');
});

test("an imported Neon branch: its changes listed, then confirmed; the environment's infra config", async () => {
  // A project made as Neon users make them (the api-client's defaults: neondb owned by neondb_owner).
  const neon = createApiClient({ apiKey: t.engine.apiKey, baseURL: t.engine.url });
  const { data } = await neon.createProject({ project: { name: 'legacy-shop' } });
  const { history } = await ok('GET', `/accounts/engine/projects/${data.project.id}/branches/${data.branch.id}/history`, undefined, { token: developer });
  assert.ok(Date.parse(history.from) <= Date.parse(history.to), JSON.stringify(history));
  await ok('POST', '/apps/shop/environments', { name: 'legacy', type: 'development', account: 'engine', mode: 'import', neonProjectId: data.project.id, neonBranchId: data.branch.id });
  const waiting = await t.waitFor('shop', 'legacy', 'awaiting_confirmation');
  assert.ok(waiting.pendingChanges.length > 0, 'the changes are listed before anything is changed');
  await ok('POST', '/apps/shop/environments/legacy/confirm-import');
  await t.waitFor('shop', 'legacy', 'ready');

  const { config, env } = await ok('GET', '/apps/shop/environments/dev/infra-config', undefined, { token: viewer });
  assert.ok(config.sql_servers.length > 0 && env.every((v: { value?: string }) => v.value === undefined), 'no password without a reveal');
  const revealed = await ok('POST', '/apps/shop/environments/dev/infra-config/reveal', {});
  assert.ok(revealed.env.every((v: { value?: string }) => typeof v.value === 'string'));
});

test('a preview: opened, diffed, reset and closed', async () => {
  await ok('PATCH', '/apps/shop/previews', { parentEnvironment: 'dev' });
  const migrations = { ...SHOP_MIGRATIONS, main: [...SHOP_MIGRATIONS.main, { file: '3_notes.up.sql', sql: 'ALTER TABLE orders ADD COLUMN note text;' }] };
  await ok('PUT', '/apps/shop/previews/1', { migrations }, { token: developer });
  await t.waitFor('shop', 'pr:1', 'ready');
  const { diff } = await ok('GET', '/apps/shop/previews/1/schema-diff', undefined, { token: viewer });
  assert.ok(diff.changes.some((c: { name: string }) => c.name.includes('note')), JSON.stringify(diff.changes));
  await ok('GET', '/apps/shop/previews', undefined, { token: viewer });
  await ok('POST', '/apps/shop/previews/1/reset', undefined, { token: developer });
  await t.waitFor('shop', 'pr:1', 'ready');
  assert.equal((await ok('DELETE', '/apps/shop/previews/1', undefined, { token: developer })).deleted, true);
});

test('the schemas are strict: a password in what a viewer reads does not match the document', async () => {
  const { environment } = await ok('GET', '/apps/shop/environments/dev', undefined, { token: viewer });
  const path = '/apps/shop/environments/dev';
  assert.deepEqual(t.checker.check('GET', path, 200, JSON.stringify({ environment })), []);
  const leaks = [
    { environment: { ...environment, password: 'hunter2' } },
    { environment: { ...environment, neon: { ...environment.neon, password: 'hunter2' } } },
    { environment: { ...environment, connectionUri: 'postgresql://svc_orders:hunter2@127.0.0.1/main' } },
  ];
  for (const leak of leaks) assert.match(t.checker.check('GET', path, 200, JSON.stringify(leak)).join('\n'), /must NOT have additional properties: (password|connectionUri)/);
  const { users } = await ok('GET', '/apps/shop/environments/dev/users', undefined, { token: viewer });
  assert.match(t.checker.check('GET', `${path}/users`, 200, JSON.stringify({ users: [{ ...users[0], password: 'hunter2' }] })).join('\n'), /password/);
  // A status the route does not document is caught too.
  assert.match(t.checker.check('GET', path, 201, JSON.stringify({ environment })).join('\n'), /not documented/);
  // The closed preview is deleted in the background; its parent can go once it is.
  for (let i = 0; (await ok('GET', '/apps/shop/previews')).previews.length; i++) {
    assert.ok(i < 6000, 'the closed preview is gone within minutes');
    await new Promise((r) => setTimeout(r, 50));
  }
  await ok('DELETE', '/apps/shop/environments/dev?confirm=dev');
});

test('an Encore app derived from its uploaded files', async () => {
  const files = [
    { path: 'encore.app', text: '{"id": "mini"}' },
    { path: 'svc/encore.service.ts', text: "import { Service } from 'encore.dev/service';\nexport default new Service('svc');\n" },
    { path: 'svc/db.ts', text: "import { SQLDatabase } from 'encore.dev/storage/sqldb';\nexport const db = new SQLDatabase('mini', { migrations: './migrations' });\n" },
    { path: 'svc/api.ts', text: "import { db } from './db';\nexport async function count() {\n  return db.queryRow`SELECT count(*) FROM t`;\n}\n" },
    { path: 'svc/migrations/1_init.up.sql', text: 'CREATE TABLE t (id int);\n' },
  ];
  const derived = await ok('POST', '/encore-apps/derive', { folder: 'mini', files }, { token: developer });
  assert.equal(derived.model.app, 'mini');
  assert.deepEqual(derived.model.services, [{ name: 'svc', databases: ['mini'] }]);
  assert.deepEqual(derived.migrations.mini.map((m: { file: string }) => m.file), ['1_init.up.sql']);
});

test('every route of the OpenAPI document succeeded on real data, as documented', async (c) => {
  // Runs last (node:test runs a file's tests in order).
  const spec = await (await fetch(`${t.platform.url}/api/v1/openapi.json`)).json();
  const documented = Object.entries<Record<string, { responses: Record<string, { content?: unknown }> }>>(spec.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => {
      const success = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
      assert.ok(success.length, `${method} ${path} documents a success`);
      for (const [status, response] of success) assert.equal(status === '204', !response.content, `${method} ${path} ${status}: a schema unless 204`);
      return `${method.toUpperCase()} ${path}`;
    }),
  );
  c.diagnostic(`${succeeded.size} of ${documented.length} routes checked on real data`);
  assert.deepEqual(documented.filter((r) => !succeeded.has(r)), [], 'routes no test here succeeded on');
  assert.deepEqual([...succeeded].filter((r) => !documented.includes(r)), [], 'answers from routes the document does not name');
});
