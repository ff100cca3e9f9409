/**
 * @module Deleting a branch: the operations of a DELETE (and of an expiry, expiry.ts), and the
 * removal itself — its compute, spare, replicas, data, history and records. The removal is shared
 * by DELETE of a branch (and its expiry) and DELETE of a project (project-deletion.ts), so a
 * project's branches go the same way one does, their history included.
 */
import type { BranchRecord, OperationRecord } from '../catalog/types.ts';
import { removeCluster } from '../clusters/cluster.ts';
import { removeReplicasOf } from '../compute/replicas.ts';
import type { Engine } from '../engine.ts';
import { removeHistory } from '../history/store.ts';

/** Records the operations of a branch deletion and schedules it (DELETE, and expiry). */
export function scheduleBranchDeletion(engine: Engine, branch: BranchRecord): OperationRecord[] {
  const ops = [];
  for (const e of engine.endpointsOf(branch.id)) if (e.current_state === 'active') ops.push(engine.operation(branch.project_id, 'suspend_compute', { branch_id: branch.id, endpoint_id: e.id }));
  ops.push(engine.operation(branch.project_id, 'delete_timeline', { branch_id: branch.id }));
  void engine.save().catch((e) => engine.log.warn(`catalog not saved: ${(e as Error).message}`));
  engine.schedule(branch.project_id, ops, () => deleteBranchNow(engine, branch));
  return ops;
}

/** Stops the branch's compute and removes its data, history and records. */
export async function deleteBranchNow(engine: Engine, branch: BranchRecord): Promise<void> {
  // A base copy still queued behind other branches' is dropped, not waited for (history.ts).
  await engine.history.forget(branch.id);
  await engine.spares.discard(branch.id);
  await removeReplicasOf(engine, branch.id);
  await engine.computes.stop(branch.id);
  await removeCluster(engine.computes.dataDir(branch.id));
  await removeHistory(engine.home, branch.id);
  engine.data.endpoints = engine.data.endpoints.filter((e) => e.branch_id !== branch.id);
  engine.data.branches = engine.data.branches.filter((b) => b.id !== branch.id);
}
