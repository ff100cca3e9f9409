/**
 * @module Removing a branch: its compute, spare, replicas, data, history and records. Shared by
 * DELETE of a branch (and its expiry) and DELETE of a project, so a project's branches go the
 * same way one does, their history included.
 */
import type { BranchRecord } from './catalog/types.ts';
import { removeCluster } from './clusters/cluster.ts';
import { removeReplicasOf } from './compute/replicas.ts';
import type { Engine } from './engine.ts';
import { removeHistory } from './history/store.ts';

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
