/**
 * A preview of a ~100 MB parent from `open` to ready, through the platform on the engine:
 * branch, the pull request's migration applied, new passwords for every login role; side by side
 * the same preview masked (previews.mask on the customers table: email, fake-name, redact, null),
 * which adds the masking branch, the UPDATE, VACUUM FULL and the child branch. Counts Neon API
 * calls per preview.
 *
 * Run: npm run bench:preview -- [--runs 3] [--mb 100] [--masked-mb 20]
 *   --mb: the parent's data in all; --masked-mb: how much of it is the masked table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import pg from 'pg';
import { startEngineServer } from '../src/engine/server.ts';
import { connectAccount } from '../src/platform/accounts/accounts.ts';
import { createApp, updateApp } from '../src/platform/apps/apps.ts';
import { revealCredential } from '../src/platform/credentials/credentials.ts';
import { createEnvironment } from '../src/platform/environments/environments.ts';
import { closePreview, openPreview, setPreviewSettings } from '../src/platform/previews/previews.ts';
import { startPlatform } from '../src/platform/platform.ts';
import { environments, environmentSteps } from '../src/platform/store/schema.ts';
import { median, minMedianMax as fmt, numberOption } from './support.ts';

const runs = numberOption('runs', 3);
const totalMb = numberOption('mb', 100);
const maskedMb = Math.min(numberOption('masked-mb', 20), totalMb);

const base = { app: 'bench', databases: [{ name: 'main' }], services: [{ name: 'api', databases: ['main'] }] };
const masked = { ...base, previews: { mask: { 'main.customers.email': 'email', 'main.customers.name': 'fake-name', 'main.customers.card': 'redact', 'main.customers.notes': 'null' } } };
const migrations = {
  main: [
    {
      file: '1_init.up.sql',
      sql: `CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL, name text, card text, notes text);
CREATE TABLE events (id bigserial PRIMARY KEY, customer bigint, kind text, payload text, at timestamptz DEFAULT now());
CREATE INDEX ON events (customer);`,
    },
  ],
};
const prMigration = { file: '2_flags.up.sql', sql: 'ALTER TABLE customers ADD COLUMN flags int NOT NULL DEFAULT 0;' };

process.removeAllListeners('warning');
const home = mkdtempSync(join(tmpdir(), 'arbor-bench-preview-'));
const engine = await startEngineServer({ home: join(home, 'engine') });
const counter = { calls: 0 };
const platform = await startPlatform({ home: join(home, 'platform'), counter });
const admin = { name: 'admin', role: 'admin' as const };

async function ready(name: string): Promise<void> {
  for (;;) {
    const [env] = await platform.ctx.db.select().from(environments).where(eq(environments.name, name));
    if (env?.status === 'failed') throw new Error(`${name} failed: ${env.error}`);
    if (env?.status === 'ready' && env.generation === env.observedGeneration) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function gone(name: string): Promise<void> {
  while ((await platform.ctx.db.select().from(environments).where(eq(environments.name, name))).length) await new Promise((r) => setTimeout(r, 20));
  await engine.engine.idle();
}

async function measure(number: number): Promise<{ ms: number; calls: number; steps: string }> {
  const calls = counter.calls;
  const t0 = performance.now();
  await openPreview(platform.ctx, admin, 'bench', number, { migrations: { main: [...migrations.main, prMigration] } });
  platform.reconciler.kick();
  await ready(`pr:${number}`);
  const ms = performance.now() - t0;
  const result = { ms, calls: counter.calls - calls, steps: await stepTimes(`pr:${number}`) };
  await closePreview(platform.ctx, admin, 'bench', number);
  platform.reconciler.kick();
  await gone(`pr:${number}`);
  return result;
}

/** Where the time went: each step's milliseconds. */
async function stepTimes(name: string): Promise<string> {
  const [env] = await platform.ctx.db.select().from(environments).where(eq(environments.name, name));
  const steps = await platform.ctx.db.select().from(environmentSteps).where(eq(environmentSteps.environmentId, env.id)).orderBy(environmentSteps.id);
  return steps.map((s) => `${s.step} ${s.finishedAt ? s.finishedAt.getTime() - s.startedAt.getTime() : '?'}`).join(', ');
}

try {
  await connectAccount(platform.ctx, admin, { name: 'engine', apiKey: engine.apiKey, apiUrl: engine.url, plan: 'scale', allowInsecureUrl: true });
  await createApp(platform.ctx, admin, { model: base, migrations });
  await createEnvironment(platform.ctx, admin, 'bench', { name: 'staging', account: 'engine', mode: 'new-project' });
  platform.reconciler.kick();
  await ready('staging');
  const owner = await revealCredential(platform.ctx, admin, 'bench', 'staging', 'db_main_admin');
  const client = new pg.Client({ connectionString: owner.connectionUri });
  await client.connect();
  // Rows of ~270 bytes with their indexes: customers carry the personal columns, events the rest.
  const customers = Math.round((maskedMb * 1024 * 1024) / 270);
  const events = Math.round(((totalMb - maskedMb) * 1024 * 1024) / 270);
  await client.query(`INSERT INTO customers (email, name, card, notes) SELECT 'person' || g || '@mail.example', 'Name' || g || ' Surname', '4111-1111-1111-' || lpad((g % 10000)::text, 4, '0'), repeat('n', 120) FROM generate_series(1, $1) g`, [customers]);
  await client.query(`INSERT INTO events (customer, kind, payload) SELECT g % $2, 'view', repeat('p', 150) FROM generate_series(1, $1) g`, [events, customers]);
  await client.query('VACUUM ANALYZE');
  const size = (await client.query(`SELECT pg_database_size('main') AS b`)).rows[0].b as string;
  await client.end();
  await setPreviewSettings(platform.ctx, admin, 'bench', { parentEnvironment: 'staging' });
  await new Promise((r) => setTimeout(r, 1500)); // the parent's spare, as between real requests

  const plain: Awaited<ReturnType<typeof measure>>[] = [];
  const maskedRuns: Awaited<ReturnType<typeof measure>>[] = [];
  for (let i = 0; i < runs; i++) plain.push(await measure(100 + i));
  await updateApp(platform.ctx, admin, 'bench', { model: masked });
  platform.reconciler.kick();
  await ready('staging');
  for (let i = 0; i < runs; i++) maskedRuns.push(await measure(200 + i));

  console.log(`# preview open → ready — ${new Date().toISOString()} — parent database ${(Number(size) / 1024 / 1024).toFixed(0)} MB (${maskedMb} MB of it in the masked table), 1 migration`);
  console.log('| case | ms (min / median / max) | Neon API calls (median) | ÷ unmasked |');
  console.log('|---|---|---|---|');
  const row = (label: string, xs: typeof plain) => console.log(`| ${label} | ${fmt(xs.map((x) => x.ms))} | ${median(xs.map((x) => x.calls))} | ${(median(xs.map((x) => x.ms)) / median(plain.map((x) => x.ms))).toFixed(2)} |`);
  row('preview, unmasked (branch + passwords + hierarchy + migration → ready)', plain);
  row('preview, masked (masking branch + mask + VACUUM FULL + child branch + the rest → ready)', maskedRuns);
  console.log(`\nSteps (ms) of the median masked run: ${maskedRuns.sort((a, b) => a.ms - b.ms)[Math.floor(runs / 2)].steps}`);
  console.log(`Steps (ms) of the median unmasked run: ${plain.sort((a, b) => a.ms - b.ms)[Math.floor(runs / 2)].steps}`);
  console.log(`${runs} runs each. Target: ≤ 1.5 s and ≤ 12 Neon API calls per preview.`);
} finally {
  await platform.close();
  await engine.close();
  rmSync(home, { recursive: true, force: true });
}
