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
import { timed } from '../http/timing.ts';
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

/**
 * Every query of the store, timed for the request that makes it (http/timing.ts): the one place
 * queries pass, below drizzle. PGlite: the client's query and exec, and a transaction's. A pool:
 * its query (which waits for a connection: that wait is the request's too) and the query of a
 * client it hands out for a transaction, promise form only (the pool's own calls pass a callback,
 * already timed by its query).
 */
function timePglite(client: PGlite): void {
  const query = client.query.bind(client);
  const exec = client.exec.bind(client);
  const transaction = client.transaction.bind(client);
  client.query = ((...args: Parameters<typeof query>) => timed('store', () => query(...args))) as typeof client.query;
  client.exec = ((...args: Parameters<typeof exec>) => timed('store', () => exec(...args))) as typeof client.exec;
  client.transaction = ((work: Parameters<typeof transaction>[0]) =>
    transaction((tx) => {
      const timedTx = Object.create(tx) as typeof tx;
      timedTx.query = ((...args: Parameters<typeof tx.query>) => timed('store', () => tx.query(...args))) as typeof tx.query;
      timedTx.exec = ((...args: Parameters<typeof tx.exec>) => timed('store', () => tx.exec(...args))) as typeof tx.exec;
      return work(timedTx);
    })) as typeof client.transaction;
}

const TIMED = Symbol('arbor.timed');

function timePool(pool: pg.Pool): void {
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as { query: unknown }).query = (...args: unknown[]) => (typeof args[args.length - 1] === 'function' ? query(...args) : timed('store', () => query(...args) as Promise<unknown>));
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  (pool as { connect: unknown }).connect = (...args: unknown[]) => {
    if (args.length) return connect(...args);
    return (connect() as Promise<pg.PoolClient & { [TIMED]?: true }>).then((client) => {
      if (!client[TIMED]) {
        const clientQuery = client.query.bind(client) as (...args: unknown[]) => unknown;
        (client as { query: unknown }).query = (...args: unknown[]) =>
          typeof args[args.length - 1] === 'function' ? clientQuery(...args) : timed('store', () => clientQuery(...args) as Promise<unknown>);
        client[TIMED] = true;
      }
      return client;
    });
  };
}

export async function openStore(options: { home: string; databaseUrl?: string }): Promise<Store> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: explicitSslMode(options.databaseUrl), max: 8 });
    timePool(pool);
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
    timePglite(client);
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
