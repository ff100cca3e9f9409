/**
 * @module Starting and stopping one postmaster.
 *
 * Ready means ready: `postmaster.pid` says `ready` and a TCP connect succeeds; if the child dies
 * first we fail at once with the end of its log. Postmasters run detached, so a crashed engine
 * finds them again through `postmaster.pid` (see `runningPid`) instead of leaving orphans.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, promises as fs, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { binEnv } from '../clusters/cluster.ts';
import type { PgBinaries } from '../clusters/binaries.ts';
import { postgresUser } from '../clusters/os-user.ts';

const START_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 30_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of the postmaster running on `dataDir`, or null. Checks /proc so a reused pid is not mistaken. */
export function runningPid(dataDir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
  if (!pid || !alive(pid)) return null;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('postgres') || !cmdline.includes(dataDir)) return null;
  } catch {
    return null;
  }
  return pid;
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts `postgres -D dataDir` and resolves with its pid once it accepts connections on `port`. */
export async function startPostmaster(bins: PgBinaries, dataDir: string, port: number, logFile: string): Promise<number> {
  const user = postgresUser();
  const log = openSync(logFile, 'a', 0o600);
  const child = spawn(bins.postgres, ['-D', dataDir], {
    env: binEnv(bins),
    uid: user?.uid,
    gid: user?.gid,
    stdio: ['ignore', log, log],
    detached: true,
  });
  closeSync(log);
  let exited: number | null = null;
  child.once('exit', (code, signal) => {
    exited = code ?? (signal ? 128 : 1);
  });
  child.unref();
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    if (exited !== null) throw new Error(`postgres exited with code ${exited} while starting ${dataDir}:\n${tail(logFile)}`);
    if (Date.now() > deadline) {
      child.kill('SIGQUIT');
      throw new Error(`postgres did not become ready within ${START_DEADLINE_MS} ms for ${dataDir}:\n${tail(logFile)}`);
    }
    let ready = false;
    try {
      const lines = (await fs.readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n');
      // `standby`: a hot standby (a spare, see spares.ts) accepting read-only connections.
      ready = lines[7]?.trim() === 'ready' || lines[7]?.trim() === 'standby';
    } catch {
      // not written yet
    }
    if (ready && (await canConnect(port))) return child.pid!;
    await sleep(2);
  }
}

/** Fast shutdown (SIGINT: clients are disconnected, a checkpoint is written) and wait for exit. */
export async function stopPostmaster(pid: number): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + STOP_DEADLINE_MS;
  while (alive(pid) && !isZombie(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGQUIT');
      await sleep(200);
      break;
    }
    await sleep(3);
  }
}

function isZombie(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
