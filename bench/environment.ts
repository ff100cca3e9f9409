/**
 * A new environment end to end through the platform API, on the engine: Neon project + the role
 * hierarchy for 3 databases and 10 services + migrations, until `ready`; then a settings edit.
 * Counts Neon API calls per environment and per edit. Side by side: the same app as a branch of
 * an existing environment (mode branch-environment), which skips project creation.
 *
 * Run: npm run bench:environment -- [--runs 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngineServer } from '../src/engine/server.ts';
import { createApp } from '../src/platform/apps/apps.ts';
import { connectAccount } from '../src/platform/accounts/accounts.ts';
import { createEnvironment, updateSettings } from '../src/platform/environments/environments.ts';
import { startPlatform } from '../src/platform/platform.ts';
import { environments } from '../src/platform/store/schema.ts';
import { eq } from 'drizzle-orm';

import { median, minMedianMax as fmt, numberOption } from './support.ts';

const runs = numberOption('runs', 3);

const databases = ['orders', 'billing', 'catalog'];
const services = Array.from({ length: 10 }, (_, i) => ({ name: `svc${i}`, databases: [databases[i % 3], ...(i % 4 === 0 ? [databases[(i + 1) % 3]] : [])] }));
const model = { app: 'bench', databases: databases.map((name) => ({ name })), services };
const migrations = Object.fromEntries(
  databases.map((db) => [
    db,
    [
      { file: '1_init.up.sql', sql: `CREATE TABLE ${db}_items (id bigserial PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now());` },
      { file: '2_index.up.sql', sql: `CREATE INDEX ON ${db}_items (created_at); CREATE TABLE ${db}_events (id bigserial PRIMARY KEY, item bigint REFERENCES ${db}_items);` },
    ],
  ]),
);

process.removeAllListeners('warning');
const home = mkdtempSync(join(tmpdir(), 'arbor-bench-env-'));
const engine = await startEngineServer({ home: join(home, 'engine') });
const counter = { calls: 0 };
const platform = await startPlatform({ home: join(home, 'platform'), counter });
const admin = { name: 'admin', role: 'admin' as const };

async function ready(name: string): Promise<void> {
  for (;;) {
    const [env] = await platform.ctx.db.select().from(environments).where(eq(environments.name, name));
    if (env.status === 'failed') throw new Error(`${name} failed: ${env.error}`);
    if (env.status === 'ready' && env.generation === env.observedGeneration) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function measure(create: () => Promise<unknown>, name: string): Promise<{ ms: number; calls: number }> {
  const calls = counter.calls;
  const t0 = performance.now();
  await create();
  platform.reconciler.kick();
  await ready(name);
  return { ms: performance.now() - t0, calls: counter.calls - calls };
}

try {
  await connectAccount(platform.ctx, admin, { name: 'engine', apiKey: engine.apiKey, apiUrl: engine.url, plan: 'scale', allowInsecureUrl: true });
  await createApp(platform.ctx, admin, { model, migrations });
  const fresh: { ms: number; calls: number }[] = [];
  const branched: { ms: number; calls: number }[] = [];
  const edits: { ms: number; calls: number }[] = [];
  for (let i = 0; i < runs; i++) {
    fresh.push(await measure(() => createEnvironment(platform.ctx, admin, 'bench', { name: `p${i}`, account: 'engine', mode: 'new-project' }), `p${i}`));
    await new Promise((r) => setTimeout(r, 1500)); // let the new parent's spare be made, as between real requests
    branched.push(await measure(() => createEnvironment(platform.ctx, admin, 'bench', { name: `b${i}`, mode: 'branch-environment', parentEnvironment: `p${i}` }), `b${i}`));
    edits.push(await measure(() => updateSettings(platform.ctx, admin, 'bench', `p${i}`, { minCu: 0.5, maxCu: 1 + i, suspendTimeoutSeconds: 600 + i }), `p${i}`));
  }
  console.log(`# environment end to end — ${new Date().toISOString()} — 3 databases, 10 services, 6 migrations`);
  console.log('| case | ms (min / median / max) | Neon API calls (median) | ÷ new project |');
  console.log('|---|---|---|---|');
  const row = (label: string, xs: { ms: number; calls: number }[]) =>
    console.log(`| ${label} | ${fmt(xs.map((x) => x.ms))} | ${median(xs.map((x) => x.calls))} | ${(median(xs.map((x) => x.ms)) / median(fresh.map((x) => x.ms))).toFixed(2)} |`);
  row('new environment, mode new-project (project + hierarchy + migrations → ready)', fresh);
  row('new environment, mode branch-environment (branch + rotate passwords + hierarchy → ready)', branched);
  row('settings edit (compute size + suspend timeout → applied)', edits);
  console.log(`\n${runs} runs each. Target: ≤ 3 s for a new environment.`);
} finally {
  await platform.close();
  await engine.close();
  rmSync(home, { recursive: true, force: true });
}
