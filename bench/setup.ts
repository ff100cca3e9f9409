/**
 * @module Setting up a platform for a benchmark: the engine connected as a Neon account, an app
 * (a small model: 1 database, 2 services) and its environments, waited on until all are ready, and
 * an instance admin API token to call the API with. (bench:api uses it; the older benches still
 * set up on their own.)
 */
import { eq, inArray } from 'drizzle-orm';
import { connectAccount, findAccount } from '../src/platform/accounts/accounts.ts';
import { createApp } from '../src/platform/apps/apps.ts';
import { createToken } from '../src/platform/auth/auth.ts';
import type { Actor } from '../src/platform/context.ts';
import { createEnvironment } from '../src/platform/environments/environments.ts';
import type { Platform } from '../src/platform/platform.ts';
import { environments, users } from '../src/platform/store/schema.ts';

export const BENCH_MODEL = { app: 'bench', databases: [{ name: 'main' }], services: [{ name: 'api', databases: ['main'] }, { name: 'worker', databases: ['main'] }] };
export const BENCH_MIGRATIONS = {
  main: [{ file: '1_init.up.sql', sql: 'CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now());' }],
};

/** The first admin, as a session of theirs would be. */
export async function adminActor(platform: Platform): Promise<Actor> {
  const [admin] = await platform.ctx.db.select().from(users).where(eq(users.name, 'admin'));
  return { name: admin.name, role: admin.role, userId: admin.id, userRole: admin.role };
}

/** Polls the store until every named environment is ready at its generation; fails on `failed`. */
export async function allReady(platform: Platform, names: string[]): Promise<void> {
  for (;;) {
    const rows = await platform.ctx.db.select().from(environments).where(inArray(environments.name, names));
    const failed = rows.find((e) => e.status === 'failed');
    if (failed) throw new Error(`${failed.name} failed: ${failed.error}`);
    if (rows.length === names.length && rows.every((e) => e.status === 'ready' && e.generation === e.observedGeneration)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Account `engine`, app `bench` with `count` environments `env0`… (each a new Neon project on the
 * engine, created at once), all ready. Returns their names.
 */
export async function setUpApp(platform: Platform, engine: { url: string; apiKey: string }, count: number): Promise<string[]> {
  const admin = await adminActor(platform);
  await findAccount(platform.ctx, 'engine').catch(() => connectAccount(platform.ctx, admin, { name: 'engine', apiKey: engine.apiKey, apiUrl: engine.url, plan: 'scale', allowInsecureUrl: true }));
  await createApp(platform.ctx, admin, { model: BENCH_MODEL, migrations: BENCH_MIGRATIONS });
  const names = Array.from({ length: count }, (_, i) => `env${i}`);
  for (const name of names) await createEnvironment(platform.ctx, admin, 'bench', { name, account: 'engine', mode: 'new-project' });
  platform.reconciler.kick();
  await allReady(platform, names);
  return names;
}

/** An instance admin token of the first admin (the secret). */
export async function adminToken(platform: Platform, name = 'bench'): Promise<string> {
  return (await createToken(platform.ctx, await adminActor(platform), { name, role: 'admin' })).token;
}
