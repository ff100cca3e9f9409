/**
 * @module Test fixture: the engine as a real child process (`arbor engine serve`), for tests that
 * kill it; and what a user would see with `ps` — the postmasters under a directory, a process's
 * children, the listener keeper.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiClient, type Api } from '@neondatabase/api-client';
import { postmastersUnder, removeTree } from '../../scripts/reaper.ts';

export { postmastersUnder };

export interface EngineProcess {
  url: string;
  api: Api<unknown>;
  process: ChildProcess;
}

export interface EngineProcesses {
  home: string;
  /** Spawns `arbor engine serve` on `home` and port 0 (plus `args`), with `env` added; resolves once it listens. */
  start(env?: NodeJS.ProcessEnv, args?: string[]): Promise<EngineProcess>;
  /**
   * Stops the last engine started and waits for it to exit (it saves its catalog on the way out),
   * stops any postmaster left under `home` and waits for those too, then removes `home`.
   */
  cleanUp(): Promise<void>;
}

/** Engines started one after another on one fresh home, as restarts of the same engine. */
export function engineProcesses(prefix: string, apiKey: string): EngineProcesses {
  const home = mkdtempSync(join(tmpdir(), prefix));
  let last: ChildProcess | undefined;
  return {
    home,
    start(env = {}, args = []) {
      const child = spawn(process.execPath, ['bin/arbor.js', 'engine', 'serve', '--home', home, '--port', '0', '--api-key', apiKey, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
      });
      last = child;
      return new Promise((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (chunk) => {
          out += chunk;
          const match = /listening: (\S+)/.exec(out);
          if (match) resolve({ url: match[1], api: createApiClient({ apiKey, baseURL: match[1] }), process: child });
        });
        // Kept (its tail) for the failure message: why a start failed is on stderr.
        let err = '';
        child.stderr!.on('data', (chunk) => (err = (err + chunk).slice(-4000)));
        child.once('exit', (code) => reject(new Error(`engine exited with ${code}: ${out}${err ? `\nstderr: ${err}` : ''}`)));
      });
    },
    async cleanUp() {
      if (last) await stop(last);
      await removeTree(home);
    },
  };
}

/** SIGTERM, then SIGKILL if `child` has not exited within `graceMs`; resolves once it has. */
async function stop(child: ChildProcess, graceMs = 30_000): Promise<void> {
  const gone = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Resolves once `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<unknown> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
}

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The listener keeper processes (`keeper.mjs`) that `pid` started. */
export function keepersOf(pid: number): number[] {
  return childrenOf(pid).filter((child) => readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('keeper.mjs'));
}
