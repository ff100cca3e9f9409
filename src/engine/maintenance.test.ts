/**
 * A branch without a running compute gets a maintenance postmaster for the engine's own sessions
 * (withAdmin): a base copy, a child's copy and a role sync can overlap on it. The first to finish
 * must not stop it under the others (seen in CI: a child's copy failed with "Client has
 * encountered a connection error" when the branch's base copy ended first).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestProject, type TestProject } from './test-support.ts';

let t: TestProject;
before(async () => {
  t = await startTestProject({ name: 'maintenance' });
});
after(() => t.engine.close());

test('overlapping admin sessions on a branch without a compute: none is cut off, the postmaster stops after the last', async () => {
  const { engine, projectId } = t;
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'no-compute' } });
  await engine.settle(projectId);
  const branch = engine.engine.branch(projectId, data.branch.id);
  assert.equal(engine.engine.computes.isRunning(branch.id), false, 'no endpoint, no compute');

  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const long = engine.engine.withAdmin(branch, async (admin) => {
    await gate;
    return (await admin.query('SELECT 1 AS one')).rows[0].one;
  });
  // Short sessions that start with the long one (and the branch's first base copy, another such
  // session) and end first.
  for (let i = 0; i < 3; i++) {
    assert.equal(await engine.engine.withAdmin(branch, async (admin) => (await admin.query('SELECT 2 AS two')).rows[0].two), 2);
  }
  release();
  assert.equal(await long, 1, 'the long session kept its connection');
  await engine.engine.history.settled();
  assert.equal(engine.engine.computes.isRunning(branch.id), false, 'stopped after the last session');
  assert.deepEqual(engine.specProblems, []);
});
