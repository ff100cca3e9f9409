/**
 * More Postgres: a project with `pg_version: 15` runs on binaries installed outside npm (Debian's
 * `/usr/lib/postgresql/15/bin`, or `ARBOR_PG_BINARIES`): created, connected, branched, and its
 * schema read with that installation's own pg_dump. Skipped where no PostgreSQL 15 is installed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findBinaries } from './clusters/binaries.ts';
import { connect, startTestEngine, type TestEngine } from './test-support.ts';

const bins = findBinaries(15);
let engine: TestEngine | undefined;

before(async () => {
  if (bins) engine = await startTestEngine();
});

after(() => engine?.close());

test('pg_version 15 on an installation found outside npm: create, connect, branch, schema via its pg_dump', { skip: bins ? false : 'no PostgreSQL 15 installed (apt-get install postgresql-15, or ARBOR_PG_BINARIES)' }, async () => {
  const e = engine!;
  const { data } = await e.api.createProject({ project: { name: 'fifteen', pg_version: 15 } });
  await e.settle(data.project.id);
  const client = await connect(data.connection_uris![0].connection_uri);
  assert.match((await client.query('SHOW server_version')).rows[0].server_version, /^15\./);
  await client.query('CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, $$hello$$)');
  assert.deepEqual((await client.query(`SELECT pg_has_role(current_user, 'neon_superuser', 'member') AS m`)).rows, [{ m: true }]);
  await client.end();
  const branch = (await e.api.createProjectBranch(data.project.id, { branch: { name: 'dev' }, endpoints: [{ type: 'read_write' as never }] })).data;
  const dev = await connect(branch.connection_uris![0].connection_uri);
  assert.deepEqual((await dev.query('SELECT body FROM notes')).rows, [{ body: 'hello' }]);
  await dev.end();
  await e.settle(data.project.id);
  const { sql } = (await e.api.getProjectBranchSchema({ projectId: data.project.id, branchId: branch.branch.id, db_name: 'neondb' })).data;
  assert.match(sql!, /-- Dumped from database version 15\./, 'pg_dump 15 wrote it');
  assert.match(sql!, /CREATE TABLE public\.notes/);
  assert.deepEqual(e.specProblems, []);
});
