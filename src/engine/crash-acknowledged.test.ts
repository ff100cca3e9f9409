/**
 * An acknowledged branch is never lost: the engine killed with SIGKILL at moments from 0 ms to
 * well after a branch's 201 (copies, spares, point in time). After a restart the branch is there,
 * its creation finished (retried when the crash interrupted it, counted in failures_count), its
 * operations all finished, its endpoint serving its data: never `ready` with nothing listening,
 * never gone. A point in time that cannot be served is refused before any 201.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Api } from '@neondatabase/api-client';
import { connect, operationsAtRest, rejects, sleep } from './test-support.ts';
import { engineProcesses, exited, postmastersUnder, type EngineProcess } from './test-process.ts';

const engines = engineProcesses('arbor-crash-ack-', 'crash-ack-key');
const home = engines.home;

after(() => engines.cleanUp());

async function restart(current: EngineProcess): Promise<EngineProcess> {
  current.process.kill('SIGKILL');
  await exited(current.process);
  return engines.start();
}

async function checkBranch(api: Api<unknown>, projectId: string, branchId: string, uri: string, expected: number, what: string): Promise<void> {
  const ops = (await operationsAtRest(api, projectId)).filter((o) => o.branch_id === branchId);
  assert.deepEqual(ops.map((o) => [o.action, o.status]).sort(), [['create_branch', 'finished'], ['start_compute', 'finished']], `${what}: ${JSON.stringify(ops)}`);
  const { branch } = (await api.getProjectBranch(projectId, branchId)).data;
  assert.equal(branch.current_state, 'ready', what);
  const client = await connect(uri);
  assert.equal((await client.query('SELECT count(*)::int AS n FROM items')).rows[0].n, expected, what);
  await client.query('INSERT INTO items SELECT 0');
  await client.end();
}

test('kill -9 at any moment after a 201: the branch is finished after the restart and serves its data', async () => {
  let engine = await engines.start();
  const { data } = await engine.api.createProject({ project: { name: 'acknowledged' } });
  const projectId = data.project.id;
  await operationsAtRest(engine.api, projectId);
  const main = await connect(data.connection_uris![0].connection_uri);
  await main.query('CREATE TABLE items AS SELECT g AS id, repeat(md5(g::text), 4) AS pad FROM generate_series(1, 20000) g');
  await main.end();

  const delays = [0, 5, 20, 60, 150, 400, 1200];
  for (const delay of delays) {
    const what = `killed ${delay} ms after the 201`;
    const created = (await engine.api.createProjectBranch(projectId, { branch: { name: `ack-${delay}` }, endpoints: [{ type: 'read_write' as never }] })).data;
    if (delay) await sleep(delay);
    engine = await restart(engine);
    await checkBranch(engine.api, projectId, created.branch.id, created.connection_uris![0].connection_uri, 20000, what);
  }
  // Retried ones say so; every branch is listed; no debris and no orphan postmaster.
  const ops = await operationsAtRest(engine.api, projectId);
  assert.ok(ops.some((o) => o.action === 'create_branch' && o.failures_count > 0), 'some creation was interrupted and retried');
  const names = (await engine.api.listProjectBranches({ projectId })).data.branches.map((b) => b.name).sort();
  assert.deepEqual(names, ['main', ...delays.map((d) => `ack-${d}`)].sort());
  assert.deepEqual(readdirSync(join(home, 'clusters')).filter((n) => n.includes('.')), []);
  const running = postmastersUnder(home).map((p) => p.dataDir.split('/').pop());
  assert.equal(new Set(running).size, running.length, 'one postmaster per cluster');
  engine.process.kill('SIGTERM');
  await exited(engine.process);
});

test('point-in-time branches: refused before the 201 when the point is outside history; an acknowledged one survives kill -9', async () => {
  let engine = await engines.start();
  const { data } = await engine.api.createProject({ project: { name: 'pitr-acknowledged' } });
  const projectId = data.project.id;
  const mainId = data.branch.id;
  await operationsAtRest(engine.api, projectId);
  const main = await connect(data.connection_uris![0].connection_uri);
  await main.query('CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 100) g');
  // Refused at once, with no branch made: before the project existed, and ahead of the WAL.
  await rejects(engine.api.createProjectBranch(projectId, { branch: { name: 'too-early', parent_timestamp: '2020-01-01T00:00:00Z' } }), 400, /retention window|before the history/);
  await rejects(engine.api.createProjectBranch(projectId, { branch: { name: 'too-late', parent_lsn: 'FF/0' } }), 400, /ahead of/);
  assert.deepEqual((await engine.api.listProjectBranches({ projectId })).data.branches.map((b) => b.name), ['main']);

  // Wait for main's first base copy (the history a point needs), then take a point after 100 rows.
  const deadline = Date.now() + 60_000;
  while (!readdirSync(join(home, 'history', mainId)).some((n) => /^base-[0-9A-F]{16}$/.test(n)) && Date.now() < deadline) await sleep(50);
  await sleep(1100);
  const at = new Date().toISOString();
  await sleep(1100);
  await main.query('INSERT INTO items SELECT g FROM generate_series(101, 150) g');
  await main.end();
  for (const delay of [20, 300]) {
    const created = (await engine.api.createProjectBranch(projectId, { branch: { name: `pitr-${delay}`, parent_timestamp: at }, endpoints: [{ type: 'read_write' as never }] })).data;
    await sleep(delay);
    engine = await restart(engine);
    await checkBranch(engine.api, projectId, created.branch.id, created.connection_uris![0].connection_uri, 100, `point in time, killed ${delay} ms after the 201`);
  }
  engine.process.kill('SIGTERM');
  await exited(engine.process);
});

test('kill -9 at any moment after a project creation 201: the project is finished after the restart, role and database included', async () => {
  let engine = await engines.start();
  for (const delay of [0, 20, 80, 250, 700]) {
    const what = `project killed ${delay} ms after the 201`;
    const { data } = await engine.api.createProject({ project: { name: `ack-project-${delay}` } });
    if (delay) await sleep(delay);
    engine = await restart(engine);
    const ops = await operationsAtRest(engine.api, data.project.id);
    assert.deepEqual(ops.map((o) => [o.action, o.status]).sort(), [['create_timeline', 'finished'], ['start_compute', 'finished']], `${what}: ${JSON.stringify(ops)}`);
    assert.equal((await engine.api.getProjectBranch(data.project.id, data.branch.id)).data.branch.current_state, 'ready', what);
    const client = await connect(data.connection_uris![0].connection_uri);
    assert.deepEqual((await client.query('SELECT current_user AS u, current_database() AS d')).rows, [{ u: 'neondb_owner', d: 'neondb' }], what);
    await client.query('CREATE TABLE works AS SELECT 1 AS x');
    await client.end();
  }
  engine.process.kill('SIGTERM');
  await exited(engine.process);
});
