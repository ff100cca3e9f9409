/**
 * @module Engine extension, not part of Neon's API: `GET /api/v2/x-arbor/projects/{project_id}/
 * branches/{branch_id}/creation` says how the branch's data was made — the parent's spare
 * promoted (well under a second), or a full copy and why no spare served (spares.ts) — and how
 * long it took. Neon has no such route (404); the platform asks it after making a branch and
 * warns about a copy on the environment's page.
 */
import { Hono } from 'hono';
import type { Engine } from '../engine.ts';
import { conflict, notFound } from '../errors.ts';

export function branchCreationRoutes(engine: Engine): Hono {
  const app = new Hono();
  app.get('/x-arbor/projects/:project_id/branches/:branch_id/creation', (c) => {
    const branch = engine.branch(c.req.param('project_id'), c.req.param('branch_id'));
    if (branch.made_by) return c.json({ creation: branch.made_by });
    if (branch.creation) throw conflict(`branch ${branch.id} is still being made; ask again once its create_branch operation has finished`);
    throw notFound(`branch ${branch.id} has no creation record: it is its project's first branch, or an engine before this one made it`);
  });
  return app;
}
