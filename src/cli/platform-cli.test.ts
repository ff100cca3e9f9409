/**
 * The platform commands through the built binary, against a real platform and engine: an app from
 * arbor.yaml and its migration folders, a pull request's preview opened and closed from "CI", and
 * `db shell` running psql with revealed credentials.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApiClient } from '@neondatabase/api-client';
import { startTestPlatform, type TestPlatform } from '../platform/test-support.ts';

let t: TestPlatform;
let token: string;
const dir = mkdtempSync(join(tmpdir(), 'arbor-cli-app-'));

function arbor(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['bin/arbor.js', ...args], { env: { ...process.env, ARBOR_URL: t.platform.url, ARBOR_TOKEN: token, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
  mkdirSync(join(dir, 'migrations', 'main'), { recursive: true });
  writeFileSync(join(dir, 'arbor.yaml'), 'app: cliapp\ndatabases:\n  - name: main\n    migrations: migrations/main\nservices:\n  - name: api\n    databases: [main]\n');
  writeFileSync(join(dir, 'migrations', 'main', '1_users.up.sql'), 'CREATE TABLE users (id serial PRIMARY KEY);\n');
});
after(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

test('without a token the commands say what to set', async () => {
  const r = await arbor(['apps', 'list'], { ARBOR_TOKEN: '' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ARBOR_TOKEN is not set: make a platform API token .*export ARBOR_TOKEN=/);
});

test('apps apply, a preview opened from CI with its migrations, db shell, closed', async () => {
  const created = await arbor(['apps', 'apply', '--file', join(dir, 'arbor.yaml')]);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout, 'cliapp\n');
  assert.match(created.stderr, /created/);
  assert.deepEqual((await t.call('GET', '/apps/cliapp')).body.app.migrations, { main: ['1_users.up.sql'] });
  assert.equal((await t.call('POST', '/apps/cliapp/environments', { name: 'prod', account: 'engine', mode: 'new-project' })).status, 201);
  await t.waitFor('cliapp', 'prod', 'ready');
  await t.call('PATCH', '/apps/cliapp/previews', { parentEnvironment: 'prod' });

  // The pull request adds a migration.
  writeFileSync(join(dir, 'migrations', 'main', '2_orders.up.sql'), 'CREATE TABLE orders (id serial PRIMARY KEY);\n');
  const opened = await arbor(['previews', 'open', '--pr', '9', '--file', join(dir, 'arbor.yaml')]);
  assert.equal(opened.code, 0, opened.stderr);
  assert.match(opened.stdout, /^pr:9\tready\t127\.0\.0\.1:\d+\n$/);
  assert.match(opened.stderr, /migrations: done \(main: 2_orders\.up\.sql\)/);

  const shell = await arbor(['db', 'shell', '--app', 'cliapp', '--env', 'pr:9', '--write', '--', '-Atc', "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'"]);
  assert.equal(shell.code, 0, shell.stderr);
  assert.equal(shell.stdout, 'orders,schema_migrations,users\n');
  assert.match(shell.stderr, /as encore_writer/);
  const reader = await arbor(['db', 'shell', '--app', 'cliapp', '--env', 'prod', '--', '-Atc', 'INSERT INTO users DEFAULT VALUES']);
  assert.notEqual(reader.code, 0, 'the default role only reads');
  assert.match(reader.stderr, /permission denied/);

  const closed = await arbor(['previews', 'close', '--app', 'cliapp', '--pr', '9']);
  assert.equal(closed.code, 0, closed.stderr);
  assert.match(closed.stderr, /being deleted/);
});

test('environments history and restore: a protected environment takes --confirm, then holds the rows of that moment', async () => {
  await t.engine.engine.history.settled(); // the engine's history of a branch begins at its first base copy
  const count = async () => (await arbor(['db', 'shell', '--app', 'cliapp', '--env', 'prod', '--', '-Atc', 'SELECT count(*) FROM users'])).stdout;
  const insert = async () => assert.equal((await arbor(['db', 'shell', '--app', 'cliapp', '--env', 'prod', '--write', '--', '-Atc', 'INSERT INTO users DEFAULT VALUES'])).code, 0);
  await insert();
  await new Promise((r) => setTimeout(r, 20));
  const at = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 20));
  await insert();
  assert.equal(await count(), '2\n');

  const history = await arbor(['environments', 'history', '--app', 'cliapp', '--env', 'prod', '--json']);
  assert.equal(history.code, 0, history.stderr);
  assert.ok(Date.parse(JSON.parse(history.stdout).from) < Date.parse(at));
  assert.equal((await t.call('PATCH', '/apps/cliapp/environments/prod', { protected: true })).status, 200);
  const unconfirmed = await arbor(['environments', 'restore', '--app', 'cliapp', '--env', 'prod', '--at', at]);
  assert.equal(unconfirmed.code, 1);
  assert.match(unconfirmed.stderr, /confirm with its name .*\(field: confirm\)/);
  const restored = await arbor(['env', 'restore', '--app', 'cliapp', '--env', 'prod', '--at', at, '--confirm', 'prod']);
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stdout, /^prod\tready\t127\.0\.0\.1:\d+\n$/);
  assert.match(restored.stderr, /restore-to-point: done \(restored to /);
  assert.equal(await count(), '1\n', 'the reader still connects, and sees the row of that moment');
});

test('environments confirm-import: the listed changes shown, then made; the branch is ready with its migrations', async () => {
  const neon = createApiClient({ apiKey: t.engine.apiKey, baseURL: t.engine.url });
  const { data } = await neon.createProject({ project: { name: 'outside' } });
  for (;;) {
    const ops = (await neon.listProjectOperations({ projectId: data.project.id })).data.operations;
    if (ops.every((o) => o.status === 'finished')) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal((await t.call('POST', '/apps/cliapp/environments', { name: 'outside', account: 'engine', mode: 'import', neonProjectId: data.project.id, neonBranchId: data.branch.id })).status, 201);
  const waiting = await t.waitFor('cliapp', 'outside', 'awaiting_confirmation');
  const confirmed = await arbor(['environments', 'confirm-import', '--app', 'cliapp', '--env', 'outside']);
  assert.equal(confirmed.code, 0, confirmed.stderr);
  assert.match(confirmed.stdout, /^outside\tready\n$/);
  for (const change of waiting.pendingChanges) assert.ok(confirmed.stderr.includes(`INFO: confirming: ${change}\n`), change);
  assert.ok(waiting.pendingChanges.includes('run 1 migration(s) on the new database main as db_main_admin'), JSON.stringify(waiting.pendingChanges));
  assert.equal((await arbor(['db', 'shell', '--app', 'cliapp', '--env', 'outside', '--', '-Atc', 'SELECT count(*) FROM users'])).stdout, '0\n');
  const again = await arbor(['environments', 'confirm-import', '--app', 'cliapp', '--env', 'outside']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already confirmed/);
});
