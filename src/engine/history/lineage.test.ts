/**
 * A branch's history starts in its parent's (history/lineage.ts): a project's history starts at
 * its creation (a copy of the fresh cluster); a branch made from the parent's spare or as a copy
 * takes no base copy of its own, and its points after its creation — its own writes replayed over
 * the parent's base copy and WAL — hold exactly what it had committed, for a child and a
 * grandchild (whose replay crosses two archives); a point before its creation is refused, as on
 * Neon (it is the parent's history, and a masked preview relies on that). Pruning the parent keeps the base copy a child still needs.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { branchHistoryDir } from './store.ts';
import { connect, rejects, startTestProject, type TestEngine } from '../test-support.ts';

let engine: TestEngine;
let projectId: string;
let mainId: string;
let mainUri: string;

const SUMMARY = `SELECT count(*)::int AS count, coalesce(md5(string_agg(n::text, ',' ORDER BY n)), '') AS checksum FROM items`;

async function mark(client: pg.Client): Promise<{ lsn: string; timestamp: string; count: number; checksum: string }> {
  const { rows } = await client.query(`SELECT pg_current_wal_insert_lsn()::text AS lsn, to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS timestamp`);
  return { ...rows[0], ...(await client.query(SUMMARY)).rows[0] };
}

function bases(branchId: string): string[] {
  return readdirSync(branchHistoryDir(engine.home, branchId)).filter((n) => n.startsWith('base-'));
}

async function branch(parentId: string, name: string, point: { parent_lsn?: string; parent_timestamp?: string } = {}): Promise<{ id: string; uri: string }> {
  // Made from the parent's spare when one is ready (a promotion: a new timeline), else copied (the parent's timeline).
  await engine.engine.spares.settled(parentId);
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { parent_id: parentId, name, ...point }, endpoints: [{ type: 'read_write' as never }] });
  await engine.settle(projectId);
  return { id: data.branch.id, uri: data.connection_uris![0].connection_uri };
}

before(async () => {
  ({ engine, projectId, mainId, mainUri } = await startTestProject({ name: 'lineage' }, { history: { tickMs: 3_600_000, expiryCheckMs: 3_600_000 } }));
});

after(() => engine.close());

test("a project's history starts at its creation: a point right after it is served, with no base copy taken after the project", async () => {
  await engine.engine.history.settled();
  assert.equal(bases(mainId).length, 1, 'one base copy: the fresh cluster, taken before its first start');
  const main = await connect(mainUri);
  await main.query('CREATE TABLE items (n int PRIMARY KEY)');
  await main.query('INSERT INTO items SELECT generate_series(1, 5)');
  const first = await mark(main);
  await main.query('INSERT INTO items SELECT generate_series(6, 9)');
  await main.end();
  const early = await branch(mainId, 'early', { parent_timestamp: first.timestamp });
  const client = await connect(early.uri);
  assert.deepEqual((await client.query(SUMMARY)).rows[0], { count: first.count, checksum: first.checksum });
  await client.end();
  assert.deepEqual(engine.specProblems, []);
});

test('a child and a grandchild take no base copy of their own; their points replay over the ancestors\' history', async () => {
  const main = await connect(mainUri);
  await main.query('INSERT INTO items SELECT generate_series(20, 29)');
  const inMainBeforeChild = await mark(main);
  await main.query('INSERT INTO items SELECT generate_series(30, 39)');
  await main.end();
  const child = await branch(mainId, 'child');
  await engine.engine.history.settled();
  assert.deepEqual(bases(child.id), [], 'no base copy at branch creation');
  const madeBy = (id: string) => engine.engine.branch(projectId, id).made_by?.strategy;
  assert.equal(madeBy(child.id), 'spare', 'the child is a promoted spare: its replay crosses a timeline switch');

  const writer = await connect(child.uri);
  await writer.query('INSERT INTO items SELECT generate_series(100, 120)');
  const inChild = await mark(writer);
  await writer.query('DELETE FROM items WHERE n % 2 = 0');
  const later = await mark(writer);
  await writer.end();

  for (const [name, point, expected] of [
    ['child-at-time', { parent_timestamp: inChild.timestamp }, inChild],
    ['child-at-lsn', { parent_lsn: later.lsn }, later],
  ] as const) {
    const made = await branch(child.id, name, point);
    const client = await connect(made.uri);
    assert.deepEqual((await client.query(SUMMARY)).rows[0], { count: expected.count, checksum: expected.checksum }, `${name} holds exactly what the child had committed`);
    await client.end();
  }

  // As on Neon, the child's history starts at its creation: main's past is branched from main.
  await rejects(engine.api.createProjectBranch(projectId, { branch: { parent_id: child.id, parent_timestamp: inMainBeforeChild.timestamp } }), 400, /is before branch .* was created .*branch from its parent/);
  await rejects(engine.api.createProjectBranch(projectId, { branch: { parent_id: child.id, parent_lsn: inMainBeforeChild.lsn } }), 400, /is before branch .* was created \(at LSN/);

  // The grandchild is copied (the child's spare dropped first): it stays on the child's timeline.
  await engine.engine.spares.settled(child.id);
  await engine.engine.spares.discard(child.id);
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { parent_id: child.id, name: 'grandchild' }, endpoints: [{ type: 'read_write' as never }] });
  await engine.settle(projectId);
  const grandchild = { id: data.branch.id, uri: data.connection_uris![0].connection_uri };
  assert.equal(madeBy(grandchild.id), 'copy');
  await engine.engine.history.settled();
  assert.deepEqual(bases(grandchild.id), []);
  const g = await connect(grandchild.uri);
  await g.query('INSERT INTO items SELECT generate_series(1000, 1010)');
  const inGrandchild = await mark(g);
  await g.query('TRUNCATE items');
  await g.end();
  const made = await branch(grandchild.id, 'grandchild-at-lsn', { parent_lsn: inGrandchild.lsn });
  const client = await connect(made.uri);
  assert.deepEqual((await client.query(SUMMARY)).rows[0], { count: inGrandchild.count, checksum: inGrandchild.checksum }, 'three archives, two forks, one replay');
  await client.end();
  assert.deepEqual(engine.specProblems, []);
});

test("pruning the parent's history keeps the base copy a child still starts from", async () => {
  const child = await branch(mainId, 'pruned-parent-child');
  const writer = await connect(child.uri);
  await writer.query('INSERT INTO items SELECT generate_series(5000, 5003)');
  const point = await mark(writer);
  await writer.end();
  // A newer base of main, then a window so short that only it would be kept for main itself.
  await engine.engine.history.baseCopy(engine.engine.branch(projectId, mainId));
  assert.equal(bases(mainId).length, 2);
  await engine.api.updateProject(projectId, { project: { history_retention_seconds: 1 } });
  await new Promise((r) => setTimeout(r, 1_100));
  await engine.engine.history.prune(projectId);
  assert.equal(bases(mainId).length, 2, "main's first base copy stays: the child's fork lies before the newer one");
  const made = await branch(child.id, 'after-prune', { parent_lsn: point.lsn });
  const client = await connect(made.uri);
  assert.deepEqual((await client.query(SUMMARY)).rows[0], { count: point.count, checksum: point.checksum });
  await client.end();
  assert.deepEqual(engine.specProblems, []);
});
