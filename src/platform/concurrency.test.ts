/**
 * Conflicting writes at once (issue #15): against one real platform, with the engine as Neon and
 * the embedded store, several requests race on one environment (Promise.all) and the store's
 * answer afterwards is checked: one row, one Neon branch, one audit entry, a value that one of
 * the requests sent, nothing half-deleted, no 5xx; and a revoked token is refused from the moment
 * its revocation answers. No timing is asserted: only what the store and the engine hold after.
 *
 * Twice: on the embedded store (PGlite, one connection: queries interleave between awaits), and on
 * a PostgreSQL server (a branch on the engine, as DATABASE_URL; a pool, so queries really overlap,
 * as with several platform processes).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiClient } from '@neondatabase/api-client';
import { eq } from 'drizzle-orm';
import { removeTree } from '../../scripts/reaper.ts';
import { startEngineServer, type EngineServer } from '../engine/server.ts';
import { SHOP_MIGRATIONS, SHOP_MODEL, startTestPlatform, type Response, type TestPlatform } from './test-support.ts';
import { credentials, environments } from './store/schema.ts';

const N = 8;
let t: TestPlatform;
let neon: ReturnType<typeof createApiClient>;

/** A PostgreSQL server for the metadata: a project on its own engine (as the two-process tests do). */
async function serverStore(): Promise<{ engine: EngineServer; home: string; databaseUrl: string }> {
  const home = mkdtempSync(join(tmpdir(), 'arbor-concurrency-store-'));
  const engine = await startEngineServer({ home });
  const api = createApiClient({ apiKey: engine.apiKey, baseURL: engine.url });
  const { data } = await api.createProject({ project: { name: 'arbor-metadata' } });
  for (;;) {
    const ops = (await api.listProjectOperations({ projectId: data.project.id })).data.operations;
    if (ops.every((o) => o.status === 'finished')) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { engine, home, databaseUrl: data.connection_uris![0].connection_uri };
}

/** Every answer, and none a 5xx (the message says which, with its body). */
function noServerErrors(answers: Response[], what: string): void {
  const bad = answers.filter((a) => a.status >= 500);
  const logged = t.logs.filter((l) => /internal error/.test(l)).map((l) => l.slice(0, 1500));
  assert.deepEqual(bad, [], `${what}: no 5xx\n${logged.join('\n')}`);
}

const statuses = (answers: Response[]) => answers.map((a) => a.status).sort();

async function envRows(name: string) {
  return (await t.platform.store.db.select().from(environments)).filter((e) => e.name === name);
}

async function branchesOf(projectId: string) {
  return (await neon.listProjectBranches({ projectId })).data.branches;
}

/** Waits until the environment is gone; returns the last view of it seen (its steps say what the deletion did). */
async function gone(app: string, env: string): Promise<any> {
  const deadline = Date.now() + 60_000;
  let last: any;
  for (;;) {
    const r = await t.call('GET', `/apps/${app}/environments/${env}`);
    if (r.status === 404) break;
    last = r.body.environment;
    assert.ok(Date.now() < deadline, `${app}/${env} deleted in time`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await t.engine.engine.idle();
  return last;
}

for (const store of ['embedded', 'server'] as const) {
  describe(`on the ${store} store`, () => {
    let storeEngine: EngineServer | undefined;
    let storeHome: string | undefined;
    before(async () => {
      let databaseUrl: string | undefined;
      if (store === 'server') ({ engine: storeEngine, home: storeHome, databaseUrl } = await serverStore());
      t = await startTestPlatform({ databaseUrl });
      neon = createApiClient({ apiKey: t.engine.apiKey, baseURL: t.engine.url });
      assert.equal((await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true })).status, 201);
      assert.equal((await t.call('POST', '/apps', { model: SHOP_MODEL, migrations: SHOP_MIGRATIONS })).status, 201);
    });
    after(async () => {
      await t.close();
      await storeEngine?.close();
      if (storeHome) await removeTree(storeHome);
    });

  test('one environment created N times at once: one 201, the rest a 409 naming it; one row, one Neon project and branch', async () => {
    const answers = await Promise.all(
      Array.from({ length: N }, () => t.call('POST', '/apps/shop/environments', { name: 'staging', account: 'engine', mode: 'new-project' })),
    );
    noServerErrors(answers, 'concurrent creates');
    assert.deepEqual(statuses(answers), [201, ...Array(N - 1).fill(409)], JSON.stringify(answers.map((a) => [a.status, a.body?.error?.message])));
    for (const a of answers.filter((a) => a.status === 409)) {
      assert.equal(a.body.error.code, 'conflict');
      assert.match(a.body.error.message, /staging/);
    }
    assert.equal((await envRows('staging')).length, 1, 'one environment row');
    const env = await t.waitFor('shop', 'staging', 'ready');
    await t.engine.engine.idle();
    const projects = (await neon.listProjects({})).data.projects.filter((p) => p.name === 'shop-staging');
    assert.equal(projects.length, 1, 'one Neon project');
    assert.equal(projects[0].id, env.neon.projectId);
    assert.deepEqual((await branchesOf(env.neon.projectId)).map((b) => b.id), [env.neon.branchId], 'one Neon branch');
    const creates = (await t.call('GET', '/audit')).body.entries.filter((e: { action: string; target: string }) => e.action === 'environment.create' && e.target === 'shop/staging');
    assert.equal(creates.length, 1, 'one audited creation');
  });

  test('one preview opened N times at once: one environment, one branch, one audited creation; 2xx or 409 only', async () => {
    assert.equal((await t.call('PATCH', '/apps/shop/previews', { parentEnvironment: 'staging' })).status, 200);
    const answers = await Promise.all(Array.from({ length: N }, () => t.call('PUT', '/apps/shop/previews/5', {})));
    noServerErrors(answers, 'concurrent preview opens');
    // One opened it; the others, come while it was being made, are pushes to it.
    assert.deepEqual(statuses(answers), [...Array(N - 1).fill(200), 201], JSON.stringify(answers.map((a) => [a.status, a.body?.error?.message])));
    assert.equal((await envRows('pr:5')).length, 1, 'one preview row');
    const pr = await t.waitFor('shop', 'pr:5', 'ready');
    await t.engine.engine.idle();
    const previews = (await branchesOf(pr.neon.projectId)).filter((b) => b.name === 'preview/shop/pr-5');
    assert.deepEqual(previews.map((b) => b.id), [pr.neon.branchId], 'one preview branch');
    const creates = (await t.call('GET', '/audit')).body.entries.filter((e: { action: string; target: string }) => e.action === 'environment.create' && e.target === 'shop/pr:5');
    assert.equal(creates.length, 1, 'one audited open');
  });

  test("a preview's pushes and a PATCH of its settings at once: the settings and one push's migrations both stay", async () => {
    const push = (n: number) => ({ migrations: { ...SHOP_MIGRATIONS, main: [...SHOP_MIGRATIONS.main, { file: `3_push${n}.up.sql`, sql: `CREATE TABLE push${n} (id int);` }] } });
    const answers = await Promise.all([
      ...[1, 2, 3].map((n) => t.call('PUT', '/apps/shop/previews/5', push(n))),
      t.call('PATCH', '/apps/shop/environments/pr:5/neon', { suspendTimeoutSeconds: 1800 }),
      ...[4, 5, 6].map((n) => t.call('PUT', '/apps/shop/previews/5', push(n))),
    ]);
    noServerErrors(answers, 'pushes and a settings PATCH');
    assert.deepEqual(statuses(answers), Array(7).fill(200), JSON.stringify(answers.map((a) => a.body)));
    const [row] = await envRows('pr:5');
    assert.equal(row.spec.settings.suspendTimeoutSeconds, 1800, "the PATCH's setting stays");
    const files = row.spec.migrations!.main.map((m) => m.file);
    assert.ok([1, 2, 3, 4, 5, 6].some((n) => JSON.stringify(files) === JSON.stringify([...SHOP_MIGRATIONS.main.map((m) => m.file), `3_push${n}.up.sql`])), files.join(', '));
    await t.waitFor('shop', 'pr:5', 'ready');
  });

  test('N PATCHes of the Neon settings at once: each sent whole, the stored and the Neon values are one of them', async () => {
    // Each request sends all three together; a mix of two requests' fields would be wrong.
    const sent = Array.from({ length: N }, (_, i) => ({ minCu: 0.25 * (i + 1), maxCu: 0.25 * (i + 1) + 1, suspendTimeoutSeconds: 60 * (i + 2) }));
    const answers = await Promise.all(sent.map((s) => t.call('PATCH', '/apps/shop/environments/staging/neon', s)));
    noServerErrors(answers, 'concurrent settings');
    for (const a of answers) assert.ok(a.status === 200 || a.status === 409, `${a.status} ${JSON.stringify(a.body)}`);
    const [row] = await envRows('staging');
    const stored = { minCu: row.spec.settings.minCu, maxCu: row.spec.settings.maxCu, suspendTimeoutSeconds: row.spec.settings.suspendTimeoutSeconds };
    assert.ok(sent.some((s) => JSON.stringify(s) === JSON.stringify(stored)), `stored ${JSON.stringify(stored)} is one of the requests'`);
    const env = await t.waitFor('shop', 'staging', 'ready');
    await t.engine.engine.idle();
    const { endpoint } = (await neon.getProjectEndpoint(env.neon.projectId, env.neon.endpointId)).data;
    assert.deepEqual(
      { minCu: endpoint.autoscaling_limit_min_cu, maxCu: endpoint.autoscaling_limit_max_cu, suspendTimeoutSeconds: endpoint.suspend_timeout_seconds },
      stored,
      'the engine has the stored settings',
    );
  });

  test('PATCHes of different settings at once all count: none is lost to another', async () => {
    // Rounds of three requests, each on its own fields: after a round, every field has its round's value.
    for (let round = 0; round < 4; round++) {
      const want = { historyRetentionSeconds: 3600 * (round + 2), minCu: 0.25 * (round + 2), maxCu: 0.25 * (round + 2) + 1, suspendTimeoutSeconds: 60 * (round + 10) };
      const answers = await Promise.all([
        t.call('PATCH', '/apps/shop/environments/staging/neon', { suspendTimeoutSeconds: want.suspendTimeoutSeconds }),
        t.call('PATCH', '/apps/shop/environments/staging/neon', { minCu: want.minCu, maxCu: want.maxCu }),
        t.call('PATCH', '/apps/shop/environments/staging/neon', { historyRetentionSeconds: want.historyRetentionSeconds }),
      ]);
      noServerErrors(answers, 'concurrent partial settings');
      assert.deepEqual(statuses(answers), [200, 200, 200], JSON.stringify(answers.map((a) => a.body)));
      const [row] = await envRows('staging');
      assert.deepEqual(row.spec.settings, want, `round ${round}`);
    }
    await t.waitFor('shop', 'staging', 'ready');
  });

  test('a delete racing a PATCH, reveals and rotations: no 5xx; then gone, with its branch and its credentials', async () => {
    assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'doomed', mode: 'branch-environment', parentEnvironment: 'staging' })).status, 201);
    const ready = await t.waitFor('shop', 'doomed', 'ready');
    const [row] = await envRows('doomed');
    const logsBefore = t.logs.length;
    const path = '/apps/shop/environments/doomed';
    const answers = await Promise.all([
      t.call('POST', `${path}/users/rotate`, {}),
      t.call('POST', `${path}/users/svc_orders/reveal`),
      t.call('PATCH', `${path}/neon`, { suspendTimeoutSeconds: 600 }),
      t.call('DELETE', `${path}?confirm=doomed`),
      t.call('POST', `${path}/users/rotate`, { role: 'encore_platform' }),
      t.call('POST', `${path}/users/svc_orders/reveal`),
      t.call('PATCH', `${path}/neon`, { suspendTimeoutSeconds: 1200 }),
      t.call('POST', `${path}/users/rotate`, {}),
    ]);
    noServerErrors(answers, 'delete racing');
    for (const a of answers) assert.ok(a.status < 300 || a.status === 404 || a.status === 409, `${a.status} ${JSON.stringify(a.body)}`);
    assert.equal(answers[3].status, 202, 'the delete was taken');
    // A refusal says why, naming the environment (being deleted, or not ready to rotate).
    for (const a of answers.filter((a) => a.status === 409)) assert.match(a.body.error.message, /shop\/doomed/, JSON.stringify(a.body));
    const last = await gone('shop', 'doomed');
    assert.equal((await envRows('doomed')).length, 0);
    assert.deepEqual(await t.platform.store.db.select().from(credentials).where(eq(credentials.environmentId, row.id)), [], 'no credentials left');
    const left = (await branchesOf(ready.neon.projectId)).filter((b) => b.id === ready.neon.branchId);
    assert.deepEqual(left, [], `its branch is gone\n${t.logs.slice(logsBefore).join('\n')}\n${JSON.stringify({ neon: last?.neon, steps: last?.steps }, null, 1)}`);
    // The platform log holds no internal error from any of them.
    assert.deepEqual(t.logs.slice(logsBefore).filter((l) => /internal error/.test(l)), []);
  });

  test('a token revoked while requests use it: none started after the revocation answered succeeds', async () => {
    const created = await t.call('POST', '/tokens', { name: 'ci', role: 'admin' });
    assert.equal(created.status, 201);
    const { token, info } = created.body;
    assert.equal((await t.call('GET', '/me', undefined, { token })).status, 200);
    const after: Promise<Response>[] = [];
    const revoke = t.call('DELETE', `/tokens/${info.id}`).then((r) => {
      // Started strictly after the revocation answered, while the others may still be in flight.
      for (let i = 0; i < 4; i++) after.push(t.call('GET', '/apps/shop/environments', undefined, { token }));
      after.push(t.call('POST', '/tokens', { name: 'minted-after', role: 'member' }, { token }));
      return r;
    });
    const during = await Promise.all([
      ...Array.from({ length: 4 }, () => t.call('GET', '/me', undefined, { token })),
      revoke,
      t.call('DELETE', `/tokens/${info.id}`),
      ...Array.from({ length: 3 }, () => t.call('GET', '/apps/shop/environments', undefined, { token })),
    ]);
    noServerErrors(during, 'requests during the revocation');
    for (const a of during) assert.ok([200, 204, 401, 404].includes(a.status), `${a.status} ${JSON.stringify(a.body)}`);
    const revocations = [during[4], during[5]];
    assert.deepEqual(statuses(revocations), [204, 404], 'revoked once; the second finds it gone');
    const later = await Promise.all(after);
    assert.deepEqual(later.map((a) => a.status), [401, 401, 401, 401, 401]);
    assert.equal((await t.call('GET', '/me', undefined, { token })).status, 401);
    const audited = (await t.call('GET', '/audit')).body.entries.filter((e: { action: string; target: string }) => e.action === 'token.revoke' && e.target === 'ci');
    assert.equal(audited.length, 1, 'one audited revocation');
    assert.ok(!(await t.call('GET', '/tokens')).body.tokens.some((k: { name: string }) => k.name === 'minted-after'));
  });
  });
}
