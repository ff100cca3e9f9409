/**
 * @module Branches: a branch is a consistent copy of its parent's whole cluster, taken while the
 * parent keeps serving (see clusters/cluster.ts). Create, list, get, update, delete with Neon's
 * rules, set_as_default, and a branch's endpoints.
 */
import { promises as fs } from 'node:fs';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Engine } from '../engine.ts';
import { nowIso } from '../engine.ts';
import { branchId, endpointId } from '../catalog/ids.ts';
import type { BranchRecord, EndpointRecord, OperationRecord } from '../catalog/types.ts';
import { copyRunningCluster, copyStoppedCluster, removeCluster } from '../clusters/cluster.ts';
import { badRequest, conflict, unprocessable } from '../errors.ts';
import { checkCuRange, checkSuspendTimeout, computeUnit, nameBytes, pgSettings, queryInt, readBody, suspendTimeout, timestamp } from './validate.ts';
import { pgSettingsVersionProblem } from '../compute/pg-settings.ts';
import { branchView, connectionUris, databaseView, endpointView, operationView, roleView } from './views.ts';
import { buildAtPoint, checkPoint, type HistoryPoint } from '../history/point-in-time.ts';
import { markInherited } from '../history/lineage.ts';
import { removeHistory } from '../history/store.ts';
import type { Spare } from '../spares.ts';
import { scheduleProjectCreation } from './projects.ts';
import { deleteBranchNow } from '../branch-removal.ts';
import { runningPid, stopPostmaster } from '../compute/postmaster.ts';
import { removeReplica } from '../compute/replicas.ts';
import { checkBranchSpace } from '../clusters/disk-space.ts';

const MAX_EXPIRY_MS = 30 * 86_400_000;
const PARENT_POINT = { lsn: 'parent_lsn', timestamp: 'parent_timestamp', whose: "the parent's" };

/** Neon's `ttl_interval_seconds`: from setting `expires_at` to it; a reset restarts it. */
const ttlSeconds = (expiresAt: string) => Math.max(1, Math.round((Date.parse(expiresAt) - Date.now()) / 1000));

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

export function checkExpiry(expiresAt: string, branch: { default: boolean; protected: boolean }, hasChildren: boolean): void {
  const when = Date.parse(expiresAt);
  if (when <= Date.now()) throw badRequest('expires_at must be in the future');
  if (when - Date.now() > MAX_EXPIRY_MS) throw badRequest('expires_at must be at most 30 days from now');
  if (branch.default) throw badRequest('expires_at cannot be set on the default branch');
  if (branch.protected) throw badRequest('expires_at cannot be set on a protected branch');
  if (hasChildren) throw badRequest('expires_at cannot be set on a branch that has child branches');
}

/** A new endpoint record from a request, with the project's defaults and Neon's range checks. */
export async function newEndpoint(
  engine: Engine,
  projectId: string,
  branch: BranchRecord,
  spec: z.infer<z.ZodObject<typeof endpointCreateFields>> & { type: string },
  /** A read_write endpoint comes in the same request (a branch creation's `endpoints`). */
  primaryToo = false,
): Promise<EndpointRecord> {
  const project = engine.project(projectId);
  // A read_only endpoint is a hot standby of the branch's read_write compute (compute/replicas.ts).
  if (spec.type === 'read_only' && !primaryToo && !engine.readWriteEndpoint(branch.id)) {
    throw unprocessable(`branch ${branch.id} has no read_write endpoint; a read_only endpoint replicates it, so create a read_write endpoint on the branch first`);
  }
  const defaults = project.default_endpoint_settings;
  const minCu = spec.autoscaling_limit_min_cu ?? defaults.autoscaling_limit_min_cu;
  const maxCu = spec.autoscaling_limit_max_cu ?? Math.max(minCu, defaults.autoscaling_limit_max_cu);
  checkCuRange(minCu, maxCu);
  checkSuspendTimeout(spec.suspend_timeout_seconds, engine.minSuspendSeconds);
  const versionProblem = pgSettingsVersionProblem(spec.settings?.pg_settings, project.pg_version);
  if (versionProblem) throw badRequest(`settings.pg_settings: ${versionProblem}`);
  if (spec.type === 'read_write' && engine.readWriteEndpoint(branch.id)) throw conflict(`branch ${branch.id} already has a read_write endpoint`);
  const at = nowIso();
  const endpoint: EndpointRecord = {
    id: endpointId(),
    project_id: projectId,
    branch_id: branch.id,
    type: spec.type === 'read_only' ? 'read_only' : 'read_write',
    port: await engine.allocatePort(),
    autoscaling_limit_min_cu: minCu,
    autoscaling_limit_max_cu: maxCu,
    suspend_timeout_seconds: spec.suspend_timeout_seconds ?? defaults.suspend_timeout_seconds,
    settings: spec.settings?.pg_settings ? { pg_settings: spec.settings.pg_settings } : {},
    disabled: false,
    current_state: 'init',
    pending_state: 'active',
    created_at: at,
    updated_at: at,
  };
  await engine.poolers.ensurePort(endpoint);
  return endpoint;
}

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
    const primaryToo = endpointSpecs.some((e) => e.type === 'read_write');
    // A copy that would not fit on the disk is refused now, with the sizes (clusters/disk-space.ts).
    await checkBranchSpace(engine, parent, { point: Boolean(point), schemaOnly });
    engine.assertUnlocked(project.id);

    // Neon's 201 names the branch point: the parent's head now (the copy or promotion replaces it
    // with the exact point it took, at or after this one). Asked only of a running parent.
    const headLsn = point || schemaOnly ? undefined : await parentHead(engine, parent);
    const at = nowIso();
    // A ready spare of the parent becomes this branch (spares.ts); its id and port are kept.
    // (A schema-only branch is copied: its data is removed before any client can connect.)
    const spare = point || schemaOnly ? undefined : engine.spares.claim(parent.id);
    // Why it is copied instead, recorded on the branch (`made_by`) for the user.
    const noSpare = spare ? undefined : point ? 'a point in time was asked (it is rebuilt from the history)' : schemaOnly ? 'a schema-only branch was asked (copied, then emptied)' : engine.spares.whyNone(parent);
    const id = spare?.id ?? branchId();
    const branch: BranchRecord = {
      id,
      project_id: project.id,
      name: name ?? id,
      // A schema-only branch is a root branch (Neon's rule): `parent_id` only names its source.
      ...(schemaOnly ? {} : { parent_id: parent.id }),
      default: false,
      protected: spec.protected ?? false,
      ...(spec.expires_at ? { expires_at: new Date(spec.expires_at).toISOString().replace(/\.\d{3}Z$/, 'Z'), ttl_interval_seconds: ttlSeconds(spec.expires_at) } : {}),
      ...(point?.lsn && !schemaOnly ? { parent_lsn: point.lsn.toUpperCase() } : headLsn ? { parent_lsn: headLsn } : {}),
      ...(schemaOnly ? {} : { parent_timestamp: point?.timestamp ? new Date(point.timestamp).toISOString().replace(/\.\d{3}Z$/, 'Z') : at }),
      current_state: 'init',
      pending_state: 'ready',
      creation: {
        ...(point ? { point: { ...(point.lsn ? { lsn: point.lsn } : {}), ...(point.timestamp ? { timestamp: point.timestamp } : {}) } } : {}),
        ...(schemaOnly ? { schema_only: true, source_id: parent.id } : {}),
      },
      ...(schemaOnly ? { init_source: 'schema-only' as const } : {}),
      state_changed_at: at,
      created_at: at,
      updated_at: at,
      roles: parent.roles.map((r) => ({ ...r })),
      databases: parent.databases.map((d) => ({ ...d, id: engine.data.next_database_id++ })),
      ...(body.annotation_value && Object.keys(body.annotation_value).length ? { annotation: { value: { ...body.annotation_value }, created_at: at, updated_at: at } } : {}),
    };
    const endpoints: EndpointRecord[] = [];
    for (const e of endpointSpecs) endpoints.push(await newEndpoint(engine, project.id, branch, e, primaryToo));
    if (spare && endpoints[0]?.type === 'read_write') endpoints[0].port = spare.port;
    engine.data.branches.push(branch);
    engine.data.endpoints.push(...endpoints);
    const ops = [engine.operation(project.id, 'create_branch', { branch_id: id })];
    for (const e of endpoints) ops.push(engine.operation(project.id, 'start_compute', { branch_id: id, endpoint_id: e.id }));
    await engine.save();
    // From the 201 on, the endpoint's port accepts: a client connecting before the compute serves
    // waits for it (Engine.wake) instead of being refused. A spare's postmaster holds its own port (clients wait until its promotion).
    for (const e of endpoints) if (!spare || e.port !== spare.port) await engine.listeners.listen(e.port);

    scheduleBranchCreation(engine, branch, parent, endpoints, ops, spare ?? noSpare);

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

/**
 * Makes the branch's data (from the parent's spare, a copy of the parent, or the parent's history
 * at `branch.creation.point`) and starts its endpoints, as the operations `ops` (create_branch,
 * then start_compute per endpoint). Once the data is complete the branch's `creation` is cleared
 * and saved before any client is served; until then a restarted engine runs this again
 * (`resumeBranchCreations`). `source`: the parent's claimed spare, or why none is used; how the
 * branch was made is recorded as `branch.made_by`.
 */
export function scheduleBranchCreation(
  engine: Engine,
  branch: BranchRecord,
  parent: BranchRecord,
  endpoints: EndpointRecord[],
  ops: OperationRecord[],
  source: Spare | string = 'the engine restarted while the branch was being made, and made it again',
): void {
  const spare = typeof source === 'string' ? undefined : source;
  let noSpare = typeof source === 'string' ? source : undefined;
  const project = engine.project(branch.project_id);
  const id = branch.id;
  const parentDir = engine.computes.dataDir(parent.id);
  const dataDir = engine.computes.dataDir(id);
  const point = branch.creation?.point;
  engine.schedule(
    project.id,
    ops,
    async () => {
      const started = Date.now();
      const partial = `${dataDir}.partial`;
      let promoted = false;
      if (spare) {
        try {
          branch.parent_lsn = await engine.spares.promote(spare, parent);
          promoted = true;
        } catch (error) {
          engine.log.warn(`spare ${spare.id} unusable, copying instead: ${(error as Error).message}`);
          noSpare = `the parent's spare could not be used: ${(error as Error).message}`;
          await engine.spares.discardSpare(spare);
        }
      }
      if (point) {
        const built = await buildAtPoint(engine, parent, point, partial, PARENT_POINT);
        if (branch.parent_id) {
          branch.parent_lsn = built.lsn;
          branch.parent_timestamp = built.timestamp;
        }
      } else if (promoted) {
        // Adopt the promoted postmaster as this branch's compute, with the endpoint's settings.
        const rw = endpoints.find((e) => e.type === 'read_write');
        engine.computes.adopt(id, spare!.port);
        // The spare runs with the parent's size and settings (spares.ts); the endpoint may want others.
        const needsRestart = !rw || rw.autoscaling_limit_min_cu !== spare!.minCu || rw.autoscaling_limit_max_cu !== spare!.maxCu || JSON.stringify(rw.settings.pg_settings ?? null) !== JSON.stringify(spare!.pgSettings ?? null);
        if (needsRestart) await engine.computes.stop(id);
        else
          await engine.computes.rewriteSettings({ branchId: id, bins: engine.binaries(project.pg_version), port: rw.port, minCu: rw.autoscaling_limit_min_cu, maxCu: rw.autoscaling_limit_max_cu });
      } else if (engine.computes.isRunning(parent.id)) {
        const copied = await engine.withAdmin(parent, (admin) => copyRunningCluster(admin, parentDir, partial, project.pg_version, undefined, id));
        if (branch.parent_id) branch.parent_lsn = copied.lsn;
      } else if (!(await engine.computes.whileStopped(parent.id, () => copyStoppedCluster(parentDir, partial)))) {
        // The parent woke in between: copy it running.
        const copied = await engine.withAdmin(parent, (admin) => copyRunningCluster(admin, parentDir, partial, project.pg_version, undefined, id));
        if (branch.parent_id) branch.parent_lsn = copied.lsn;
      }
      if (!promoted) await fs.rename(partial, dataDir);
      if (branch.creation?.schema_only) await removeData(engine, branch);
      // The data is complete and durable in the catalog before any client can write to it.
      delete branch.creation;
      engine.finish(ops[0]);
      await engine.save();
      for (const e of endpoints) await engine.startEndpoint(e);
      branch.current_state = 'ready';
      delete branch.pending_state;
      branch.state_changed_at = nowIso();
      // From the start of this work to a ready branch (the queue before it not counted); saved by engine.schedule.
      branch.made_by = promoted ? { strategy: 'spare', duration_ms: Date.now() - started } : { strategy: 'copy', reason: noSpare, duration_ms: Date.now() - started };
      engine.spares.replenish(parent);
      // Its history before its own first base copy is the parent's (history/lineage.ts).
      if (!point && branch.parent_id && !branch.init_source && branch.parent_lsn && project.history_retention_seconds > 0) markInherited(engine.home, id, branch.parent_lsn);
      engine.history.track(branch);
    },
    async () => {
      for (const e of endpoints) if (e.type === 'read_only') await removeReplica(engine, e);
      await engine.computes.stop(id);
      await removeCluster(`${dataDir}.partial`);
      await removeCluster(dataDir);
      engine.data.endpoints = engine.data.endpoints.filter((e) => e.branch_id !== id);
      engine.data.branches = engine.data.branches.filter((b) => b.id !== id);
      for (const e of endpoints) await engine.listeners.release(e.port);
    },
  );
}

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
      const pid = runningPid(dir);
      if (pid) await stopPostmaster(pid);
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

/**
 * `init_source: schema-only`: empties every user table of every database of the just-copied
 * branch (on a maintenance postmaster, before its endpoint serves anyone) and restarts its
 * sequences, keeping the schema, roles and grants.
 */
async function removeData(engine: Engine, branch: BranchRecord): Promise<void> {
  await engine.withAdmin(branch, async (admin, connect) => {
    const { rows } = await admin.query(`SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1`);
    for (const { datname } of rows as { datname: string }[]) {
      const db = await connect(datname);
      try {
        const tables = await db.query(`SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`);
        if (tables.rows.length) await db.query(`TRUNCATE ${tables.rows.map((r) => r.t).join(', ')} RESTART IDENTITY CASCADE`);
        const sequences = await db.query(`SELECT format('%I.%I', n.nspname, c.relname) AS s FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`);
        for (const { s } of sequences.rows as { s: string }[]) await db.query(`ALTER SEQUENCE ${s} RESTART`);
        await db.query(`SELECT lo_unlink(oid) FROM pg_largeobject_metadata`);
      } finally {
        await db.end();
      }
    }
    await admin.query('CHECKPOINT');
  });
}

/** The parent's flushed WAL position if its compute runs (without waking it), else undefined. */
async function parentHead(engine: Engine, parent: BranchRecord): Promise<string | undefined> {
  if (!engine.computes.isRunning(parent.id)) return undefined;
  try {
    const admin = await engine.computes.admin(parent.id, engine.superuserPassword(engine.project(parent.project_id)));
    try {
      return (await admin.query('SELECT pg_current_wal_flush_lsn()::text AS lsn')).rows[0].lsn as string;
    } finally {
      await admin.end();
    }
  } catch {
    return undefined;
  }
}

/** Neon's AnnotationData of a branch (an empty value when it has none). */
function annotationView(branch: BranchRecord) {
  return {
    object: { type: 'console/branch', id: branch.id },
    value: branch.annotation?.value ?? {},
    ...(branch.annotation ? { created_at: branch.annotation.created_at, updated_at: branch.annotation.updated_at } : {}),
  };
}

/** Records the operations of a branch deletion and schedules it (DELETE, and expiry). */
export function scheduleBranchDeletion(engine: Engine, branch: BranchRecord): OperationRecord[] {
  const ops = [];
  for (const e of engine.endpointsOf(branch.id)) if (e.current_state === 'active') ops.push(engine.operation(branch.project_id, 'suspend_compute', { branch_id: branch.id, endpoint_id: e.id }));
  ops.push(engine.operation(branch.project_id, 'delete_timeline', { branch_id: branch.id }));
  void engine.save().catch((e) => engine.log.warn(`catalog not saved: ${(e as Error).message}`));
  engine.schedule(branch.project_id, ops, () => deleteBranchNow(engine, branch));
  return ops;
}

