/**
 * @module Starting and stopping one postmaster.
 *
 * Ready means ready: `postmaster.pid` says `ready` and a connect succeeds (on the unix socket
 * when the TCP port is served through the listen shim, see listeners.ts); if the child dies
 * first we fail at once with the end of its log. Postmasters run detached, so a crashed engine
 * finds them again through `postmaster.pid` (see `runningPid`) instead of leaving orphans.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
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

function canConnectUnix(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface PostmasterListen {
  /** The endpoint's listening socket, served through the listen shim (see listeners.ts). */
  fd?: number;
  /** The compiled listen shim (shim.ts). */
  shim?: string;
  /** The unix socket directory: readiness is checked there instead of on the TCP port. */
  socketDir?: string;
  /** Called once the child exists (the engine then stops accepting on the inherited socket). */
  spawned?: () => void;
  /** Where the shim's backends ask for time travel computes (compute/time-travel.ts). */
  timeTravelSocket?: string;
}

/** Starts `postgres -D dataDir` and resolves with its pid once it accepts connections on `port`. */
export async function startPostmaster(bins: PgBinaries, dataDir: string, port: number, logFile: string, listen: PostmasterListen = {}): Promise<number> {
  const user = postgresUser();
  const log = openSync(logFile, 'a', 0o600);
  const shimmed = listen.fd !== undefined && listen.shim !== undefined;
  const child = spawn(bins.postgres, ['-D', dataDir], {
    env: shimmed
      ? { ...binEnv(bins), LD_PRELOAD: listen.shim, ARBOR_LISTEN_FD: '3', ARBOR_LISTEN_PORT: String(port), ARBOR_DATA_DIR: dataDir, ...(listen.timeTravelSocket ? { ARBOR_TIME_TRAVEL_SOCKET: listen.timeTravelSocket } : {}) }
      : binEnv(bins),
    uid: user?.uid,
    gid: user?.gid,
    stdio: shimmed ? ['ignore', log, log, listen.fd!] : ['ignore', log, log],
    detached: true,
  });
  closeSync(log);
  listen.spawned?.();
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
    if (ready && (await (listen.socketDir ? canConnectUnix(join(listen.socketDir, `.s.PGSQL.${port}`)) : canConnect(port)))) return child.pid!;
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

const NO_ACCEPT = 'arbor.noaccept';
const NO_ACCEPT_ACK = 'arbor.noaccept.ack';
const DRAIN_DEADLINE_MS = 3_000;

/** Whether the postmaster `pid` serves its port through the listen shim (listen-shim.c). */
export function servesThroughShim(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('/arbor-listen-');
  } catch {
    return false;
  }
}

/**
 * Asks the listen shim of the postmaster on `dataDir` to stop accepting (new connections wait in
 * the socket's backlog) and waits until the postmaster took every connection the shim accepted.
 */
export async function stopAccepting(dataDir: string, pid: number): Promise<void> {
  await fs.writeFile(join(dataDir, NO_ACCEPT), '');
  const deadline = Date.now() + DRAIN_DEADLINE_MS;
  for (;;) {
    try {
      await fs.access(join(dataDir, NO_ACCEPT_ACK));
      return;
    } catch {
      // not yet
    }
    if (!alive(pid) || Date.now() > deadline) return;
    await sleep(2);
  }
}

/** Makes the listen shim of a postmaster about to start on `dataDir` accept nothing until `resumeAccepting`. */
export async function holdAccepting(dataDir: string): Promise<void> {
  await fs.writeFile(join(dataDir, NO_ACCEPT), '');
}

/** Lets the listen shim accept again (or clears what a stopped postmaster left). */
export async function resumeAccepting(dataDir: string): Promise<void> {
  await fs.rm(join(dataDir, NO_ACCEPT_ACK), { force: true });
  await fs.rm(join(dataDir, NO_ACCEPT), { force: true });
}

/**
 * Stops everything still working in a cluster directory a killed engine left behind, before it
 * is removed: its postmaster (as `stopPostmaster`), then any other process naming it — an initdb
 * (`-D <dir>`) and its bootstrap backend (`PGDATA=<dir>`), which outlive a `kill -9` of the
 * engine and would go on writing into the directory while it is deleted (ENOTEMPTY).
 */
export async function stopEverythingIn(dataDir: string): Promise<void> {
  const pid = runningPid(dataDir);
  if (pid) await stopPostmaster(pid);
  const others: number[] = [];
  for (const name of readdirSync('/proc')) {
    const other = Number(name);
    if (!Number.isInteger(other) || other === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${other}/cmdline`, 'utf8').split('\0');
      const env = readFileSync(`/proc/${other}/environ`, 'utf8').split('\0');
      if (args.includes(dataDir) || env.includes(`PGDATA=${dataDir}`)) others.push(other);
    } catch {
      // gone, or not ours to read
    }
  }
  for (const other of others) {
    try {
      process.kill(other, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + STOP_DEADLINE_MS;
  while (others.some((o) => alive(o) && !isZombie(o)) && Date.now() < deadline) await sleep(3);
}
