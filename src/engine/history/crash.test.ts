/**
 * Durability of history work: the engine killed (SIGKILL, at failpoints set with
 * ARBOR_FAILPOINTS) in the middle of a point-in-time branch and of a restore — before and after
 * its commit point. After a restart each branch is either as before or as after, never mixed,
 * and the parent is untouched; an expiry that passed while the engine was down still deletes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createApiClient } from '@neondatabase/api-client';
import { connect } from '../test-support.ts';

const home = mkdtempSync(join(tmpdir(), 'arbor-history-crash-'));
const apiKey = 'history-crash-key';
let engine: ChildProcess | undefined;

function startEngine(failpoints = ''): Promise<{ api: ReturnType<typeof createApiClient>; process: ChildProcess }> {
  const child = spawn(process.execPath, ['bin/arbor.js', 'engine', 'serve', '--home', home, '--port', '0', '--api-key', apiKey], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ARBOR_FAILPOINTS: failpoints },
  });
  engine = child;
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /listening: (\S+)/.exec(out);
      if (match) resolve({ api: createApiClient({ apiKey, baseURL: match[1] }), process: child });
    });
    child.stderr!.resume();
    child.once('exit', (code) => reject(new Error(`engine exited with ${code}: ${out}`)));
  });
}

const exited = (child: ChildProcess) => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));

function postmastersUnder(dir: string): string[] {
  const dirs: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd[0].endsWith('/postgres') && cmd.includes('-D') && cmd[cmd.indexOf('-D') + 1].startsWith(dir)) dirs.push(cmd[cmd.indexOf('-D') + 1]);
    } catch {
      // gone
    }
  }
  return dirs;
}

async function settle(api: ReturnType<typeof createApiClient>, projectId: string) {
  for (;;) {
    const ops = (await api.listProjectOperations({ projectId, limit: 1000 })).data.operations;
    if (ops.every((o) => o.status !== 'running' && o.status !== 'scheduling')) return ops;
    await new Promise((r) => setTimeout(r, 20));
  }
}

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

after(async () => {
  engine?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  for (const dir of postmastersUnder(home)) {
    const pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGQUIT');
  }
  rmSync(home, { recursive: true, force: true });
});

test('kill -9 during a point-in-time branch and a restore: before or after, never mixed', async () => {
  // 1. A point-in-time branch killed after its recovery promoted, before it was moved into place.
  let { api, process: current } = await startEngine('pitr-promoted');
  const { data } = await api.createProject({ project: { name: 'durable-history' } });
  const projectId = data.project.id;
  const mainId = data.branch.id;
  const mainUri = data.connection_uris![0].connection_uri;
  await settle(api, projectId);
  const history = join(home, 'history', mainId);
  while (!existsSync(history) || !readdirSync(history).some((n) => /^base-[0-9A-F]+$/.test(n))) await new Promise((r) => setTimeout(r, 50));
  await run(mainUri, 'CREATE TABLE items (id int PRIMARY KEY)');
  await run(mainUri, 'INSERT INTO items VALUES (1), (2), (3)');
  const lsn = await run(mainUri, 'SELECT pg_current_wal_insert_lsn()::text AS v');
  await run(mainUri, 'INSERT INTO items VALUES (4)');
  const pitr = (await api.createProjectBranch(projectId, { branch: { name: 'at-lsn', parent_lsn: lsn }, endpoints: [{ type: 'read_write' as never }] })).data.branch;
  await exited(current);

  ({ api, process: current } = await startEngine('restore-mid-swap'));
  let ops = await settle(api, projectId);
  assert.equal(ops.find((o) => o.action === 'create_branch' && o.branch_id === pitr.id)!.status, 'failed');
  await assert.rejects(api.getProjectBranch(projectId, pitr.id), (e: { response: { status: number } }) => e.response.status === 404);
  assert.deepEqual(readdirSync(join(home, 'clusters')).filter((n) => n.startsWith(pitr.id)), [], 'no half-made copy is left');
  assert.deepEqual(postmastersUnder(home), [join(home, 'clusters', mainId)], 'the recovering postmaster was stopped');
  assert.deepEqual(await ids(mainUri), [1, 2, 3, 4], 'the parent is untouched');

  // 2. A restore killed in the middle of its swap (past its commit point): finished on restart.
  const preview = (await api.createProjectBranch(projectId, { branch: { name: 'preview' }, endpoints: [{ type: 'read_write' as never }] })).data;
  await settle(api, projectId);
  const previewUri = preview.connection_uris![0].connection_uri;
  await run(previewUri, 'INSERT INTO items VALUES (100)');
  await run(mainUri, 'INSERT INTO items VALUES (5)');
  await api.restoreProjectBranch(projectId, preview.branch.id, { source_branch_id: mainId });
  await exited(current);

  ({ api, process: current } = await startEngine('restore-before-commit'));
  ops = await settle(api, projectId);
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
  ops = await settle(api, projectId);
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
  await settle(api, projectId);
  assert.deepEqual(postmastersUnder(home), [join(home, 'clusters', mainId)]);
});
