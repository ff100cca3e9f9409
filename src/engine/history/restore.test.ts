/**
 * Restore through the official client: reset a branch to its parent's head, or to its own past
 * with and without preserve_under_name; the endpoint keeps its connection string, its sessions
 * are dropped, last_reset_at is set; Neon's rules are refused with their reasons.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { connect, rejects, startTestProject, type TestEngine } from '../test-support.ts';

let engine: TestEngine;
let projectId: string;
let mainId: string;
let mainUri: string;

async function rows(uri: string): Promise<number[]> {
  const client = await connect(uri);
  try {
    return (await client.query('SELECT id FROM items ORDER BY id')).rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}

async function write(uri: string, sql: string): Promise<void> {
  const client = await connect(uri);
  await client.query(sql);
  await client.end();
}

before(async () => {
  ({ engine, projectId, mainId, mainUri } = await startTestProject({ name: 'restore' }, { history: { tickMs: 60_000, expiryCheckMs: 60_000 } }));
  await write(mainUri, 'CREATE TABLE items (id int PRIMARY KEY)');
  await write(mainUri, 'INSERT INTO items VALUES (1), (2)');
});

after(() => engine.close());

test('reset to the parent: same connection string, sessions dropped, data of the parent head, last_reset_at', async () => {
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'preview' }, endpoints: [{ type: 'read_write' as never }] });
  const previewId = data.branch.id;
  const uri = data.connection_uris![0].connection_uri;
  await engine.settle(projectId);
  await write(uri, 'INSERT INTO items VALUES (100)');
  await write(mainUri, 'INSERT INTO items VALUES (3)');
  const session: pg.Client = await connect(uri);
  const dropped = new Promise<unknown>((resolve) => session.on('error', resolve));

  const restored = (await engine.api.restoreProjectBranch(projectId, previewId, { source_branch_id: mainId })).data;
  assert.ok(restored.operations.length >= 1);
  await engine.settle(projectId);
  await dropped;
  await session.end().catch(() => {});

  assert.deepEqual(await rows(uri), [1, 2, 3], 'the old connection string serves the parent head');
  const branch = (await engine.api.getProjectBranch(projectId, previewId)).data.branch;
  assert.ok(branch.last_reset_at, 'last_reset_at is set');
  assert.equal(branch.parent_id, mainId);
  assert.equal(branch.current_state, 'ready');
  assert.deepEqual(await rows(mainUri), [1, 2, 3], 'the parent is untouched');
  assert.equal((await engine.api.listProjectBranches({ projectId })).data.branches.length, 2, 'nothing preserved without preserve_under_name');
  assert.deepEqual(engine.specProblems, []);
});

test('restore to its own past, keeping the old state under preserve_under_name', async () => {
  const preview = engine.engine.branch(projectId, 'preview');
  await engine.engine.history.settled();
  const uri = engine.engine.readWriteEndpoint(preview.id)!;
  const previewUri = (await engine.api.getConnectionUri({ projectId, branch_id: preview.id, database_name: 'neondb', role_name: 'neondb_owner' })).data.uri;
  assert.ok(uri);
  await write(previewUri, 'INSERT INTO items VALUES (10)');
  const client = await connect(previewUri);
  const at = (await client.query(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`)).rows[0].t as string;
  await client.query('INSERT INTO items VALUES (11)');
  const lsn = (await client.query('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0].l as string;
  await client.query('DELETE FROM items WHERE id = 1');
  await client.end();

  await rejects(engine.api.restoreProjectBranch(projectId, preview.id, { source_branch_id: preview.id }), 400, /source_lsn or source_timestamp is required/);
  await rejects(engine.api.restoreProjectBranch(projectId, preview.id, { source_branch_id: preview.id, source_timestamp: at }), 400, /preserve_under_name is required/);

  await engine.api.restoreProjectBranch(projectId, preview.id, { source_branch_id: preview.id, source_timestamp: at, preserve_under_name: 'preview-before-restore' });
  await engine.settle(projectId);
  assert.deepEqual(await rows(previewUri), [1, 2, 3, 10], 'the branch is as it was at the timestamp');
  const old = (await engine.api.listProjectBranches({ projectId, search: 'preview-before-restore' })).data.branches[0];
  assert.ok(old, 'the old state is kept as a branch');
  assert.equal((await engine.api.getProjectBranch(projectId, preview.id)).data.branch.parent_id, old.id, 'the backup is the restored branch\'s parent');
  assert.equal(old.parent_id, mainId, 'the backup keeps the old parent');
  const { data } = await engine.api.createProjectEndpoint(projectId, { endpoint: { branch_id: old.id, type: 'read_write' as never } });
  await engine.settle(projectId);
  const oldUri = (await engine.api.getConnectionUri({ projectId, branch_id: old.id, endpoint_id: data.endpoint.id, database_name: 'neondb', role_name: 'neondb_owner' })).data.uri;
  assert.deepEqual(await rows(oldUri), [2, 3, 10, 11], 'the preserved branch holds the state before the restore');

  // And by LSN, without a timestamp: back to just after row 11.
  await engine.engine.history.settled();
  await rejects(
    engine.api.restoreProjectBranch(projectId, preview.id, { source_branch_id: preview.id, source_lsn: lsn, preserve_under_name: 'again' }),
    400,
    /source_lsn .* is before the history kept/,
  );
  await engine.api.restoreProjectBranch(projectId, old.id, { source_branch_id: old.id, source_lsn: lsn, preserve_under_name: 'preview-before-lsn' });
  await engine.settle(projectId);
  assert.deepEqual(await rows(oldUri), [1, 2, 3, 10, 11], 'restored to the LSN: row 1 not yet deleted');
  assert.deepEqual(engine.specProblems, []);
});

test("Neon's rules: protected, children, descendants, names, retention 0", async () => {
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'guarded', protected: true } });
  await engine.settle(projectId);
  await rejects(engine.api.restoreProjectBranch(projectId, data.branch.id, { source_branch_id: mainId }), 422, /protected and cannot be restored/);
  await engine.api.updateProjectBranch(projectId, data.branch.id, { branch: { protected: false } });

  const child = (await engine.api.createProjectBranch(projectId, { branch: { name: 'grandchild', parent_id: data.branch.id } })).data.branch;
  await engine.settle(projectId);
  await rejects(engine.api.restoreProjectBranch(projectId, data.branch.id, { source_branch_id: mainId }), 400, /preserve_under_name is required: .* has child branches/);
  await rejects(engine.api.restoreProjectBranch(projectId, data.branch.id, { source_branch_id: child.id, preserve_under_name: 'x' }), 400, /descends from/);
  await rejects(engine.api.restoreProjectBranch(projectId, data.branch.id, { source_branch_id: mainId, preserve_under_name: 'preview' }), 409, /branch already exists/);
  await rejects(engine.api.restoreProjectBranch(projectId, data.branch.id, { source_branch_id: 'br-no-such-12345678' }), 404, /not found/);

  await engine.api.restoreProjectBranch(projectId, data.branch.id, { source_branch_id: mainId, preserve_under_name: 'guarded-old' });
  await engine.settle(projectId);
  const moved = (await engine.api.getProjectBranch(projectId, child.id)).data.branch;
  const preserved = (await engine.api.listProjectBranches({ projectId, search: 'guarded-old' })).data.branches[0];
  assert.equal(moved.parent_id, preserved.id, 'children move to the preserved branch');
  assert.equal((await engine.api.getProjectBranch(projectId, data.branch.id)).data.branch.parent_id, preserved.id, 'the backup is the restored branch\'s parent');

  await engine.api.updateProject(projectId, { project: { history_retention_seconds: 0 } });
  await rejects(
    engine.api.restoreProjectBranch(projectId, mainId, { source_branch_id: mainId, source_timestamp: new Date(Date.now() - 1000).toISOString(), preserve_under_name: 'y' }),
    400,
    /outside the history retention window|keeps no history/,
  );
  await engine.api.updateProject(projectId, { project: { history_retention_seconds: 86400 } });
  assert.deepEqual(engine.specProblems, []);
});
