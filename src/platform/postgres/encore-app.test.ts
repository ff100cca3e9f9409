// The Encore app reader on fixture apps shaped as Encore generates them (test/fixtures/encore/),
// then each derived model through the role hierarchy, its migrations (as db_<db>_admin, with the
// source Encore declares) and the services' own queries on a real server.
// Run alone: node scripts/test.mjs src/platform/postgres/encore-app.test.ts
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { appModelToYaml, migrationsOf, parseAppModel, type AppModel } from './app-model.ts';
import { readEncoreApp } from './encore-app.ts';
import { migrate } from './migrate.ts';
import { applyRoles } from './roles-apply.ts';
import { checkRoles } from './roles-check.ts';
import { startNeonLikeServer, type NeonLikeServer } from './test-server.ts';

const APPS = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/encore');
const dirs: string[] = [];

function app(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-encore-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const TS_SHOP = {
  app: 'ts-shop',
  prefix: 'encore',
  databases: [
    { name: 'orders', migrations: 'orders/migrations', migrationsNaming: 'ts' },
    { name: 'posts', migrations: 'posts/migrations', migrationsSource: 'drizzle' },
    { name: 'users', migrations: 'users/prisma/migrations', migrationsSource: 'prisma' },
  ],
  services: [
    { name: 'notifier', databases: [] },
    { name: 'orders', databases: ['orders', 'users'] },
    { name: 'posts', databases: ['posts'] },
    { name: 'reports', databases: ['orders'] },
    { name: 'users', databases: ['users'] },
  ],
};

const GO_SHOP = {
  app: 'go-shop',
  prefix: 'encore',
  databases: [
    { name: 'legacy', migrations: 'legacy/migrations', migrationsNaming: 'go' },
    { name: 'todo', migrations: 'todo/migrations', migrationsNaming: 'go' },
  ],
  services: [
    { name: 'legacy', databases: ['legacy'] },
    { name: 'stats', databases: ['todo'] },
    { name: 'todo', databases: ['todo'] },
  ],
};

describe('readEncoreApp', () => {
  test('a TypeScript app: SQLDatabase declarations with prisma, drizzle and sql migrations; uses through imports and SQLDatabase.named', async () => {
    const found = await readEncoreApp(join(APPS, 'ts-shop'));
    assert.equal(found.language, 'typescript');
    assert.deepEqual(found.model, TS_SHOP);
    assert.deepEqual(found.notes, []);
  });

  test('a Go app: sqldb.NewDatabase, sqldb.Named under an import alias, the legacy migrations/ folder, library packages skipped', async () => {
    const found = await readEncoreApp(join(APPS, 'go-shop'));
    assert.equal(found.language, 'go');
    assert.deepEqual(found.model, GO_SHOP);
    assert.deepEqual(found.notes, []);
  });

  test('the derived model written out as arbor.yaml reads back the same', async () => {
    for (const name of ['ts-shop', 'go-shop']) {
      const { model } = await readEncoreApp(join(APPS, name));
      const yaml = appModelToYaml(model);
      assert.deepEqual(parseAppModel(yaml), model, yaml);
    }
    const yaml = appModelToYaml((await readEncoreApp(join(APPS, 'ts-shop'))).model);
    assert.match(yaml, /migrations:\n\s+path: users\/prisma\/migrations\n\s+source: prisma/);
  });

  test('what it cannot resolve is explained with file and line, never guessed', async () => {
    const dir = app({
      'encore.app': '{"id": ""}',
      'package.json': '{"name": "odd"}',
      'a/encore.service.ts': 'import { Service } from "encore.dev/service";\nexport default new Service("a");\n',
      'a/db.ts': [
        'import { SQLDatabase } from "encore.dev/storage/sqldb";',
        'const NAME = "dyn";',
        'export const dyn = new SQLDatabase(NAME, { migrations: "./migrations" });',
        'export const gone = new SQLDatabase("gone", { migrations: "./nowhere" });',
        'export const odd = new SQLDatabase("odd", { migrations: { path: "./m", source: "flyway" } });',
        'export const ghost = SQLDatabase.named("ghost");',
        'export const fine = new SQLDatabase("fine");',
      ].join('\n'),
      'shared/util.ts': 'import { fine } from "../a/db";\nexport const url = fine.connectionString;\n',
    });
    const found = await readEncoreApp(dir);
    assert.equal(found.model.app, dir.split('/').at(-1));
    assert.deepEqual(found.model.databases, [{ name: 'fine' }, { name: 'gone' }, { name: 'odd' }]);
    const notes = found.notes.join('\n');
    assert.match(notes, /a\/db\.ts:3: the database name is not a string literal/);
    assert.match(notes, /a\/db\.ts:4: the migrations folder \.\/nowhere does not exist/);
    assert.match(notes, /a\/db\.ts:5: unexpected value for migration file source: flyway/);
    assert.match(notes, /a\/db\.ts:6: SQLDatabase\.named\("ghost"\) refers to a database no new SQLDatabase declares/);
    assert.match(notes, /shared\/util\.ts:2: database fine is used outside any service/);
  });

  test('namespace imports and a default-exported database are followed too', async () => {
    const dir = app({
      'encore.app': '{"id": "ns", "lang": "typescript"}',
      'svc/encore.service.ts': 'import * as service from "encore.dev/service";\nexport default new service.Service("svc");\n',
      'svc/db.ts': 'import * as sqldb from "encore.dev/storage/sqldb";\nexport default new sqldb.SQLDatabase("main", { migrations: "./migrations" });\n',
      'svc/migrations/1_init.up.sql': 'SELECT 1;',
      'other/encore.service.ts': 'import { Service as S } from "encore.dev/service";\nexport default new S("other");\n',
      'other/use.ts': 'import main from "../svc/db";\nexport const q = () => main.exec`SELECT 1`;\n',
    });
    const found = await readEncoreApp(dir);
    assert.deepEqual(found.model.databases, [{ name: 'main', migrations: 'svc/migrations', migrationsNaming: 'ts' }]);
    assert.deepEqual(found.model.services, [{ name: 'other', databases: ['main'] }, { name: 'svc', databases: [] }]);
    assert.deepEqual(found.notes, []);
  });

  test('not an Encore app: said so', async () => {
    await assert.rejects(readEncoreApp(app({ 'README.md': '' })), /is not an Encore app: cannot read encore\.app/);
  });
});

describe('derived models on a real server', () => {
  let server: NeonLikeServer;
  before(async () => {
    server = await startNeonLikeServer();
  });
  after(async () => {
    await server?.stop();
  });

  /** Roles, then every database's migrations as its admin, as Encore declares them. */
  async function provision(root: string, model: AppModel): Promise<Map<string, string>> {
    const passwords = new Map<string, string>();
    for (const s of (await applyRoles(server.platformUrl, model)).secrets) passwords.set(s.role, s.password);
    for (const db of model.databases) {
      const m = migrationsOf(db);
      if (!m) continue;
      const admin = `db_${db.name}_admin`;
      await migrate(server.url(admin, passwords.get(admin)!, db.name), join(root, m.path), { source: m.source, naming: m.naming });
    }
    return passwords;
  }

  async function as<T>(passwords: Map<string, string>, role: string, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: server.url(role, passwords.get(role)!, database) });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  test('ts-shop: prisma, drizzle and sql migrations apply; services query what they declare and reach nothing else', async () => {
    const root = join(APPS, 'ts-shop');
    const { model } = await readEncoreApp(root);
    const pw = await provision(root, model);
    const users = await as(pw, 'svc_users', 'users', (c) => c.query(`INSERT INTO "User" (email) VALUES ('a@example.com') RETURNING id`));
    const userId = users.rows[0].id;
    // orders: its own database (the two-action rule fires) and the users database it names.
    await as(pw, 'svc_orders', 'users', (c) => c.query('SELECT id FROM "User" WHERE id = $1', [userId]));
    await as(pw, 'svc_orders', 'orders', (c) => c.query('INSERT INTO orders (user_id, total) VALUES ($1, 42)', [userId]));
    const log = await as(pw, 'svc_orders', 'orders', (c) => c.query('SELECT what FROM order_log ORDER BY what'));
    assert.deepEqual(log.rows.map((r) => r.what), ['audited', 'placed']);
    // reports: refreshes the materialized view through encore_services, as Encore documents.
    const totals = await as(pw, 'svc_reports', 'orders', async (c) => {
      await c.query('SET ROLE matview_owner');
      await c.query('REFRESH MATERIALIZED VIEW order_totals');
      await c.query('RESET ROLE');
      return (await c.query('SELECT total::int FROM order_totals')).rows;
    });
    assert.deepEqual(totals, [{ total: 42 }]);
    // posts: the drizzle tables.
    await as(pw, 'svc_posts', 'posts', (c) => c.query(`INSERT INTO users (email) VALUES ('p@example.com')`));
    // Isolation between the app's databases.
    await assert.rejects(as(pw, 'svc_notifier', 'orders', async () => {}), /permission denied for database/);
    await assert.rejects(as(pw, 'svc_posts', 'users', async () => {}), /permission denied for database/);
    await assert.rejects(as(pw, 'svc_reports', 'users', async () => {}), /permission denied for database/);
    const check = await checkRoles(server.platformUrl, model);
    assert.deepEqual(check.deviations, []);
    assert.deepEqual(check.appRoles, [{ role: 'matview_owner', createdBy: 'db_orders_admin', members: ['encore_services'] }]);
  });

  test('go-shop: 1.up.sql, a file with its own BEGIN/COMMIT, the legacy folder with a leading-zero version; a service reading another one\'s database by name', async () => {
    const root = join(APPS, 'go-shop');
    const { model } = await readEncoreApp(root);
    const pw = await provision(root, model);
    await as(pw, 'svc_todo', 'todo', (c) => c.query(`INSERT INTO todo_item (title) VALUES ('x')`));
    const open = await as(pw, 'svc_stats', 'todo', (c) => c.query('SELECT count(*)::int AS n FROM todo_item WHERE NOT done'));
    assert.equal(open.rows[0].n, 1);
    await as(pw, 'svc_legacy', 'legacy', (c) => c.query('SELECT count(*) FROM note'));
    await assert.rejects(as(pw, 'svc_stats', 'legacy', async () => {}), /permission denied for database/);
    const versions = await as(pw, 'db_todo_admin', 'todo', (c) => c.query('SELECT version::int, dirty FROM schema_migrations'));
    assert.deepEqual(versions.rows, [{ version: 2, dirty: false }]);
    // 002_body_index.up.sql: leading zeros, ordered by number after 1_init.up.sql.
    const legacy = await as(pw, 'db_legacy_admin', 'legacy', (c) => c.query(`SELECT (SELECT version::int FROM schema_migrations) AS version, to_regclass('note_body') IS NOT NULL AS indexed`));
    assert.deepEqual(legacy.rows, [{ version: 2, indexed: true }]);
  });
});
