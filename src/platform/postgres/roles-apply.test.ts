// Integration tests of `applyRoles` on a real PostgreSQL 17 set up like a Neon branch, run as the
// API-created `encore_platform` (not a superuser). Run alone: node scripts/test.mjs src/platform/postgres/roles-apply.test.ts
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { validateAppModel, type AppModel } from './app-model.ts';
import { migrate } from './migrate.ts';
import { applyRoles } from './roles-apply.ts';
import { checkRoles } from './roles-check.ts';
import { dropRemovedDatabases } from './roles-drop.ts';
import { startNeonLikeServer, type NeonLikeServer } from './test-server.ts';

let server: NeonLikeServer;
const passwords = new Map<string, string>();
let migrationsDir: string;

const MODEL = validateAppModel({
  app: 'shop',
  databases: [{ name: 'a' }, { name: 'b' }],
  services: [
    { name: 'one', databases: ['a'] },
    { name: 'both', databases: ['a', 'b'] },
    { name: 'none', databases: [] },
  ],
});

async function apply(model: AppModel) {
  const result = await applyRoles(server.platformUrl, model);
  for (const s of result.secrets) passwords.set(s.role, s.password);
  return result;
}

function urlFor(role: string, database: string): string {
  return role === 'encore_platform' ? server.url(role, server.platformPassword, database) : server.url(role, passwords.get(role) ?? 'unknown', database);
}

async function connectAs(role: string, database: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: urlFor(role, database) });
  await client.connect();
  return client;
}

before(async () => {
  server = await startNeonLikeServer();
  migrationsDir = mkdtempSync(join(tmpdir(), 'arbor-migrations-'));
  writeFileSync(join(migrationsDir, '1_items.up.sql'), "CREATE TABLE items (id bigserial PRIMARY KEY, v text);\nINSERT INTO items (v) VALUES ('seed');\n");
  writeFileSync(
    join(migrationsDir, '2_extra.up.sql'),
    "CREATE SCHEMA extra;\nCREATE TABLE extra.notes (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);\nINSERT INTO extra.notes (v) VALUES ('seed');\nCREATE TABLE doomed (id int);\n",
  );
});

after(async () => {
  await server?.stop();
  rmSync(migrationsDir, { recursive: true, force: true });
});

type Level = 'none' | 'read' | 'write' | 'admin' | 'platform';

const ACTIONS: [string, string, Level][] = [
  ['select public table', 'SELECT count(*) FROM items', 'read'],
  ['select table in a schema made by a migration', 'SELECT count(*) FROM extra.notes', 'read'],
  ['insert using a sequence', "INSERT INTO items (v) VALUES ('x')", 'write'],
  ['insert using an identity in the new schema', "INSERT INTO extra.notes (v) VALUES ('x')", 'write'],
  ['update', "UPDATE items SET v = 'y'", 'write'],
  ['delete', 'DELETE FROM items', 'write'],
  ['create table', 'CREATE TABLE probe (id int)', 'admin'],
  ['create table in the new schema', 'CREATE TABLE extra.probe (id int)', 'admin'],
  ['alter table', 'ALTER TABLE items ADD COLUMN c int', 'admin'],
  ['drop table', 'DROP TABLE doomed', 'admin'],
  // CREATEROLE is an attribute of db_<db>_admin (as Encore grants it), not inherited by encore_admin.
  ['create role', 'CREATE ROLE probe_role', 'platform'],
];
const CREATEROLE = /^db_.+_admin$/;
const RANK: Level[] = ['none', 'read', 'write', 'admin', 'platform'];

/** The level each login role should have on each database (docs/roles.md). */
const EXPECTED: Record<string, Record<string, Level>> = {
  encore_platform: { a: 'platform', b: 'platform' },
  encore_reader: { a: 'read', b: 'read' },
  encore_writer: { a: 'write', b: 'write' },
  encore_admin: { a: 'admin', b: 'admin' },
  db_a_admin: { a: 'admin', b: 'none' },
  db_b_admin: { a: 'none', b: 'admin' },
  svc_one: { a: 'write', b: 'none' },
  svc_both: { a: 'write', b: 'write' },
  svc_none: { a: 'none', b: 'none' },
};

describe('applyRoles', () => {
  test('creates the whole hierarchy from nothing and leaves nothing for check', async () => {
    const result = await apply(MODEL);
    assert.equal(result.changed, true);
    assert.deepEqual(result.remaining, []);
    assert.deepEqual(result.secrets.map((s) => s.role).sort(), ['db_a_admin', 'db_b_admin', 'encore_admin', 'encore_reader', 'encore_writer', 'svc_both', 'svc_none', 'svc_one']);
    for (const { password } of result.secrets) assert.match(password, /^[A-Za-z0-9_-]{32}$/);
    assert.equal((await checkRoles(server.platformUrl, MODEL)).ok, true);
  });

  test('migrations run as db_<db>_admin after apply', async () => {
    for (const db of ['a', 'b']) {
      const result = await migrate(urlFor(`db_${db}_admin`, db), migrationsDir);
      assert.deepEqual(result.applied.map((m) => m.version), [1, 2]);
    }
  });

  test('privilege matrix: every login role × database × action matches the hierarchy, including objects migrations made', async () => {
    const expected: string[] = [];
    const actual: string[] = [];
    for (const [role, levels] of Object.entries(EXPECTED)) {
      for (const db of ['a', 'b']) {
        const level = levels[db];
        expected.push(`${role} ${db} connect: ${level !== 'none'}`);
        let client: pg.Client | null = null;
        try {
          client = await connectAs(role, db);
          actual.push(`${role} ${db} connect: true`);
        } catch (error) {
          assert.match((error as Error).message, /permission denied for database/, `${role} on ${db}: ${(error as Error).message}`);
          actual.push(`${role} ${db} connect: false`);
        }
        if (level === 'none' || !client) {
          await client?.end();
          continue;
        }
        for (const [name, sql, needs] of ACTIONS) {
          const allowed = RANK.indexOf(level) >= RANK.indexOf(needs) || (name === 'create role' && CREATEROLE.test(role));
          expected.push(`${role} ${db} ${name}: ${allowed}`);
          await client.query('BEGIN');
          let ok = true;
          try {
            await client.query(sql);
          } catch (error) {
            assert.match((error as Error).message, /permission denied|must be owner/, `${role} ${db} ${name}: ${(error as Error).message}`);
            ok = false;
          }
          await client.query('ROLLBACK');
          actual.push(`${role} ${db} ${name}: ${ok}`);
        }
        await client.end();
      }
    }
    assert.deepEqual(actual, expected);
  });

  test('a second run changes nothing, says so, and only observes', async () => {
    const result = await apply(MODEL);
    assert.equal(result.changed, false);
    assert.deepEqual(result.operations, []);
    assert.deepEqual(result.secrets, []);
    assert.ok(result.roundTrips.queries <= 1 + MODEL.databases.length, JSON.stringify(result.roundTrips));
  });

  test('a database and a service added later get only their own roles and grants', async () => {
    const grown = validateAppModel({ ...MODEL, databases: [...MODEL.databases, { name: 'c' }], services: [...MODEL.services, { name: 'late', databases: ['c'] }] });
    const result = await apply(grown);
    assert.ok(result.operations.length > 0);
    for (const o of result.operations) assert.match(o.comment, /\bc\b|db_c_|svc_late/, o.comment);
    assert.deepEqual(result.secrets.map((s) => s.role).sort(), ['db_c_admin', 'svc_late']);
    const late = await connectAs('svc_late', 'c');
    await late.end();
    await assert.rejects(connectAs('svc_late', 'a'), /permission denied for database/);
    assert.equal((await checkRoles(server.platformUrl, grown)).ok, true);
  });

  test('a service removed from the model can no longer log in', async () => {
    const shrunk = validateAppModel({ ...MODEL, services: MODEL.services.filter((s) => s.name !== 'both') });
    const before = await connectAs('svc_both', 'b');
    await before.end();
    const result = await apply(shrunk);
    assert.ok(result.operations.some((o) => o.comment === 'disable login of svc_both (service removed from the model)'));
    await assert.rejects(connectAs('svc_both', 'b'), /not permitted to log in/);
    assert.equal((await checkRoles(server.platformUrl, shrunk)).ok, true);
  });

  test('a database removed from the model goes with its roles and the roles its migrations made; nothing else is dropped', async () => {
    // Database c (added above, gone from the model since) gets a role its migrations make, as Encore's matview pattern does.
    const admin = await connectAs('db_c_admin', 'c');
    await admin.query('CREATE ROLE c_matview; GRANT c_matview TO encore_services; GRANT CREATE ON SCHEMA public TO c_matview; SET ROLE c_matview; CREATE TABLE owned_by_app_role (x int); RESET ROLE');
    await admin.end();
    const model = validateAppModel({ ...MODEL, services: MODEL.services.filter((s) => s.name !== 'both') });
    assert.deepEqual(await dropRemovedDatabases(server.platformUrl, model), [{ database: 'c', roles: ['c_matview', 'db_c_admin', 'db_c_writer', 'db_c_reader'] }]);
    const su = new pg.Client({ connectionString: server.superuserUrl });
    await su.connect();
    try {
      assert.deepEqual((await su.query("SELECT datname FROM pg_database WHERE datname IN ('a', 'b', 'c', 'neondb') ORDER BY 1")).rows.map((r) => r.datname), ['a', 'b', 'neondb']);
      assert.deepEqual((await su.query("SELECT rolname FROM pg_roles WHERE rolname IN ('c_matview', 'db_c_admin', 'db_c_writer', 'db_c_reader', 'db_a_admin', 'encore_services', 'neondb_owner') ORDER BY 1")).rows.map((r) => r.rolname), ['db_a_admin', 'encore_services', 'neondb_owner']);
    } finally {
      await su.end();
    }
    assert.deepEqual(await dropRemovedDatabases(server.platformUrl, model), []);
    assert.equal((await checkRoles(server.platformUrl, model)).ok, true);

    // A run that stopped after dropping the database: the next one drops the roles it left.
    await apply(validateAppModel({ ...model, databases: [...model.databases, { name: 'z' }] }));
    const platform = await connectAs('encore_platform', 'postgres');
    await platform.query('DROP DATABASE z');
    await platform.end();
    assert.deepEqual(await dropRemovedDatabases(server.platformUrl, model), [{ database: 'z', roles: ['db_z_admin', 'db_z_writer', 'db_z_reader'] }]);
    assert.deepEqual(await dropRemovedDatabases(server.platformUrl, model), []);
  });
});

describe('applyRoles with hostile names', () => {
  test('quotes, semicolons and unicode become exactly those names, and nothing else runs', async () => {
    const db = `x"; DROP DATABASE a; --`;
    const service = "o'rders; DROP ROLE encore_admin; -- ünï 🚀";
    const model = validateAppModel({ app: 'h', prefix: 'hé"llo', databases: [{ name: db }], services: [{ name: service, databases: [db] }] });
    const result = await apply(model);
    assert.deepEqual(result.remaining, []);
    const admin = new pg.Client({ connectionString: server.superuserUrl });
    await admin.connect();
    try {
      const { rows: dbs } = await admin.query('SELECT datname FROM pg_database WHERE datname = ANY($1)', [[db, 'a']]);
      assert.deepEqual(dbs.map((r) => r.datname).sort(), [db, 'a'].sort());
      const { rows: roles } = await admin.query('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [[`svc_${service}`, 'encore_admin', 'hé"llo_admin', `db_${db}_writer`]]);
      assert.equal(roles.length, 4);
    } finally {
      await admin.end();
    }
    const client = new pg.Client({ ...{ host: '127.0.0.1', port: server.port }, user: `svc_${service}`, password: passwords.get(`svc_${service}`), database: db });
    await client.connect();
    await client.end();
    assert.equal((await checkRoles(server.platformUrl, model)).ok, true);
  });
});
