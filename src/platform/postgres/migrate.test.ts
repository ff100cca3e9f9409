// Integration tests of the migration runner on a real server, run as db_<db>_admin after
// `applyRoles`. Run alone: node scripts/test.mjs src/platform/postgres/migrate.test.ts
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { validateAppModel } from './app-model.ts';
import { advisoryLockId, listMigrations, migrate, MigrationError, migrationNameProblems, parseMigrationNames, readMigrationTexts } from './migrate.ts';
import { applyRoles } from './roles-apply.ts';
import { checkRoles } from './roles-check.ts';
import { startNeonLikeServer, type NeonLikeServer } from './test-server.ts';

let server: NeonLikeServer;
const passwords = new Map<string, string>();
const dirs: string[] = [];
const DATABASES = ['ordered', 'atomic', 'dirty', 'concurrent', 'drizzle', 'prisma', 'zero', 'rule', 'txn', 'txnok', 'nocreate', 'position', 'matview', 'switch', 'dangling'];
const MODEL = validateAppModel({ app: 'm', databases: DATABASES.map((name) => ({ name })), services: [{ name: 'reporter', databases: ['matview'] }] });
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-migrate-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** A copy of a fixture folder, to add files to. */
function copyOf(fixture: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-migrate-'));
  dirs.push(dir);
  cpSync(join(FIXTURES, fixture), dir, { recursive: true });
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
  for (const s of (await applyRoles(server.platformUrl, MODEL)).secrets) passwords.set(s.role, s.password);
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
    await assert.rejects(listMigrations(dir, { naming: 'go' }), (error: Error) => {
      assert.match(error.message, /init\.sql: a migration file is named N\.up\.sql or N_description\.up\.sql/);
      assert.match(error.message, /version 1 is also used by/);
      assert.match(error.message, /0_zero\.up\.sql: Encore's Go parser needs a version above 0/);
      return true;
    });
  });

  test("Encore's filename rules: TypeScript takes version 0, Go an optional description; arbor.yaml either", () => {
    const names = ['0_init.up.sql', '1.up.sql', '2_add.up.sql', '2_add.down.sql', '3.down.sql'];
    const ts = parseMigrationNames(names, { naming: 'ts' });
    assert.deepEqual(ts.files.map((f) => f.file), ['0_init.up.sql', '2_add.up.sql']);
    assert.deepEqual(ts.problems, ['1.up.sql: a migration file is named N_description.up.sql (or .down.sql), e.g. 1_create_users.up.sql', '3.down.sql: a migration file is named N_description.up.sql (or .down.sql), e.g. 1_create_users.up.sql']);
    const go = parseMigrationNames(names, { naming: 'go' });
    assert.deepEqual(go.files.map((f) => [f.file, f.name]), [['1.up.sql', ''], ['2_add.up.sql', 'add']]);
    assert.deepEqual(go.problems, ["0_init.up.sql: Encore's Go parser needs a version above 0"]);
    const any = parseMigrationNames(names);
    assert.deepEqual(any.files.map((f) => f.version), [0, 1, 2]);
    assert.deepEqual(any.problems, []);
    // Go compares the extension case-insensitively, TypeScript does not.
    assert.deepEqual(parseMigrationNames(['1_a.up.SQL'], { naming: 'go' }).problems.length, 1);
    // TypeScript ignores it, as Encore does; a folder left without any migration is then an error.
    assert.match(parseMigrationNames(['1_a.up.SQL'], { naming: 'ts' }).problems[0], /none of its files is a sql migration \(found 1_a\.up\.SQL\)/);
  });

  test('a drizzle-kit folder as drizzle-kit wrote it: NNNN_name.sql in order, meta/ ignored', async () => {
    const files = await listMigrations(join(FIXTURES, 'drizzle/migrations'), { source: 'drizzle' });
    assert.deepEqual(files.map((f) => [f.version, f.file]), [[0, '0000_fixed_obadiah_stane.sql'], [1, '0001_tense_mentor.sql']]);
  });

  test("a Prisma folder in Prisma's layout: <timestamp>_<name>/migration.sql, migration_lock.toml ignored", async () => {
    const files = await listMigrations(join(FIXTURES, 'prisma/prisma/migrations'), { source: 'prisma' });
    assert.deepEqual(files.map((f) => [f.version, f.file, f.name]), [
      [20240115093000, '20240115093000_init/migration.sql', 'init'],
      [20240203141500, '20240203141500_add_posts/migration.sql', 'add_posts'],
    ]);
  });

  test('a database of the model read as the API takes it, and its uploaded names checked by the same rules', async () => {
    const texts = await readMigrationTexts(FIXTURES, { migrations: 'prisma/prisma/migrations', migrationsSource: 'prisma' });
    assert.deepEqual(texts.map((t) => t.file), ['20240115093000_init/migration.sql', '20240203141500_add_posts/migration.sql']);
    assert.match(texts[0].sql, /^-- CreateTable\nCREATE TABLE "User"/);
    assert.deepEqual(migrationNameProblems({ migrationsSource: 'prisma' }, texts.map((t) => t.file)), []);
    assert.deepEqual(migrationNameProblems({ migrationsNaming: 'go' }, ['1.up.sql']), []);
    assert.match(migrationNameProblems({}, ['20240115093000_init/migration.sql'])[0], /none of its files is a sql migration/);
  });

  test('drizzle/v1 folders: <N>_<name>/migration.sql beside snapshot.json, meta/ skipped', async () => {
    const dir = folder({ '0000_init/migration.sql': '', '0000_init/snapshot.json': '{}', '0001_add_profile/migration.sql': '', 'meta/migration.sql': '' });
    const files = await listMigrations(dir, { source: 'drizzle/v1' });
    assert.deepEqual(files.map((f) => [f.version, f.file]), [[0, '0000_init/migration.sql'], [1, '0001_add_profile/migration.sql']]);
  });

  test('a Prisma or Drizzle folder read as plain sql is an error naming the files, never silently empty', async () => {
    await assert.rejects(listMigrations(join(FIXTURES, 'prisma/prisma/migrations')), (error: Error) => {
      assert.match(error.message, /none of its files is a sql migration \(found .*migration_lock\.toml.*\); expected N_description\.up\.sql/);
      assert.match(error.message, /looks like prisma's; declare migrations: \{ path, source: prisma \}/);
      return true;
    });
    await assert.rejects(listMigrations(join(FIXTURES, 'drizzle/migrations')), /0000_fixed_obadiah_stane\.sql: a migration file is named .*source: drizzle/);
    await assert.rejects(listMigrations(join(FIXTURES, 'drizzle/migrations'), { source: 'prisma' }), /none of its files is a prisma migration.*expected <N>_<name>\/migration\.sql.*looks like drizzle's/);
    await assert.rejects(listMigrations(folder({ 'README.md': 'hi' })), /none of its files is a sql migration \(found README\.md\)/);
    await assert.rejects(listMigrations(folder({ 'init/migration.sql': '' }), { source: 'prisma' }), /init: not a prisma migration folder; expected <N>_<name>\/migration\.sql/);
    // An empty folder (or one with only a .gitkeep) is a database with no migrations yet, as in Encore.
    assert.deepEqual(await listMigrations(folder({ '.gitkeep': '' })), []);
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

  test('a failing file applies nothing of itself, names the file, statement, line and SQLSTATE, and keeps earlier files', async () => {
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
      assert.equal(error.line, 4);
      assert.equal(error.code, '22P02');
      assert.equal(error.version, 2);
      assert.deepEqual(error.persisted, { ownTransaction: false, statements: [], summary: error.persisted!.summary });
      return true;
    });
    const tables = (await query('atomic', "SELECT relname FROM pg_class WHERE relname IN ('kept', 'half', 'never') ORDER BY 1")).map((r) => r.relname);
    assert.deepEqual(tables, ['kept']);
    // golang-migrate marks the version dirty before running it, and a failure leaves the mark.
    assert.deepEqual(await query('atomic', 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 2, dirty: true }]);
    // Fixed, the next run re-applies it from version 1, as Encore does.
    writeFileSync(join(dir, '2_bad.up.sql'), 'CREATE TABLE half (id int);');
    const fixed = await migrate(adminUrl('atomic'), dir);
    assert.deepEqual(fixed.applied.map((m) => m.version), [2, 3]);
    assert.deepEqual(await query('atomic', 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 3, dirty: false }]);
  });

  test('an error without a position is placed at the statement PostgreSQL did not complete', async () => {
    const dir = folder({ '1_dup.up.sql': '-- two tables\nCREATE TABLE p (id int);\n\nCREATE TABLE q (id int);\nCREATE TABLE p (id int);\n' });
    await assert.rejects(migrate(adminUrl('position'), dir), (error: Error) => {
      assert.ok(error instanceof MigrationError);
      assert.equal(error.code, '42P07');
      assert.deepEqual(error.statement && [error.statement.index, error.statement.line], [3, 5]);
      assert.equal(error.line, 5);
      assert.match(error.message, /failed at statement 3 \(line 5\):\n    CREATE TABLE p \(id int\)\n  relation "p" already exists \(SQLSTATE 42P07\)/);
      return true;
    });
    // A syntax error: the line comes from PostgreSQL's error position, inside a multi-line statement.
    const syntax = folder({ '1_syntax.up.sql': 'CREATE TABLE ok (id int);\nCREATE TABLE bad (\n  id int,\n  name txet oops\n);\n' });
    await assert.rejects(migrate(adminUrl('position'), syntax), (error: Error) => {
      assert.ok(error instanceof MigrationError);
      assert.equal(error.code, '42601');
      assert.equal(error.line, 4);
      assert.equal(error.statement?.index, 2);
      return true;
    });
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

  test('a drizzle-kit folder runs sequentially from version 0, one row as golang-migrate keeps it', async () => {
    const result = await migrate(adminUrl('drizzle'), join(FIXTURES, 'drizzle/migrations'), { source: 'drizzle' });
    assert.equal(result.mode, 'sequential');
    assert.deepEqual(result.applied.map((m) => m.version), [0, 1]);
    assert.deepEqual(await query('drizzle', 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 1, dirty: false }]);
    const fk = await query('drizzle', "SELECT conname FROM pg_constraint WHERE conname = 'posts_user_id_users_id_fk'");
    assert.equal(fk.length, 1);
    assert.deepEqual((await migrate(adminUrl('drizzle'), join(FIXTURES, 'drizzle/migrations'), { source: 'drizzle' })).applied, []);
  });

  test('version 0 of a sql folder runs (Encore TypeScript apps may start at 0)', async () => {
    const dir = folder({ '0_init.up.sql': 'CREATE TABLE zero (id int);', '1.up.sql': 'INSERT INTO zero VALUES (1);' });
    const result = await migrate(adminUrl('zero'), dir);
    assert.deepEqual(result.applied.map((m) => m.file), ['0_init.up.sql', '1.up.sql']);
    assert.deepEqual(await query('zero', 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 1, dirty: false }]);
  });

  test('a Prisma folder runs non-sequentially: one row per version, and a version below the highest applied still runs', async () => {
    const dir = copyOf('prisma/prisma/migrations');
    const first = await migrate(adminUrl('prisma'), dir, { source: 'prisma' });
    assert.equal(first.mode, 'non-sequential');
    assert.deepEqual(first.applied.map((m) => m.version), [20240115093000, 20240203141500]);
    const rows = () => query('prisma', 'SELECT version::text, dirty FROM schema_migrations ORDER BY version');
    assert.deepEqual(await rows(), [{ version: '20240115093000', dirty: false }, { version: '20240203141500', dirty: false }]);
    // A branch merged later brings a migration dated before the last applied one.
    mkdirSync(join(dir, '20240120110000_add_profile'));
    writeFileSync(join(dir, '20240120110000_add_profile/migration.sql'), '-- AlterTable\nALTER TABLE "User" ADD COLUMN     "bio" TEXT;\n');
    const second = await migrate(adminUrl('prisma'), dir, { source: 'prisma' });
    assert.deepEqual(second.applied.map((m) => m.file), ['20240120110000_add_profile/migration.sql']);
    assert.equal(second.version, 20240203141500);
    assert.deepEqual((await rows()).map((r) => r.version), ['20240115093000', '20240120110000', '20240203141500']);
    assert.equal((await query('prisma', `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'User' AND column_name = 'bio'`))[0].n, 1);
    assert.deepEqual((await migrate(adminUrl('prisma'), dir, { source: 'prisma' })).applied, []);
  });

  test('migrations given in memory (as the platform stores them) run like a folder', async () => {
    const files = [
      { file: '2_b/migration.sql', sql: 'CREATE TABLE mem_b (id int);' },
      { file: '1_a/migration.sql', sql: 'CREATE TABLE mem_a (id int);' },
    ];
    const result = await migrate(adminUrl('switch'), { files }, { source: 'drizzle/v1' });
    assert.deepEqual(result.applied.map((m) => m.file), ['1_a/migration.sql', '2_b/migration.sql']);
    await assert.rejects(migrate(adminUrl('switch'), { files: [{ file: 'init.sql', sql: '' }] }), /init\.sql: a migration file is named/);
    await query('switch', 'DROP TABLE mem_a, mem_b; DROP TABLE schema_migrations');
  });

  test('a failing Prisma migration records nothing of itself; the versions before it stay recorded', async () => {
    const dir = folder({
      '1_a/migration.sql': 'CREATE TABLE sa (id int);',
      '2_b/migration.sql': 'CREATE TABLE sb (id int);\nSELECT 1/0;',
    });
    await assert.rejects(migrate(adminUrl('switch'), dir, { source: 'prisma' }), (error: Error) => {
      assert.ok(error instanceof MigrationError);
      assert.equal(error.file, '2_b/migration.sql');
      assert.match(error.message, /division by zero/);
      assert.match(error.message, /version 2 is not recorded/);
      return true;
    });
    assert.deepEqual(await query('switch', 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 1, dirty: false }]);
    assert.deepEqual(await query('switch', "SELECT relname FROM pg_class WHERE relname IN ('sa', 'sb')"), [{ relname: 'sa' }]);
  });

  test('each file is one multi-statement query: CREATE RULE ... DO ALSO (INSERT ...; INSERT ...) works', async () => {
    const dir = folder({
      '1_rule.up.sql': [
        'CREATE TABLE orders (id int);',
        'CREATE TABLE audit_a (id int);',
        'CREATE TABLE audit_b (id int);',
        'CREATE RULE orders_audit AS ON INSERT TO orders DO ALSO (INSERT INTO audit_a VALUES (NEW.id); INSERT INTO audit_b VALUES (NEW.id));',
        'INSERT INTO orders VALUES (7);',
      ].join('\n'),
    });
    await migrate(adminUrl('rule'), dir);
    assert.deepEqual(await query('rule', 'SELECT (SELECT count(*) FROM audit_a)::int AS a, (SELECT count(*) FROM audit_b)::int AS b'), [{ a: 1, b: 1 }]);
  });

  test('a file with its own BEGIN ... COMMIT and a later error: the report says truthfully what persisted', async () => {
    const dir = folder({
      '1_txn.up.sql': 'BEGIN;\nCREATE TABLE t1 (id int);\nCREATE TABLE t2 (id int);\nCOMMIT;\nCREATE TABLE t3 (id int);\nINSERT INTO t1 VALUES (1 / 0);\n',
    });
    await assert.rejects(migrate(adminUrl('txn'), dir), (error: Error) => {
      assert.ok(error instanceof MigrationError);
      assert.deepEqual(error.persisted?.ownTransaction, true);
      assert.deepEqual(error.persisted?.statements, [2, 3]);
      assert.equal(error.statement?.index, 6);
      assert.match(error.message, /1_txn\.up\.sql manages its own transaction: statements 2–3 \(lines 2–3\) were committed by its own COMMIT and persist; the rest was rolled back; version 1 is marked dirty/);
      assert.doesNotMatch(error.message, /Nothing of/);
      return true;
    });
    const tables = (await query('txn', "SELECT relname FROM pg_class WHERE relname IN ('t1', 't2', 't3') ORDER BY 1")).map((r) => r.relname);
    assert.deepEqual(tables, ['t1', 't2']);
    assert.deepEqual(await query('txn', 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 1, dirty: true }]);
  });

  test('a file with its own transaction that succeeds is recorded clean', async () => {
    const dir = folder({ '1_own.up.sql': 'BEGIN;\nCREATE TABLE own (id int);\nCOMMIT;\n', '2_next.up.sql': 'INSERT INTO own VALUES (2);' });
    const result = await migrate(adminUrl('txnok'), dir);
    assert.deepEqual(result.applied.map((m) => m.version), [1, 2]);
    assert.deepEqual(await query('txnok', 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 2, dirty: false }]);
  });

  test('a file that opens a transaction and never commits it is committed with its version, as golang-migrate does', async () => {
    const dir = folder({ '1_open/migration.sql': 'BEGIN;\nCREATE TABLE left_open (id int);\n' });
    await migrate(adminUrl('dangling'), dir, { source: 'prisma' });
    assert.deepEqual(await query('dangling', "SELECT relname FROM pg_class WHERE relname = 'left_open'"), [{ relname: 'left_open' }]);
    assert.deepEqual(await query('dangling', 'SELECT version::int, dirty FROM schema_migrations'), [{ version: 1, dirty: false }]);
  });

  test('nothing pending needs no CREATE on the schema: the table is not re-created ("no change", as Encore)', async () => {
    const dir = folder({ '1_a.up.sql': 'CREATE TABLE na (id int);' });
    await migrate(adminUrl('nocreate'), dir);
    // A login that may read schema_migrations but create nothing.
    const password = 'Nc-' + Math.random().toString(36).slice(2);
    await query('nocreate', `CREATE ROLE nocreate_runner LOGIN PASSWORD '${password}'; GRANT CONNECT ON DATABASE nocreate TO nocreate_runner; GRANT SELECT ON schema_migrations TO nocreate_runner; REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
    try {
      const result = await migrate(server.url('nocreate_runner', password, 'nocreate'), dir);
      assert.deepEqual(result.applied, []);
      assert.equal(result.version, 1);
      // A folder with nothing yet and no table: nothing created either.
      const empty = await migrate(server.url('nocreate_runner', password, 'nocreate'), folder({}), {});
      assert.equal(empty.version, 1);
    } finally {
      await query('nocreate', 'REVOKE ALL ON schema_migrations FROM nocreate_runner; REVOKE ALL ON DATABASE nocreate FROM nocreate_runner; DROP ROLE nocreate_runner');
    }
  });

  test("Encore's materialized-view pattern: db_<db>_admin creates a role, grants it to encore_services, and a service refreshes the view", async () => {
    // Encore's documented migration, plus the two grants PostgreSQL 15+ needs (public is not writable by PUBLIC).
    const dir = folder({
      '1_todo.up.sql': 'CREATE TABLE todo_item (id int);\nINSERT INTO todo_item VALUES (1), (1), (2);',
      '2_matview.up.sql': [
        'CREATE ROLE matview_owner;',
        'GRANT matview_owner TO encore_services;',
        'GRANT CREATE ON SCHEMA public TO matview_owner;',
        'GRANT SELECT ON todo_item TO matview_owner;',
        '',
        'SET ROLE matview_owner;',
        'CREATE MATERIALIZED VIEW my_view AS',
        '  SELECT id, count(*) AS total FROM todo_item GROUP BY id;',
        'RESET ROLE;',
      ].join('\n'),
    });
    try {
      await migrate(adminUrl('matview'), dir);
      const owner = await query('matview', "SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'my_view'");
      assert.deepEqual(owner, [{ owner: 'matview_owner' }]);
      // The service (a member of encore_services) assumes it and refreshes the view, as Encore's docs show.
      const service = new pg.Client({ connectionString: server.url('svc_reporter', passwords.get('svc_reporter')!, 'matview') });
      await service.connect();
      try {
        await service.query('SET ROLE matview_owner');
        await service.query('REFRESH MATERIALIZED VIEW my_view');
        await service.query('RESET ROLE');
        assert.equal((await service.query('SELECT count(*)::int AS n FROM my_view')).rows[0].n, 2);
      } finally {
        await service.end();
      }
      // roles check: the role is the app's own, not a deviation.
      const check = await checkRoles(server.platformUrl, MODEL);
      assert.deepEqual(check.deviations, []);
      assert.deepEqual(check.appRoles, [{ role: 'matview_owner', createdBy: 'db_matview_admin', members: ['encore_services'] }]);
    } finally {
      await query('matview', 'DROP MATERIALIZED VIEW IF EXISTS my_view; REVOKE ALL ON SCHEMA public FROM matview_owner; DROP TABLE IF EXISTS todo_item');
      await query('matview', 'DROP ROLE IF EXISTS matview_owner');
    }
  });

  test('CREATEROLE gives db_<db>_admin no way past the hierarchy (checked on the server itself)', async () => {
    const version = (await query('matview', 'SHOW server_version_num'))[0].server_version_num;
    assert.ok(Number(version) >= 160000, `PostgreSQL ${version}: CREATEROLE is only this narrow from 16 on`);
    const refused = [
      'CREATE ROLE escalate_a SUPERUSER',
      'CREATE ROLE escalate_b CREATEDB',
      'CREATE ROLE escalate_c REPLICATION',
      'CREATE ROLE escalate_d BYPASSRLS',
      'ALTER ROLE db_matview_admin CREATEDB',
      "ALTER ROLE svc_reporter PASSWORD 'taken-over'",
      'ALTER ROLE svc_reporter NOLOGIN',
      'GRANT db_ordered_writer TO db_matview_admin',
      'GRANT encore_services TO db_ordered_admin',
      'GRANT pg_read_all_data TO db_matview_admin',
      'GRANT pg_write_server_files TO db_matview_admin',
      'DROP ROLE svc_reporter',
      'CREATE ROLE escalate_e IN ROLE db_ordered_writer',
    ];
    const refusals: string[] = [];
    for (const sql of refused) {
      await assert.rejects(query('matview', sql), (error: Error & { code?: string }) => {
        refusals.push(`${sql}: ${error.code}`);
        return error.code === '42501';
      }, sql);
    }
    assert.equal(refusals.length, refused.length);
    assert.deepEqual(await query('matview', "SELECT rolname FROM pg_roles WHERE rolname LIKE 'escalate%'"), []);
    // What it may do is give its own new roles away (even to another database's admin): they hold only what it grants them.
    await query('matview', 'CREATE ROLE escalate_ok ROLE db_ordered_admin');
    await query('matview', 'DROP ROLE escalate_ok');
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
