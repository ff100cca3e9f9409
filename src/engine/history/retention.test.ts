/**
 * Retention and expiry on a schedule (short intervals via engine options): a base copy follows
 * enough WAL; lowering history_retention_seconds prunes old base copies and WAL, shrinks the
 * reported storage, and then points before the window are refused; an expired branch is deleted
 * with its endpoint.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { connect, sleep, startTestProject, status, type TestEngine } from '../test-support.ts';
import { archivedSegments, branchHistoryDir, listBases } from './store.ts';
import { segmentOrder } from './lsn.ts';

let engine: TestEngine;
let projectId: string;
let mainId: string;
let mainUri: string;

// A wait, not a timing assertion: on a loaded 2-core machine one base copy of main can take
// several seconds, and an expired branch's deletion waits for the project's running work.
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

before(async () => {
  ({ engine, projectId, mainId, mainUri } = await startTestProject({ name: 'retention' }, { history: { tickMs: 500, expiryCheckMs: 200, baseCopyWalBytes: 48 * 1024 * 1024 } }));
  await engine.engine.history.settled();
});

after(() => engine.close());

test('a base copy follows enough WAL; a shorter retention prunes history and refuses older points', async () => {
  const home = engine.home;
  assert.equal((await listBases(home, mainId)).length, 1, 'the first base copy was taken after creation');
  const client = await connect(mainUri);
  await client.query('CREATE TABLE t (id int, pad text)');
  const early = (await client.query(`SELECT pg_current_wal_insert_lsn()::text AS lsn, to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts`)).rows[0];
  await client.query(`INSERT INTO t SELECT g, repeat('x', 1000) FROM generate_series(1, 60000) g`); // ~70 MB of WAL
  await until('a second base copy on schedule', async () => (await listBases(home, mainId)).length >= 2);
  // How many base copies the schedule takes depends on how the insert's WAL and the ticks interleave
  // (a third can follow while the rest is archived): wait until two ticks in a row add none, so none
  // is taken inside the window below.
  // The schedule decides from archived WAL, and archiving lags under load: let it catch up first.
  const main = engine.engine.branch(projectId, mainId);
  const last = await engine.engine.withAdmin(main, async (admin) => (await admin.query('SELECT pg_walfile_name(pg_switch_wal()) AS seg')).rows[0].seg as string);
  await until('the archiver to catch up', () =>
    engine.engine.withAdmin(main, async (admin) => ((await admin.query('SELECT last_archived_wal FROM pg_stat_archiver')).rows[0].last_archived_wal ?? '') >= last),
  );
  let count = 0;
  await until('the schedule to stop taking base copies', async () => {
    await engine.engine.history.settled();
    await sleep(1100);
    await engine.engine.history.settled();
    const n = (await listBases(home, mainId)).length;
    const stable = n === count;
    count = n;
    return stable;
  }, 60_000);
  await engine.engine.history.prune(projectId);
  const before = (await engine.api.getProject(projectId)).data.project;
  assert.ok(before.synthetic_storage_size! > 0);
  const logical = (await engine.api.getProjectBranch(projectId, mainId)).data.branch.logical_size!;
  assert.ok(logical > 0 && logical < before.synthetic_storage_size!, 'history counts on top of the branch data');

  await sleep(1200);
  await engine.api.updateProject(projectId, { project: { history_retention_seconds: 1 } });
  await engine.engine.history.settled();
  const bases = await listBases(home, mainId);
  assert.equal(bases.length, 1, `only the newest base copy before the window stays (now ${new Date().toISOString()}: ${bases.map((b) => b.time).join(', ')})`);
  const segments = await archivedSegments(home, mainId);
  assert.ok(segments.every((s) => segmentOrder(s) >= segmentOrder(bases[0].startSegment)), 'older WAL is gone');
  const after = (await engine.api.getProject(projectId)).data.project;
  assert.ok(after.synthetic_storage_size! < before.synthetic_storage_size!, `storage shrank: ${before.synthetic_storage_size} → ${after.synthetic_storage_size}`);

  for (const point of [{ parent_timestamp: early.ts }, { parent_lsn: early.lsn }]) {
    try {
      await engine.api.createProjectBranch(projectId, { branch: point });
      assert.fail('a point before the window was accepted');
    } catch (error) {
      assert.equal(status(error), 400);
      assert.match((error as { response: { data: { message: string } } }).response.data.message, /history_retention_seconds/);
    }
  }
  await client.query('INSERT INTO t VALUES (-1, $1)', ['inside the window']);
  const now = (await client.query(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts`)).rows[0].ts;
  await client.end();
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { parent_timestamp: now }, endpoints: [{ type: 'read_write' as never }] });
  await engine.settle(projectId);
  const child = await connect(data.connection_uris![0].connection_uri);
  assert.equal((await child.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 60001, 'the kept history still serves points inside the window');
  await child.end();
  await engine.api.updateProject(projectId, { project: { history_retention_seconds: 86400 } });
  assert.deepEqual(engine.specProblems, []);
});

test('an expired branch is deleted with its endpoint and history', async () => {
  const expiresAt = new Date(Date.now() + 2000).toISOString();
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'short-lived', expires_at: expiresAt }, endpoints: [{ type: 'read_write' as never }] });
  // The 201's body: on a loaded machine the branch can expire before its creation has settled.
  assert.ok(data.branch.expires_at && data.branch.ttl_interval_seconds! >= 1);
  await engine.settle(projectId);
  await until('the branch to expire', async () => {
    try {
      await engine.api.getProjectBranch(projectId, data.branch.id);
      return false;
    } catch (error) {
      return status(error) === 404;
    }
  }, 60_000);
  await engine.settle(projectId);
  const endpoints = (await engine.api.listProjectEndpoints(projectId)).data.endpoints;
  assert.ok(!endpoints.some((e) => e.branch_id === data.branch.id), 'its endpoint is gone');
  assert.ok(!existsSync(branchHistoryDir(engine.home, data.branch.id)), 'its history is gone');
  const ops = (await engine.api.listProjectOperations({ projectId })).data.operations.filter((o) => o.branch_id === data.branch.id);
  assert.ok(ops.some((o) => o.action === 'delete_timeline' && o.status === 'finished'));
  assert.deepEqual(engine.specProblems, []);
});
