/**
 * @module Copying a data directory as fast as the filesystem allows.
 *
 * Files are copied with `COPYFILE_FICLONE`, which clones (reflink) on btrfs/XFS and falls back to
 * a plain copy elsewhere, several at a time because the cost here is per file created, not per
 * byte. `detectCopyStrategy` says which of the two the filesystem gives, for logs and benchmarks.
 */
import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { postgresUser } from './os-user.ts';

export type CopyStrategy = 'clone' | 'copy';

const IN_FLIGHT = 12;

/**
 * Test seam: when set, runs once per copyTree right after its first file is copied (disk-full.test.ts
 * fills the filesystem there, to meet ENOSPC in the middle of a copy that passed the space check).
 */
export const copyProbe: { afterFirstFile?: (target: string) => Promise<void> } = {};

/** Returns false for paths (relative to the source root) that must not be copied. */
export type CopyFilter = (relative: string, isDirectory: boolean) => boolean;

interface Entry {
  from: string;
  to: string;
}

/** Copies `from` into `to` (created), keeping modes and handing ownership to the postgres user. */
export async function copyTree(from: string, to: string, filter: CopyFilter = () => true): Promise<{ files: number; bytes: number }> {
  const user = postgresUser();
  const files: Entry[] = [];
  let bytes = 0;
  async function walk(relative: string): Promise<void> {
    const source = join(from, relative);
    const target = join(to, relative);
    const stat = await fs.stat(source);
    await fs.mkdir(target, { mode: stat.mode & 0o777 });
    if (user) await fs.chown(target, user.uid, user.gid);
    let names: string[];
    try {
      names = await fs.readdir(source);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const name of names) {
      const rel = relative ? `${relative}/${name}` : name;
      let entry;
      try {
        entry = await fs.lstat(join(from, rel));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // dropped while we copy
        throw error;
      }
      if (entry.isDirectory()) {
        if (filter(rel, true)) await walk(rel);
      } else if (entry.isFile()) {
        if (filter(rel, false)) {
          files.push({ from: join(from, rel), to: join(to, rel) });
          bytes += entry.size;
        }
      } else if (entry.isSymbolicLink()) {
        if (filter(rel, false)) await fs.symlink(await fs.readlink(join(from, rel)), join(to, rel));
      }
    }
  }
  await walk('');
  let next = 0;
  let failed = false;
  let probed = false;
  async function worker(): Promise<void> {
    while (!failed && next < files.length) {
      const { from: source, to: target } = files[next++];
      try {
        await fs.copyFile(source, target, constants.COPYFILE_FICLONE);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // a relation dropped mid-copy; WAL replay recreates the truth
        failed = true;
        throw error;
      }
      if (user) await fs.chown(target, user.uid, user.gid);
      if (!probed && copyProbe.afterFirstFile) {
        probed = true;
        await copyProbe.afterFirstFile(to);
      }
    }
  }
  // On a failure (a full disk) every worker stops before this returns: the caller then removes
  // the half-made copy, and no worker still writes into it.
  const results = await Promise.allSettled(Array.from({ length: IN_FLIGHT }, worker));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return { files: files.length, bytes };
}

/** Tells whether `dir`'s filesystem can clone files. */
export async function detectCopyStrategy(dir: string): Promise<CopyStrategy> {
  const probe = join(dir, `.clone-probe-${process.pid}`);
  await fs.writeFile(probe, 'probe');
  try {
    await fs.copyFile(probe, `${probe}.copy`, constants.COPYFILE_FICLONE_FORCE);
    return 'clone';
  } catch {
    return 'copy';
  } finally {
    await fs.rm(probe, { force: true });
    await fs.rm(`${probe}.copy`, { force: true });
  }
}
