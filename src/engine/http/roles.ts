/**
 * @module Roles (branch-scoped). An API-created role gets exactly Neon's `neon_superuser`
 * semantics (clusters/neon-roles.ts). Passwords are generated, stored encrypted, revealable.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Engine } from '../engine.ts';
import { nowIso } from '../engine.ts';
import { rolePassword } from '../catalog/ids.ts';
import type { BranchRecord } from '../catalog/types.ts';
import { createApiRole, dropApiRole, isReservedRoleName, setRolePassword } from '../clusters/neon-roles.ts';
import { NeonApiError, badRequest, conflict, notFound, unprocessable } from '../errors.ts';
import { nameBytes, readBody } from './validate.ts';
import { operationView, roleView } from './views.ts';

const roleCreate = z.object({ role: z.object({ name: nameBytes('role.name', 63), no_login: z.boolean().optional() }) });

function findRole(branch: BranchRecord, name: string) {
  const role = branch.roles.find((r) => r.name === name);
  if (!role) throw notFound(`role ${name} not found on branch ${branch.id}`);
  return role;
}

export function roleRoutes(engine: Engine): Hono {
  const app = new Hono();
  const base = '/projects/:project_id/branches/:branch_id/roles';
  const branchOf = (c: { req: { param(name: string): string } }) => engine.branch(c.req.param('project_id'), c.req.param('branch_id'));

  app.get(base, (c) => {
    const branch = branchOf(c);
    return c.json({ roles: branch.roles.map((r) => roleView(branch.id, r)) });
  });

  app.post(base, async (c) => {
    const branch = branchOf(c);
    const { role: body } = await readBody(c, roleCreate);
    if (isReservedRoleName(body.name)) throw badRequest(`role.name ${body.name} is reserved; choose another name`);
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
      () => engine.withAdmin(branch, (admin) => createApiRole(admin, body.name, password)),
      async () => {
        branch.roles = branch.roles.filter((r) => r !== role);
      },
    );
    return c.json({ role: roleView(branch.id, role, password ?? undefined), operations: [operationView(op)] }, 201);
  });

  app.get(`${base}/:role_name`, (c) => {
    const branch = branchOf(c);
    return c.json({ role: roleView(branch.id, findRole(branch, c.req.param('role_name'))) });
  });

  app.delete(`${base}/:role_name`, async (c) => {
    const branch = branchOf(c);
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
    });
    return c.json({ role: roleView(branch.id, role), operations: [operationView(op)] });
  });

  app.get(`${base}/:role_name/reveal_password`, (c) => {
    const branch = branchOf(c);
    const role = findRole(branch, c.req.param('role_name'));
    if (!engine.project(branch.project_id).store_passwords) throw new NeonApiError(412, 'storing passwords is disabled for this project', 'PRECONDITION_FAILED');
    if (!role.password) throw notFound(`role ${role.name} has no password (NOLOGIN)`);
    return c.json({ password: engine.secrets.open(role.password) });
  });

  app.post(`${base}/:role_name/reset_password`, async (c) => {
    const branch = branchOf(c);
    const role = findRole(branch, c.req.param('role_name'));
    engine.assertUnlocked(branch.project_id);
    const password = rolePassword();
    const op = engine.operation(branch.project_id, 'apply_config', { branch_id: branch.id });
    await engine.save();
    // The catalog switches to the new password once the cluster has it: until then the old one works.
    engine.schedule(branch.project_id, [op], async () => {
      await engine.withAdmin(branch, (admin) => setRolePassword(admin, role.name, password));
      role.password = engine.secrets.seal(password);
      role.updated_at = nowIso();
    });
    return c.json({ role: roleView(branch.id, role, password), operations: [operationView(op)] });
  });

  return app;
}
