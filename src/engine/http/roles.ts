/**
 * @module Roles (branch-scoped). An API-created role gets exactly Neon's `neon_superuser`
 * semantics (clusters/neon-roles.ts). Passwords are generated, stored encrypted, revealable.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Engine } from '../engine.ts';
import { nowIso } from '../catalog/time.ts';
import { rolePassword } from '../catalog/ids.ts';
import type { BranchRecord, DatabaseRecord, RoleRecord } from '../catalog/types.ts';
import { clusterObjects, createApiRole, dropApiRole, isReservedRoleName, setRolePassword } from '../clusters/neon-roles.ts';
import { NeonApiError, badRequest, conflict, notFound, unprocessable } from '../errors.ts';
import { nameBytes, readBody } from './validate.ts';
import { operationView, roleView } from './views.ts';

const roleCreate = z.object({ role: z.object({ name: nameBytes('role.name', 63), no_login: z.boolean().optional() }) });

/** Made in SQL, learned from the cluster (Neon's compute forwards such DDL to its control plane). */
type SyncedRole = RoleRecord & { sql?: boolean; login?: boolean };
type SyncedDatabase = DatabaseRecord & { sql?: boolean };

/**
 * Brings the branch's role and database lists up to what its cluster has, as Neon's DDL hook
 * does: roles and databases made in SQL appear (a SQL login role with authentication_method
 * `password`), a database's owner changed in SQL is its owner, and those made in SQL and dropped
 * there go. Only while the compute runs (nothing changes in SQL otherwise) and no operation of the
 * project is under way (an API role being created is not in the cluster yet).
 */
export async function syncFromCluster(engine: Engine, branch: BranchRecord): Promise<void> {
  const busy = () => engine.data.operations.some((op) => op.project_id === branch.project_id && (op.status === 'running' || op.status === 'scheduling'));
  if (!engine.computes.isRunning(branch.id) || busy()) return;
  let seen;
  try {
    seen = await engine.withAdmin(branch, (admin) => clusterObjects(admin));
  } catch {
    return; // the compute stopped meanwhile: the catalog stays as it was
  }
  if (busy()) return;
  const at = nowIso();
  let changed = false;
  const roles = branch.roles as SyncedRole[];
  const inCluster = new Set(seen.roles.map((r) => r.name));
  for (const r of seen.roles) {
    const known = roles.find((x) => x.name === r.name);
    if (!known) {
      roles.push({ name: r.name, protected: false, created_at: at, updated_at: at, sql: true, login: r.login });
      changed = true;
    } else if (known.sql && known.login !== r.login) {
      known.login = r.login;
      changed = true;
    }
  }
  const keptRoles = roles.filter((r) => !r.sql || inCluster.has(r.name));
  if (keptRoles.length !== roles.length) ((branch.roles = keptRoles), (changed = true));
  const databases = branch.databases as SyncedDatabase[];
  const dbInCluster = new Set(seen.databases.map((d) => d.name));
  for (const d of seen.databases) {
    const known = databases.find((x) => x.name === d.name);
    if (!known) {
      databases.push({ id: engine.data.next_database_id++, name: d.name, owner_name: d.owner, created_at: at, updated_at: at, sql: true });
      changed = true;
    } else if (known.owner_name !== d.owner) {
      known.owner_name = d.owner;
      known.updated_at = at;
      changed = true;
    }
  }
  const keptDatabases = databases.filter((d) => !d.sql || dbInCluster.has(d.name));
  if (keptDatabases.length !== databases.length) ((branch.databases = keptDatabases), (changed = true));
  if (changed) await engine.save();
}

/** Neon's view of a role: a SQL-made login role authenticates by password (Arbor cannot reveal it). */
export function syncedRoleView(branchId: string, r: RoleRecord, password?: string) {
  const view = roleView(branchId, r, password);
  const synced = r as SyncedRole;
  return synced.sql ? { ...view, authentication_method: synced.login ? 'password' : 'no_login' } : view;
}

function findRole(branch: BranchRecord, name: string) {
  const role = branch.roles.find((r) => r.name === name);
  if (!role) throw notFound(`role ${name} not found on branch ${branch.id}`);
  return role;
}

export function roleRoutes(engine: Engine): Hono {
  const app = new Hono();
  const base = '/projects/:project_id/branches/:branch_id/roles';
  const branchOf = (c: { req: { param(name: string): string } }) => engine.branch(c.req.param('project_id'), c.req.param('branch_id'));

  app.get(base, async (c) => {
    const branch = branchOf(c);
    await syncFromCluster(engine, branch);
    return c.json({ roles: branch.roles.map((r) => syncedRoleView(branch.id, r)) });
  });

  app.post(base, async (c) => {
    const branch = branchOf(c);
    const { role: body } = await readBody(c, roleCreate);
    if (isReservedRoleName(body.name)) throw badRequest(`role.name ${body.name} is reserved; choose another name`);
    await syncFromCluster(engine, branch);
    if (branch.roles.some((r) => r.name === body.name)) throw conflict(`role ${body.name} already exists on branch ${branch.id}`);
    engine.assertUnlocked(branch.project_id);
    const password = body.no_login ? null : rolePassword();
    const at = nowIso();
    const role = { name: body.name, ...(password ? { password: engine.secrets.seal(password) } : {}), protected: false, created_at: at, updated_at: at };
    branch.roles.push(role);
    const op = engine.operation(branch.project_id, 'apply_config', { branch_id: branch.id });
    await engine.save();
    engine.schedule(
      branch.project_id,
      [op],
      async () => {
        await engine.withAdmin(branch, (admin) => createApiRole(admin, body.name, password));
        await engine.poolers.rolesChanged(branch.id);
      },
      async () => {
        branch.roles = branch.roles.filter((r) => r !== role);
      },
    );
    return c.json({ role: roleView(branch.id, role, password ?? undefined), operations: [operationView(op)] }, 201);
  });

  app.get(`${base}/:role_name`, async (c) => {
    const branch = branchOf(c);
    if (!branch.roles.some((r) => r.name === c.req.param('role_name'))) await syncFromCluster(engine, branch);
    return c.json({ role: syncedRoleView(branch.id, findRole(branch, c.req.param('role_name'))) });
  });

  app.delete(`${base}/:role_name`, async (c) => {
    const branch = branchOf(c);
    if (!branch.roles.some((r) => r.name === c.req.param('role_name'))) await syncFromCluster(engine, branch);
    const role = branch.roles.find((r) => r.name === c.req.param('role_name'));
    if (!role) return c.body(null, 204);
    const owned = branch.databases.filter((d) => d.owner_name === role.name);
    if (owned.length) throw unprocessable(`role ${role.name} owns database(s) ${owned.map((d) => d.name).join(', ')}; change their owner or delete them first`);
    engine.assertUnlocked(branch.project_id);
    const op = engine.operation(branch.project_id, 'apply_config', { branch_id: branch.id });
    await engine.save();
    engine.schedule(branch.project_id, [op], async () => {
      await engine.withAdmin(branch, (admin, connect) => dropApiRole(connect, admin, role.name));
      branch.roles = branch.roles.filter((r) => r !== role);
      await engine.poolers.rolesChanged(branch.id);
    });
    return c.json({ role: roleView(branch.id, role), operations: [operationView(op)] });
  });

  app.get(`${base}/:role_name/reveal_password`, (c) => {
    const branch = branchOf(c);
    const role = findRole(branch, c.req.param('role_name'));
    if (!engine.project(branch.project_id).store_passwords) throw new NeonApiError(412, 'storing passwords is disabled for this project', 'PRECONDITION_FAILED');
    if (!role.password) throw notFound(`role ${role.name} has no password stored (it is NOLOGIN, or was made in SQL)`);
    return c.json({ password: engine.secrets.open(role.password) });
  });

  app.post(`${base}/:role_name/reset_password`, async (c) => {
    const branch = branchOf(c);
    if (!branch.roles.some((r) => r.name === c.req.param('role_name'))) await syncFromCluster(engine, branch);
    const role = findRole(branch, c.req.param('role_name'));
    engine.assertUnlocked(branch.project_id);
    const password = rolePassword();
    const op = engine.operation(branch.project_id, 'apply_config', { branch_id: branch.id });
    await engine.save();
    // The catalog switches to the new password once the cluster has it: until then the old one works.
    engine.schedule(branch.project_id, [op], async () => {
      await engine.withAdmin(branch, (admin) => setRolePassword(admin, role.name, password));
      role.password = engine.secrets.seal(password);
      (role as SyncedRole).login = true;
      role.updated_at = nowIso();
      await engine.poolers.rolesChanged(branch.id);
    });
    return c.json({ role: roleView(branch.id, role, password), operations: [operationView(op)] });
  });

  return app;
}
