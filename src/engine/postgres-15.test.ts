/**
 * More Postgres: a project with `pg_version: 15` runs on binaries installed outside npm (Debian's
 * `/usr/lib/postgresql/15/bin`, or `ARBOR_PG_BINARIES`): created, connected, branched, and its
 * schema read with that installation's own pg_dump; its owner creates the extensions of that
 * installation that Neon supports (PostGIS from `postgresql-15-postgis-3`, pgvector — `.ci/run`
 * installs both). Skipped where no PostgreSQL 15 is installed, an extension's test where its
 * package is not.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { findBinaries, type PgBinaries } from './clusters/binaries.ts';
import { connect, startTestEngine, type TestEngine } from './test-support.ts';

const bins = findBinaries(15);
let engine: TestEngine | undefined;
let projectId = '';
let mainUri = '';

/** Whether the installation has `name`'s control file (what `CREATE EXTENSION` reads). */
function hasExtension(b: PgBinaries, name: string): boolean {
  const pgConfig = join(b.bin, 'pg_config');
  const share = existsSync(pgConfig) ? execFileSync(pgConfig, ['--sharedir'], { encoding: 'utf8' }).trim() : join(dirname(b.bin), 'share', 'postgresql');
  return existsSync(join(share, 'extension', `${name}.control`));
}

const noPg15 = 'no PostgreSQL 15 installed (apt-get install postgresql-15, or ARBOR_PG_BINARIES)';
const skipUnless = (name: string, pkg: string) => (!bins ? noPg15 : hasExtension(bins, name) ? false : `${pkg} not installed (no ${name}.control; .ci/run installs it)`);

before(async () => {
  if (!bins) return;
  engine = await startTestEngine();
  const { data } = await engine.api.createProject({ project: { name: 'fifteen', pg_version: 15 } });
  projectId = data.project.id;
  mainUri = data.connection_uris![0].connection_uri;
  await engine.settle(projectId);
});

after(() => engine?.close());

test('pg_version 15 on an installation found outside npm: create, connect, branch, schema via its pg_dump', { skip: bins ? false : noPg15 }, async () => {
  const e = engine!;
  const client = await connect(mainUri);
  assert.match((await client.query('SHOW server_version')).rows[0].server_version, /^15\./);
  await client.query('CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, $$hello$$)');
  assert.deepEqual((await client.query(`SELECT pg_has_role(current_user, 'neon_superuser', 'member') AS m`)).rows, [{ m: true }]);
  await client.end();
  const branch = (await e.api.createProjectBranch(projectId, { branch: { name: 'dev' }, endpoints: [{ type: 'read_write' as never }] })).data;
  const dev = await connect(branch.connection_uris![0].connection_uri);
  assert.deepEqual((await dev.query('SELECT body FROM notes')).rows, [{ body: 'hello' }]);
  await dev.end();
  await e.settle(projectId);
  const { sql } = (await e.api.getProjectBranchSchema({ projectId, branchId: branch.branch.id, db_name: 'neondb' })).data;
  assert.match(sql!, /-- Dumped from database version 15\./, 'pg_dump 15 wrote it');
  assert.match(sql!, /CREATE TABLE public\.notes/);
  assert.deepEqual(e.specProblems, []);
});

/**
 * A role made in SQL (not a member of neon_superuser, as on Neon) with CREATE on the database is
 * refused `name` (42501); then the project's owner creates it and `use` runs as that owner.
 */
async function ownerCreates(name: string, use: (client: Awaited<ReturnType<typeof connect>>) => Promise<void>): Promise<void> {
  const outsiderName = `outsider_${name}`;
  const owner = await connect(mainUri);
  try {
    await owner.query(`CREATE ROLE ${outsiderName} LOGIN PASSWORD 'outsider-pw-1'`);
    await owner.query(`GRANT CREATE ON DATABASE neondb TO ${outsiderName}`);
    const url = new URL(mainUri);
    url.username = outsiderName;
    url.password = 'outsider-pw-1';
    const outsider = await connect(url.toString());
    try {
      assert.deepEqual((await outsider.query(`SELECT pg_has_role(current_user, 'neon_superuser', 'member') AS m`)).rows, [{ m: false }]);
      await assert.rejects(outsider.query(`CREATE EXTENSION ${name}`), (e: { code?: string }) => e.code === '42501');
    } finally {
      await outsider.end();
    }
    await owner.query(`CREATE EXTENSION ${name}`);
    await use(owner);
    assert.deepEqual((await owner.query(`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`)).rows, [{ rolsuper: false }]);
  } finally {
    await owner.end();
  }
}

test("pg_version 15: the project's owner creates postgis and measures a distance; a role outside neon_superuser is refused", { skip: skipUnless('postgis', 'postgresql-15-postgis-3') }, async () => {
  await ownerCreates('postgis', async (owner) => {
    const { rows } = await owner.query(`SELECT ST_Distance(ST_MakePoint(0, 0), ST_MakePoint(3, 4)) AS d, postgis_lib_version() AS v`);
    assert.equal(rows[0].d, 5);
    assert.match(rows[0].v, /^3\./);
  });
  assert.deepEqual(engine!.specProblems, []);
});

test("pg_version 15: the project's owner creates vector and orders by <-> distance; a role outside neon_superuser is refused", { skip: skipUnless('vector', 'pgvector (postgresql-15-pgvector)') }, async () => {
  await ownerCreates('vector', async (owner) => {
    await owner.query(`CREATE TABLE items (id int PRIMARY KEY, embedding vector(3)); INSERT INTO items VALUES (1, '[1,2,3]'), (2, '[4,5,6]'), (3, '[1,1,1]')`);
    const { rows } = await owner.query(`SELECT id, embedding <-> '[1,2,2]' AS d FROM items ORDER BY embedding <-> '[1,2,2]'`);
    assert.deepEqual(rows.map((r) => r.id), [1, 3, 2]);
    assert.equal(rows[0].d, 1);
  });
  assert.deepEqual(engine!.specProblems, []);
});
