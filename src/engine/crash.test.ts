/**
 * Durability: the engine killed with SIGKILL in the middle of a branch creation. After a
 * restart the parent is intact and still served, the operation shows failed, the half-made
 * child is gone (records and files), and no postmaster is left orphaned.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createApiClient } from '@neondatabase/api-client';
import { connect } from './test-support.ts';

const home = mkdtempSync(join(tmpdir(), 'arbor-crash-test-'));
const apiKey = 'crash-test-key';
let engine: ChildProcess | undefined;

function startEngine(): Promise<{ url: string; process: ChildProcess }> {
  const child = spawn(process.execPath, ['bin/arbor.js', 'engine', 'serve', '--home', home, '--port', '0', '--api-key', apiKey], { stdio: ['ignore', 'pipe', 'pipe'] });
  engine = child;
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /listening: (\S+)/.exec(out);
      if (match) resolve({ url: match[1], process: child });
    });
    child.stderr!.resume();
    child.once('exit', (code) => reject(new Error(`engine exited with ${code}: ${out}`)));
  });
}

function postmastersUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd[0].endsWith('/postgres') && cmd.includes('-D') && cmd[cmd.indexOf('-D') + 1].startsWith(dir)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

async function settle(api: ReturnType<typeof createApiClient>, projectId: string) {
  for (;;) {
    const ops = (await api.listProjectOperations({ projectId, limit: 1000 })).data.operations;
    if (ops.every((o) => o.status !== 'running' && o.status !== 'scheduling')) return ops;
    await new Promise((r) => setTimeout(r, 20));
  }
}

after(async () => {
  engine?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  for (const pid of postmastersUnder(home)) process.kill(pid, 'SIGQUIT');
  rmSync(home, { recursive: true, force: true });
});

test('kill -9 during a branch creation: parent intact, child cleaned up, operation failed, no orphans', async () => {
  let { url, process: first } = await startEngine();
  let api = createApiClient({ apiKey, baseURL: url });
  const { data } = await api.createProject({ project: { name: 'durable' } });
  const projectId = data.project.id;
  await settle(api, projectId);
  const uri = data.connection_uris![0].connection_uri;
  const client = await connect(uri);
  // Enough data that the copy takes a while, so the kill lands in the middle of it.
  await client.query('CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 150000) g');
  await client.end();

  const branch = (await api.createProjectBranch(projectId, { branch: { name: 'doomed' }, endpoints: [{ type: 'read_write' as never }] })).data.branch;
  const partial = join(home, 'clusters', `${branch.id}.partial`);
  const deadline = Date.now() + 10_000;
  while (!existsSync(partial) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.ok(existsSync(partial), 'the copy had started');
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));

  ({ url } = await startEngine());
  api = createApiClient({ apiKey, baseURL: url });
  const ops = await settle(api, projectId);
  const create = ops.find((o) => o.action === 'create_branch' && o.branch_id === branch.id)!;
  assert.equal(create.status, 'failed');
  assert.match(create.error!, /engine stopped/);
  await assert.rejects(api.getProjectBranch(projectId, branch.id), (e: { response: { status: number } }) => e.response.status === 404);
  assert.deepEqual(readdirSync(join(home, 'clusters')).filter((n) => n.startsWith(branch.id)), []);

  const again = await connect(uri);
  assert.equal((await again.query('SELECT count(*)::int AS n FROM big')).rows[0].n, 150000);
  await again.end();
  assert.equal(postmastersUnder(home).length, 1, 'only the parent postmaster runs');

  // The project still works: a new branch succeeds after the crash.
  const retry = (await api.createProjectBranch(projectId, { branch: { name: 'doomed' }, endpoints: [{ type: 'read_write' as never }] })).data;
  const retryOps = await settle(api, projectId);
  assert.ok(retryOps.filter((o) => o.branch_id === retry.branch.id).every((o) => o.status === 'finished'));
  const child = await connect(retry.connection_uris![0].connection_uri);
  assert.equal((await child.query('SELECT count(*)::int AS n FROM big')).rows[0].n, 150000);
  await child.end();
});
