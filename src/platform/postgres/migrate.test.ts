// Integration tests of the migration runner on a real server, run as db_<db>_admin after
// `applyRoles`. Run alone: node scripts/test.mjs src/platform/postgres/migrate.test.ts
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { validateAppModel } from './app-model.ts';
import { advisoryLockId, listMigrations, migrate, MigrationError } from './migrate.ts';
import { applyRoles } from './roles-apply.ts';
import { startNeonLikeServer, type NeonLikeServer } from './test-server.ts';

let server: NeonLikeServer;
const passwords = new Map<string, string>();
const dirs: string[] = [];
const DATABASES = ['ordered', 'atomic', 'dirty', 'concurrent'];

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-migrate-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const adminUrl = (db: string) => server.url(`db_${db}_admin`, passwords.get(`db_${db}_admin`)!, db);

async function query(db: string, sql: string): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: adminUrl(db) });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

before(async () => {
  server = await startNeonLikeServer();
  const model = validateAppModel({ app: 'm', databases: DATABASES.map((name) => ({ name })) });
  for (const s of (await applyRoles(server.platformUrl, model)).secrets) passwords.set(s.role, s.password);
});

after(async () => {
  await server?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('listMigrations', () => {
  test('orders by number, not by name, and skips .down.sql and other files', async () => {
    const dir = folder({ '10_c.up.sql': '', '2_b.up.sql': '', '0001_a.up.sql': '', '2_b.down.sql': '', 'README.md': '' });
    assert.deepEqual((await listMigrations(dir)).map((m) => m.file), ['0001_a.up.sql', '2_b.up.sql', '10_c.up.sql']);
  });

  test('names every badly named file and duplicate number', async () => {
    const dir = folder({ '1_a.up.sql': '', '01_b.up.sql': '', 'init.sql': '', '0_zero.up.sql': '' });
    await assert.rejects(listMigrations(dir), (error: Error) => {
      assert.match(error.message, /init\.sql: a migration file is named N_description\.up\.sql/);
      assert.match(error.message, /version 1 is also used by/);
      assert.match(error.message, /0_zero\.up\.sql: the version must be/);
      return true;
    });
  });

  test('uses the advisory lock id golang-migrate uses', () => {
    assert.match(advisoryLockId('main', 'public'), /^\d+$/);
    assert.notEqual(advisoryLockId('main', 'public'), advisoryLockId('other', 'public'));
  });
});

describe('migrate', () => {
  test('applies files in numeric order, records the version, and a re-run is a no-op', async () => {
    const dir = folder({
      '1_create.up.sql': 'CREATE TABLE log (n int, at timestamptz DEFAULT now());\nINSERT INTO log (n) VALUES (1);',
      '2_second.up.sql': 'INSERT INTO log (n) VALUES (2);',
      '10_tenth.up.sql': 'INSERT INTO log (n) VALUES (10);',
      '1_create.down.sql': 'DROP TABLE log;',
    });
    const first = await migrate(adminUrl('ordered'), dir);
    assert.deepEqual(first.applied.map((m) => m.version), [1, 2, 10]);
    assert.equal(first.version, 10);
    assert.deepEqual((await query('ordered', 'SELECT n FROM log ORDER BY at, n')).map((r) => r.n), [1, 2, 10]);
    assert.deepEqual(await query('ordered', 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 10, dirty: false }]);
    const again = await migrate(adminUrl('ordered'), dir);
    assert.deepEqual(again.applied, []);
    assert.equal(again.version, 10);
    assert.equal((await query('ordered', 'SELECT count(*)::int AS n FROM log'))[0].n, 3);
  });

  test('a failing file applies nothing of itself, names the file and statement, and keeps earlier files', async () => {
    const dir = folder({
      '1_ok.up.sql': 'CREATE TABLE kept (id int);',
      '2_bad.up.sql': "CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\n\nINSERT INTO half VALUES ('not a number');\n",
      '3_later.up.sql': 'CREATE TABLE never (id int);',
    });
    await assert.rejects(migrate(adminUrl('atomic'), dir), (error: Error) => {
      assert.ok(error instanceof MigrationError);
      assert.equal(error.file, '2_bad.up.sql');
      assert.deepEqual(error.statement && { index: error.statement.index, line: error.statement.line }, { index: 3, line: 4 });
      assert.match(error.message, /migration 2_bad\.up\.sql failed at statement 3 \(line 4\):/);
      assert.match(error.message, /INSERT INTO half VALUES \('not a number'\)/);
      assert.match(error.message, /invalid input syntax for type integer/);
      assert.match(error.message, /Nothing of 2_bad\.up\.sql was applied/);
      return true;
    });
    const tables = (await query('atomic', "SELECT relname FROM pg_class WHERE relname IN ('kept', 'half', 'never') ORDER BY 1")).map((r) => r.relname);
    assert.deepEqual(tables, ['kept']);
    assert.deepEqual(await query('atomic', 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 1, dirty: false }]);
  });

  test('a dirty version left by an interrupted runner is re-applied from the version before it, as Encore does', async () => {
    const dir = folder({ '1_a.up.sql': 'CREATE TABLE a (id int);', '2_b.up.sql': 'CREATE TABLE b (id int);', '3_c.up.sql': 'CREATE TABLE c (id int);' });
    await migrate(adminUrl('dirty'), folder({ '1_a.up.sql': 'CREATE TABLE a (id int);' }));
    // golang-migrate marks a version dirty before running it; a crash leaves the mark.
    await query('dirty', 'TRUNCATE schema_migrations; INSERT INTO schema_migrations VALUES (2, true)');
    const lines: string[] = [];
    const result = await migrate(adminUrl('dirty'), dir, { log: (line) => lines.push(line) });
    assert.deepEqual(result.applied.map((m) => m.version), [2, 3]);
    assert.match(lines[0], /version 2 is marked dirty.*re-applying from 1/);
    assert.deepEqual(await query('dirty', 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 3, dirty: false }]);
  });

  test('concurrent runners never interleave: each file runs once', async () => {
    const dir = folder({
      '1_log.up.sql': 'CREATE TABLE runs (file int, backend int DEFAULT pg_backend_pid());',
      '2_slow.up.sql': 'INSERT INTO runs (file) VALUES (2);\nSELECT pg_sleep(0.2);',
      '3_after.up.sql': 'INSERT INTO runs (file) VALUES (3);',
    });
    const results = await Promise.all([0, 1, 2].map(() => migrate(adminUrl('concurrent'), dir)));
    const appliedCounts = results.map((r) => r.applied.length).sort();
    assert.deepEqual(appliedCounts, [0, 0, 3]);
    const runs = await query('concurrent', 'SELECT file, count(*)::int AS n, count(DISTINCT backend)::int AS backends FROM runs GROUP BY file ORDER BY file');
    assert.deepEqual(runs, [{ file: 2, n: 1, backends: 1 }, { file: 3, n: 1, backends: 1 }]);
  });
});
