// `arbor migrate` through the real binary with the folder taken from an Encore app or arbor.yaml
// (source and filename rules as declared). Run alone: node scripts/test.mjs src/cli/migrate.test.ts
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readEncoreApp } from '../platform/postgres/encore-app.ts';
import { applyRoles } from '../platform/postgres/roles-apply.ts';
import { startNeonLikeServer, type NeonLikeServer } from '../platform/postgres/test-server.ts';

const BIN = new URL('../../bin/arbor.js', import.meta.url).pathname;
const TS_SHOP = new URL('../../test/fixtures/encore/ts-shop', import.meta.url).pathname;
let server: NeonLikeServer;
let dir: string;
const passwords = new Map<string, string>();

function arbor(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  server = await startNeonLikeServer();
  dir = mkdtempSync(join(tmpdir(), 'arbor-cli-migrate-'));
  const { model } = await readEncoreApp(TS_SHOP);
  for (const s of (await applyRoles(server.platformUrl, model)).secrets) passwords.set(s.role, s.password);
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const url = (db: string) => server.url(`db_${db}_admin`, passwords.get(`db_${db}_admin`)!, db);

describe('arbor migrate --encore / --app', () => {
  test('--encore APP --db users runs the Prisma folder non-sequentially, as the app declares it', async () => {
    const run = await arbor(['migrate', '--url', url('users'), '--encore', TS_SHOP, '--db', 'users', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.mode, 'non-sequential');
    assert.deepEqual(result.applied.map((m: { file: string }) => m.file), ['20240115093000_init/migration.sql', '20240203141500_add_posts/migration.sql']);
    const again = await arbor(['migrate', '--url', url('users'), '--encore', TS_SHOP, '--db', 'users']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /no change: nothing to apply; the database is at version 20240203141500/);
  });

  test('--app arbor.yaml --db posts takes the drizzle source from migrations: { path, source }', async () => {
    writeFileSync(join(dir, 'arbor.yaml'), `app: ts-shop\ndatabases:\n  - name: posts\n    migrations: { path: ${join(TS_SHOP, 'posts/migrations')}, source: drizzle }\n`);
    const run = await arbor(['migrate', '--url', url('posts'), '--app', 'arbor.yaml', '--db', 'posts', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout).applied.map((m: { version: number }) => m.version), [0, 1]);
  });

  test('a Prisma folder given as plain --dir is refused with the fix, never applied as nothing', async () => {
    const run = await arbor(['migrate', '--url', url('users'), '--dir', join(TS_SHOP, 'users/prisma/migrations')]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /none of its files is a sql migration.*looks like prisma's; declare migrations: \{ path, source: prisma \}/);
  });

  test('conflicting or missing flags are refused, an unknown database lists the app\'s', async () => {
    const both = await arbor(['migrate', '--url', url('users'), '--dir', 'x', '--encore', TS_SHOP]);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--dir and --encore cannot be used together/);
    const unknown = await arbor(['migrate', '--url', url('users'), '--encore', TS_SHOP, '--db', 'nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /the app has no database "nope"; its databases: orders, posts, users/);
    const source = await arbor(['migrate', '--url', url('users'), '--encore', TS_SHOP, '--db', 'users', '--source', 'sql']);
    assert.equal(source.code, 1);
    assert.match(source.stderr, /--source and --naming come from the app/);
  });
});
