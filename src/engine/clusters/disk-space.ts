/**
 * @module A full disk is an error, not a crash (issue #12).
 *
 * Before the engine copies a cluster byte for byte — a branch made by copying its parent, a spare,
 * a base copy of the history — it compares the free space of the filesystem the copy goes to
 * (`statfs`) with the size of what it copies plus a margin. A branch creation that would not fit
 * is refused before its 201 (`checkBranchSpace`: a Neon-shaped 422 naming the bytes needed and
 * available and the filesystem); background copies that would not fit are skipped with the reason
 * (`spaceShortfall`). Where files are cloned (`engine.copyStrategy === 'clone'`: XFS with reflink,
 * btrfs) a copy shares the parent's blocks and nothing is checked.
 *
 * The check can be beaten by concurrent writers: an ENOSPC during the copy itself fails the
 * operation (Engine.schedule, with `explainDiskFull`), whose cleanup removes the half-made copy.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { BranchRecord } from '../catalog/types.ts';
import type { Engine } from '../engine.ts';
import { NeonApiError } from '../errors.ts';
import { dirSize } from '../history/store.ts';

/** Room kept beyond the copy's size: WAL the copy takes along, the new cluster's first WAL, the catalog. */
export const SPACE_MARGIN_BYTES = 32 * 1024 * 1024;

/** The code of the 422 a branch creation gets when its copy would not fit. */
export const DISK_FULL_CODE = 'INSUFFICIENT_DISK_SPACE';

const ADVICE = 'free space on that filesystem, or put the engine\'s home on a filesystem that clones files (XFS with reflink, or btrfs), where a branch shares its parent\'s blocks';

/** Bytes an unprivileged writer can still use on the filesystem holding `path`. */
export async function freeBytes(path: string): Promise<number> {
  const stats = await fs.statfs(path);
  return Number(stats.bavail) * Number(stats.bsize);
}

export interface Shortfall {
  needed: number;
  available: number;
  /** The directory whose filesystem is short. */
  path: string;
  /** For users: what was to be copied, the sizes, the filesystem, and what to do. */
  message: string;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** WAL a copy of a running cluster takes along at most, in the estimate (the segments of the backup; the margin covers more). */
const RUNNING_WAL_BYTES = 32 * 1024 * 1024;

/**
 * The bytes a copy of the cluster in `dataDir` writes: all of it when it is stopped (copied as it
 * is); when it runs, everything but `pg_wal`, plus the few WAL segments the backup spans (the
 * copy leaves out the rest: recycled segments a busy or just-checkpointed cluster still holds).
 */
export async function copySize(dataDir: string, running: boolean): Promise<number> {
  const total = await dirSize(dataDir);
  if (!running) return total;
  const wal = await dirSize(join(dataDir, 'pg_wal'));
  return total - wal + Math.min(wal, RUNNING_WAL_BYTES);
}

/**
 * Whether copying `sourceDir` (what: e.g. "branch br-…'s data") into the filesystem holding
 * `targetDir` would leave less than the margin; undefined when it fits, or when files are cloned.
 * `running`: the source cluster is copied while it runs (see copySize).
 */
export async function spaceShortfall(engine: Engine, sourceDir: string, targetDir: string, what: string, running = true): Promise<Shortfall | undefined> {
  if (engine.copyStrategy === 'clone') return undefined;
  const size = await copySize(sourceDir, running);
  const needed = size + SPACE_MARGIN_BYTES;
  const available = await freeBytes(targetDir);
  if (available >= needed) return undefined;
  return {
    needed,
    available,
    path: targetDir,
    message:
      `not enough disk space to copy ${what}: it needs ${needed} bytes (${mib(size)} of data and a ${mib(SPACE_MARGIN_BYTES)} margin), ` +
      `and the filesystem holding ${targetDir} has ${available} bytes (${mib(available)}) available; ${ADVICE}`,
  };
}

/**
 * Before a branch creation's 201: refuses with a 422 when the branch would be copied (no ready
 * spare of the parent is promoted — a point in time and a schema-only branch always are — and the
 * filesystem does not clone) and the copy would not fit. A point-in-time branch is rebuilt from a
 * base copy about the parent's size: the same check.
 */
export async function checkBranchSpace(engine: Engine, parent: BranchRecord, options: { point: boolean; schemaOnly: boolean }): Promise<void> {
  if (!options.point && !options.schemaOnly && engine.spares.hasReady(parent.id)) return;
  // A point in time is rebuilt from a base copy with its WAL (estimated as a stopped cluster's copy).
  const running = !options.point && engine.computes.isRunning(parent.id);
  const short = await spaceShortfall(engine, engine.computes.dataDir(parent.id), join(engine.home, 'clusters'), `branch ${parent.id}'s data for a new branch`, running);
  if (short) throw new NeonApiError(422, short.message, DISK_FULL_CODE);
}

/** Whether `error` (or what it wraps) is the disk being full. */
export function isDiskFull(error: unknown): boolean {
  for (let e = error as { code?: string; message?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return true;
    // PostgreSQL's and initdb's words for it ("could not extend file …: No space left on device").
    if (typeof e.message === 'string' && /no space left on device|disk quota exceeded/i.test(e.message)) return true;
  }
  return false;
}

/**
 * An operation's error as users read it: a full disk says so, where, and what to do (the
 * operation's cleanup removed what it had half made); anything else is returned as it is.
 */
export async function explainDiskFull(error: unknown, home: string, cleanedUp = true): Promise<unknown> {
  if (!isDiskFull(error)) return error;
  const available = await freeBytes(home).catch(() => undefined);
  const original = error instanceof Error ? error.message : String(error);
  return new Error(
    `the disk holding ${home} is full${available === undefined ? '' : ` (${available} bytes available${cleanedUp ? ' after the cleanup' : ''})`}: ${original}. ` +
      `${cleanedUp ? 'What the operation had half made was removed; ' : ''}${ADVICE}, then try again`,
    { cause: error },
  );
}
