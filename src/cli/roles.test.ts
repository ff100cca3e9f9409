// `arbor roles apply|check` and `arbor migrate` through the real binary against a Neon-like server.
// Run alone: node scripts/test.mjs src/cli/roles.test.ts
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startNeonLikeServer, type NeonLikeServer } from '../platform/postgres/test-server.ts';

const BIN = new URL('../../bin/arbor.js', import.meta.url).pathname;
let server: NeonLikeServer;
let dir: string;

function arbor(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  server = await startNeonLikeServer();
  dir = mkdtempSync(join(tmpdir(), 'arbor-cli-'));
  mkdirSync(join(dir, 'migrations'));
  writeFileSync(join(dir, 'arbor.yaml'), 'app: shop\ndatabases:\n  - name: main\n    migrations: migrations\nservices:\n  - name: orders\n    databases: [main]\n');
  writeFileSync(join(dir, 'migrations', '1_orders.up.sql'), 'CREATE TABLE orders (id bigserial PRIMARY KEY, total int);');
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('arbor roles and migrate', () => {
  let adminPassword = '';

  test('roles apply prints each new password once on stdout, talk on stderr', async () => {
    const run = await arbor(['roles', 'apply', '--url', server.platformUrl]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines[0], 'role\tpassword');
    const roles = lines.slice(1).map((l) => l.split('\t')[0]).sort();
    assert.deepEqual(roles, ['db_main_admin', 'encore_admin', 'encore_reader', 'encore_writer', 'svc_orders']);
    adminPassword = lines.find((l) => l.startsWith('db_main_admin\t'))!.split('\t')[1];
    assert.match(run.stderr, /INFO: create database main owned by db_main_admin/);
    assert.ok(!run.stderr.includes(adminPassword), 'passwords never go to stderr');
  });

  test('a second apply says there is nothing to do and prints no data', async () => {
    const run = await arbor(['roles', 'apply', '--url', server.platformUrl, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.changed, false);
    assert.deepEqual(result.secrets, []);
  });

  test('migrate applies the folder as db_main_admin, then has nothing to apply', async () => {
    const url = server.url('db_main_admin', adminPassword, 'main');
    const first = await arbor(['migrate', '--url', url, '--dir', 'migrations', '--json']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout).applied.map((m: { file: string }) => m.file), ['1_orders.up.sql']);
    const again = await arbor(['migrate', '--dir', 'migrations'], { ARBOR_DATABASE_URL: url });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /nothing to apply; the database is at version 1/);
  });

  test('roles check exits 2 and lists a hand-made deviation; apply repairs it', async () => {
    const client = new pg.Client({ connectionString: server.platformUrl });
    await client.connect();
    await client.query('GRANT CONNECT ON DATABASE main TO PUBLIC');
    await client.end();
    const check = await arbor(['roles', 'check', '--url', server.platformUrl]);
    assert.equal(check.code, 2);
    assert.match(check.stdout, /^public-connect\tPUBLIC has CONNECT on database main/m);
    assert.equal((await arbor(['roles', 'apply', '--url', server.platformUrl])).code, 0);
    const clean = await arbor(['roles', 'check', '--url', server.platformUrl, '--json']);
    assert.equal(clean.code, 0, clean.stderr);
    assert.deepEqual(JSON.parse(clean.stdout), { ok: true, deviations: [], appRoles: [] });
  });

  test('a bad app model fails with exit 1 and names the file and field', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'app: shop\nservices:\n  - name: orders\n    databases: [missing]\n');
    const run = await arbor(['roles', 'check', '--url', server.platformUrl, '--app', 'bad.yaml']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /ERROR: bad\.yaml is not a valid app model/);
    assert.match(run.stderr, /services\[0\]\.databases\[0\]/);
    assert.equal(run.stdout, '');
  });
});
