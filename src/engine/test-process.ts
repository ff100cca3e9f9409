/**
 * @module Test fixture: the engine as a real child process (`arbor engine serve`), for tests that
 * kill it; and what a user would see with `ps` — the postmasters under a directory, a process's
 * children, the listener keeper.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiClient, type Api } from '@neondatabase/api-client';
import { sleep } from './test-support.ts';

export interface EngineProcess {
  url: string;
  api: Api<unknown>;
  process: ChildProcess;
}

export interface EngineProcesses {
  home: string;
  /** Spawns `arbor engine serve` on `home` and port 0, with `env` added; resolves once it listens. */
  start(env?: NodeJS.ProcessEnv): Promise<EngineProcess>;
  /** Stops the last engine started, SIGQUITs any postmaster left under `home`, removes `home`. */
  cleanUp(): Promise<void>;
}

/** Engines started one after another on one fresh home, as restarts of the same engine. */
export function engineProcesses(prefix: string, apiKey: string): EngineProcesses {
  const home = mkdtempSync(join(tmpdir(), prefix));
  let last: ChildProcess | undefined;
  return {
    home,
    start(env = {}) {
      const child = spawn(process.execPath, ['bin/arbor.js', 'engine', 'serve', '--home', home, '--port', '0', '--api-key', apiKey], {
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
        child.stderr!.resume();
        child.once('exit', (code) => reject(new Error(`engine exited with ${code}: ${out}`)));
      });
    },
    async cleanUp() {
      last?.kill('SIGTERM');
      await sleep(1500);
      for (const { pid } of postmastersUnder(home)) process.kill(pid, 'SIGQUIT');
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Resolves once `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<unknown> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
}

/** Postmasters whose data directory (`-D`) lies under `dir`, scanning /proc as `ps` would. */
export function postmastersUnder(dir: string): { pid: number; dataDir: string }[] {
  const found: { pid: number; dataDir: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const dataDir = cmd.includes('-D') ? cmd[cmd.indexOf('-D') + 1] : undefined;
      if (cmd[0].endsWith('/postgres') && dataDir?.startsWith(dir)) found.push({ pid: Number(entry), dataDir });
    } catch {
      // gone
    }
  }
  return found;
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
