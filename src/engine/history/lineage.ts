/**
 * @module A branch's history before its own first base copy is its parent's: a branch made from
 * its parent's spare or as a copy of it records where it forked (`inherited.json` in its history,
 * the parent's LSN at the fork), and a point of it is rebuilt from the newest base copy of the
 * parent (or, recursively, the grandparent…) taken before that fork, replaying the ancestors'
 * archived WAL up to the fork and the branch's own WAL after it. So no base copy is taken when a
 * branch is made (on ext4 that copy was as big as the branch), and the branch's history starts at
 * its creation.
 *
 * Archives are searched the branch's own first: after the fork a segment of the same name can
 * exist in both (a copied branch stays on its parent's timeline), and the branch's is its own
 * history; before it, the two hold the same bytes. Branches made from a point in time, schema-only
 * ones and restored ones take their own first base copy as before (their new timeline's history
 * file is written while archiving is off, so no archive has it).
 *
 * The chain follows `parent_id`, which a restore with preserve_under_name moves to the preserved
 * branch together with the old history. Pruning keeps what a descendant still needs
 * (`basesNeededByDescendants`).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BranchRecord } from '../catalog/types.ts';
import { lsnValue, micros } from './lsn.ts';
import { branchHistoryDir, ensureArchiveDir, listBases, walArchiveDir, type BaseCopy } from './store.ts';

const INHERITED_FILE = 'inherited.json';

interface Inherited {
  /** The parent's LSN at the fork: a base copy of the parent at or before it can start this branch's replay. */
  lsn: string;
  /** When the branch's data was complete (ISO, ms; at or after the fork): its history starts here. */
  time: string;
}

/** Records that `branch`'s history starts in its parent's, forked at `lsn` (now or just before). */
export function markInherited(home: string, branchId: string, lsn: string): void {
  ensureArchiveDir(home, branchId);
  writeFileSync(join(branchHistoryDir(home, branchId), INHERITED_FILE), JSON.stringify({ lsn, time: new Date().toISOString() } satisfies Inherited));
}

export function readInherited(home: string, branchId: string): Inherited | undefined {
  const file = join(branchHistoryDir(home, branchId), INHERITED_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Inherited;
  } catch {
    return undefined;
  }
}

/** A point as the base choice compares it: at or before an LSN and/or strictly before a timestamp (µs). */
export interface Bound {
  lsn?: string;
  micros?: bigint;
}

/** Where a point's replay starts, and the archives it reads, the branch's own first. */
export interface HistorySource {
  base: BaseCopy;
  archives: string[];
  /** Whose base copy it is (the branch itself, or an ancestor). */
  ownerId: string;
}

function before(base: BaseCopy, bound: Bound): boolean {
  return (bound.lsn === undefined || lsnValue(base.lsn) <= lsnValue(bound.lsn)) && (bound.micros === undefined || micros(base.time) < bound.micros);
}

/**
 * The newest base copy from which `branch` can be rebuilt at `bound`: its own, else (for a branch
 * that inherited its history) its ancestors' from before the fork. Undefined when none exists.
 */
export async function historySource(home: string, branches: readonly BranchRecord[], branch: BranchRecord, bound: Bound): Promise<HistorySource | undefined> {
  const archives: string[] = [];
  let current: BranchRecord | undefined = branch;
  const limit: Bound = { ...bound };
  while (current) {
    archives.push(walArchiveDir(home, current.id));
    const own = (await listBases(home, current.id)).filter((b) => before(b, limit));
    if (own.length) return { base: own[own.length - 1], archives, ownerId: current.id };
    const inherited = readInherited(home, current.id);
    if (!inherited || !current.parent_id) return undefined;
    // Before the fork the parent's history is this branch's: a base of the parent must precede the fork too.
    if (limit.lsn === undefined || lsnValue(inherited.lsn) < lsnValue(limit.lsn)) limit.lsn = inherited.lsn;
    const parentId: string = current.parent_id;
    current = branches.find((b) => b.id === parentId);
  }
  return undefined;
}

/**
 * The base copies that branches inheriting their history still need, as base directories: for
 * each branch relying on the chain (no own base copy from before the retention window's start),
 * the base its fork point resolves to, whichever ancestor owns it. Computed once per pruning round.
 */
export async function basesNeededByDescendants(home: string, branches: readonly BranchRecord[], windowStartMs: number): Promise<Set<string>> {
  const needed = new Set<string>();
  for (const branch of branches) {
    const inherited = readInherited(home, branch.id);
    if (!inherited) continue;
    const own = await listBases(home, branch.id);
    if (own.some((b) => Date.parse(b.time) <= windowStartMs)) continue;
    const parent = branches.find((b) => b.id === branch.parent_id);
    if (!parent) continue;
    const source = await historySource(home, branches, parent, { lsn: inherited.lsn });
    if (source) needed.add(source.base.dir);
  }
  return needed;
}

/** `restore_command` reading several archives in order (a file missing from all fails, which ends recovery). */
export function chainedRestoreCommand(archives: string[]): string {
  for (const dir of archives) if (dir.includes("'")) throw new Error(`an archive directory may not contain a quote: ${dir}`);
  return archives.map((dir, i) => `cp '${dir}/%f' %p${i < archives.length - 1 ? ' 2>/dev/null' : ''}`).join(' || ');
}
