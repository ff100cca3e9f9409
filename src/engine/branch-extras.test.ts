/**
 * Branch features Neon regulars use: `annotation_value` stored and returned by get and list,
 * `init_source: schema-only` (the parent's schema, roles and grants, no rows, sequences
 * restarted), `set_as_primary` as the deprecated alias of `set_as_default`, and extensions as
 * on Neon (members of neon_superuser create Neon's, untrusted ones included; others refused).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { findBinaries } from './clusters/binaries.ts';
import { connect, rejects, startTestProject, type TestEngine } from './test-support.ts';
import { NEON_EXTENSIONS } from './clusters/extensions.ts';

let engine: TestEngine;
let projectId: string;
let mainId: string;
let mainUri: string;

before(async () => {
  ({ engine, projectId, mainId, mainUri } = await startTestProject({ name: 'extras' }));
});

after(() => engine.close());

test('annotation_value is stored and returned by get and list', async () => {
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'annotated' }, annotation_value: { 'vercel-commit-ref': 'abc123', pr: '7' } });
  await engine.settle(projectId);
  const got = (await engine.api.getProjectBranch(projectId, data.branch.id)).data;
  assert.deepEqual(got.annotation.value, { 'vercel-commit-ref': 'abc123', pr: '7' });
  assert.deepEqual(got.annotation.object, { type: 'console/branch', id: data.branch.id });
  assert.ok(got.annotation.created_at);
  const list = (await engine.api.listProjectBranches({ projectId })).data;
  assert.deepEqual(Object.keys(list.annotations), [data.branch.id]);
  assert.deepEqual(list.annotations[data.branch.id].value, { 'vercel-commit-ref': 'abc123', pr: '7' });
  assert.deepEqual((await engine.api.getProjectBranch(projectId, mainId)).data.annotation.value, {});
  assert.deepEqual(engine.specProblems, []);
});

test('init_source schema-only: the schema, roles and grants without rows; sequences restarted', async () => {
  const main = await connect(mainUri);
  await main.query(`CREATE TABLE parents (id serial PRIMARY KEY, name text);
                    CREATE TABLE kids (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, parent int REFERENCES parents (id));
                    CREATE SEQUENCE tickets;
                    INSERT INTO parents (name) SELECT 'p' || g FROM generate_series(1, 50) g;
                    INSERT INTO kids (parent) SELECT id FROM parents;
                    SELECT nextval('tickets') FROM generate_series(1, 5);
                    CREATE ROLE readers NOLOGIN; GRANT SELECT ON parents TO readers;`);
  await main.end();
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'schema-only', init_source: 'schema-only' }, endpoints: [{ type: 'read_write' as never }] });
  assert.equal(data.branch.init_source, 'schema-only');
  // As on Neon, a root branch: parent_id named only its source.
  assert.equal(data.branch.parent_id, undefined);
  const client = await connect(data.connection_uris![0].connection_uri);
  assert.deepEqual((await client.query('SELECT (SELECT count(*)::int FROM parents) AS p, (SELECT count(*)::int FROM kids) AS k')).rows, [{ p: 0, k: 0 }]);
  assert.deepEqual((await client.query(`INSERT INTO parents (name) VALUES ('first') RETURNING id`)).rows, [{ id: 1 }]);
  assert.deepEqual((await client.query(`INSERT INTO kids (parent) VALUES (1) RETURNING id`)).rows, [{ id: '1' }]);
  assert.deepEqual((await client.query(`SELECT nextval('tickets')::int AS n`)).rows, [{ n: 1 }]);
  assert.deepEqual((await client.query(`SELECT has_table_privilege('readers', 'parents', 'SELECT') AS g`)).rows, [{ g: true }]);
  await client.end();
  await engine.settle(projectId);
  assert.equal((await engine.api.getProjectBranch(projectId, data.branch.id)).data.branch.init_source, 'schema-only');
  // The parent keeps its rows.
  const again = await connect(mainUri);
  assert.deepEqual((await again.query('SELECT count(*)::int AS n FROM kids')).rows, [{ n: 50 }]);
  await again.end();
  assert.deepEqual(engine.specProblems, []);
});

test('set_as_primary is the deprecated alias of set_as_default', async () => {
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'next-primary' } });
  await engine.settle(projectId);
  // Not in the current spec, so called as older clients do, outside the typed client.
  const response = await fetch(`${engine.url}/projects/${projectId}/branches/${data.branch.id}/set_as_primary`, { method: 'POST', headers: { authorization: `Bearer ${engine.apiKey}` } });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { branch: { default: boolean; primary: boolean } };
  assert.equal(body.branch.default, true);
  assert.equal(body.branch.primary, true);
  assert.equal((await engine.api.getProjectBranch(projectId, mainId)).data.branch.default, false);
  await engine.api.setDefaultProjectBranch(projectId, mainId);
  assert.deepEqual(engine.specProblems, []);
});

test("Neon's 423 rules: a project update or delete while operations run is answered, not locked", async () => {
  const { data } = await engine.api.createProject({ project: { name: 'busy' } });
  // The creation's operations are still running: an update is answered at once.
  const updated = (await engine.api.updateProject(data.project.id, { project: { name: 'busy-renamed' } })).data;
  assert.equal(updated.project.name, 'busy-renamed');
  await engine.settle(data.project.id);
  await engine.api.createProjectBranch(data.project.id, { branch: { name: 'in-flight' }, endpoints: [{ type: 'read_write' as never }] });
  // A branch creation runs: the delete waits for it, then removes everything.
  await engine.api.deleteProject(data.project.id);
  await rejects(engine.api.getProject(data.project.id), 404, /not found/);
  const dirs = (await import('node:fs')).readdirSync(`${engine.home}/clusters`);
  assert.ok(!engine.engine.data.branches.some((b) => b.project_id === data.project.id));
  assert.ok(dirs.every((d) => engine.engine.data.branches.some((b) => d.startsWith(b.id)) || engine.engine.spares.isSpare(d)), `left: ${dirs.join(', ')}`);
  assert.deepEqual(engine.specProblems, []);
});

test('branch lists page with opaque cursors; branches say who created them', async () => {
  const all = (await engine.api.listProjectBranches({ projectId, sort_by: 'name', sort_order: 'asc' })).data.branches.map((b) => b.name);
  const seen: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const { data } = await engine.api.listProjectBranches({ projectId, sort_by: 'name', sort_order: 'asc', limit: 2, ...(cursor ? { cursor } : {}) });
    seen.push(...data.branches.map((b) => b.name));
    assert.ok(data.branches.every((b) => b.created_by?.name === 'Arbor engine'));
    cursor = data.pagination?.next;
    if (!cursor) break;
    assert.doesNotMatch(cursor, /^br-/, 'the cursor is opaque');
  }
  assert.deepEqual(seen, all);
  assert.deepEqual(engine.specProblems, []);
});

test("project bodies carry the fields of Neon's recorded ones", async () => {
  const { project } = (await engine.api.getProject(projectId)).data;
  assert.deepEqual(project.settings?.allowed_ips, { ips: [], protected_branches_only: false, primary_branch_only: false });
  assert.equal(project.settings?.enable_logical_replication, false);
  assert.equal(project.settings?.block_public_connections, false);
  assert.equal(project.settings?.block_vpc_connections, false);
  assert.equal(typeof project.synthetic_storage_size, 'number');
  assert.equal(project.owner?.subscription_type, 'scale');
  // Endpoints carry last_active from their creation on, as Neon's do.
  const { data: created } = await engine.api.createProjectBranch(projectId, { branch: { name: 'with-endpoint' }, endpoints: [{ type: 'read_write' as never }] });
  assert.ok(created.endpoints[0].last_active);
  await engine.settle(projectId);
  const listed = (await engine.api.listProjects({})).data.projects.find((p) => p.id === projectId)!;
  assert.ok(listed.quota_reset_at);
  assert.deepEqual(engine.specProblems, []);
});

test('an API-created role creates the extensions Neon supports; one Neon lacks and a role outside neon_superuser are refused', async () => {
  const { data } = await engine.api.createProjectBranchRole(projectId, mainId, { role: { name: 'ext_user' } });
  await engine.settle(projectId);
  const url = new URL(mainUri);
  url.username = 'ext_user';
  url.password = data.role.password!;
  const client = await connect(url.toString());
  try {
    for (const name of ['pg_trgm', 'hstore', 'uuid-ossp', 'pgcrypto', 'pg_stat_statements', 'postgres_fdw']) await client.query(`CREATE EXTENSION IF NOT EXISTS "${name}"`);
    assert.equal((await client.query(`SELECT similarity('word', 'words') > 0 AS ok, gen_random_uuid() IS NOT NULL AS uuid, 'a=>1'::hstore -> 'a' AS h`)).rows[0].h, '1');
    // What is listed as available is Neon's list (installed here), not everything the binaries ship.
    const available = (await client.query<{ name: string }>('SELECT name FROM pg_available_extensions')).rows.map((r) => r.name);
    assert.ok(available.includes('pg_stat_statements') && available.includes('plpgsql'), `available: ${available.join(', ')}`);
    assert.deepEqual(available.filter((n) => !NEON_EXTENSIONS.includes(n)), [], 'nothing Neon lacks is listed');
    assert.ok(!available.includes('file_fdw'));
    const versions = (await client.query<{ name: string }>('SELECT DISTINCT name FROM pg_available_extension_versions')).rows.map((r) => r.name);
    assert.deepEqual(versions.filter((n) => !NEON_EXTENSIONS.includes(n)), []);
    // Untrusted, not on Neon's list: PostgreSQL's refusal, and nothing left behind.
    await assert.rejects(client.query('CREATE EXTENSION file_fdw'), (e: { code?: string }) => e.code === '42501');
    assert.deepEqual((await client.query(`SELECT extname FROM pg_extension WHERE extname = 'file_fdw'`)).rows, []);
    // On Neon's list but not installed with the npm binaries (PostgreSQL 17, contrib only; pgvector
    // and PostGIS come with pg_version 15 on Debian's packages): PostgreSQL's own error, the session goes on.
    if (!existsSync(join(findBinaries(17)!.bin, '..', 'share', 'postgresql', 'extension', 'vector.control'))) {
      await assert.rejects(client.query('CREATE EXTENSION vector'), (e: { code?: string; message?: string }) => e.code === '0A000' && /extension "vector" is not available/.test(e.message ?? ''));
      assert.deepEqual((await client.query(`SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'`)).rows, [{ n: 0 }]);
    }
    // The role never keeps superuser, after a success or a failure.
    assert.deepEqual((await client.query(`SELECT rolsuper FROM pg_roles WHERE rolname = 'ext_user'`)).rows, [{ rolsuper: false }]);
    await client.query(`CREATE ROLE outsider LOGIN PASSWORD 'outsider-pw-1'`);
    await client.query('GRANT CREATE ON DATABASE neondb TO outsider');
  } finally {
    await client.end();
  }
  // The database's owner grants CREATE (ext_user's GRANT above grants nothing: it does not own it).
  const owner = await connect(mainUri);
  try {
    await owner.query('GRANT CREATE ON DATABASE neondb TO outsider');
  } finally {
    await owner.end();
  }
  url.username = 'outsider';
  url.password = 'outsider-pw-1';
  const outsider = await connect(url.toString());
  try {
    await assert.rejects(outsider.query('CREATE EXTENSION dblink'), (e: { code?: string }) => e.code === '42501');
    // Trusted by PostgreSQL (any role with CREATE may make it) but not on Neon's list: refused too
    // (42501 where its library loads; PostgreSQL's load error where Tcl is not installed).
    await assert.rejects(outsider.query('CREATE EXTENSION pltcl'));
    assert.deepEqual((await outsider.query(`SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'pltcl'`)).rows, [{ n: 0 }]);
    // The attack: name another role in the triggers' setting, then make a trusted extension (any
    // role with CREATE may): the end trigger must not act on a role it did not raise.
    await outsider.query(`SET arbor.extension_role = 'cloud_admin'`);
    await outsider.query('CREATE EXTENSION IF NOT EXISTS btree_gin');
  } finally {
    await outsider.end();
  }
  const admin = await connect(mainUri);
  try {
    assert.deepEqual((await admin.query(`SELECT rolname, rolsuper FROM pg_roles WHERE rolname IN ('cloud_admin', 'outsider') ORDER BY 1`)).rows, [
      { rolname: 'cloud_admin', rolsuper: true },
      { rolname: 'outsider', rolsuper: false },
    ]);
  } finally {
    await admin.end();
  }
});
