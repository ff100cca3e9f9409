/**
 * @module A branch's history on disk: `<home>/history/<branch-id>/` holds `wal/` (the WAL archive
 * PostgreSQL fills through `archive_command`) and `base-<lsn>/` (base copies: a consistent copy
 * of the cluster taken with the low-level backup API, with the WAL that makes it consistent).
 *
 * A base copy is complete once its `base.json` exists (written last, then the directory renamed
 * from `.partial`); anything else is debris of an interrupted copy and is removed by pruning.
 */
import { existsSync, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { ownedDir } from '../clusters/os-user.ts';
import { lsnValue, segmentOrder } from './lsn.ts';

export interface BaseCopy {
  dir: string;
  /** The consistent point: recovery from this copy can stop at any LSN from here on. */
  lsn: string;
  /** The WAL segment the copy's replay starts in; older archived segments are not needed by it. */
  startSegment: string;
  /** When the copy was complete (ISO, ms): a timestamp target must be later than this. */
  time: string;
  timeline: number;
}

export const BASE_FILE = 'base.json';

export function historyRoot(home: string): string {
  return join(home, 'history');
}

export function branchHistoryDir(home: string, branchId: string): string {
  return join(historyRoot(home), branchId);
}

export function walArchiveDir(home: string, branchId: string): string {
  return join(branchHistoryDir(home, branchId), 'wal');
}

/** Makes the branch's archive directory exist, writable by the postgres OS user. */
export function ensureArchiveDir(home: string, branchId: string): string {
  return ensureArchivePath(walArchiveDir(home, branchId));
}

/** `<history>/<branch>/wal`: the postgres OS user must traverse the first and own the others. */
export function ensureArchivePath(dir: string): string {
  ownedDir(dirname(dirname(dir)), 0o711);
  ownedDir(dirname(dir), 0o700);
  ownedDir(dir, 0o700);
  return dir;
}

/**
 * The `archive_command` for an archive directory. Copies under a temporary name and renames, so a
 * crash never leaves a short segment under its real name; a segment already archived with the
 * same content counts as done (PostgreSQL may retry one after a crash).
 */
export function archiveCommand(dir: string): string {
  if (dir.includes("'")) throw new Error(`the archive directory may not contain a quote: ${dir}`);
  const target = `'${dir}/%f'`;
  return `if [ -f ${target} ]; then cmp -s %p ${target}; else cp %p '${dir}/%f.tmp' && mv '${dir}/%f.tmp' ${target}; fi`;
}

/** `restore_command` reading the archive (a missing file fails, which is how recovery learns the WAL ended). */
export function restoreCommand(dir: string): string {
  if (dir.includes("'")) throw new Error(`the archive directory may not contain a quote: ${dir}`);
  return `cp '${dir}/%f' %p`;
}

/** The branch's complete base copies, oldest first. */
export async function listBases(home: string, branchId: string): Promise<BaseCopy[]> {
  const root = branchHistoryDir(home, branchId);
  let names: string[];
  try {
    names = await fs.readdir(root);
  } catch {
    return [];
  }
  const bases: BaseCopy[] = [];
  for (const name of names) {
    if (!/^base-[0-9A-F]{16}$/.test(name)) continue;
    try {
      const meta = JSON.parse(await fs.readFile(join(root, name, BASE_FILE), 'utf8')) as Omit<BaseCopy, 'dir'>;
      bases.push({ ...meta, dir: join(root, name) });
    } catch {
      // incomplete: no base.json yet
    }
  }
  return bases.sort((a, b) => (lsnValue(a.lsn) < lsnValue(b.lsn) ? -1 : 1));
}

/** Names of the archived segments, in WAL order. */
export async function archivedSegments(home: string, branchId: string): Promise<string[]> {
  try {
    return (await fs.readdir(walArchiveDir(home, branchId))).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort((a, b) => segmentOrder(a).localeCompare(segmentOrder(b)));
  } catch {
    return [];
  }
}

/** Bytes under `path` (files only; absent is 0). */
export async function dirSize(path: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await fs.readdir(path, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = join(path, entry.name);
    try {
      if (entry.isDirectory()) total += await dirSize(full);
      else if (entry.isFile()) total += (await fs.stat(full)).size;
    } catch {
      // removed meanwhile
    }
  }
  return total;
}

export async function removeHistory(home: string, branchId: string): Promise<void> {
  await fs.rm(branchHistoryDir(home, branchId), { recursive: true, force: true });
}

export function hasHistory(home: string, branchId: string): boolean {
  return existsSync(branchHistoryDir(home, branchId));
}
