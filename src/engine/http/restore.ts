/**
 * @module Branch restore (`POST /projects/{p}/branches/{b}/restore`): reset a branch to its
 * parent's head, or to a past point of its own or another branch's history, in place — same id,
 * same endpoints, same connection strings — with Neon's rules. The restore is
 * lifecycle/branch-restore.ts; the swap itself is in history/restore.ts.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Engine } from '../engine.ts';
import type { BranchRecord } from '../catalog/types.ts';
import { badRequest, conflict, unprocessable } from '../errors.ts';
import { LSN_PATTERN } from '../history/lsn.ts';
import { checkPoint, type HistoryPoint } from '../history/point-in-time.ts';
import { restoreBranch, SOURCE_POINT } from '../lifecycle/branch-restore.ts';
import { nameBytes, readBody, timestamp } from './validate.ts';
import { branchView, operationView } from './views.ts';

const restoreBody = z.object({
  source_branch_id: z.string({ error: 'source_branch_id is required' }).min(1, { error: 'source_branch_id is required' }),
  source_lsn: z.string().regex(LSN_PATTERN, { error: 'source_lsn must be an LSN like 0/1DE2850' }).optional(),
  source_timestamp: timestamp('source_timestamp').optional(),
  preserve_under_name: nameBytes('preserve_under_name', 256).optional(),
});

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

    const ops = await restoreBranch(engine, target, source, point, body.preserve_under_name);
    return c.json({ branch: branchView(target), operations: ops.map(operationView) });
  });

  return app;
}
