/**
 * Connections are never refused from the moment a branch's create request is answered: the
 * engine holds the new endpoint's port from the 201 on, and a client that connects before the
 * compute serves waits (as behind Neon's proxy) instead of getting ECONNREFUSED. Branches here
 * are copies (spares turned off), the path that used to refuse for seconds.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, settle, startTestProject, type TestEngine } from './test-support.ts';

let engine: TestEngine;
let projectId: string;

before(async () => {
  ({ engine, projectId } = await startTestProject({ name: 'at-once' }));
  engine.engine.spares.setEnabled(false);
  await engine.engine.spares.discard((await engine.api.listProjectBranches({ projectId })).data.branches[0].id);
});

after(() => engine.close());

async function query(uri: string): Promise<number> {
  const client = await connect(uri);
  try {
    return (await client.query('SELECT 1 AS one')).rows[0].one;
  } finally {
    await client.end();
  }
}

test('a copied branch connects the moment its operations are finished', async () => {
  for (let i = 0; i < 4; i++) {
    const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: `after-ops-${i}` }, endpoints: [{ type: 'read_write' as never }] });
    // As on Neon, operations start `scheduling`.
    assert.deepEqual(data.operations.map((o) => o.status), ['scheduling', 'scheduling']);
    await settle(engine.api, projectId, { pollMs: 2 });
    assert.equal(await query(data.connection_uris![0].connection_uri), 1);
  }
  assert.deepEqual(engine.specProblems, []);
});

test('a copied branch connects the moment the 201 arrives (the client waits for the compute)', async () => {
  for (let i = 0; i < 4; i++) {
    const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: `at-201-${i}` }, endpoints: [{ type: 'read_write' as never }] });
    assert.equal(await query(data.connection_uris![0].connection_uri), 1);
    await settle(engine.api, projectId);
  }
  // Branched from a branch that never had a spare, with its own data visible at once.
  const { data: source } = await engine.api.createProjectBranch(projectId, { branch: { name: 'source' }, endpoints: [{ type: 'read_write' as never }] });
  const client = await connect(source.connection_uris![0].connection_uri);
  await client.query('CREATE TABLE marker AS SELECT 42 AS x');
  await client.end();
  await settle(engine.api, projectId);
  const { data: child } = await engine.api.createProjectBranch(projectId, { branch: { name: 'child', parent_id: source.branch.id }, endpoints: [{ type: 'read_write' as never }] });
  const reader = await connect(child.connection_uris![0].connection_uri);
  assert.deepEqual((await reader.query('SELECT x FROM marker')).rows, [{ x: 42 }]);
  await reader.end();
  await settle(engine.api, projectId);
  assert.deepEqual(engine.specProblems, []);
});

test('a branch taken from a spare also connects the moment the 201 arrives', async () => {
  const main = (await engine.api.listProjectBranches({ projectId })).data.branches.find((b) => b.default)!;
  engine.engine.spares.setEnabled(true);
  engine.engine.spares.replenish(engine.engine.branch(projectId, main.id));
  await engine.engine.spares.settled(main.id);
  assert.ok(engine.engine.spares.hasReady(main.id));
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'from-spare' }, endpoints: [{ type: 'read_write' as never }] });
  assert.equal(await query(data.connection_uris![0].connection_uri), 1);
  const client = await connect(data.connection_uris![0].connection_uri);
  assert.deepEqual((await client.query('SELECT pg_is_in_recovery() AS standby')).rows, [{ standby: false }]);
  await client.end();
  await settle(engine.api, projectId);
  await engine.engine.spares.settled(main.id);
  assert.deepEqual(engine.specProblems, []);
});

test("a new project's connection string connects the moment the 201 arrives", async () => {
  for (let i = 0; i < 2; i++) {
    const { data } = await engine.api.createProject({ project: { name: `at-once-${i}` } });
    const client = await connect(data.connection_uris![0].connection_uri);
    assert.deepEqual((await client.query('SELECT current_user AS u, current_database() AS d')).rows, [{ u: 'neondb_owner', d: 'neondb' }]);
    await client.end();
    await settle(engine.api, data.project.id);
    await engine.engine.spares.settled(data.branch.id);
  }
  assert.deepEqual(engine.specProblems, []);
});
