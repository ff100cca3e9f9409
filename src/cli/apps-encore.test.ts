/**
 * Encore apps end to end: the fixture apps of test/fixtures/encore (TypeScript with Prisma,
 * Drizzle and sql folders, CREATE RULE, the matview/CREATEROLE pattern, cross-service use; Go with
 * 1.up.sql, a file with its own BEGIN/COMMIT, the legacy folder, sqldb.Named) through
 * `arbor apps apply --encore` (the real binary) and through POST /encore-apps/derive (the
 * dashboard's way: the folder's files uploaded), then an environment on the engine, its
 * migrations, and each service's own queries; no role reaches a database it does not declare,
 * Neon's neondb included.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startTestPlatform, type TestPlatform } from '../platform/test-support.ts';

const FIXTURES = new URL('../../test/fixtures/encore', import.meta.url).pathname;
let t: TestPlatform;
let token: string;
const dir = mkdtempSync(join(tmpdir(), 'arbor-cli-encore-'));

function arbor(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['bin/arbor.js', ...args], { env: { ...process.env, ARBOR_URL: t.platform.url, ARBOR_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

before(async () => {
  t = await startTestPlatform();
  token = (await t.call('POST', '/tokens', { name: 'cli', role: 'admin' })).body.token;
  await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
});
after(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Connects as `role` of `app/env` to `database` (its password revealed, audited). */
async function as<T>(app: string, env: string, role: string, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const uri = new URL((await t.call('POST', `/apps/${app}/environments/${env}/users/${role}/reveal`)).body.user.connectionUri);
  uri.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: uri.toString() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const refused = /permission denied for database/;

test('ts-shop through apps apply --encore: dry run, arbor.yaml written out, environment, migrations, service queries, isolation', async () => {
  const app = join(FIXTURES, 'ts-shop');
  const dry = await arbor(['apps', 'apply', '--encore', app, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^# The model of the TypeScript Encore app at .*\(dry run: nothing was sent\)\napp: ts-shop\n/);
  assert.match(dry.stdout, /#   users: 20240115093000_init\/migration\.sql, 20240203141500_add_posts\/migration\.sql/);
  assert.match(dry.stdout, /# Everything was resolved\./);
  assert.equal((await t.call('GET', '/apps/ts-shop')).status, 404);

  const yaml = join(dir, 'arbor.yaml');
  const applied = await arbor(['apps', 'apply', '--encore', app, '--write-yaml', yaml]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stderr, /app ts-shop created/);
  assert.deepEqual((await t.call('GET', '/apps/ts-shop')).body.app.migrations, {
    orders: ['0_init.up.sql', '1_audit_rule.up.sql', '2_totals_view.up.sql'],
    posts: ['0000_fixed_obadiah_stane.sql', '0001_tense_mentor.sql'],
    users: ['20240115093000_init/migration.sql', '20240203141500_add_posts/migration.sql'],
  });
  // The written arbor.yaml (its folders relative to where it is) is the same model with the same files.
  const fromYaml = JSON.parse((await arbor(['apps', 'apply', '--file', yaml, '--dry-run', '--json'])).stdout);
  const stored = (await t.call('GET', '/apps/ts-shop')).body.app;
  assert.deepEqual(fromYaml.migrations, stored.migrations);
  assert.deepEqual(fromYaml.model.services, stored.model.services);
  assert.deepEqual(fromYaml.model.databases.map((d: { name: string }) => d.name), stored.model.databases.map((d: { name: string }) => d.name));

  assert.equal((await t.call('POST', '/apps/ts-shop/environments', { name: 'dev', account: 'engine', mode: 'new-project' })).status, 201);
  const env = await t.waitFor('ts-shop', 'dev', 'ready', 240_000);
  assert.match(env.steps.find((s: { step: string }) => s.step === 'roles').detail, /closed database neondb to the app's roles \(as its owner neondb_owner\)/);

  const userId = await as('ts-shop', 'dev', 'svc_users', 'users', async (c) => (await c.query(`INSERT INTO "User" (email) VALUES ('a@example.com') RETURNING id`)).rows[0].id);
  // orders: its own database (the rule's two actions fire) and the users database it names.
  await as('ts-shop', 'dev', 'svc_orders', 'users', (c) => c.query('SELECT id FROM "User" WHERE id = $1', [userId]));
  const log = await as('ts-shop', 'dev', 'svc_orders', 'orders', async (c) => {
    await c.query('INSERT INTO orders (user_id, total) VALUES ($1, 42)', [userId]);
    // TEMP comes with CONNECT on a declared database.
    await c.query('CREATE TEMP TABLE scratch (x int)');
    return (await c.query('SELECT what FROM order_log ORDER BY what')).rows.map((r) => r.what);
  });
  assert.deepEqual(log, ['audited', 'placed']);
  // reports: refreshes the materialized view as the role the migration made, through encore_services.
  const totals = await as('ts-shop', 'dev', 'svc_reports', 'orders', async (c) => {
    await c.query('SET ROLE matview_owner');
    await c.query('REFRESH MATERIALIZED VIEW order_totals');
    await c.query('RESET ROLE');
    return (await c.query('SELECT total::int FROM order_totals')).rows;
  });
  assert.deepEqual(totals, [{ total: 42 }]);
  await as('ts-shop', 'dev', 'svc_posts', 'posts', (c) => c.query(`INSERT INTO users (email) VALUES ('p@example.com')`));

  // Nobody reaches what it does not declare: another app database, or Neon's neondb.
  for (const [role, database] of [['svc_notifier', 'orders'], ['svc_posts', 'users'], ['svc_reports', 'users'], ['svc_orders', 'neondb'], ['svc_notifier', 'neondb'], ['encore_reader', 'neondb'], ['encore_writer', 'neondb']]) {
    await assert.rejects(as('ts-shop', 'dev', role, database, async () => {}), refused, `${role} on ${database}`);
  }
  // neondb's owner still gets in (Arbor revoked only PUBLIC's privileges).
  const { projectId, branchId } = env.neon;
  const neonApi = { headers: { authorization: `Bearer ${t.engine.apiKey}` } };
  const owner = await (await fetch(`${t.engine.url}/projects/${projectId}/branches/${branchId}/roles/neondb_owner/reveal_password`, neonApi)).json();
  const ownerUri = new URL((await t.call('POST', '/apps/ts-shop/environments/dev/users/svc_orders/reveal')).body.user.connectionUri);
  Object.assign(ownerUri, { username: 'neondb_owner', password: owner.password, pathname: '/neondb' });
  const ownerClient = new pg.Client({ connectionString: ownerUri.toString() });
  await ownerClient.connect();
  await ownerClient.end();
});

/** The files of a folder as the dashboard's form sends them (paths relative to the folder). */
function upload(root: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push({ path: relative(root, full), text: readFileSync(full, 'utf8') });
    }
  };
  walk(root);
  return out;
}

test('go-shop through POST /encore-apps/derive (uploaded files), then POST /apps: the Go app runs, each service on its own databases', async () => {
  const derived = await t.call('POST', '/encore-apps/derive', { folder: 'go-shop', files: upload(join(FIXTURES, 'go-shop')) });
  assert.equal(derived.status, 200, JSON.stringify(derived.body));
  assert.equal(derived.body.language, 'go');
  assert.deepEqual(derived.body.notes, []);
  assert.deepEqual(derived.body.model.services, [{ name: 'legacy', databases: ['legacy'] }, { name: 'stats', databases: ['todo'] }, { name: 'todo', databases: ['todo'] }]);
  assert.deepEqual(Object.fromEntries(Object.entries(derived.body.migrations as Record<string, { file: string }[]>).map(([db, files]) => [db, files.map((f) => f.file)])), { legacy: ['1_init.up.sql', '002_body_index.up.sql'], todo: ['1.up.sql', '2_done.up.sql'] });
  assert.equal((await t.call('POST', '/apps', { model: derived.body.yaml, migrations: derived.body.migrations })).status, 201);
  assert.equal((await t.call('POST', '/apps/go-shop/environments', { name: 'dev', account: 'engine', mode: 'new-project' })).status, 201);
  await t.waitFor('go-shop', 'dev', 'ready', 240_000);

  await as('go-shop', 'dev', 'svc_todo', 'todo', (c) => c.query(`INSERT INTO todo_item (title) VALUES ('x')`));
  const open = await as('go-shop', 'dev', 'svc_stats', 'todo', (c) => c.query('SELECT count(*)::int AS n FROM todo_item WHERE NOT done'));
  assert.equal(open.rows[0].n, 1);
  await as('go-shop', 'dev', 'svc_legacy', 'legacy', (c) => c.query('SELECT count(*) FROM note'));
  for (const [role, database] of [['svc_stats', 'legacy'], ['svc_legacy', 'todo'], ['svc_todo', 'neondb']]) {
    await assert.rejects(as('go-shop', 'dev', role, database, async () => {}), refused, `${role} on ${database}`);
  }

  // The app drops its legacy service and database: the database goes, with its roles.
  const model = { ...derived.body.model, databases: derived.body.model.databases.filter((d: { name: string }) => d.name !== 'legacy'), services: derived.body.model.services.filter((s: { name: string }) => s.name !== 'legacy') };
  assert.equal((await t.call('PATCH', '/apps/go-shop', { model, migrations: { todo: derived.body.migrations.todo } })).status, 200);
  const env = await t.waitFor('go-shop', 'dev', 'ready', 240_000);
  const roles = env.steps.filter((s: { step: string; generation: number }) => s.step === 'roles' && s.generation === env.generation).at(-1);
  assert.match(roles.detail, /dropped database legacy \(removed from the model\) and its roles db_legacy_admin, db_legacy_writer, db_legacy_reader/);
  const databases = await as('go-shop', 'dev', 'encore_platform', 'todo', (c) => c.query("SELECT datname FROM pg_database WHERE datname IN ('legacy', 'todo')"));
  assert.deepEqual(databases.rows, [{ datname: 'todo' }]);
});

test('derive refuses what is not an app folder, naming the field', async () => {
  const outside = await t.call('POST', '/encore-apps/derive', { files: [{ path: 'encore.app', text: '{"id": "x"}' }, { path: '../etc/x.ts', text: '' }] });
  assert.equal(outside.status, 400);
  assert.equal(outside.body.error.field, 'files[1].path');
  const none = await t.call('POST', '/encore-apps/derive', { files: [{ path: 'main.go', text: 'package main' }] });
  assert.equal(none.status, 400);
  assert.match(none.body.error.message, /no encore\.app among the files/);
  const badFolder = await t.call('POST', '/encore-apps/derive', { folder: 'Bad Name/..', files: [{ path: 'encore.app', text: '{}' }] });
  assert.equal(badFolder.status, 400);
  assert.equal(badFolder.body.error.field, 'folder');
});
