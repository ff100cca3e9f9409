/**
 * Two platform processes on one metadata database (a real PostgreSQL server, given as
 * DATABASE_URL; here a branch on the engine): both take work, and no provisioning step of any
 * environment runs twice — claims are row locks and leases in the database, not memory — and
 * failed logins spread over both processes meet one limit.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { removeTree } from '../../../scripts/reaper.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApiClient } from '@neondatabase/api-client';
import { eq } from 'drizzle-orm';
import { startEngineServer, type EngineServer } from '../../engine/server.ts';
import { createApp } from '../apps/apps.ts';
import { connectAccount } from '../accounts/accounts.ts';
import { createEnvironment } from '../environments/environments.ts';
import { startPlatform, type Platform } from '../platform.ts';
import { SHOP_MIGRATIONS, SHOP_MODEL } from '../test-support.ts';
import { environments, environmentSteps } from './schema.ts';

const home = mkdtempSync(join(tmpdir(), 'arbor-shared-store-'));
const masterKey = randomBytes(32).toString('base64');
let engine: EngineServer;
let a: Platform;
let b: Platform;

before(async () => {
  engine = await startEngineServer({ home: join(home, 'engine') });
  const api = createApiClient({ apiKey: engine.apiKey, baseURL: engine.url });
  const { data } = await api.createProject({ project: { name: 'arbor-metadata' } });
  for (;;) {
    const ops = (await api.listProjectOperations({ projectId: data.project.id })).data.operations;
    if (ops.every((o) => o.status === 'finished')) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const databaseUrl = data.connection_uris![0].connection_uri;
  [a, b] = await Promise.all([
    startPlatform({ home: join(home, 'a'), databaseUrl, masterKey }),
    startPlatform({ home: join(home, 'b'), databaseUrl, masterKey }),
  ]);
});

after(async () => {
  await a?.close();
  await b?.close();
  await engine.close();
  await removeTree(home);
});

test('one first admin between two processes starting together', () => {
  assert.equal([a.firstAdmin, b.firstAdmin].filter(Boolean).length, 1);
});

test('six environments provisioned by two processes: never two processes on one environment, both processes working', async () => {
  const admin = { name: 'admin', role: 'admin' as const };
  await connectAccount(a.ctx, admin, { name: 'engine', apiKey: engine.apiKey, apiUrl: engine.url, plan: 'scale', allowInsecureUrl: true });
  await createApp(b.ctx, admin, { model: SHOP_MODEL, migrations: SHOP_MIGRATIONS });
  const names = ['e1', 'e2', 'e3', 'e4', 'e5', 'e6'];
  for (const [i, name] of names.entries()) {
    const platform = i % 2 ? a : b;
    await createEnvironment(platform.ctx, admin, 'shop', { name, account: 'engine', mode: 'new-project' });
    a.reconciler.kick();
    b.reconciler.kick();
  }
  const deadline = Date.now() + 120_000;
  for (;;) {
    const rows = await a.ctx.db.select().from(environments);
    if (rows.length === names.length && rows.every((r) => r.status === 'ready')) break;
    assert.ok(Date.now() < deadline, `all ready in time: ${rows.map((r) => `${r.name}=${r.status}${r.error ? ` (${r.error})` : ''}`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const steps = (await a.ctx.db.select().from(environmentSteps)).sort((x, y) => x.startedAt.getTime() - y.startedAt.getTime() || x.id - y.id);
  // The lease's promise: one environment's steps never run in two processes at once, and a step
  // runs again only as a retry after a failed run (a transient failure on a loaded machine is
  // retried with backoff, which re-runs the steps before the failed one: that is not a double run).
  const seen = new Set<string>();
  for (const env of new Set(steps.map((s) => s.environmentId))) {
    const runs = steps.filter((s) => s.environmentId === env);
    const failures = runs.filter((s) => s.status === 'failed').map((s) => `${s.step}: ${s.detail}`);
    for (const [i, run] of runs.entries()) {
      const key = `${run.generation}/${run.step}`;
      const previous = runs[i - 1];
      if (previous) assert.ok(run.startedAt >= previous.finishedAt!, `environment ${env}: ${run.step} started before ${previous.step} (by ${previous.worker}) finished`);
      if (seen.has(`${env}/${key}`)) assert.ok(runs.slice(0, i).some((s) => s.status === 'failed'), `environment ${env}: ${run.step} ran twice with no failure between`);
      seen.add(`${env}/${key}`);
    }
    if (failures.length) console.log(`environment ${env} was retried after: ${failures.join('; ')}`);
  }
  assert.equal(seen.size, names.length * 6);
  const workers = new Set(steps.map((s) => s.worker));
  assert.deepEqual([...workers].sort(), [a.reconciler.owner, b.reconciler.owner].sort(), 'both processes provisioned');
  const projects = engine.engine.data.projects.filter((p) => p.name.startsWith('shop-e'));
  assert.equal(projects.length, names.length, 'one Neon project per environment');
  const [e1] = await b.ctx.db.select().from(environments).where(eq(environments.name, 'e1'));
  assert.equal(e1.observedGeneration, e1.generation);
});

/** A login to `platform` from a chosen loopback source address (all of 127/8 reaches 127.0.0.1). */
function login(platform: Platform, name: string, password: string, from: string): Promise<{ status: number; retryAfter?: string; code?: string }> {
  const url = new URL(`${platform.url}/api/v1/auth/login`);
  const payload = JSON.stringify({ name, password });
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress: from, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] as string | undefined, code: text ? JSON.parse(text).error?.code : undefined }));
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

test('failed logins spread over two processes meet one limit: per user name and per address, then 429 with Retry-After', async () => {
  const first = (a.firstAdmin ?? b.firstAdmin)!;
  // Ten guesses at the admin's password, alternating processes, each from another address.
  for (let i = 1; i <= 10; i++) assert.equal((await login(i % 2 ? a : b, first.name, `guess-${i}`, `127.0.1.${i}`)).status, 401, `guess ${i}`);
  for (const platform of [a, b]) {
    const blocked = await login(platform, first.name, first.password, '127.0.1.20');
    assert.equal(blocked.status, 429, 'the right password, after ten failures on both processes');
    assert.equal(blocked.code, 'rate_limited');
    const retryAfter = Number(blocked.retryAfter);
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${blocked.retryAfter}`);
  }
  // Ten names that do not exist from one address, alternating processes: that address is limited, another is not.
  for (let i = 1; i <= 10; i++) assert.equal((await login(i % 2 ? b : a, `nobody-${i}`, 'x', '127.0.2.1')).status, 401, `unknown name ${i}`);
  assert.equal((await login(a, 'nobody-11', 'x', '127.0.2.1')).status, 429);
  assert.equal((await login(b, 'nobody-12', 'x', '127.0.2.1')).status, 429);
  assert.equal((await login(b, 'nobody-13', 'x', '127.0.2.2')).status, 401);
});
