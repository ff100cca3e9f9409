/**
 * @module The platform process: store, secrets, first admin, reconciler, and the HTTP server
 * (API under /api/v1, the dashboard at /), bound to 127.0.0.1 unless told otherwise.
 */
import { listen, type Listening } from '../net/listen.ts';
import { Hono } from 'hono';
import { mkdirSync } from 'node:fs';
import { ensureFirstAdmin } from './auth/auth.ts';
import { dashboardRoutes } from './http/dashboard.ts';
import type { Context, PlatformLog } from './context.ts';
import { platformApi } from './http/routes.ts';
import type { CallCounter } from './neon/client.ts';
import { Reconciler } from './reconcile/reconciler.ts';
import { Secrets } from './secrets.ts';
import { drainTokenInbox } from './auth/token-inbox.ts';
import { openStore, type Store } from './store/db.ts';
import { stopDeriveWorkers } from './apps/derive-pool.ts';
import { serverTiming, traceFromEnvironment } from './http/timing.ts';

export interface PlatformOptions {
  home: string;
  databaseUrl?: string;
  port?: number;
  host?: string;
  log?: PlatformLog;
  failpoint?: string;
  counter?: CallCounter;
  /** One log line per request with its phases (http/timing.ts); default ARBOR_TRACE=1. */
  trace?: boolean;
  /** Instead of ARBOR_MASTER_KEY / the key file (tests running several platforms in one process). */
  masterKey?: string;
}

export interface Platform {
  ctx: Context;
  store: Store;
  url: string;
  /** The first admin's one-time login, when this start created it. */
  firstAdmin: { name: string; password: string } | null;
  reconciler: Reconciler;
  close(): Promise<void>;
}

const quiet: PlatformLog = { info: () => {}, warn: () => {} };

export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  mkdirSync(options.home, { recursive: true, mode: 0o700 });
  const store = await openStore({ home: options.home, databaseUrl: options.databaseUrl });
  const ctx: Context = { db: store.db, secrets: Secrets.fromEnvironment(options.home, options.masterKey ? { ARBOR_MASTER_KEY: options.masterKey } : process.env), log: options.log ?? quiet };
  const firstAdmin = await ensureFirstAdmin(ctx);
  const reconciler = new Reconciler(ctx, { failpoint: options.failpoint, counter: options.counter, exclusive: store.kind === 'embedded' });
  const api = platformApi(ctx, () => reconciler.kick());
  const app = new Hono();
  // Every answer carries Server-Timing; with tracing on, a line per request goes to the log.
  const trace = options.trace ?? traceFromEnvironment();
  app.use('*', serverTiming(trace ? { trace: (line) => ctx.log.info(`trace ${line}`) } : {}));
  app.route('/api/v1', api.hono);
  // A sub-app's notFound does not apply once mounted: unknown API paths answer here, as JSON.
  app.all('/api/*', (c) => c.json({ error: { code: 'not_found', message: `no API route ${c.req.method} ${c.req.path}; see /api/v1/openapi.json` } }, 404));
  app.route('/', dashboardRoutes());
  const host = options.host ?? '127.0.0.1';
  let listening: Listening;
  try {
    listening = await listen(app.fetch, options.port ?? 0, host);
  } catch (error) {
    await store.close();
    throw error;
  }
  await reconciler.start();
  const inbox = setInterval(() => void drainTokenInbox(ctx, options.home).catch((e) => ctx.log.warn(`token inbox: ${(e as Error).message}`)), 500);
  await drainTokenInbox(ctx, options.home);
  return {
    ctx,
    store,
    url: `http://${host}:${listening.port}`,
    firstAdmin,
    reconciler,
    async close() {
      clearInterval(inbox);
      await listening.close();
      await reconciler.stop();
      await store.close();
      // Idle derive workers are unref'd already; stopping them frees their memory at once.
      await stopDeriveWorkers();
    },
  };
}
