/**
 * Durability of history work: the engine killed (SIGKILL, at failpoints set with
 * ARBOR_FAILPOINTS) in the middle of a point-in-time branch and of a restore — before and after
 * its commit point. After a restart each branch is either as before or as after, never mixed,
 * and the parent is untouched; an expiry that passed while the engine was down still deletes.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { connect, operationsAtRest } from '../test-support.ts';
import { engineProcesses, exited, postmastersUnder } from '../test-process.ts';

const engines = engineProcesses('arbor-history-crash-', 'history-crash-key');
const home = engines.home;
const startEngine = (failpoints = '') => engines.start({ ARBOR_FAILPOINTS: failpoints });
const postmasterDirs = () => postmastersUnder(home).map((p) => p.dataDir);

async function ids(uri: string): Promise<number[]> {
  const client = await connect(uri);
  try {
    return (await client.query('SELECT id FROM items ORDER BY id')).rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}

async function run(uri: string, sql: string): Promise<string> {
  const client = await connect(uri);
  try {
    return (await client.query(sql)).rows[0]?.v;
  } finally {
    await client.end();
  }
}

after(() => engines.cleanUp());

test('kill -9 during a point-in-time branch and a restore: before or after, never mixed', async () => {
  // 1. A point-in-time branch killed after its recovery promoted, before it was moved into place.
  let { api, process: current } = await startEngine('pitr-promoted');
  const { data } = await api.createProject({ project: { name: 'durable-history' } });
  const projectId = data.project.id;
  const mainId = data.branch.id;
  const mainUri = data.connection_uris![0].connection_uri;
  await operationsAtRest(api, projectId);
  const history = join(home, 'history', mainId);
  while (!existsSync(history) || !readdirSync(history).some((n) => /^base-[0-9A-F]+$/.test(n))) await new Promise((r) => setTimeout(r, 50));
  await run(mainUri, 'CREATE TABLE items (id int PRIMARY KEY)');
  await run(mainUri, 'INSERT INTO items VALUES (1), (2), (3)');
  const lsn = await run(mainUri, 'SELECT pg_current_wal_insert_lsn()::text AS v');
  await run(mainUri, 'INSERT INTO items VALUES (4)');
  const pitrCreated = (await api.createProjectBranch(projectId, { branch: { name: 'at-lsn', parent_lsn: lsn }, endpoints: [{ type: 'read_write' as never }] })).data;
  const pitr = pitrCreated.branch;
  await exited(current);

  // The acknowledged branch is not lost: its creation is retried (from the same point) and finishes.
  ({ api, process: current } = await startEngine('restore-mid-swap'));
  let ops = await operationsAtRest(api, projectId);
  const create = ops.find((o) => o.action === 'create_branch' && o.branch_id === pitr.id)!;
  assert.equal(create.status, 'finished');
  assert.equal(create.failures_count, 1);
  assert.equal((await api.getProjectBranch(projectId, pitr.id)).data.branch.current_state, 'ready');
  assert.deepEqual(await ids(pitrCreated.connection_uris![0].connection_uri), [1, 2, 3], 'the branch has the data at its LSN');
  assert.deepEqual(readdirSync(join(home, 'clusters')).filter((n) => n.startsWith(pitr.id)), [pitr.id], 'no half-made copy is left');
  assert.deepEqual(postmasterDirs().sort(), [join(home, 'clusters', mainId), join(home, 'clusters', pitr.id)].sort(), 'the old recovering postmaster was stopped');
  assert.deepEqual(await ids(mainUri), [1, 2, 3, 4], 'the parent is untouched');
  await api.deleteProjectBranch({ projectId, branchId: pitr.id });
  await operationsAtRest(api, projectId);

  // 2. A restore killed in the middle of its swap (past its commit point): finished on restart.
  const preview = (await api.createProjectBranch(projectId, { branch: { name: 'preview' }, endpoints: [{ type: 'read_write' as never }] })).data;
  await operationsAtRest(api, projectId);
  const previewUri = preview.connection_uris![0].connection_uri;
  await run(previewUri, 'INSERT INTO items VALUES (100)');
  await run(mainUri, 'INSERT INTO items VALUES (5)');
  await api.restoreProjectBranch(projectId, preview.branch.id, { source_branch_id: mainId });
  await exited(current);

  ({ api, process: current } = await startEngine('restore-before-commit'));
  ops = await operationsAtRest(api, projectId);
  assert.equal(ops.find((o) => o.action === 'create_timeline' && o.branch_id === preview.branch.id)!.status, 'finished');
  assert.deepEqual(await ids(previewUri), [1, 2, 3, 4, 5], 'the restore is complete: the parent head, through the same connection string');
  assert.ok((await api.getProjectBranch(projectId, preview.branch.id)).data.branch.last_reset_at);
  assert.deepEqual(readdirSync(join(home, 'clusters')).filter((n) => n.includes('.')), [], 'no .restore or .old directory is left');

  // 3. A restore killed before its commit point: the branch is as it was.
  await run(previewUri, 'INSERT INTO items VALUES (200)');
  await run(mainUri, 'INSERT INTO items VALUES (6)');
  const second = (await api.restoreProjectBranch(projectId, preview.branch.id, { source_branch_id: mainId })).data.operations[0];
  await exited(current);

  ({ api, process: current } = await startEngine());
  ops = await operationsAtRest(api, projectId);
  assert.equal(ops.find((o) => o.id === second.id)!.status, 'failed');
  assert.deepEqual(await ids(previewUri), [1, 2, 3, 4, 5, 200], 'the branch is as before the restore');
  assert.deepEqual(await ids(mainUri), [1, 2, 3, 4, 5, 6], 'the parent is untouched');

  // 4. An expiry that passes while the engine is down deletes the branch at the next start.
  await api.updateProjectBranch(projectId, preview.branch.id, { branch: { expires_at: new Date(Date.now() + 1500).toISOString() } });
  current.kill('SIGKILL');
  await exited(current);
  await new Promise((r) => setTimeout(r, 2000));
  ({ api, process: current } = await startEngine());
  const deadline = Date.now() + 15_000;
  for (;;) {
    const gone = await api.getProjectBranch(projectId, preview.branch.id).then(
      () => false,
      (e: { response: { status: number } }) => e.response.status === 404,
    );
    if (gone) break;
    assert.ok(Date.now() < deadline, 'the expired branch was deleted after the restart');
    await new Promise((r) => setTimeout(r, 100));
  }
  await operationsAtRest(api, projectId);
  assert.deepEqual(postmasterDirs(), [join(home, 'clusters', mainId)]);
});
