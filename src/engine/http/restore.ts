/**
 * @module Branch restore (`POST /projects/{p}/branches/{b}/restore`): reset a branch to its
 * parent's head, or to a past point of its own or another branch's history, in place — same id,
 * same endpoints, same connection strings — with Neon's rules. The swap itself is in
 * history/restore.ts.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Engine } from '../engine.ts';
import { nowIso } from '../engine.ts';
import { branchId } from '../catalog/ids.ts';
import type { BranchRecord } from '../catalog/types.ts';
import { copyRunningCluster, copyStoppedCluster, removeCluster } from '../clusters/cluster.ts';
import { badRequest, conflict, unprocessable } from '../errors.ts';
import { failpoint } from '../history/failpoints.ts';
import { LSN_PATTERN, neonTime } from '../history/lsn.ts';
import { buildAtPoint, checkPoint, type HistoryPoint } from '../history/point-in-time.ts';
import { applyRestore, commitRestore, pendingRestore, restoreDir, type RestoreIntent } from '../history/restore.ts';
import { nameBytes, readBody, timestamp } from './validate.ts';
import { branchView, operationView } from './views.ts';

const restoreBody = z.object({
  source_branch_id: z.string({ error: 'source_branch_id is required' }).min(1, { error: 'source_branch_id is required' }),
  source_lsn: z.string().regex(LSN_PATTERN, { error: 'source_lsn must be an LSN like 0/1DE2850' }).optional(),
  source_timestamp: timestamp('source_timestamp').optional(),
  preserve_under_name: nameBytes('preserve_under_name', 256).optional(),
});

const SOURCE_POINT = { lsn: 'source_lsn', timestamp: 'source_timestamp', whose: "the source branch's" };

export function restoreRoutes(engine: Engine): Hono {
  const app = new Hono();

  app.post('/projects/:project_id/branches/:branch_id/restore', async (c) => {
    const target = engine.branch(c.req.param('project_id'), c.req.param('branch_id'));
    const projectId = target.project_id;
    const body = await readBody(c, restoreBody);
    const source = engine.branch(projectId, body.source_branch_id);
    const self = source.id === target.id;
    const siblings = engine.branchesOf(projectId);
    const hasChildren = siblings.some((b) => b.parent_id === target.id);
    if (body.source_lsn && body.source_timestamp) throw badRequest('give source_lsn or source_timestamp, not both');
    if (target.protected) throw unprocessable(`branch ${target.id} is protected and cannot be restored; unprotect it first`);
    if (self && !body.source_lsn && !body.source_timestamp) {
      throw badRequest(`source_lsn or source_timestamp is required when restoring branch ${target.id} from its own history`);
    }
    if ((self || hasChildren) && !body.preserve_under_name) {
      throw badRequest(
        self
          ? `preserve_under_name is required when restoring branch ${target.id} from its own history`
          : `preserve_under_name is required: branch ${target.id} has child branches, which move to the preserved branch`,
      );
    }
    for (let b: BranchRecord | undefined = source; b; b = siblings.find((s) => s.id === b!.parent_id)) {
      if (!self && b.id === target.id) throw badRequest(`source branch ${source.id} descends from ${target.id}; a branch cannot be restored from its own descendant`);
    }
    if (body.preserve_under_name && siblings.some((b) => b.name === body.preserve_under_name)) {
      throw conflict(`branch already exists; branch_name:"${body.preserve_under_name}"`);
    }
    const point: HistoryPoint | undefined = body.source_lsn || body.source_timestamp ? { lsn: body.source_lsn, timestamp: body.source_timestamp } : undefined;
    if (point) await checkPoint(engine, source, point, SOURCE_POINT, engine.history.isPending(source.id));
    engine.assertUnlocked(projectId);

    const at = nowIso();
    const running = engine.endpointsOf(target.id).filter((e) => e.current_state === 'active');
    const ops = [engine.operation(projectId, 'create_timeline', { branch_id: target.id })];
    for (const e of running) ops.push(engine.operation(projectId, 'start_compute', { branch_id: target.id, endpoint_id: e.id }));
    target.current_state = 'resetting';
    target.pending_state = 'ready';
    target.state_changed_at = at;
    const preserve: BranchRecord | undefined = body.preserve_under_name
      ? {
          ...structuredClone(target),
          id: branchId(),
          name: body.preserve_under_name,
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
    return c.json({ branch: branchView(target), operations: ops.map(operationView) });
  });

  return app;
}
