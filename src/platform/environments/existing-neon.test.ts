/**
 * Existing Neon projects as their users have them (issue 10): made with the api-client's
 * defaults (`neondb_owner`, `neondb`), roles made in SQL, a database named like the app's owned by
 * `neondb_owner` (or a SQL-made role), rows in it. Import → deviations → Fix roles → ready with
 * db_<db>_admin owning and nobody else's password touched; branch-from-Neon → ready, owner moved
 * through Neon's API; Neon's own refusals shown as such and not retried forever.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createApiClient, type Api } from '@neondatabase/api-client';
import { startTestPlatform, type TestPlatform } from '../test-support.ts';

let t: TestPlatform;
let neon: Api<unknown>;
const MODEL = 'app: shop\ndatabases:\n  - name: main\nservices:\n  - name: orders\n    databases: [main]\n  - name: billing\n    databases: [main]\n';
const BILLING_PASSWORD = 'billing-Password-with-enough-entropy-0123456789';
const LEGACY_PASSWORD = 'legacy-Password-with-enough-entropy-0123456789';

async function sql<T = Record<string, unknown>>(uri: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

const withDatabase = (uri: string, database: string, user?: { name: string; password: string }) => {
  const url = new URL(uri);
  url.pathname = `/${database}`;
  if (user) ((url.username = user.name), (url.password = user.password));
  return url.toString();
};

async function settle(projectId: string) {
  for (;;) {
    const ops = (await neon.listProjectOperations({ projectId })).data.operations;
    if (ops.every((o) => ['finished', 'failed', 'error', 'cancelled', 'skipped'].includes(o.status))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A project as a Neon user has it: the api-client's defaults, a login role made in SQL, a
 * database `main` made in SQL by neondb_owner (so it owns it), a table with a row.
 */
async function userProject(name: string) {
  const { data } = await neon.createProject({ project: { name } });
  await settle(data.project.id);
  const owner = data.connection_uris![0].connection_uri;
  assert.equal(data.roles.find((r) => r.name === 'neondb_owner')?.name, 'neondb_owner');
  assert.ok(data.databases.some((d) => d.name === 'neondb' && d.owner_name === 'neondb_owner'));
  await sql(owner, `CREATE ROLE legacy_app LOGIN PASSWORD '${LEGACY_PASSWORD}'`);
  await sql(owner, 'CREATE DATABASE main');
  await sql(withDatabase(owner, 'main'), "CREATE TABLE customers (id serial PRIMARY KEY, email text); INSERT INTO customers (email) VALUES ('first@example.com'); GRANT SELECT ON customers TO legacy_app");
  return { projectId: data.project.id, branchId: data.branch.id, owner };
}

before(async () => {
  t = await startTestPlatform();
  neon = createApiClient({ apiKey: t.engine.apiKey, baseURL: t.engine.url });
  const connect = await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  if (connect.status === 400) await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale' });
  assert.equal((await t.call('POST', '/apps', { model: MODEL })).status, 201);
});
after(() => t.close());

test("the engine lists roles and databases made in SQL, as Neon does, and its database PATCH moves ownership to them", async () => {
  const p = await userProject('sql-made');
  const roles = (await neon.listProjectBranchRoles(p.projectId, p.branchId)).data.roles;
  const legacy = roles.find((r) => r.name === 'legacy_app');
  assert.ok(legacy, `legacy_app listed: ${roles.map((r) => r.name).join(', ')}`);
  assert.equal(legacy.protected, false);
  assert.equal(legacy.authentication_method, 'password');
  assert.ok(!roles.some((r) => /^pg_|^neon_superuser$|^cloud_admin$/.test(r.name)), 'no system roles');
  const databases = (await neon.listProjectBranchDatabases(p.projectId, p.branchId)).data.databases;
  assert.equal(databases.find((d) => d.name === 'main')?.owner_name, 'neondb_owner');

  await neon.updateProjectBranchDatabase(p.projectId, p.branchId, 'main', { database: { owner_name: 'legacy_app' } });
  await settle(p.projectId);
  assert.deepEqual(await sql(p.owner, "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'main'"), [{ owner: 'legacy_app' }]);
  assert.equal((await neon.getProjectBranchDatabase(p.projectId, p.branchId, 'main')).data.database.owner_name, 'legacy_app');
});

test('import of a user-made project: deviations listed, Fix roles makes db_main_admin the owner, nobody else\'s password changes', async () => {
  const p = await userProject('imported');
  // A login role named like one of the app's services, made before Arbor (its password is the user's).
  await sql(p.owner, `CREATE ROLE svc_billing LOGIN PASSWORD '${BILLING_PASSWORD}'`);
  const r = await t.call('POST', '/apps/shop/environments', { name: 'legacy', account: 'engine', mode: 'import', neonProjectId: p.projectId, neonBranchId: p.branchId });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const checked = await t.waitFor('shop', 'legacy', 'ready');
  assert.ok(checked.deviations.some((d: { kind: string; message: string }) => d.kind === 'wrong-owner' && /db_main_admin/.test(d.message)), JSON.stringify(checked.deviations));

  assert.equal((await t.call('POST', '/apps/shop/environments/legacy/fix-roles')).status, 202);
  let fixed = await t.waitFor('shop', 'legacy', 'ready');
  // What Arbor cannot fix (a table neondb_owner owns) is listed with the exact SQL for its owner.
  const foreign = fixed.deviations.find((d: { kind: string }) => d.kind === 'foreign-owned-objects');
  assert.ok(foreign, JSON.stringify(fixed.deviations));
  assert.match(foreign.message, /owned by neondb_owner \(public\.customers, public\.customers_id_seq\)/);
  const grants = /As neondb_owner, run in database main: (.*) Then retry/.exec(foreign.message)![1];
  await sql(withDatabase(p.owner, 'main'), grants);
  assert.equal((await t.call('POST', '/apps/shop/environments/legacy/retry')).status, 202);
  fixed = await t.waitFor('shop', 'legacy', 'ready');
  // Left alone and reported: svc_billing keeps the user's password; Arbor knows none for it.
  assert.deepEqual(fixed.deviations.map((d: { kind: string }) => d.kind), ['existing-login-role']);
  assert.match(fixed.deviations[0].message, /svc_billing existed on the branch before the import/);
  assert.deepEqual(await sql(withDatabase(p.owner, 'main', { name: 'svc_billing', password: BILLING_PASSWORD }), 'SELECT current_user AS me'), [{ me: 'svc_billing' }]);
  assert.equal((await t.call('POST', '/apps/shop/environments/legacy/users/svc_billing/reveal')).status, 409);
  assert.deepEqual(await sql(p.owner, "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'main'"), [{ owner: 'db_main_admin' }]);
  // The user's own roles still log in with their passwords (main itself is now the hierarchy's:
  // CONNECT only for its roles, as the listed deviations said).
  assert.deepEqual(await sql(withDatabase(p.owner, 'neondb', { name: 'legacy_app', password: LEGACY_PASSWORD }), 'SELECT current_user AS me'), [{ me: 'legacy_app' }]);
  assert.deepEqual(await sql(p.owner, 'SELECT 1 AS one'), [{ one: 1 }], 'neondb_owner still connects');
  // The service reads the existing rows.
  const service = (await t.call('POST', '/apps/shop/environments/legacy/users/svc_orders/reveal')).body.user;
  assert.deepEqual(await sql(service.connectionUri, 'SELECT email FROM customers'), [{ email: 'first@example.com' }]);
});

test('branch from a user-made project whose database neondb_owner owns: ready, owned by db_main_admin on the new branch only', async () => {
  const p = await userProject('branched');
  const r = await t.call('POST', '/apps/shop/environments', { name: 'copy', account: 'engine', mode: 'branch-neon', neonProjectId: p.projectId, neonBranchId: p.branchId });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const env = await t.waitFor('shop', 'copy', 'ready');
  assert.notEqual(env.neon.branchId, p.branchId);
  const platform = (await t.call('POST', '/apps/shop/environments/copy/users/encore_platform/reveal')).body.user;
  assert.deepEqual(await sql(withDatabase(platform.connectionUri, 'postgres'), "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'main'"), [{ owner: 'db_main_admin' }]);
  assert.deepEqual(await sql(p.owner, "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'main'"), [{ owner: 'neondb_owner' }], 'the source branch is untouched');
});

test('an import whose branch already has encore_platform (not made by Arbor for it) fails once, resetting nothing', async () => {
  const { data } = await neon.createProject({ project: { name: 'someone-elses' } });
  await settle(data.project.id);
  const created = (await neon.createProjectBranchRole(data.project.id, data.branch.id, { role: { name: 'encore_platform' } })).data.role;
  await settle(data.project.id);
  const r = await t.call('POST', '/apps/shop/environments', { name: 'theirs', account: 'engine', mode: 'import', neonProjectId: data.project.id, neonBranchId: data.branch.id });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const failed = await t.waitFor('shop', 'theirs', 'failed');
  assert.match(failed.error, /already has a role encore_platform, which Arbor did not create/);
  assert.match(failed.error, /delete that role in Neon/);
  const deadline = Date.now() + 30_000;
  for (let e = failed; e.observedGeneration !== e.generation; e = (await t.call('GET', '/apps/shop/environments/theirs')).body.environment) {
    assert.ok(Date.now() < deadline, 'the failure is permanent (not queued again)');
    await new Promise((r) => setTimeout(r, 50));
  }
  const uri = new URL(data.connection_uris![0].connection_uri);
  ((uri.username = 'encore_platform'), (uri.password = created.password!));
  assert.deepEqual(await sql(uri.toString(), 'SELECT current_user AS me'), [{ me: 'encore_platform' }], 'its password is unchanged');
  assert.equal((await t.call('DELETE', '/apps/shop/environments/theirs?confirm=theirs')).status, 202);
});
