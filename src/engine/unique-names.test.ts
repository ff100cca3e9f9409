/**
 * Names the engine derives for concurrent work (replication slots of branch copies, spares and
 * base copies; initdb's password file; base-copy directories) never collide, whatever the timing:
 * generated concurrently they are all distinct, and copies started in the same instant on one
 * cluster all succeed and leave no replication slot behind, failed ones included.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { copyRunningCluster, uniqueName } from './clusters/cluster.ts';
import { listBases } from './history/store.ts';
import { startTestProject, type TestEngine } from './test-support.ts';

let engine: TestEngine;
let projectId: string;
let mainId: string;

before(async () => {
  ({ engine, projectId, mainId } = await startTestProject({ name: 'names' }));
  // The project's spare and first base copy hold a slot of their own while they are made.
  await engine.engine.spares.settled(mainId);
  await engine.engine.history.settled();
});

after(() => engine.close());

test('names generated concurrently are distinct and valid slot names', async () => {
  const names = (
    await Promise.all(
      Array.from({ length: 20 }, async (_, task) => {
        const mine: string[] = [];
        for (let i = 0; i < 250; i++) {
          mine.push(uniqueName('arbor_branch', i % 2 ? `br-task-${task}` : ''));
          if (i % 50 === 0) await Promise.resolve();
        }
        return mine;
      }),
    )
  ).flat();
  assert.equal(new Set(names).size, names.length);
  for (const name of names) assert.match(name, /^[a-z0-9_]{1,63}$/);
  // A long tag is cut so the name still fits NAMEDATALEN; it stays unique.
  const long = uniqueName('arbor_branch', 'x'.repeat(200));
  assert.ok(long.length <= 63);
  assert.notEqual(long, uniqueName('arbor_branch', 'x'.repeat(200)));
});

test('copies of one cluster started in the same instant all succeed; no slot is left, failed copies included', async () => {
  const core = engine.engine;
  const main = core.branch(projectId, mainId);
  const password = core.superuserPassword(core.project(projectId));
  const clients: pg.Client[] = [];
  for (let i = 0; i < 6; i++) clients.push(await core.computes.admin(mainId, password));
  const target = join(engine.home, 'concurrent-copies');
  mkdirSync(target);
  try {
    const parentDir = core.computes.dataDir(mainId);
    // Started in one tick: the old names (pid + milliseconds) were identical here.
    const copies = clients.slice(0, 5).map((client, i) => copyRunningCluster(client, parentDir, join(target, `copy-${i}`), 17, undefined, main.id));
    // One that fails after its slot exists (its target's parent directory is missing).
    const failing = assert.rejects(copyRunningCluster(clients[5], parentDir, join(target, 'missing', 'copy'), 17, undefined, main.id), /ENOENT/);
    const results = await Promise.allSettled(copies);
    assert.deepEqual(results.map((r) => r.status), Array(5).fill('fulfilled'), String(results.find((r) => r.status === 'rejected')?.['reason' as never]));
    await failing;
    const { rows } = await clients[0].query(`SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'arbor%'`);
    assert.deepEqual(rows, []);
  } finally {
    for (const client of clients) await client.end();
  }
  assert.deepEqual(engine.specProblems, []);
});

test('projects created concurrently on one engine all get their branch, spare and history', async () => {
  const created = await Promise.all(Array.from({ length: 4 }, (_, i) => engine.api.createProject({ project: { name: `parallel-${i}` } })));
  for (const { data } of created) await engine.settle(data.project.id);
  for (const { data } of created) await engine.engine.spares.settled(data.branch.id);
  await engine.engine.history.settled();
  for (const { data } of created) {
    assert.ok(engine.engine.spares.hasReady(data.branch.id), `the spare of ${data.branch.id} was made`);
    assert.equal((await listBases(engine.home, data.branch.id)).length, 1, `the base copy of ${data.branch.id} was taken`);
  }
  assert.deepEqual(engine.specProblems, []);
});
