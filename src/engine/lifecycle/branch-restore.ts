/**
 * @module Restoring a branch (`POST …/branches/{b}/restore`, its request checked by
 * http/restore.ts): the operations, the preserved branch's record (`preserve_under_name`), and the
 * background work that builds the new state (the source's head, or a past point of its history)
 * and commits the swap (history/restore.ts, which also rolls an interrupted one forward).
 */
import type { Engine } from '../engine.ts';
import { branchId } from '../catalog/ids.ts';
import { nowIso } from '../catalog/time.ts';
import type { BranchRecord, OperationRecord } from '../catalog/types.ts';
import { copyRunningCluster, copyStoppedCluster, removeCluster } from '../clusters/cluster.ts';
import { failpoint } from '../history/failpoints.ts';
import { neonTime } from '../history/lsn.ts';
import { buildAtPoint, type HistoryPoint } from '../history/point-in-time.ts';
import { applyRestore, commitRestore, pendingRestore, restoreDir, type RestoreIntent } from '../history/restore.ts';

/** How a point of the source is named in errors and results (history/point-in-time.ts). */
export const SOURCE_POINT = { lsn: 'source_lsn', timestamp: 'source_timestamp', whose: "the source branch's" };

/**
 * Records the restore of `target` from `source` (at `point`, else its head) and schedules it;
 * `preserveUnderName`: the target's present state is kept as a new branch of that name. Returns
 * the operations (saved).
 */
export async function restoreBranch(
  engine: Engine,
  target: BranchRecord,
  source: BranchRecord,
  point: HistoryPoint | undefined,
  preserveUnderName: string | undefined,
): Promise<OperationRecord[]> {
  const projectId = target.project_id;
  const self = source.id === target.id;
  const at = nowIso();
  const running = engine.endpointsOf(target.id).filter((e) => e.current_state === 'active');
  const ops = [engine.operation(projectId, 'create_timeline', { branch_id: target.id })];
  for (const e of running) ops.push(engine.operation(projectId, 'start_compute', { branch_id: target.id, endpoint_id: e.id }));
  target.current_state = 'resetting';
  target.pending_state = 'ready';
  target.state_changed_at = at;
  const preserve: BranchRecord | undefined = preserveUnderName
    ? {
        ...structuredClone(target),
        id: branchId(),
        name: preserveUnderName,
        default: false,
        protected: false,
        current_state: 'ready',
        created_at: at,
        updated_at: at,
        state_changed_at: at,
        databases: target.databases.map((d) => ({ ...d, id: engine.data.next_database_id++ })),
      }
    : undefined;
  if (preserve) {
    delete preserve.pending_state;
    delete preserve.expires_at;
    delete preserve.ttl_interval_seconds;
    delete preserve.logical_size;
    delete preserve.annotation;
  }
  await engine.save();

  const dest = restoreDir(engine, target.id);
  engine.schedule(
    projectId,
    ops,
    async () => {
      const project = engine.project(projectId);
      await removeCluster(dest);
      let lsn: string | undefined;
      let pointTime = nowIso();
      if (point) {
        const built = await buildAtPoint(engine, source, point, dest, SOURCE_POINT);
        lsn = built.lsn;
        pointTime = built.timestamp;
      } else if (engine.computes.isRunning(source.id)) {
        lsn = (await engine.withAdmin(source, (admin) => copyRunningCluster(admin, engine.computes.dataDir(source.id), dest, project.pg_version))).lsn;
      } else {
        await copyStoppedCluster(engine.computes.dataDir(source.id), dest);
      }
      failpoint('restore-before-commit');
      const resetAt = nowIso();
      const intent: RestoreIntent = {
        project_id: projectId,
        branch_id: target.id,
        ...(preserve ? { preserve } : {}),
        update: {
          // With preserve_under_name the backup (the old state) becomes the parent, as on Neon.
          parent_id: preserve ? preserve.id : self ? target.parent_id : source.id,
          parent_lsn: self && !preserve ? target.parent_lsn : lsn,
          parent_timestamp: self && !preserve ? target.parent_timestamp : pointTime,
          roles: (self ? target.roles : source.roles).map((r) => ({ ...r })),
          databases: self ? target.databases : source.databases.map((d) => ({ ...d, id: engine.data.next_database_id++ })),
          last_reset_at: resetAt,
          ...(target.expires_at && target.ttl_interval_seconds ? { expires_at: neonTime(Date.parse(resetAt) + target.ttl_interval_seconds * 1000) } : {}),
        },
        start_endpoint_ids: running.map((e) => e.id),
        operation_ids: ops.map((o) => o.id),
      };
      await commitRestore(engine, intent);
      await applyRestore(engine, intent);
      for (const e of running) await engine.startEndpoint(e);
      engine.history.track(target);
    },
    async () => {
      const intent = await pendingRestore(engine, target.id);
      if (intent) {
        // Past the commit point: the restore is finished, not undone.
        await applyRestore(engine, intent);
        for (const e of running) await engine.startEndpoint(e);
        return;
      }
      await removeCluster(dest);
      await removeCluster(`${dest}.pitr`);
      target.current_state = 'ready';
      delete target.pending_state;
      for (const e of running) if (!engine.computes.isRunning(target.id)) await engine.startEndpoint(e).catch(() => {});
    },
  );
  return ops;
}
