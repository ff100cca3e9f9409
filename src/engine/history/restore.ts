/**
 * @module Restoring a branch in place: its data is replaced by another state (its parent's head,
 * or a past point of its own or another branch's history) while its id, endpoints and connection
 * strings stay.
 *
 * The new state is built beside the branch in `clusters/<id>.restore` while the branch serves.
 * Then an intent file (`history/restore-<id>.json`) is written: that is the commit point. Before
 * it, a crash leaves the branch as it was (the engine removes the unknown `.restore` directory on
 * start); after it, the swap is rolled forward by `applyRestore`, which is idempotent: stop the
 * branch, move the old cluster (and its history) to the preserved branch or aside, move the new
 * one in, update the catalog, finish the operations.
 */
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BranchRecord } from '../catalog/types.ts';
import type { Engine } from '../engine.ts';
import { nowIso } from '../catalog/time.ts';
import { failpoint } from './failpoints.ts';
import { removeReplicasOf } from '../compute/replicas.ts';
import { branchHistoryDir, historyRoot, removeHistory } from './store.ts';

export interface RestoreIntent {
  project_id: string;
  branch_id: string;
  /** The old state becomes this branch (restored as a new record with this id and name). */
  preserve?: BranchRecord;
  /** Fields of the restored branch after the swap. */
  update: Pick<BranchRecord, 'parent_id' | 'parent_lsn' | 'parent_timestamp' | 'roles' | 'databases'> & { last_reset_at: string; expires_at?: string };
  /** Endpoints to start once the new data is in place (those that were running). */
  start_endpoint_ids: string[];
  operation_ids: string[];
}

export function restoreDir(engine: Engine, branchId: string): string {
  return `${engine.computes.dataDir(branchId)}.restore`;
}

function intentPath(engine: Engine, branchId: string): string {
  return join(historyRoot(engine.home), `restore-${branchId}.json`);
}

/** The committed, not yet finished restore of the branch, if any. */
export async function pendingRestore(engine: Engine, branchId: string): Promise<RestoreIntent | undefined> {
  try {
    return JSON.parse(await fs.readFile(intentPath(engine, branchId), 'utf8')) as RestoreIntent;
  } catch {
    return undefined;
  }
}

/** Writes the intent atomically: after this the restore happens even across a crash. */
export async function commitRestore(engine: Engine, intent: RestoreIntent): Promise<void> {
  const path = intentPath(engine, intent.branch_id);
  const tmp = `${path}.tmp`;
  const handle = await fs.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(intent));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, path);
}

/**
 * Carries a committed restore through; safe to run again at any step. Does not start endpoints
 * (the caller does, or Engine.recover brings them back).
 */
export async function applyRestore(engine: Engine, intent: RestoreIntent): Promise<void> {
  const id = intent.branch_id;
  const dir = engine.computes.dataDir(id);
  const next = restoreDir(engine, id);
  await engine.history.quiesce(id);
  await engine.spares.discard(id);
  // The branch's standbys follow the state being replaced: they are made again on their next start.
  await removeReplicasOf(engine, id);
  await engine.computes.stop(id);
  if (existsSync(next)) {
    if (existsSync(dir)) {
      if (intent.preserve) await fs.rename(dir, engine.computes.dataDir(intent.preserve.id));
      else await fs.rename(dir, `${dir}.old`);
    }
    failpoint('restore-mid-swap');
    const history = branchHistoryDir(engine.home, id);
    if (existsSync(history)) {
      const preserved = intent.preserve && branchHistoryDir(engine.home, intent.preserve.id);
      if (preserved && !existsSync(preserved)) await fs.rename(history, preserved);
      else await removeHistory(engine.home, id);
    }
    await fs.rename(next, dir);
  }
  await fs.rm(`${dir}.old`, { recursive: true, force: true });

  const data = engine.data;
  const branch = data.branches.find((b) => b.id === id);
  if (branch) {
    if (intent.preserve && !data.branches.some((b) => b.id === intent.preserve!.id)) {
      data.branches.push(intent.preserve);
      // Children grew from the old state, which is now the preserved branch.
      for (const child of data.branches) if (child.parent_id === id && child.id !== intent.preserve.id) child.parent_id = intent.preserve.id;
    }
    const { expires_at, ...update } = intent.update;
    Object.assign(branch, update);
    if (expires_at) branch.expires_at = expires_at;
    branch.current_state = 'ready';
    delete branch.pending_state;
    branch.state_changed_at = branch.updated_at = nowIso();
  }
  for (const op of data.operations) {
    if (!intent.operation_ids.includes(op.id) || op.status === 'finished') continue;
    if (op.action === 'start_compute') continue; // finished when the endpoint runs
    op.status = 'finished';
    delete op.error;
    op.failures_count = 0;
    op.updated_at = nowIso();
  }
  await engine.save();
  await fs.rm(intentPath(engine, id), { force: true });
}

/** On start, before unknown cluster directories are removed: rolls committed restores forward. */
export async function finishInterruptedRestores(engine: Engine): Promise<void> {
  const root = historyRoot(engine.home);
  if (!existsSync(root)) return;
  for (const name of readdirSync(root)) {
    if (!/^restore-.*\.json$/.test(name)) {
      if (/^restore-.*\.json\.tmp$/.test(name)) await fs.rm(join(root, name), { force: true });
      continue;
    }
    const intent = JSON.parse(readFileSync(join(root, name), 'utf8')) as RestoreIntent;
    engine.log.warn(`finishing the restore of branch ${intent.branch_id} that a stop interrupted`);
    await applyRestore(engine, intent);
    for (const endpoint of engine.data.endpoints) {
      if (intent.start_endpoint_ids.includes(endpoint.id)) endpoint.pending_state = 'active';
    }
    for (const op of engine.data.operations) {
      if (intent.operation_ids.includes(op.id) && op.action === 'start_compute') {
        op.status = 'finished';
        delete op.error;
        op.failures_count = 0;
      }
    }
  }
}
