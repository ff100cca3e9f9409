/**
 * Endpoints across an engine killed with SIGKILL: postmasters keep serving while the engine is
 * down; after a restart active endpoints are adopted (no manual step), idle ones wake on connect,
 * an adopted one still suspends when idle, and nothing is left orphaned (the old keeper exits
 * with its engine, the spare is removed).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createApiClient } from '@neondatabase/api-client';
import { connect } from './test-support.ts';

const home = mkdtempSync(join(tmpdir(), 'arbor-crash-endpoints-'));
const apiKey = 'crash-endpoints-key';
let engine: ChildProcess | undefined;

function startEngine(): Promise<{ url: string; process: ChildProcess }> {
  const child = spawn(process.execPath, ['bin/arbor.js', 'engine', 'serve', '--home', home, '--port', '0', '--api-key', apiKey], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ARBOR_ENGINE_MIN_SUSPEND_SECONDS: '1' },
  });
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

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, predicate: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function settle(api: ReturnType<typeof createApiClient>, projectId: string) {
  await waitFor('operations', async () => (await api.listProjectOperations({ projectId, limit: 1000 })).data.operations.every((o) => o.status === 'finished'));
}

after(async () => {
  engine?.kill('SIGTERM');
  await sleep(1500);
  for (const pid of postmastersUnder(home)) process.kill(pid, 'SIGQUIT');
  rmSync(home, { recursive: true, force: true });
});

test('kill -9 with active and idle endpoints: still served, adopted after restart, idle ones wake, no orphans', async () => {
  let { url, process: first } = await startEngine();
  let api = createApiClient({ apiKey, baseURL: url });
  const { data } = await api.createProject({ project: { name: 'crashy', default_endpoint_settings: { suspend_timeout_seconds: -1 } } });
  const projectId = data.project.id;
  await settle(api, projectId);
  const mainUri = data.connection_uris![0].connection_uri;
  const branch = async (name: string, suspend_timeout_seconds: number) => {
    const created = (await api.createProjectBranch(projectId, { branch: { name }, endpoints: [{ type: 'read_write' as never, suspend_timeout_seconds }] })).data;
    await settle(api, projectId);
    return { endpointId: created.endpoints[0].id, uri: created.connection_uris![0].connection_uri };
  };
  const sleepy = await branch('sleepy', 1);
  const adoptee = await branch('adoptee', 2);
  const state = async (endpointId: string) => (await api.getProjectEndpoint(projectId, endpointId)).data.endpoint.current_state;
  const held = await connect(mainUri);
  await held.query('CREATE TABLE survived AS SELECT 1 AS x');
  const adopteeClient = await connect(adoptee.uri);
  await waitFor('sleepy to suspend', async () => (await state(sleepy.endpointId)) === 'idle');
  // …and that being written to the catalog (a kill before that would bring it back active).
  const saved = () => JSON.parse(readFileSync(join(home, 'catalog.json'), 'utf8')).endpoints.find((e: { id: string }) => e.id === sleepy.endpointId).current_state;
  await waitFor('the catalog to say sleepy is idle', () => saved() === 'idle');

  const keepers = childrenOf(first.pid!).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('keeper.mjs'));
  assert.equal(keepers.length, 1);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));

  // While the engine is down, active endpoints keep serving, old and new sessions alike.
  assert.deepEqual((await held.query('SELECT x FROM survived')).rows, [{ x: 1 }]);
  const meanwhile = await connect(mainUri);
  await meanwhile.query('SELECT 1');
  await meanwhile.end();
  await waitFor('the old keeper to exit', () => !existsSync(`/proc/${keepers[0]}`), 5_000);

  ({ url } = await startEngine());
  api = createApiClient({ apiKey, baseURL: url });
  assert.equal(await state(data.endpoints[0].id), 'active');
  assert.equal(await state(adoptee.endpointId), 'active');
  assert.equal(await state(sleepy.endpointId), 'idle');
  assert.deepEqual((await held.query('SELECT x FROM survived')).rows, [{ x: 1 }], 'sessions survive the restart');
  await held.end();
  // main and adoptee run; sleepy runs nothing; the old spare of main is gone.
  assert.equal(postmastersUnder(home).length, 2);

  const woken = await connect(sleepy.uri);
  await woken.query('SELECT 1');
  await woken.end();
  assert.equal(await state(sleepy.endpointId), 'active');

  // An adopted endpoint still suspends once idle, and wakes again.
  await adopteeClient.query('SELECT 1');
  await adopteeClient.end();
  await waitFor('the adopted endpoint to suspend', async () => (await state(adoptee.endpointId)) === 'idle');
  const again = await connect(adoptee.uri);
  await again.query('SELECT 1');
  await again.end();

  await waitFor('sleepy to suspend again', async () => (await state(sleepy.endpointId)) === 'idle');
  await waitFor('only main and adoptee to run', () => postmastersUnder(home).length === 2);
});
