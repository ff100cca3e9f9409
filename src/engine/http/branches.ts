/**
 * @module Branch routes: create, list, get, update, delete with Neon's rules, set_as_default, and
 * a branch's endpoints. A branch is a consistent copy of its parent's whole cluster, taken while
 * the parent keeps serving; making and deleting one is lifecycle/ (branch-creation.ts,
 * branch-deletion.ts), which these routes call once the request is checked.
 */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Engine } from '../engine.ts';
import { nowIso } from '../catalog/time.ts';
import type { BranchRecord } from '../catalog/types.ts';
import { badRequest, conflict, unprocessable } from '../errors.ts';
import { computeUnit, nameBytes, pgSettings, queryInt, readBody, suspendTimeout, timestamp } from './validate.ts';
import { branchView, connectionUris, databaseView, endpointView, operationView, roleView } from './views.ts';
import { checkPoint, type HistoryPoint } from '../history/point-in-time.ts';
import { createBranch, PARENT_POINT } from '../lifecycle/branch-creation.ts';
import { scheduleBranchDeletion } from '../lifecycle/branch-deletion.ts';
import { checkExpiry, ttlSeconds } from '../lifecycle/expiry.ts';
import { checkBranchSpace } from '../clusters/disk-space.ts';

export const endpointCreateFields = {
  autoscaling_limit_min_cu: computeUnit('autoscaling_limit_min_cu').optional(),
  autoscaling_limit_max_cu: computeUnit('autoscaling_limit_max_cu').optional(),
  suspend_timeout_seconds: suspendTimeout.optional(),
  provisioner: z.string().optional(),
  settings: z.object({ pg_settings: pgSettings.optional() }).passthrough().optional(),
};

const branchCreate = z.object({
  branch: z
    .object({
      parent_id: z.string().optional(),
      name: nameBytes('branch.name', 256).optional(),
      parent_lsn: z.string().regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i, { error: 'parent_lsn must be an LSN like 0/1DE2850' }).optional(),
      parent_timestamp: timestamp('parent_timestamp').optional(),
      protected: z.boolean().optional(),
      init_source: z.enum(['parent-data', 'schema-only']).optional(),
      expires_at: timestamp('expires_at').optional(),
    })
    .passthrough()
    .optional(),
  endpoints: z.array(z.object({ type: z.enum(['read_write', 'read_only']), ...endpointCreateFields }).passthrough()).optional(),
  annotation_value: z.record(z.string(), z.string()).optional(),
});

const branchUpdate = z.object({
  branch: z.object({
    name: nameBytes('branch.name', 256).optional(),
    protected: z.boolean().optional(),
    expires_at: timestamp('expires_at').nullable().optional(),
  }),
});

export function branchRoutes(engine: Engine): Hono {
  const app = new Hono();
  const regionOf = (projectId: string) => engine.project(projectId).region_id;

  app.post('/projects/:project_id/branches', async (c) => {
    const project = engine.project(c.req.param('project_id'));
    const body = await readBody(c, branchCreate, true);
    const spec = body.branch ?? {};
    const parent = spec.parent_id ? engine.branch(project.id, spec.parent_id) : engine.defaultBranch(project.id);
    const schemaOnly = spec.init_source === 'schema-only';
    if (spec.parent_lsn && spec.parent_timestamp) throw badRequest('give parent_lsn or parent_timestamp, not both');
    if (spec.parent_timestamp && Date.parse(spec.parent_timestamp) > Date.now()) throw badRequest('parent_timestamp is in the future');
    // A past point of the parent is rebuilt from its history (history/point-in-time.ts).
    const point: HistoryPoint | undefined = spec.parent_lsn || spec.parent_timestamp ? { lsn: spec.parent_lsn, timestamp: spec.parent_timestamp } : undefined;
    // Refused before the 201 when it cannot be served: a base copy on its way is waited for first.
    if (point) {
      await engine.history.quiesce(parent.id);
      await checkPoint(engine, parent, point, PARENT_POINT, false);
    }
    if (parent.expires_at) throw badRequest(`cannot branch from ${parent.id}: it has an expiration time`);
    const name = spec.name ?? undefined;
    if (name && engine.branchesOf(project.id).some((b) => b.name === name)) throw conflict(`branch already exists; branch_name:"${name}"`);
    if (spec.expires_at) checkExpiry(spec.expires_at, { default: false, protected: spec.protected ?? false }, false);
    // The read_write endpoint first: read_only ones replicate it (compute/replicas.ts).
    const endpointSpecs = [...(body.endpoints ?? [])].sort((a, b) => (a.type === b.type ? 0 : a.type === 'read_write' ? -1 : 1));
    if (endpointSpecs.filter((e) => e.type === 'read_write').length > 1) throw badRequest('endpoints: a branch can have only one read_write endpoint');
    // A copy that would not fit on the disk is refused now, with the sizes (clusters/disk-space.ts).
    await checkBranchSpace(engine, parent, { point: Boolean(point), schemaOnly });
    engine.assertUnlocked(project.id);

    const { branch, endpoints, ops } = await createBranch(engine, {
      project,
      parent,
      point,
      schemaOnly,
      name,
      protected: spec.protected,
      expiresAt: spec.expires_at,
      annotation: body.annotation_value,
      endpoints: endpointSpecs,
    });
    const id = branch.id;

    const rw = endpoints.find((e) => e.type === 'read_write');
    return c.json(
      {
        branch: branchView(branch),
        endpoints: endpoints.map((e) => endpointView(e, project.region_id)),
        operations: ops.map(operationView),
        roles: branch.roles.map((r) => roleView(id, r)),
        databases: branch.databases.map((d) => databaseView(id, d)),
        ...(connectionUris(engine, branch, rw) ? { connection_uris: connectionUris(engine, branch, rw) } : {}),
      },
      201,
    );
  });

  app.get('/projects/:project_id/branches', (c) => {
    const project = engine.project(c.req.param('project_id'));
    const limit = queryInt(c, 'limit', 1, 10_000, 10_000);
    const search = c.req.query('search');
    const sortBy = c.req.query('sort_by') ?? 'updated_at';
    const sortOrder = c.req.query('sort_order') ?? 'desc';
    if (!['name', 'created_at', 'updated_at'].includes(sortBy)) throw badRequest('sort_by must be name, created_at or updated_at');
    if (!['asc', 'desc'].includes(sortOrder)) throw badRequest('sort_order must be asc or desc');
    let branches = engine.branchesOf(project.id);
    if (search) branches = branches.filter((b) => b.name.includes(search) || b.id.includes(search));
    const key = sortBy as 'name' | 'created_at' | 'updated_at';
    branches = [...branches].sort((a, b) => a[key].localeCompare(b[key]) || a.id.localeCompare(b.id));
    if (sortOrder === 'desc') branches.reverse();
    // Opaque cursors, as Neon's (a raw branch id is still understood).
    const given = c.req.query('cursor');
    const cursor = given && !given.startsWith('br-') ? Buffer.from(given, 'base64url').toString() : given;
    if (cursor) {
      const index = branches.findIndex((b) => b.id === cursor);
      branches = index >= 0 ? branches.slice(index + 1) : [];
    }
    const page = branches.slice(0, limit);
    const more = branches.length > limit;
    return c.json({
      branches: page.map(branchView),
      annotations: Object.fromEntries(page.filter((b) => b.annotation).map((b) => [b.id, annotationView(b)])),
      pagination: { ...(more ? { next: Buffer.from(page[page.length - 1].id).toString('base64url') } : {}), sort_by: sortBy, sort_order: sortOrder },
    });
  });

  app.get('/projects/:project_id/branches/count', (c) => {
    const project = engine.project(c.req.param('project_id'));
    const search = c.req.query('search');
    const branches = engine.branchesOf(project.id).filter((b) => !search || b.name.includes(search) || b.id.includes(search));
    return c.json({ count: branches.length });
  });

  app.get('/projects/:project_id/branches/:branch_id', (c) => {
    const branch = engine.branch(c.req.param('project_id'), c.req.param('branch_id'));
    return c.json({ branch: branchView(branch), annotation: annotationView(branch) });
  });

  app.patch('/projects/:project_id/branches/:branch_id', async (c) => {
    const branch = engine.branch(c.req.param('project_id'), c.req.param('branch_id'));
    const { branch: body } = await readBody(c, branchUpdate);
    const siblings = engine.branchesOf(branch.project_id);
    if (body.name !== undefined && body.name !== branch.name && siblings.some((b) => b.name === body.name)) {
      throw conflict(`branch already exists; branch_name:"${body.name}"`);
    }
    const hasChildren = siblings.some((b) => b.parent_id === branch.id);
    const protectedNext = body.protected ?? branch.protected;
    if (body.expires_at) checkExpiry(body.expires_at, { default: branch.default, protected: protectedNext }, hasChildren);
    else if (protectedNext && branch.expires_at && body.expires_at !== null) throw badRequest('a branch with an expiration time cannot be protected; clear expires_at first');
    if (body.name !== undefined) branch.name = body.name;
    if (body.protected !== undefined) branch.protected = body.protected;
    if (body.expires_at === null) delete branch.expires_at;
    else if (body.expires_at) {
      branch.expires_at = new Date(body.expires_at).toISOString().replace(/\.\d{3}Z$/, 'Z');
      branch.ttl_interval_seconds = ttlSeconds(body.expires_at);
    }
    branch.updated_at = nowIso();
    await engine.save();
    return c.json({ branch: branchView(branch), operations: [] });
  });

  app.delete('/projects/:project_id/branches/:branch_id', async (c) => {
    const project = engine.project(c.req.param('project_id'));
    const branch = engine.branchesOf(project.id).find((b) => b.id === c.req.param('branch_id'));
    if (!branch) return c.body(null, 204);
    if (branch.default) throw unprocessable(`branch ${branch.id} is the project's default branch and cannot be deleted; make another branch the default first`);
    if (branch.protected) throw unprocessable(`branch ${branch.id} is protected and cannot be deleted; unprotect it first`);
    const children = engine.branchesOf(project.id).filter((b) => b.parent_id === branch.id);
    if (children.length) throw unprocessable(`branch ${branch.id} has child branches (${children.map((b) => b.id).join(', ')}); delete them first`);
    engine.assertUnlocked(project.id);
    const ops = scheduleBranchDeletion(engine, branch);
    await engine.save();
    return c.json({ branch: branchView(branch), operations: ops.map(operationView) });
  });

  // `set_as_primary` is Neon's deprecated name for it (no longer in the spec, still called by older clients).
  app.on('POST', ['/projects/:project_id/branches/:branch_id/set_as_default', '/projects/:project_id/branches/:branch_id/set_as_primary'], async (c) => {
    const branch = engine.branch(c.req.param('project_id'), c.req.param('branch_id'));
    if (branch.expires_at) throw badRequest('a branch with an expiration time cannot be the default; clear expires_at first');
    for (const b of engine.branchesOf(branch.project_id)) b.default = b.id === branch.id;
    branch.updated_at = nowIso();
    await engine.save();
    return c.json({ branch: branchView(branch), operations: [] });
  });

  app.get('/projects/:project_id/branches/:branch_id/endpoints', (c: Context) => {
    const branch = engine.branch(c.req.param('project_id')!, c.req.param('branch_id')!);
    return c.json({ endpoints: engine.endpointsOf(branch.id).map((e) => endpointView(e, regionOf(branch.project_id))) });
  });

  return app;
}

/** Neon's AnnotationData of a branch (an empty value when it has none). */
function annotationView(branch: BranchRecord) {
  return {
    object: { type: 'console/branch', id: branch.id },
    value: branch.annotation?.value ?? {},
    ...(branch.annotation ? { created_at: branch.annotation.created_at, updated_at: branch.annotation.updated_at } : {}),
  };
}
