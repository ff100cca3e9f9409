/**
 * @module The unprivileged OS user that runs postmasters.
 *
 * PostgreSQL refuses to run as root, and CI runs as root. When the engine is root it runs
 * `initdb` and `postgres` as the `postgres` user, creating a system user `arbor-pg` when
 * neither exists. When it is not root, postmasters run as the engine's own user.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

let cached: RunAs | null | undefined;

function lookup(name: string): RunAs | null {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
    const gid = Number(execFileSync('id', ['-g', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
    return { uid, gid, name };
  } catch {
    return null;
  }
}

/**
 * The user postmasters run as, or null when that is the current user. `ARBOR_PG_OS_USER` names
 * one explicitly (created when absent).
 */
export function postgresUser(): RunAs | null {
  if (cached !== undefined) return cached;
  if (process.getuid?.() !== 0) return (cached = null);
  const wanted = process.env.ARBOR_PG_OS_USER;
  let user = wanted ? lookup(wanted) : (lookup('postgres') ?? lookup('arbor-pg'));
  if (!user) {
    const name = wanted ?? 'arbor-pg';
    createSystemUser(name);
    user = lookup(name);
    if (!user) throw new Error(`could not create the system user ${name} to run PostgreSQL as`);
  }
  return (cached = user);
}

function createSystemUser(name: string): void {
  const args = ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name];
  try {
    execFileSync('useradd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    // PATH without sbin (some CI shells): try where Debian keeps it.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    execFileSync('/usr/sbin/useradd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  }
}

/** Makes `dir` exist and belong to the postgres user with the given mode. */
export function ownedDir(dir: string, mode = 0o700): void {
  mkdirSync(dir, { recursive: true, mode });
  chmodSync(dir, mode);
  const user = postgresUser();
  if (user) chownSync(dir, user.uid, user.gid);
}

/** Gives a file to the postgres user (needed for TLS keys, which postgres checks for ownership). */
export function ownFile(path: string, mode: number): void {
  chmodSync(path, mode);
  const user = postgresUser();
  if (user) chownSync(path, user.uid, user.gid);
}

/**
 * The postgres user must be able to walk down to the engine's home: a home made with mkdtemp
 * (mode 0700, owned by root) would hide the clusters from it. Adds search (x) permission for
 * others on `dir` and its parents up to the first one that already has it.
 */
export function makeTraversable(dir: string): void {
  if (!postgresUser()) return;
  let current = resolve(dir);
  for (;;) {
    try {
      const mode = statSync(current).mode & 0o777;
      if ((mode & 0o001) === 0) chmodSync(current, mode | 0o001);
    } catch {
      return;
    }
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}
