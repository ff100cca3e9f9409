// Migration sources end to end: an app whose databases use Prisma and Drizzle folders as those
// tools write them (test/fixtures/encore/ts-shop), through the CLI's reader, the API and an
// environment; the API checks file names with each database's declared rules.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { readAppFile } from '../cli/client.ts';
import { startTestPlatform, type TestPlatform } from './test-support.ts';

let t: TestPlatform;
const dir = mkdtempSync(join(tmpdir(), 'arbor-sources-'));
const SHOP = new URL('../../test/fixtures/encore/ts-shop', import.meta.url).pathname;

before(async () => {
  t = await startTestPlatform();
  await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
});
after(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

test('prisma and drizzle folders reach the environment', async () => {
  writeFileSync(join(dir, 'arbor.yaml'), `app: srcs\ndatabases:\n  - name: users\n    migrations: { path: ${SHOP}/users/prisma/migrations, source: prisma }\n  - name: posts\n    migrations: { path: ${SHOP}/posts/migrations, source: drizzle }\nservices:\n  - name: api\n    databases: [users, posts]\n`);
  const { model, migrations } = await readAppFile(join(dir, 'arbor.yaml'));
  assert.deepEqual(Object.fromEntries(Object.entries(migrations).map(([k, v]) => [k, v.map((f) => f.file)])), {
    users: ['20240115093000_init/migration.sql', '20240203141500_add_posts/migration.sql'],
    posts: ['0000_fixed_obadiah_stane.sql', '0001_tense_mentor.sql'],
  });
  const created = await t.call('POST', '/apps', { model, migrations });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal((await t.call('POST', '/apps/srcs/environments', { name: 'dev', account: 'engine', mode: 'new-project' })).status, 201);
  await t.waitFor('srcs', 'dev', 'ready');
  const user = (await t.call('POST', '/apps/srcs/environments/dev/users/svc_api/reveal')).body.user;
  for (const [db, want] of [['users', ['Post', 'User', 'schema_migrations']], ['posts', ['posts', 'schema_migrations', 'users']]] as const) {
    const uri = new URL(user.connectionUri);
    uri.pathname = `/${db}`;
    const client = new pg.Client({ connectionString: uri.toString() });
    await client.connect();
    const rows = (await client.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.tablename);
    await client.end();
    assert.deepEqual(rows, want);
  }
  // A bad name through the API is refused with the database's own rules.
  const bad = await t.call('PATCH', '/apps/srcs', { model, migrations: { users: [{ file: '1_x.up.sql', sql: '' }] } });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.body), /none of its files is a prisma migration/);
});
