/**
 * @module Base copies: a consistent copy of a branch's cluster kept in its history, from which a
 * point-in-time branch or restore replays the archived WAL. Taken with the same low-level backup
 * API as a branch (the branch keeps serving), into `base-<lsn>.partial`, completed by writing
 * `base.json` and renaming.
 */
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BranchRecord } from '../catalog/types.ts';
import { copyRunningCluster, copyStoppedCluster, uniqueName } from '../clusters/cluster.ts';
import type { Engine } from '../engine.ts';
import { lsnKey } from './lsn.ts';
import { spaceShortfall } from '../clusters/disk-space.ts';
import { BASE_FILE, branchHistoryDir, ensureArchiveDir, type BaseCopy } from './store.ts';

export async function takeBaseCopy(engine: Engine, branch: BranchRecord): Promise<BaseCopy> {
  const project = engine.project(branch.project_id);
  ensureArchiveDir(engine.home, branch.id);
  const root = branchHistoryDir(engine.home, branch.id);
  // Skipped (History logs why; it is tried again at a later retention round) when it would not fit.
  const short = await spaceShortfall(engine, engine.computes.dataDir(branch.id), root, `branch ${branch.id}'s data for a base copy of its history`);
  if (short) throw new Error(short.message);
  const partial = join(root, `${uniqueName('base')}.partial`);
  try {
    const generation = branch.last_reset_at;
    const point = await engine.withAdmin(branch, (admin) => copyRunningCluster(admin, engine.computes.dataDir(branch.id), partial, project.pg_version, undefined, `base_${branch.id}`));
    // A restore (or delete) that ran meanwhile makes this a copy of a state the branch no longer has.
    if (branch.last_reset_at !== generation || branch.current_state !== 'ready' || !engine.data.branches.includes(branch)) {
      throw new Error(`branch ${branch.id} changed during its base copy; the copy is dropped`);
    }
    const time = new Date().toISOString();
    const label = await fs.readFile(join(partial, 'backup_label'), 'utf8');
    const startSegment = /START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)/.exec(label)?.[1];
    const timeline = Number(/START TIMELINE: (\d+)/.exec(label)?.[1] ?? '1');
    if (!startSegment) throw new Error('backup label without a start WAL file');
    return await complete(root, partial, { lsn: point.lsn, startSegment, time, timeline });
  } catch (error) {
    await fs.rm(partial, { recursive: true, force: true });
    throw error;
  }
}

/** Makes a copy in `partial` a base copy: `base.json` written last, then renamed to its LSN's name. */
async function complete(root: string, partial: string, meta: Omit<BaseCopy, 'dir'>): Promise<BaseCopy> {
  await fs.writeFile(join(partial, BASE_FILE), JSON.stringify(meta));
  const dir = join(root, `base-${lsnKey(meta.lsn)}`);
  await fs.rename(partial, dir);
  return { ...meta, dir };
}

/**
 * The checkpoint a stopped cluster starts from, read from `global/pg_control` (its first fields
 * have kept their layout since PostgreSQL 9.x: checkPoint at 32, checkPointCopy.redo at 40 and
 * .ThisTimeLineID at 48, little-endian here); the npm binaries ship no pg_controldata.
 */
function stoppedCheckpoint(dataDir: string): { lsn: string; startSegment: string; timeline: number } {
  const control = readFileSync(join(dataDir, 'global', 'pg_control'));
  const text = (v: bigint) => `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
  const redo = control.readBigUInt64LE(40);
  const timeline = control.readUInt32LE(48);
  // 16 MB segments (initdb's default, which the engine keeps): 256 of them per 4 GB "xlogid".
  const segment = redo / BigInt(16 * 1024 * 1024);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return { lsn: text(redo), startSegment: `${hex(timeline)}${hex(segment / 256n)}${hex(segment % 256n)}`, timeline };
}

/**
 * A project's first base copy: its cluster right after initdb, stopped, copied as files before
 * its first start. Its history (and a point-in-time branch of it) then starts with the project,
 * and branches made from it later start on this copy instead of taking their own (lineage.ts).
 */
export async function takeInitialBaseCopy(engine: Engine, branch: BranchRecord): Promise<void> {
  ensureArchiveDir(engine.home, branch.id);
  const root = branchHistoryDir(engine.home, branch.id);
  const dataDir = engine.computes.dataDir(branch.id);
  const partial = join(root, `${uniqueName('base')}.partial`);
  try {
    await copyStoppedCluster(dataDir, partial);
    await complete(root, partial, { ...stoppedCheckpoint(partial), time: new Date().toISOString() });
  } catch (error) {
    await fs.rm(partial, { recursive: true, force: true });
    throw error;
  }
}
