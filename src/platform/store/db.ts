/**
 * @module Opening the metadata store: embedded PGlite under ARBOR_HOME by default, or any
 * PostgreSQL server given DATABASE_URL; migrations applied on open, in one transaction each.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { explicitSslMode } from '../postgres/ssl-mode.ts';
import * as schema from './schema.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Store {
  db: Db;
  kind: 'embedded' | 'server';
  close(): Promise<void>;
}

const MIGRATION_LOCK = 0x617262_6f72; // "arbor"
const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/**
 * PGlite is one process's database: a lock file with our pid keeps a second platform process
 * (or `arbor tokens create` while the platform runs) from opening the same directory.
 */
function lockEmbedded(dir: string): () => void {
  const lock = join(dir, 'arbor.lock');
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8'));
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = pid !== process.pid;
    } catch {
      alive = false;
    }
    if (alive) throw new Error(`the embedded metadata store ${dir} is in use by process ${pid}; stop it, or use DATABASE_URL to share a server between processes`);
  }
  writeFileSync(lock, String(process.pid));
  return () => rmSync(lock, { force: true });
}

export async function openStore(options: { home: string; databaseUrl?: string }): Promise<Store> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: explicitSslMode(options.databaseUrl), max: 8 });
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    // Processes starting together on one server migrate one at a time.
    const lock = await pool.connect();
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await migratePg(drizzlePg(pool), { migrationsFolder: MIGRATIONS, migrationsSchema: 'arbor' });
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
      lock.release();
    }
    return { db, kind: 'server', close: () => pool.end() };
  }
  const dir = join(options.home, 'platform-db');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const unlock = lockEmbedded(dir);
  try {
    const client = new PGlite(dir);
    await client.waitReady;
    const db = drizzlePglite(client, { schema }) as unknown as Db;
    await migratePglite(drizzlePglite(client), { migrationsFolder: MIGRATIONS, migrationsSchema: 'arbor' });
    return {
      db,
      kind: 'embedded',
      async close() {
        await client.close();
        unlock();
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}
