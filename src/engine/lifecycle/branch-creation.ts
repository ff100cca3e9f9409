/**
 * @module Making a branch: its record (from the parent's spare when one is ready, spares.ts; else
 * a copy of the parent, or the parent's history at a point, history/point-in-time.ts; or a
 * schema-only copy emptied of data), its endpoints and operations, and the background work that
 * makes its data and starts its endpoints. POST of a branch (http/branches.ts) checks the request
 * and calls `createBranch`; a restarted engine runs an interrupted creation again (resume.ts).
 */
import { promises as fs } from 'node:fs';
import type { Engine } from '../engine.ts';
import { branchId } from '../catalog/ids.ts';
import { nowIso } from '../catalog/time.ts';
import type { BranchRecord, EndpointRecord, OperationRecord, ProjectRecord } from '../catalog/types.ts';
import { copyRunningCluster, copyStoppedCluster, removeCluster } from '../clusters/cluster.ts';
import { buildAtPoint, type HistoryPoint } from '../history/point-in-time.ts';
import { markInherited } from '../history/lineage.ts';
import type { Spare } from '../spares.ts';
import { removeReplica } from '../compute/replicas.ts';
import { ttlSeconds } from './expiry.ts';
import { newEndpoint, type EndpointSpec } from './endpoints.ts';

/** How a point of the parent is named in errors and results (history/point-in-time.ts). */
export const PARENT_POINT = { lsn: 'parent_lsn', timestamp: 'parent_timestamp', whose: "the parent's" };

/** A branch as POST asks for it, the request already checked (http/branches.ts). */
export interface BranchRequest {
  project: ProjectRecord;
  parent: BranchRecord;
  /** A past point of the parent (rebuilt from its history); else the parent's head. */
  point?: HistoryPoint;
  schemaOnly: boolean;
  name?: string;
  protected?: boolean;
  expiresAt?: string;
  annotation?: Record<string, string>;
  /** The read_write endpoint first: read_only ones replicate it (compute/replicas.ts). */
  endpoints: EndpointSpec[];
}

/**
 * Records the branch, its endpoints and operations — saved, the endpoints' ports accepting — and
 * schedules the making of its data (`scheduleBranchCreation`). POST answers with what it returns.
 */
export async function createBranch(engine: Engine, request: BranchRequest): Promise<{ branch: BranchRecord; endpoints: EndpointRecord[]; ops: OperationRecord[] }> {
  const { project, parent, point, schemaOnly, name } = request;
  const endpointSpecs = request.endpoints;
  const primaryToo = endpointSpecs.some((e) => e.type === 'read_write');

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
    protected: request.protected ?? false,
    ...(request.expiresAt ? { expires_at: new Date(request.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'), ttl_interval_seconds: ttlSeconds(request.expiresAt) } : {}),
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
    ...(request.annotation && Object.keys(request.annotation).length ? { annotation: { value: { ...request.annotation }, created_at: at, updated_at: at } } : {}),
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
  return { branch, endpoints, ops };
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
      if (!point && branch.parent_id && !branch.init_source && branch.parent_lsn && project.history_retention_seconds > 0) {
        try {
          markInherited(engine.home, id, branch.parent_lsn);
        } catch (error) {
          // The branch is made; without the record it takes a base copy of its own (history.track).
          engine.log.warn(`branch ${id}: its history could not start on its parent's: ${(error as Error).message}`);
        }
      }
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
