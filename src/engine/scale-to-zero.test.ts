/**
 * Endpoints that scale to zero and wake on connect, through the official client: suspend after
 * the timeout, wake on the first connection (also 20 at once), an open transaction keeps the
 * compute up, restart and size changes drop sessions (a timeout change does not), -1 never
 * suspends, clients never see a refused connection around a suspend, bad inputs are 4xx.
 * The engine runs with `minSuspendSeconds: 1` (Neon's minimum is 60).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { connect, sleep, startTestEngine, waitFor, type TestEngine } from './test-support.ts';
import { postmastersUnder } from './test-process.ts';

let engine: TestEngine;
let projectId: string;

/** Postmasters running on the branch's data directory (scanning /proc, as a user would with ps). */
function postmastersOf(branchId: string): number[] {
  const dir = engine.engine.computes.dataDir(branchId);
  return postmastersUnder(dir).filter((p) => p.dataDir === dir).map((p) => p.pid);
}

async function state(endpointId: string) {
  return (await engine.api.getProjectEndpoint(projectId, endpointId)).data.endpoint;
}

async function status(promise: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    const response = (error as { response?: { status: number; data: { message: string } } }).response;
    if (response) return { status: response.status, message: response.data.message };
    throw error;
  }
  throw new Error('expected an HTTP error');
}

/** A branch with a read_write endpoint and the given timeout; returns its ids and URI. */
async function branchWith(name: string, suspend_timeout_seconds: number, extra: Record<string, number> = {}) {
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { name }, endpoints: [{ type: 'read_write' as never, suspend_timeout_seconds, ...extra }] });
  await engine.settle(projectId);
  return { branchId: data.branch.id, endpointId: data.endpoints[0].id, uri: data.connection_uris![0].connection_uri };
}

before(async () => {
  engine = await startTestEngine({ minSuspendSeconds: 1, activityPollMs: 100 });
  // Spares (one more postmaster per parent) are covered by their own test below.
  engine.engine.spares.setEnabled(false);
  const { data } = await engine.api.createProject({ project: { name: 'scale', default_endpoint_settings: { suspend_timeout_seconds: -1 } } });
  projectId = data.project.id;
  await engine.settle(projectId);
});

after(async () => {
  await engine.close();
});

describe('scale to zero', () => {
  test('suspends after the timeout: idle, suspended_at set, no process left', async () => {
    const { branchId, endpointId, uri } = await branchWith('suspends', 1);
    const client = await connect(uri);
    await client.query('SELECT 1');
    await client.end();
    assert.equal((await state(endpointId)).current_state, 'active');
    await waitFor('the endpoint to suspend', async () => (await state(endpointId)).current_state === 'idle');
    const endpoint = await state(endpointId);
    assert.ok(endpoint.suspended_at && endpoint.last_active && endpoint.started_at);
    assert.deepEqual(postmastersOf(branchId), []);
    assert.deepEqual(engine.specProblems, []);
  });

  test('wakes on connect: the client simply gets its connection; 20 at once all succeed on one postmaster', async () => {
    const { branchId, endpointId, uri } = await branchWith('wakes', 1);
    await waitFor('the endpoint to suspend', async () => (await state(endpointId)).current_state === 'idle');
    const first = await connect(uri);
    assert.equal((await first.query('SELECT 41 + 1 AS n')).rows[0].n, 42);
    assert.equal((await state(endpointId)).current_state, 'active');
    await first.end();
    await waitFor('the endpoint to suspend again', async () => (await state(endpointId)).current_state === 'idle');

    const clients = await Promise.all(Array.from({ length: 20 }, () => connect(uri)));
    const pids = await Promise.all(clients.map(async (c) => (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number));
    assert.equal(new Set(pids).size, 20);
    assert.equal(postmastersOf(branchId).length, 1);
    await Promise.all(clients.map((c) => c.end()));
  });

  test('a client in an open transaction keeps the endpoint active; it suspends once the client leaves', async () => {
    const { endpointId, uri } = await branchWith('in-transaction', 1);
    const client = await connect(uri);
    await client.query('BEGIN');
    await client.query('CREATE TABLE t (x int)');
    await sleep(2_000);
    assert.equal((await state(endpointId)).current_state, 'active');
    await client.query('INSERT INTO t VALUES (1)');
    await client.query('COMMIT');
    await client.end();
    await waitFor('the endpoint to suspend', async () => (await state(endpointId)).current_state === 'idle');
    const again = await connect(uri);
    assert.deepEqual((await again.query('SELECT x FROM t')).rows, [{ x: 1 }]);
    await again.end();
  });

  test('suspend_timeout_seconds -1 never suspends', async () => {
    const { endpointId } = await branchWith('never', -1);
    await sleep(1_800);
    assert.equal((await state(endpointId)).current_state, 'active');
  });

  test('no client sees a refused connection or "starting up" around suspends and wakes', async () => {
    const { endpointId, uri } = await branchWith('flapping', 1);
    const errors: string[] = [];
    let suspends = 0;
    let wasIdle = false;
    const watcher = setInterval(async () => {
      const idle = (await state(endpointId).catch(() => ({ current_state: 'x' }))).current_state === 'idle';
      if (idle && !wasIdle) suspends += 1;
      wasIdle = idle;
    }, 50);
    // Two clients connecting at moments that straddle the 1 s suspend timeout.
    const worker = async (offset: number) => {
      const until = Date.now() + 7_000;
      await sleep(offset);
      while (Date.now() < until) {
        try {
          const client = await connect(uri);
          await client.query('SELECT 1');
          await client.end();
        } catch (error) {
          errors.push((error as Error).message);
        }
        await sleep(1_050 + Math.random() * 250);
      }
    };
    await Promise.all([worker(0), worker(600)]);
    clearInterval(watcher);
    assert.deepEqual(errors, []);
    assert.ok(suspends >= 1, `the endpoint suspended ${suspends} times`);
  });
});

describe('restarts and sizes', () => {
  let endpointId: string;
  let uri: string;
  let branchId: string;
  before(async () => {
    ({ endpointId, uri, branchId } = await branchWith('sizes', -1));
  });

  async function dropped(client: pg.Client): Promise<boolean> {
    try {
      await client.query('SELECT 1');
      return false;
    } catch {
      return true;
    } finally {
      await client.end().catch(() => {});
    }
  }

  test('restart drops connections; the endpoint serves again', async () => {
    const client = await connect(uri);
    client.on('error', () => {});
    await engine.api.restartProjectEndpoint(projectId, endpointId);
    await engine.settle(projectId);
    assert.equal(await dropped(client), true);
    const again = await connect(uri);
    await again.query('SELECT 1');
    await again.end();
  });

  test('a compute size change restarts with the new size and drops connections; a timeout change does not', async () => {
    const client = await connect(uri);
    client.on('error', () => {});
    await engine.api.updateProjectEndpoint(projectId, endpointId, { endpoint: { suspend_timeout_seconds: 3600 } });
    await engine.settle(projectId);
    assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1, 'a timeout change keeps sessions');
    const { data } = await engine.api.updateProjectEndpoint(projectId, endpointId, { endpoint: { autoscaling_limit_min_cu: 1, autoscaling_limit_max_cu: 2 } });
    assert.equal(data.operations.length, 1);
    await engine.settle(projectId);
    assert.equal(await dropped(client), true);
    const again = await connect(uri);
    const settings = await again.query(`SELECT name, setting FROM pg_settings WHERE name IN ('shared_buffers', 'max_connections') ORDER BY name`);
    // 2 CU: 128 MB of shared_buffers (16384 pages of 8 kB) and 838 connections (compute/size.ts).
    assert.deepEqual(settings.rows, [
      { name: 'max_connections', setting: '838' },
      { name: 'shared_buffers', setting: '16384' },
    ]);
    await again.end();
    assert.equal(postmastersOf(branchId).length, 1);
  });

  test('an explicit suspend drops connections, and the next connection wakes it', async () => {
    const client = await connect(uri);
    client.on('error', () => {});
    await engine.api.suspendProjectEndpoint(projectId, endpointId);
    await engine.settle(projectId);
    assert.equal((await state(endpointId)).current_state, 'idle');
    assert.equal(await dropped(client), true);
    const again = await connect(uri);
    await again.query('SELECT 1');
    await again.end();
    assert.equal((await state(endpointId)).current_state, 'active');
  });
});

describe('the API on idle endpoints', () => {
  test('a role created on an idle endpoint is applied (the compute wakes) and it is idle again afterwards', async () => {
    const { branchId, endpointId, uri } = await branchWith('api-on-idle', 1);
    await waitFor('the endpoint to suspend', async () => (await state(endpointId)).current_state === 'idle');
    const { data } = await engine.api.createProjectBranchRole(projectId, branchId, { role: { name: 'late_user' } });
    await engine.settle(projectId);
    assert.equal((await state(endpointId)).current_state, 'idle');
    const url = new URL(uri);
    url.username = 'late_user';
    url.password = data.role.password!;
    const client = await connect(url.toString());
    assert.equal((await client.query('SELECT current_user AS u')).rows[0].u, 'late_user');
    await client.end();
  });

  test('branching from a suspended parent copies it while it stays down; a spare is discarded before its parent suspends', async () => {
    const parent = await branchWith('parent', 1);
    const client = await connect(parent.uri);
    await client.query('CREATE TABLE kept AS SELECT 7 AS v');
    engine.engine.spares.setEnabled(true);
    try {
      // The open session keeps the parent up while its spare is made (on a loaded machine that
      // takes longer than the 1 s suspend timeout); closing it lets the parent suspend.
      engine.engine.spares.replenish(engine.engine.branch(projectId, parent.branchId));
      await engine.engine.spares.settled(parent.branchId);
      assert.ok(engine.engine.spares.hasReady(parent.branchId), engine.engine.spares.whyNone(engine.engine.branch(projectId, parent.branchId)));
      await client.end();
      await waitFor('the parent to suspend', async () => (await state(parent.endpointId)).current_state === 'idle');
      assert.equal(engine.engine.spares.hasReady(parent.branchId), false);
      assert.deepEqual(postmastersOf(parent.branchId), []);
      const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'from-idle', parent_id: parent.branchId }, endpoints: [{ type: 'read_write' as never }] });
      await engine.settle(projectId);
      const child = await connect(data.connection_uris![0].connection_uri);
      assert.deepEqual((await child.query('SELECT v FROM kept')).rows, [{ v: 7 }]);
      await child.end();
    } finally {
      engine.engine.spares.setEnabled(false);
    }
  });
});

describe('bad input is a Neon-shaped 4xx naming the field', () => {
  test('compute units and timeouts on create and update', async () => {
    const main = (await engine.api.listProjectBranches({ projectId, search: 'main' })).data.branches[0].id;
    const create = (endpoint: Record<string, unknown>) => engine.api.createProjectEndpoint(projectId, { endpoint: { branch_id: main, type: 'read_write' as never, ...endpoint } });
    assert.deepEqual(await status(create({ autoscaling_limit_min_cu: 0.1 })), { status: 400, message: 'endpoint.autoscaling_limit_min_cu: autoscaling_limit_min_cu must be at least 0.25' });
    assert.match((await status(create({ autoscaling_limit_min_cu: 2, autoscaling_limit_max_cu: 1 }))).message, /autoscaling_limit_max_cu \(1\) must be greater than or equal to autoscaling_limit_min_cu \(2\)/);
    assert.match((await status(create({ autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: 9 }))).message, /autoscaling_limit_max_cu - autoscaling_limit_min_cu must be at most 8/);
    const endpointId = (await engine.api.listProjectEndpoints(projectId)).data.endpoints.find((e) => e.branch_id === main)!.id;
    const update = (endpoint: Record<string, unknown>) => engine.api.updateProjectEndpoint(projectId, endpointId, { endpoint });
    assert.deepEqual(await status(update({ suspend_timeout_seconds: 604801 })), { status: 400, message: 'endpoint.suspend_timeout_seconds: suspend_timeout_seconds must be -1 (never), 0 (default) or at most 604800' });
    assert.equal((await status(update({ autoscaling_limit_max_cu: 0.1 }))).status, 400);
    assert.deepEqual(engine.specProblems, []);
  });
});
