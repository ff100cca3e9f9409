/**
 * @module Resuming branch creations after a crash: on engine start (Engine.recover), branches
 * whose data a crash left incomplete are cleaned up and their creations scheduled again — a
 * project's first branch through project-creation.ts, any other through branch-creation.ts.
 */
import type { Engine } from '../engine.ts';
import { nowIso } from '../catalog/time.ts';
import type { BranchRecord } from '../catalog/types.ts';
import { removeCluster } from '../clusters/cluster.ts';
import { stopEverythingIn } from '../compute/postmaster.ts';
import { removeHistory } from '../history/store.ts';
import { scheduleBranchCreation } from './branch-creation.ts';
import { scheduleProjectCreation } from './project-creation.ts';

const CREATION_ACTIONS: string[] = ['create_branch', 'create_timeline', 'start_compute'];

/**
 * On engine start, before endpoints come back: branches whose creation a crash interrupted
 * (their data incomplete) are made again from scratch — what the crash left (a spare, a partial
 * copy, a postmaster) is removed — as the same operations, counted as retried. Their endpoints'
 * ports accept at once, so clients wait for the retried creation. Returns the branches resumed.
 */
export async function resumeBranchCreations(engine: Engine): Promise<BranchRecord[]> {
  const resumed: BranchRecord[] = [];
  for (const branch of engine.data.branches) {
    if (!branch.creation) continue;
    const sourceId = branch.creation.source_id ?? branch.parent_id;
    const parent = engine.data.branches.find((b) => b.id === sourceId);
    // A project's first branch has no parent: its creation (initdb, role, database) is made again.
    const root = !sourceId;
    const ops = engine.data.operations.filter((o) => o.branch_id === branch.id && CREATION_ACTIONS.includes(o.action) && (o.status === 'running' || o.status === 'scheduling'));
    if (!parent && !root) continue;
    const dataDir = engine.computes.dataDir(branch.id);
    for (const dir of [dataDir, `${dataDir}.partial`, `${dataDir}.partial.pitr`]) {
      await stopEverythingIn(dir);
      await removeCluster(dir);
    }
    // What the interrupted attempt archived (a promoted spare archives at once) is not this branch's history.
    await removeHistory(engine.home, branch.id);
    for (const op of ops) {
      op.failures_count += 1;
      op.error = 'the engine stopped while this operation ran; it is retried';
      op.updated_at = nowIso();
    }
    resumed.push(branch);
  }
  return resumed;
}

/** Schedules the creations `resumeBranchCreations` prepared (once the engine's ports are managed). */
export function rescheduleBranchCreations(engine: Engine, branches: BranchRecord[]): void {
  for (const branch of branches) {
    const sourceId = branch.creation?.source_id ?? branch.parent_id;
    const ops = engine.data.operations.filter((o) => o.branch_id === branch.id && CREATION_ACTIONS.includes(o.action) && (o.status === 'running' || o.status === 'scheduling'));
    if (!sourceId) {
      // create_timeline first: the project's creation finishes it once the cluster exists.
      if (!ops.some((o) => o.action === 'create_timeline')) ops.unshift(engine.operation(branch.project_id, 'create_timeline', { branch_id: branch.id }));
      ops.sort((a, b) => (a.action === 'create_timeline' ? -1 : b.action === 'create_timeline' ? 1 : 0));
      scheduleProjectCreation(engine, engine.project(branch.project_id), branch, engine.readWriteEndpoint(branch.id)!, ops);
      continue;
    }
    const parent = engine.data.branches.find((b) => b.id === sourceId)!;
    if (!ops.length) ops.push(engine.operation(branch.project_id, 'create_branch', { branch_id: branch.id }));
    scheduleBranchCreation(engine, branch, parent, engine.endpointsOf(branch.id), ops);
  }
}
