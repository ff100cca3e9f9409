/**
 * Existing Neon projects as their users have them (issue 10): made with the api-client's
 * defaults (`neondb_owner`, `neondb`), databases made through the API and in SQL, roles made in
 * SQL, rows, and an Encore app's `schema_migrations` at version 2. Import → changes listed,
 * nothing applied → an admin confirms → ready with db_<db>_admin owning (objects handed over as
 * their owner), migrations continued from version 2, services reading the rows, nobody else's
 * password touched; what only the user can do listed with the exact SQL; branch-from-Neon →
 * ready without asking; Neon's own refusals shown as such and not retried forever.
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

test('import of a user-made project: changes listed and nothing applied until an admin confirms; then db_main_admin owns, nobody else\'s password changes', async () => {
  const p = await userProject('imported');
  // A login role named like one of the app's services, made before Arbor (its password is the user's).
  await sql(p.owner, `CREATE ROLE svc_billing LOGIN PASSWORD '${BILLING_PASSWORD}'`);
  const r = await t.call('POST', '/apps/shop/environments', { name: 'legacy', account: 'engine', mode: 'import', neonProjectId: p.projectId, neonBranchId: p.branchId });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const checked = await t.waitFor('shop', 'legacy', 'awaiting_confirmation');
  assert.ok(checked.deviations.some((d: { kind: string; message: string }) => d.kind === 'wrong-owner' && /db_main_admin/.test(d.message)), JSON.stringify(checked.deviations));
  assert.ok(checked.pendingChanges.includes("make db_main_admin the owner of database main (now neondb_owner), through Neon's database API"), JSON.stringify(checked.pendingChanges));
  assert.ok(checked.pendingChanges.some((c: string) => /^hand the 1 object\(s\) neondb_owner owns in database main to db_main_admin/.test(c)), JSON.stringify(checked.pendingChanges));
  assert.equal(checked.importConfirmed, false);
  // Nothing but the inspecting role changed: main is still neondb_owner's, PUBLIC still connects.
  assert.deepEqual(await sql(p.owner, "SELECT pg_get_userbyid(datdba) AS owner, has_database_privilege('public', 'main', 'CONNECT') AS open FROM pg_database WHERE datname = 'main'"), [{ owner: 'neondb_owner', open: true }]);
  assert.deepEqual(await sql(p.owner, "SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'db\\_%' OR rolname LIKE 'encore\\_%' AND rolname <> 'encore_platform'"), [{ n: 0 }]);
  // An app admin confirms; it is audited with the changes as they were listed.
  assert.equal((await t.call('POST', '/apps/shop/environments/legacy/confirm-import')).status, 202);
  const fixed = await t.waitFor('shop', 'legacy', 'ready');
  assert.equal(fixed.importConfirmed, true);
  assert.deepEqual(fixed.pendingChanges, []);
  const entry = (await t.call('GET', '/audit')).body.entries.find((e: { action: string }) => e.action === 'environment.confirm-import');
  assert.deepEqual(entry.detail.changes, checked.pendingChanges);
  assert.equal((await t.call('POST', '/apps/shop/environments/legacy/confirm-import')).status, 409, 'confirmed once');
  // neondb_owner's table was handed over (Arbor logged in as it with the password Neon keeps).
  assert.deepEqual(await sql(withDatabase(p.owner, 'postgres'), "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'main'"), [{ owner: 'db_main_admin' }]);
  const service = (await t.call('POST', '/apps/shop/environments/legacy/users/svc_orders/reveal')).body.user;
  assert.deepEqual(await sql(service.connectionUri, "SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'customers'"), [{ owner: 'db_main_admin' }]);
  assert.deepEqual(await sql(p.owner, "SELECT count(*)::int AS n FROM pg_auth_members WHERE roleid = 'db_main_admin'::regrole AND member = 'neondb_owner'::regrole"), [{ n: 0 }], 'the membership lent for the handover is taken back');
  // Left alone and reported: svc_billing keeps the user's password; Arbor knows none for it.
  assert.deepEqual(fixed.deviations.map((d: { kind: string }) => d.kind), ['existing-login-role'], JSON.stringify(fixed.deviations));
  assert.match(fixed.deviations[0].message, /svc_billing existed on the branch before the import/);
  assert.deepEqual(await sql(withDatabase(p.owner, 'main', { name: 'svc_billing', password: BILLING_PASSWORD }), 'SELECT current_user AS me'), [{ me: 'svc_billing' }]);
  assert.equal((await t.call('POST', '/apps/shop/environments/legacy/users/svc_billing/reveal')).status, 409);
  // The user's own roles still log in with their passwords (main itself is now the hierarchy's:
  // CONNECT only for its roles, as the listed changes said).
  assert.deepEqual(await sql(withDatabase(p.owner, 'neondb', { name: 'legacy_app', password: LEGACY_PASSWORD }), 'SELECT current_user AS me'), [{ me: 'legacy_app' }]);
  assert.deepEqual(await sql(p.owner, 'SELECT 1 AS one'), [{ one: 1 }], 'neondb_owner still connects');
  // The service reads the existing rows.
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

/** An Encore app's migrations (services/billing/migrations): 1 and 2 ran before Arbor, 3 is new. */
const ENCORE_MIGRATIONS = [
  { file: '1_create_invoices.up.sql', sql: 'CREATE TABLE invoices (id BIGSERIAL PRIMARY KEY, customer TEXT NOT NULL, cents BIGINT NOT NULL);\n' },
  { file: '2_add_paid.up.sql', sql: 'ALTER TABLE invoices ADD COLUMN paid BOOLEAN NOT NULL DEFAULT false;\nCREATE INDEX invoices_customer ON invoices (customer);\n' },
  {
    file: '3_create_payments.up.sql',
    sql: [
      'CREATE TABLE payments (id BIGSERIAL PRIMARY KEY, invoice_id BIGINT NOT NULL REFERENCES invoices (id), cents BIGINT NOT NULL);',
      'ALTER TABLE invoices ADD COLUMN due DATE;',
      // Encore's materialized-view pattern: a role of the migrations' own owns the view.
      'CREATE ROLE matview_owner;',
      'GRANT matview_owner TO encore_services;',
      'GRANT SELECT ON invoices TO matview_owner;',
      'GRANT CREATE ON SCHEMA public TO matview_owner;',
      'SET ROLE matview_owner;',
      'CREATE MATERIALIZED VIEW unpaid AS SELECT customer, sum(cents) AS cents FROM invoices WHERE NOT paid GROUP BY customer;',
      'RESET ROLE;',
      '',
    ].join('\n'),
  },
];
const LEDGER = 'app: ledger\ndatabases:\n  - name: billing\nservices:\n  - name: payments\n    databases: [billing]\n';
const REPORTING_PASSWORD = 'reporting-Password-with-enough-entropy-0123456789';

/**
 * An Encore app's project on Neon, as its users have it: the api-client's defaults, database
 * `billing` made through Neon's API (owned by neondb_owner), a role made in SQL that made a table
 * of its own, and migrations 1-2 applied by neondb_owner the way Encore's runner (golang-migrate)
 * leaves them: `schema_migrations(version bigint, dirty bool)` holding one row (2, false).
 */
async function encoreProject(name: string) {
  const { data } = await neon.createProject({ project: { name } });
  await settle(data.project.id);
  const projectId = data.project.id;
  const branchId = data.branch.id;
  await neon.createProjectBranchDatabase(projectId, branchId, { database: { name: 'billing', owner_name: 'neondb_owner' } });
  await settle(projectId);
  const owner = data.connection_uris![0].connection_uri;
  const billing = withDatabase(owner, 'billing');
  await sql(billing, 'CREATE TABLE IF NOT EXISTS public.schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)');
  for (const m of ENCORE_MIGRATIONS.slice(0, 2)) {
    const version = Number.parseInt(m.file, 10);
    await sql(billing, `BEGIN; TRUNCATE schema_migrations; INSERT INTO schema_migrations (version, dirty) VALUES (${version}, true); COMMIT;`);
    await sql(billing, `${m.sql};\nINSERT INTO schema_migrations (version, dirty) VALUES (${version}, false) ON CONFLICT (version) DO UPDATE SET dirty = false;`);
    await sql(billing, `BEGIN; TRUNCATE schema_migrations; INSERT INTO schema_migrations (version, dirty) VALUES (${version}, false); COMMIT;`);
  }
  await sql(billing, "INSERT INTO invoices (customer, cents, paid) VALUES ('acme', 1200, true), ('globex', 800, false)");
  // A reporting role made in SQL, with a table of its own.
  await sql(billing, `CREATE ROLE reporting LOGIN PASSWORD '${REPORTING_PASSWORD}'; GRANT CREATE ON SCHEMA public TO reporting; GRANT SELECT ON invoices TO reporting`);
  const reporting = withDatabase(owner, 'billing', { name: 'reporting', password: REPORTING_PASSWORD });
  await sql(reporting, "CREATE TABLE monthly_totals (month date PRIMARY KEY, cents bigint NOT NULL); INSERT INTO monthly_totals VALUES ('2026-11-01', 2000)");
  assert.deepEqual(await sql(billing, 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 2, dirty: false }]);
  return { projectId, branchId, owner, billing, reporting };
}

test("an Encore app's existing project: branch-neon continues its migrations from version 2; import waits for confirmation, then does the same, and lists what only the user can do", async () => {
  assert.equal((await t.call('POST', '/apps', { model: LEDGER, migrations: { billing: ENCORE_MIGRATIONS } })).status, 201);
  const p = await encoreProject('encore-ledger');
  const ownerOf = (uri: string, relation: string) => sql<{ owner: string }>(uri, `SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = '${relation}'`).then((rows) => rows[0]?.owner);

  // Branch from Neon: Arbor's own branch, fixed without asking; only migration 3 runs.
  assert.equal((await t.call('POST', '/apps/ledger/environments', { name: 'staging', account: 'engine', mode: 'branch-neon', neonProjectId: p.projectId, neonBranchId: p.branchId })).status, 201);
  const staging = await t.waitFor('ledger', 'staging', 'failed');
  assert.match(staging.error, /migrations of billing wait: in database billing, 1 object\(s\) owned by reporting \(table public\.monthly_totals\)/);
  const branchAdmin = (await t.call('POST', '/apps/ledger/environments/staging/users/db_billing_admin/reveal')).body.user.connectionUri;
  // On Arbor's branch the reporting role is a copy: the user runs the listed SQL there as reporting, then retries.
  const statements = /As reporting, run in database billing: (.*) Then retry/.exec(staging.error)![1];
  assert.equal(statements, 'ALTER TABLE public.monthly_totals OWNER TO db_billing_admin;');
  const onBranch = new URL(branchAdmin);
  ((onBranch.username = 'reporting'), (onBranch.password = REPORTING_PASSWORD));
  await sql(onBranch.toString(), statements);
  assert.equal((await t.call('POST', '/apps/ledger/environments/staging/retry')).status, 202);
  const ready = await t.waitFor('ledger', 'staging', 'ready');
  assert.match(ready.steps.filter((s: { step: string; generation: number }) => s.step === 'migrations').at(-1).detail, /^billing: 3_create_payments\.up\.sql$/);
  assert.deepEqual(await sql(branchAdmin, 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 3, dirty: false }]);
  for (const relation of ['invoices', 'payments', 'schema_migrations', 'monthly_totals']) assert.equal(await ownerOf(branchAdmin, relation), 'db_billing_admin', relation);
  const service = (await t.call('POST', '/apps/ledger/environments/staging/users/svc_payments/reveal')).body.user.connectionUri;
  assert.deepEqual(await sql(service, 'SELECT customer, cents::int, paid, due FROM invoices ORDER BY id'), [{ customer: 'acme', cents: 1200, paid: true, due: null }, { customer: 'globex', cents: 800, paid: false, due: null }]);
  assert.deepEqual(await sql(service, 'INSERT INTO payments (invoice_id, cents) SELECT id, cents FROM invoices WHERE paid RETURNING cents::int'), [{ cents: 1200 }]);
  assert.equal(await ownerOf(branchAdmin, 'unpaid'), 'matview_owner', "the migrations' own role keeps its view");
  assert.equal(await ownerOf(p.billing, 'invoices'), 'neondb_owner', 'the source branch is untouched');

  // Import of the same branch: checked, the changes listed, nothing applied.
  assert.equal((await t.call('POST', '/apps/ledger/environments', { name: 'prod', type: 'production', account: 'engine', mode: 'import', neonProjectId: p.projectId, neonBranchId: p.branchId })).status, 201);
  const waiting = await t.waitFor('ledger', 'prod', 'awaiting_confirmation');
  const kinds = new Set(waiting.deviations.map((d: { kind: string }) => d.kind));
  for (const kind of ['wrong-owner', 'missing-role', 'public-connect', 'foreign-owned-objects']) assert.ok(kinds.has(kind), `${kind} in ${[...kinds].join(', ')}`);
  assert.deepEqual(
    waiting.pendingChanges.filter((c: string) => /^(make|hand|run) /.test(c)),
    [
      "make db_billing_admin the owner of database billing (now neondb_owner), through Neon's database API",
      "hand the 2 object(s) neondb_owner owns in database billing to db_billing_admin (as neondb_owner, with the password Neon keeps for it; for a role made in SQL, which Neon keeps none for, you run the listed ALTER … OWNER statements as neondb_owner)",
      "hand the 1 object(s) reporting owns in database billing to db_billing_admin (as reporting, with the password Neon keeps for it; for a role made in SQL, which Neon keeps none for, you run the listed ALTER … OWNER statements as reporting)",
      'run 1 migration(s) on billing as db_billing_admin (3_create_payments.up.sql; schema_migrations is at version 2)',
    ],
  );
  assert.ok(waiting.pendingChanges.some((c: string) => /^create database billing's admin role db_billing_admin$/.test(c)), JSON.stringify(waiting.pendingChanges));
  assert.equal(await ownerOf(p.billing, 'invoices'), 'neondb_owner');
  assert.deepEqual(await sql(p.billing, 'SELECT version::int FROM schema_migrations'), [{ version: 2 }]);

  assert.equal((await t.call('POST', '/apps/ledger/environments/prod/confirm-import')).status, 202);
  const stuck = await t.waitFor('ledger', 'prod', 'failed');
  assert.equal(stuck.retry.permanent, true);
  const manual = stuck.deviations.find((d: { kind: string; manual?: boolean }) => d.kind === 'foreign-owned-objects' && d.manual);
  assert.ok(manual, JSON.stringify(stuck.deviations));
  assert.match(manual.message, /Arbor cannot log in as reporting/);
  await sql(p.reporting, /As reporting, run in database billing: (.*) Then retry/.exec(manual.message)![1]);
  assert.equal((await t.call('POST', '/apps/ledger/environments/prod/retry')).status, 202);
  const prod = await t.waitFor('ledger', 'prod', 'ready');
  assert.deepEqual(prod.deviations, []);
  // A later run (the model applied again) leaves the migrations' own role's view as it is.
  assert.equal((await t.call('POST', '/apps/ledger/environments/prod/retry')).status, 202);
  assert.deepEqual((await t.waitFor('ledger', 'prod', 'ready')).deviations, []);
  const prodAdmin = (await t.call('POST', '/apps/ledger/environments/prod/users/db_billing_admin/reveal')).body.user.connectionUri;
  assert.deepEqual(await sql(prodAdmin, "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'billing'"), [{ owner: 'db_billing_admin' }]);
  assert.deepEqual(await sql(p.billing.replace(/\/billing/, '/neondb'), 'SELECT current_user AS me'), [{ me: 'neondb_owner' }], 'neondb_owner keeps its own database');
  assert.deepEqual(await sql(prodAdmin, 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 3, dirty: false }]);
  assert.match(prod.steps.filter((s: { step: string }) => s.step === 'migrations').at(-1).detail, /^billing: 3_create_payments\.up\.sql$/);
  const prodService = (await t.call('POST', '/apps/ledger/environments/prod/users/svc_payments/reveal')).body.user.connectionUri;
  assert.deepEqual(await sql(prodService, 'SELECT customer FROM invoices ORDER BY id'), [{ customer: 'acme' }, { customer: 'globex' }]);
  assert.deepEqual(await sql(prodService, 'SELECT cents::int FROM monthly_totals'), [{ cents: 2000 }]);
  // The reporting role keeps its password and its read on invoices.
  assert.deepEqual(await sql(p.reporting.replace(/\/billing/, '/neondb'), 'SELECT current_user AS me'), [{ me: 'reporting' }]);
});
