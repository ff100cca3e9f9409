/**
 * @module Making a project: its record, its default branch (with the project's role and
 * database) and read_write endpoint, the operations, and the background work that makes the new
 * cluster (initdb, role, database, its first base copy) and starts the endpoint. POST of a project
 * (http/projects.ts) checks the request and calls `createProject`; a restarted engine runs an
 * interrupted creation again (resume.ts).
 */
import { promises as fs } from 'node:fs';
import type { Engine } from '../engine.ts';
import { branchId, projectId, rolePassword } from '../catalog/ids.ts';
import { nowIso } from '../catalog/time.ts';
import type { BranchRecord, EndpointRecord, OperationRecord, ProjectRecord } from '../catalog/types.ts';
import { initCluster, removeCluster } from '../clusters/cluster.ts';
import { createApiRole, createDatabase, createNeonSuperuser, setPublicSchemaOwner } from '../clusters/neon-roles.ts';
import { installExtensionTriggers } from '../clusters/extensions.ts';
import { takeInitialBaseCopy } from '../history/base-copy.ts';
import { endpointRecord } from './endpoints.ts';

const DAY = 86_400;

/** A project as POST asks for it, the request already checked (http/projects.ts). */
export interface ProjectRequest {
  name?: string;
  regionId: string;
  pgVersion: number;
  historyRetentionSeconds?: number;
  storePasswords?: boolean;
  /** The project's `settings`. */
  settings?: Record<string, unknown>;
  /** The project's default endpoint settings, resolved (its endpoint gets them). */
  minCu: number;
  maxCu: number;
  suspendTimeoutSeconds?: number;
  pgSettings?: Record<string, string>;
  branchName?: string;
  roleName: string;
  databaseName: string;
}

/**
 * Records the project, its default branch and endpoint and the operations — saved, the endpoint's
 * port accepting — and schedules the making of its cluster (`scheduleProjectCreation`). Returns
 * them with the role's password (POST shows it once).
 */
export async function createProject(
  engine: Engine,
  request: ProjectRequest,
): Promise<{ project: ProjectRecord; branch: BranchRecord; endpoint: EndpointRecord; ops: OperationRecord[]; password: string }> {
  const { regionId, pgVersion, minCu, maxCu, roleName, databaseName } = request;
  const settings = { suspend_timeout_seconds: request.suspendTimeoutSeconds, pg_settings: request.pgSettings };
  const at = nowIso();
  const id = projectId();
  const project: ProjectRecord = {
    id,
    name: request.name ?? id,
    region_id: regionId,
    pg_version: pgVersion,
    history_retention_seconds: request.historyRetentionSeconds ?? DAY,
    store_passwords: request.storePasswords ?? true,
    default_endpoint_settings: {
      autoscaling_limit_min_cu: minCu,
      autoscaling_limit_max_cu: maxCu,
      suspend_timeout_seconds: settings.suspend_timeout_seconds ?? 0,
      ...(settings.pg_settings ? { pg_settings: settings.pg_settings } : {}),
    },
    settings: request.settings ?? {},
    superuser_password: engine.secrets.seal(rolePassword() + rolePassword()),
    created_at: at,
    updated_at: at,
  };
  const password = rolePassword();
  const branch: BranchRecord = {
    id: branchId(),
    project_id: id,
    name: request.branchName ?? 'main',
    default: true,
    protected: false,
    current_state: 'init',
    pending_state: 'ready',
    creation: {},
    state_changed_at: at,
    created_at: at,
    updated_at: at,
    roles: [{ name: roleName, password: engine.secrets.seal(password), protected: false, created_at: at, updated_at: at }],
    databases: [{ id: engine.data.next_database_id++, name: databaseName, owner_name: roleName, created_at: at, updated_at: at }],
  };
  const endpoint = await endpointRecord(engine, {
    projectId: id,
    branchId: branch.id,
    type: 'read_write',
    minCu,
    maxCu,
    suspendTimeoutSeconds: settings.suspend_timeout_seconds ?? 0,
    pgSettings: settings.pg_settings,
  });
  engine.data.projects.push(project);
  engine.data.branches.push(branch);
  engine.data.endpoints.push(endpoint);
  const ops = [
    engine.operation(id, 'create_timeline', { branch_id: branch.id }),
    engine.operation(id, 'start_compute', { branch_id: branch.id, endpoint_id: endpoint.id }),
  ];
  await engine.save();
  // From the 201 on, the endpoint's port accepts; a client waits for the compute (Engine.wake).
  await engine.listeners.listen(endpoint.port);

  scheduleProjectCreation(engine, project, branch, endpoint, ops);
  return { project, branch, endpoint, ops, password };
}

/**
 * Makes a new project's cluster (initdb, its role and database) and starts its endpoint, as the
 * operations `ops`. Until the role and database exist the branch keeps its `creation` record, and
 * a restarted engine runs this again (resume.ts, `resumeBranchCreations`).
 */
export function scheduleProjectCreation(engine: Engine, project: ProjectRecord, branch: BranchRecord, endpoint: EndpointRecord, ops: OperationRecord[]): void {
  const id = project.id;
  const bins = engine.binaries(project.pg_version);
  const pgVersion = project.pg_version;
  const roleName = branch.roles[0].name;
  const password = engine.secrets.open(branch.roles[0].password!);
  const databaseName = branch.databases[0].name;
  const dataDir = engine.computes.dataDir(branch.id);
  engine.schedule(
    id,
    ops,
    async () => {
      const partial = `${dataDir}.partial`;
      await initCluster(bins, partial, engine.superuserPassword(project), `${engine.home}/run`);
      await fs.rename(partial, dataDir);
      // History from the project's creation on (history/lineage.ts): a copy of the fresh cluster.
      if (project.history_retention_seconds > 0) await takeInitialBaseCopy(engine, branch);
      engine.finish(ops[0]);
      // Clients that connect meanwhile wait until the project's role and database exist.
      await engine.startEndpoint(endpoint, { holdClients: true });
      await engine.withAdmin(branch, async (admin, connect) => {
        await createNeonSuperuser(admin, pgVersion);
        // In template1 and postgres, before the project's database is made from template1.
        await installExtensionTriggers(admin, connect);
        await createApiRole(admin, roleName, password);
        await createDatabase(admin, databaseName, roleName);
        const db = await connect(databaseName);
        try {
          await setPublicSchemaOwner(db, roleName);
        } finally {
          await db.end();
        }
      });
      // Complete: saved before any client is served (until then a restart makes it again).
      delete branch.creation;
      await engine.save();
      await engine.computes.resumeAccepting(branch.id);
      branch.current_state = 'ready';
      delete branch.pending_state;
      branch.state_changed_at = nowIso();
      engine.spares.replenish(branch);
      engine.history.track(branch);
    },
    async () => {
      await engine.computes.stop(branch.id);
      await removeCluster(`${dataDir}.partial`);
      await removeCluster(dataDir);
      endpoint.current_state = 'idle';
      delete endpoint.pending_state;
      engine.data.endpoints = engine.data.endpoints.filter((e) => e.project_id !== id);
      engine.data.branches = engine.data.branches.filter((b) => b.project_id !== id);
      engine.data.projects = engine.data.projects.filter((p) => p.id !== id);
      await engine.listeners.release(endpoint.port);
    },
  );
}
