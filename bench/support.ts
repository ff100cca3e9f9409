/**
 * @module What the benchmark scripts share: their `--name value` options, min / median / max, an
 * engine on a fresh home with a client and a fast operations wait, and "connect until SELECT 1".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiClient, type Api } from '@neondatabase/api-client';
import pg from 'pg';
import type { EngineOptions } from '../src/engine/engine.ts';
import { startEngineServer, type EngineServer } from '../src/engine/server.ts';
import { settle } from '../src/engine/test-support.ts';

const ARGS = process.argv.slice(2);

/** The value after `--name` on the command line, or `fallback`. */
export function option(name: string, fallback: string): string {
  const i = ARGS.indexOf(`--${name}`);
  return i >= 0 && i + 1 < ARGS.length ? ARGS[i + 1] : fallback;
}

/** A numeric option; `fallback` also stands in for 0 and for what is not a number. */
export function numberOption(name: string, fallback: number): number {
  return Number(option(name, String(fallback))) || fallback;
}

/** A comma-separated list of numbers, e.g. `--sizes 10,100,1024`. */
export function numbersOption(name: string, fallback: number[]): number[] {
  return option(name, fallback.join(',')).split(',').map(Number);
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `min / median / max`, rounded to whole numbers or to `decimals` places. */
export function minMedianMax(xs: number[], decimals = 0): string {
  const show = (x: number) => (decimals ? x.toFixed(decimals) : String(Math.round(x)));
  return `${show(Math.min(...xs))} / ${show(median(xs))} / ${show(Math.max(...xs))}`;
}

/** Connects and runs `SELECT 1` until that works (every 2 ms). */
export async function firstQuery(uri: string): Promise<void> {
  for (;;) {
    const client = new pg.Client({ connectionString: uri });
    // A session the server ends between our calls (a compute restarting) is retried, not a crash.
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

export interface BenchEngine {
  home: string;
  server: EngineServer;
  api: Api<unknown>;
  /** Waits (polling every 2 ms, without a deadline) until the project's operations finished. */
  settle(projectId: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * An engine in-process on a fresh home `arbor-bench-<name>-…` under `parentDir`; Node's warnings
 * silenced; the engine's log on stderr with ARBOR_ENGINE_LOG=1.
 */
export async function startBenchEngine(name: string, options: EngineOptions = {}, parentDir = tmpdir()): Promise<BenchEngine> {
  process.removeAllListeners('warning');
  const home = mkdtempSync(join(parentDir, `arbor-bench-${name}-`));
  const started = Date.now();
  const print = (m: string) => console.error(`${((Date.now() - started) / 1000).toFixed(2)} engine: ${m}`);
  const log = process.env.ARBOR_ENGINE_LOG === '1' ? { info: print, warn: print } : undefined;
  const server = await startEngineServer({ home, engine: options, ...(log ? { log } : {}) });
  const api = createApiClient({ apiKey: server.apiKey, baseURL: server.url });
  return {
    home,
    server,
    api,
    settle: (projectId) => settle(api, projectId, { pollMs: 2, timeoutMs: Infinity }),
    async close() {
      await server.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
