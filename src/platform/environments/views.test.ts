/**
 * Environment views in a list: one list of any length costs the same few store queries (no query
 * per environment), and each view in it is the one GET of that environment answers — steps in
 * order, account, and the Neon project's sharing (retention from the environment that created the
 * project, the names of this app's other environments on it, others counted). On a real embedded
 * store, rows written as the platform writes them; no reconciler runs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { asc } from 'drizzle-orm';
import type { Context } from '../context.ts';
import { measured } from '../http/timing.ts';
import { Secrets } from '../secrets.ts';
import { openStore, type Store } from '../store/db.ts';
import { accounts, apps, environments, environmentSteps, type Environment, type EnvironmentSpec } from '../store/schema.ts';
import { environmentView, environmentViews } from './environments.ts';

const home = mkdtempSync(join(tmpdir(), 'arbor-views-test-'));
let store: Store;
let ctx: Context;

before(async () => {
  store = await openStore({ home });
  ctx = { db: store.db, secrets: Secrets.fromEnvironment(home, { ARBOR_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') }), log: { info: () => {}, warn: () => {} } };
  const [a, b] = await store.db
    .insert(accounts)
    .values([
      { name: 'one', apiUrl: 'http://127.0.0.1:1', apiKeySealed: 'x', keyLast4: 'xxxx', plan: 'scale' },
      { name: 'two', apiUrl: 'http://127.0.0.1:2', apiKeySealed: 'x', keyLast4: 'xxxx', plan: 'free' },
    ])
    .returning();
  const [shop, blog] = await store.db
    .insert(apps)
    .values([
      { name: 'shop', model: {}, approvedModel: {} },
      { name: 'blog', model: {}, approvedModel: {} },
    ])
    .returning();
  const spec = (mode: EnvironmentSpec['mode'], settings: EnvironmentSpec['settings'] = {}, more: Partial<EnvironmentSpec> = {}): EnvironmentSpec => ({ mode, settings, ...more });
  const rows = await store.db
    .insert(environments)
    .values([
      // Project p1 (account one): made by shop/prod with a week's retention; shop/dev and blog/copy branch it.
      { appId: shop.id, accountId: a.id, name: 'prod', type: 'production', spec: spec('new-project', { historyRetentionSeconds: 604800, minCu: 1 }), neon: { projectId: 'p1', branchId: 'b1' }, status: 'ready' },
      { appId: shop.id, accountId: a.id, name: 'dev', type: 'development', spec: spec('branch-environment', { historyRetentionSeconds: 3600 }, { parentEnvironment: 'prod' }), neon: { projectId: 'p1', branchId: 'b2' }, status: 'ready' },
      { appId: blog.id, accountId: a.id, name: 'copy', type: 'development', spec: spec('branch-neon', {}, { neonProjectId: 'p1', neonBranchId: 'b1' }), neon: {}, status: 'pending' },
      // Project p2 (account two): imported, nobody made it.
      { appId: shop.id, accountId: b.id, name: 'legacy', type: 'development', spec: spec('import', {}, { neonProjectId: 'p2', neonBranchId: 'b9' }), neon: { projectId: 'p2', branchId: 'b9' }, status: 'awaiting_confirmation' },
      // No project yet.
      { appId: shop.id, accountId: b.id, name: 'fresh', type: 'development', spec: spec('new-project', { maxCu: 2 }), neon: {}, status: 'pending' },
      ...Array.from({ length: 8 }, (_, i) => ({ appId: shop.id, accountId: a.id, name: `extra${i}`, type: 'development' as const, spec: spec('new-project'), neon: { projectId: `px${i}` }, status: 'ready' as const })),
    ])
    .returning();
  const steps = rows.flatMap((env, i) =>
    ['neon-resources', 'roles', 'migrations'].slice(0, 1 + (i % 3)).map((step, j) => ({ environmentId: env.id, generation: 1, step, status: 'done' as const, detail: `${env.name} ${j}`, startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, j)), finishedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, j + 1)) })),
  );
  // Written interleaved across environments, as concurrent reconciler runs write them.
  steps.sort((x, y) => x.detail.localeCompare(y.detail) * -1);
  for (const s of steps) await store.db.insert(environmentSteps).values(s);
});
after(async () => {
  await store?.close();
  rmSync(home, { recursive: true, force: true });
});

async function all(): Promise<Environment[]> {
  return store.db.select().from(environments).orderBy(asc(environments.id));
}

test('a list of views is each environment’s own view, in a fixed number of queries', async () => {
  const envs = await all();
  const { result: list, timing } = await measured(() => environmentViews(ctx, envs));
  assert.equal(list.length, envs.length);
  for (const [i, env] of envs.entries()) assert.deepEqual(list[i], await environmentView(ctx, env), env.name);
  const few = await measured(() => environmentViews(ctx, envs.slice(0, 2)));
  assert.equal(timing.phases.store.count, few.timing.phases.store.count, `${envs.length} environments take as many queries as 2`);
  assert.ok(timing.phases.store.count <= 3, `${timing.phases.store.count} queries`);
  assert.equal((await measured(() => environmentViews(ctx, []))).timing.phases.store.count, 0);
});

test('sharing, steps and account as before: retention from the project’s creator, names of this app only', async () => {
  const views = new Map((await environmentViews(ctx, await all())).map((v) => [v.name, v]));
  const dev = views.get('dev')!;
  assert.equal(dev.account, 'one');
  assert.equal(dev.settings.historyRetentionSeconds, 604800, "the project's retention, set by prod");
  assert.deepEqual(dev.project, { id: 'p1', sharedWith: ['prod'], sharedWithOtherApps: 1, retentionSetBy: 'prod' });
  assert.deepEqual(views.get('prod')!.project, { id: 'p1', sharedWith: ['dev'], sharedWithOtherApps: 1, retentionSetBy: 'prod' });
  assert.deepEqual(views.get('prod')!.settings, { historyRetentionSeconds: 604800, minCu: 1 });
  // blog's view: shop's names are not shown, only counted; the creator is of another app.
  assert.deepEqual(views.get('copy')!.project, { id: 'p1', sharedWith: [], sharedWithOtherApps: 2, retentionSetBy: null });
  assert.equal(views.get('copy')!.settings.historyRetentionSeconds, 604800);
  assert.deepEqual(views.get('legacy')!.project, { id: 'p2', sharedWith: [], sharedWithOtherApps: 0, retentionSetBy: null });
  assert.equal(views.get('legacy')!.account, 'two');
  assert.equal(views.get('fresh')!.project, undefined);
  assert.deepEqual(views.get('fresh')!.settings, { maxCu: 2 });
  for (const view of views.values()) {
    assert.ok(view.steps.every((s) => s.detail!.startsWith(`${view.name} `)), `${view.name}'s steps are its own`);
    assert.deepEqual(view.steps.map((s) => s.detail), [...view.steps.map((s) => s.detail)].sort().reverse(), `${view.name}'s steps in the order written`);
  }
  assert.deepEqual(views.get('dev')!.steps.map((s) => s.step), ['roles', 'neon-resources'], 'as written (by id), here last first');
});
