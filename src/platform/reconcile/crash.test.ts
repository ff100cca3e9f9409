/**
 * The reconciler killed (SIGKILL) right after each step, then restarted: every environment ends
 * ready, with no duplicate Neon resource, no migration applied twice, and working credentials.
 * The platform runs as `arbor serve` in a child process; the engine stands in for Neon.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { removeTree } from '../../../scripts/reaper.ts';
import { callPlatform, servePlatform } from '../test-process.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startEngineServer, type EngineServer } from '../../engine/server.ts';
import { SHOP_MIGRATIONS, SHOP_MODEL } from '../test-support.ts';
import { STEPS } from './reconciler.ts';

let engine: EngineServer;
const home = mkdtempSync(join(tmpdir(), 'arbor-reconcile-crash-'));
let token = '';

const serve = (failpoint?: string) => servePlatform(home, failpoint);

const call = (url: string, method: string, path: string, body?: unknown, auth: Record<string, string> = { authorization: `Bearer ${token}` }) => callPlatform(url, method, path, body, auth);

async function waitReady(url: string, env: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const e = (await call(url, 'GET', `/apps/shop/environments/${env}`)).body.environment;
    if (e.status === 'ready' && e.generation === e.observedGeneration) return e;
    assert.ok(Date.now() < deadline, `${env} ready in time (is ${e.status}: ${e.error})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  engine = await startEngineServer({ home: join(home, 'engine') });
  const first = await serve();
  const password = /admin \/ (\S+)/.exec(first.output)![1];
  const login = await fetch(`${first.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password }) });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
  token = (await call(first.url, 'POST', '/tokens', { name: 'crash-test', role: 'admin' }, { cookie })).body.token;
  assert.equal((await call(first.url, 'POST', '/accounts', { name: 'engine', apiKey: engine.apiKey, apiUrl: engine.url, plan: 'scale', allowInsecureUrl: true })).status, 201);
  assert.equal((await call(first.url, 'POST', '/apps', { model: SHOP_MODEL, migrations: SHOP_MIGRATIONS })).status, 201);
  await first.stop();
});

after(async () => {
  await engine.close();
  await removeTree(home);
});

async function checkEnvironment(url: string, env: { name: string; neon: { projectId: string; branchId: string } }, projectName?: string) {
  const api = engine.engine;
  if (projectName) assert.equal(api.data.projects.filter((p) => p.name === projectName).length, 1, `one project ${projectName}`);
  const branches = api.branchesOf(env.neon.projectId);
  const names = branches.map((b) => b.name);
  assert.equal(new Set(names).size, names.length, `no duplicate branch names: ${names}`);
  const roles = api.branch(env.neon.projectId, env.neon.branchId).roles.map((r) => r.name);
  assert.equal(roles.filter((r) => r === 'encore_platform').length, 1);
  const reveal = (await call(url, 'POST', `/apps/shop/environments/${env.name}/users/svc_invoices/reveal`)).body.user;
  const client = new pg.Client({ connectionString: reveal.connectionUri });
  await client.connect();
  try {
    assert.deepEqual((await client.query('SELECT item FROM orders')).rows, [{ item: 'first' }], 'the seed migration ran exactly once');
    assert.deepEqual((await client.query('SELECT version, dirty FROM schema_migrations')).rows, [{ version: '2', dirty: false }]);
  } finally {
    await client.end();
  }
}

for (const step of STEPS) {
  test(`killed right after step "${step.name}": the restart finishes with no duplicates`, async () => {
    const name = `crash-${step.name}`;
    const doomed = await serve(`after:${step.name}`);
    assert.equal((await call(doomed.url, 'POST', '/apps/shop/environments', { name, account: 'engine', mode: 'new-project' })).status, 201);
    assert.equal(await doomed.exited, 137, 'the process was killed at the failpoint');
    const again = await serve();
    try {
      const env = await waitReady(again.url, name);
      const runs = env.steps.filter((s: { step: string }) => s.step === step.name);
      assert.ok(runs.length >= 2, 'the step ran before the crash and again after it');
      await checkEnvironment(again.url, env, `shop-${name}`);
    } finally {
      await again.stop();
    }
  });
}

test('killed right after creating a branch for a branch-environment: one branch after the restart', async () => {
  const doomed = await serve('after:neon-resources');
  assert.equal((await call(doomed.url, 'POST', '/apps/shop/environments', { name: 'crash-branch', mode: 'branch-environment', parentEnvironment: 'crash-migrations' })).status, 201);
  assert.equal(await doomed.exited, 137);
  const again = await serve();
  try {
    const env = await waitReady(again.url, 'crash-branch');
    assert.equal(engine.engine.branchesOf(env.neon.projectId).filter((b) => b.name === 'shop-crash-branch').length, 1);
    await checkEnvironment(again.url, env);
  } finally {
    await again.stop();
  }
});
