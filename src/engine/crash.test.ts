/**
 * Durability: the engine killed with SIGKILL in the middle of a branch creation. After a
 * restart the parent is intact and still served; the acknowledged child is not lost: its
 * creation is retried from scratch (the half-made copy removed, failures_count 1) and finishes;
 * no postmaster is left orphaned. (crash-acknowledged.test.ts kills at many more moments.)
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { connect, operationsAtRest } from './test-support.ts';
import { engineProcesses, postmastersUnder } from './test-process.ts';

const engines = engineProcesses('arbor-crash-test-', 'crash-test-key');
const home = engines.home;

after(() => engines.cleanUp());

test('kill -9 during a branch creation: parent intact, the creation retried and finished, no orphans', async () => {
  // Without spares, the branch is a copy (a spare's promotion makes no .partial to kill during).
  let { api, process: first } = await engines.start({}, ['--no-spares']);
  const { data } = await api.createProject({ project: { name: 'durable' } });
  const projectId = data.project.id;
  await operationsAtRest(api, projectId);
  const uri = data.connection_uris![0].connection_uri;
  const client = await connect(uri);
  // Enough data that the copy takes a while, so the kill lands in the middle of it.
  await client.query('CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 150000) g');
  await client.end();

  const created = (await api.createProjectBranch(projectId, { branch: { name: 'interrupted' }, endpoints: [{ type: 'read_write' as never }] })).data;
  const branch = created.branch;
  const partial = join(home, 'clusters', `${branch.id}.partial`);
  const deadline = Date.now() + 60_000;
  while (!existsSync(partial) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.ok(existsSync(partial), 'the copy had started');
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));

  ({ api } = await engines.start({}, ['--no-spares']));
  const ops = await operationsAtRest(api, projectId);
  const create = ops.find((o) => o.action === 'create_branch' && o.branch_id === branch.id)!;
  assert.equal(create.status, 'finished');
  assert.equal(create.failures_count, 1);
  assert.match(create.error!, /engine stopped/);
  assert.equal((await api.getProjectBranch(projectId, branch.id)).data.branch.current_state, 'ready');
  assert.deepEqual(readdirSync(join(home, 'clusters')).filter((n) => n.startsWith(branch.id)), [branch.id]);

  const again = await connect(uri);
  assert.equal((await again.query('SELECT count(*)::int AS n FROM big')).rows[0].n, 150000);
  await again.end();
  const child = await connect(created.connection_uris![0].connection_uri);
  assert.equal((await child.query('SELECT count(*)::int AS n FROM big')).rows[0].n, 150000);
  await child.end();
  const dirs = postmastersUnder(home).map((p) => p.dataDir.split('/').pop()).sort();
  assert.deepEqual(dirs, [branch.id, data.branch.id].sort(), 'only the parent and the child run');

  // The project still works: a new branch succeeds after the crash.
  const retry = (await api.createProjectBranch(projectId, { branch: { name: 'after' }, endpoints: [{ type: 'read_write' as never }] })).data;
  const retryOps = await operationsAtRest(api, projectId);
  assert.ok(retryOps.filter((o) => o.branch_id === retry.branch.id).every((o) => o.status === 'finished'));
  const third = await connect(retry.connection_uris![0].connection_uri);
  assert.equal((await third.query('SELECT count(*)::int AS n FROM big')).rows[0].n, 150000);
  await third.end();
});
