/**
 * Point-in-time branches through the official client: a writer commits a known sequence, and
 * branches at several LSNs and timestamps (one between two commits, one after a second base
 * copy, one across WAL segments) hold exactly the prefix committed up to that point. Then the
 * refusals: future, outside the retention window, before the history kept.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { connect, rejects, startTestProject, type TestEngine } from '../test-support.ts';

let engine: TestEngine;
let projectId: string;
let mainId: string;
let mainUri: string;

interface Mark {
  lsn: string;
  timestamp: string;
  count: number;
  checksum: string;
}

const SUMMARY = `SELECT count(*)::int AS count, coalesce(md5(string_agg(seq::text || ':' || md5(pad), ',' ORDER BY seq)), '') AS checksum FROM log`;

async function mark(client: pg.Client): Promise<Mark> {
  const { rows } = await client.query(
    `SELECT pg_current_wal_insert_lsn()::text AS lsn, to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS timestamp`,
  );
  const summary = (await client.query(SUMMARY)).rows[0];
  return { lsn: rows[0].lsn, timestamp: rows[0].timestamp, ...summary };
}

before(async () => {
  ({ engine, projectId, mainId, mainUri } = await startTestProject({ name: 'history' }, { history: { tickMs: 60_000, expiryCheckMs: 60_000 } }));
  // History starts at the first base copy, queued in the background at creation; under load it can
  // start after the test's first commit, so take it now: the first point tested must be inside.
  await engine.engine.history.baseCopy(engine.engine.branch(projectId, mainId));
  await engine.engine.history.settled();
});

after(() => engine.close());

test('branches at LSNs and timestamps hold exactly the committed prefix', async () => {
  const writer = await connect(mainUri);
  await writer.query('CREATE TABLE log (seq int PRIMARY KEY, pad text NOT NULL)');
  let seq = 0;
  const commit = async (rows: number, padBytes = 32) => {
    await writer.query(`INSERT INTO log SELECT g, repeat(md5(g::text), $3) FROM generate_series($1::int, $2::int) g`, [seq + 1, seq + rows, padBytes / 32]);
    seq += rows;
  };
  const marks: Mark[] = [];
  await commit(10);
  marks.push(await mark(writer)); // 0: after a small commit
  await commit(5);
  marks.push(await mark(writer)); // 1: a timestamp between this commit and the next
  await commit(40_000, 640); // ~26 MB: the next points lie segments further
  marks.push(await mark(writer)); // 2
  await engine.engine.history.baseCopy(engine.engine.branch(projectId, mainId));
  await commit(7);
  marks.push(await mark(writer)); // 3: after the second base copy
  await writer.query('DELETE FROM log WHERE seq % 3 = 0');
  marks.push(await mark(writer)); // 4: the latest commit
  const final = (await writer.query(SUMMARY)).rows[0];
  await writer.end();

  const cases = [
    { name: 'at-lsn-0', point: { parent_lsn: marks[0].lsn }, expect: marks[0] },
    { name: 'at-time-1', point: { parent_timestamp: marks[1].timestamp }, expect: marks[1] },
    { name: 'at-lsn-2', point: { parent_lsn: marks[2].lsn }, expect: marks[2] },
    { name: 'at-time-3', point: { parent_timestamp: marks[3].timestamp }, expect: marks[3] },
    { name: 'at-lsn-4', point: { parent_lsn: marks[4].lsn }, expect: marks[4] },
  ];
  for (const c of cases) {
    const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: c.name, ...c.point }, endpoints: [{ type: 'read_write' as never }] });
    await engine.settle(projectId);
    const branch = (await engine.api.getProjectBranch(projectId, data.branch.id)).data.branch;
    assert.equal(branch.parent_id, mainId);
    if ('parent_lsn' in c.point) assert.equal(branch.parent_lsn, c.point.parent_lsn);
    else assert.equal(Date.parse(branch.parent_timestamp!), Math.floor(Date.parse(c.point.parent_timestamp) / 1000) * 1000);
    assert.match(branch.parent_lsn!, /^[0-9A-F]+\/[0-9A-F]+$/);
    const child = await connect(data.connection_uris![0].connection_uri);
    const got = (await child.query(SUMMARY)).rows[0];
    assert.deepEqual(got, { count: c.expect.count, checksum: c.expect.checksum }, `${c.name} holds exactly the prefix`);
    await child.query('INSERT INTO log VALUES (-1, $1)', ['the child is writable']);
    await child.end();
  }

  const parent = await connect(mainUri);
  assert.deepEqual((await parent.query(SUMMARY)).rows[0], final, 'the parent is untouched');
  await parent.end();
  assert.deepEqual(engine.specProblems, []);
});

test('points in the future, outside the window, or before the history kept are refused', async () => {
  const future = new Date(Date.now() + 60_000).toISOString();
  await rejects(engine.api.createProjectBranch(projectId, { branch: { parent_timestamp: future } }), 400, /parent_timestamp .*is in the future/);
  await rejects(engine.api.createProjectBranch(projectId, { branch: { parent_lsn: 'FF/0' } }), 400, /parent_lsn FF\/0 is ahead of the parent's current LSN/);
  const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString();
  await rejects(
    engine.api.createProjectBranch(projectId, { branch: { parent_timestamp: twoDaysAgo } }),
    400,
    /outside the history retention window: .* keeps 86400 seconds of history \(history_retention_seconds\)/,
  );
  const beforeProject = new Date(Date.parse((await engine.api.getProject(projectId)).data.project.created_at) - 60_000).toISOString();
  await rejects(engine.api.createProjectBranch(projectId, { branch: { parent_timestamp: beforeProject } }), 400, /before the history kept for branch/);
  await rejects(engine.api.createProjectBranch(projectId, { branch: { parent_lsn: '0/10' } }), 400, /parent_lsn 0\/10 is before the history kept/);
  assert.deepEqual(engine.specProblems, []);
});
