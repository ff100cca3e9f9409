/**
 * @module Databases (branch-scoped): create with an owner, rename, change owner, drop.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Engine } from '../engine.ts';
import { nowIso } from '../catalog/time.ts';
import type { BranchRecord } from '../catalog/types.ts';
import { createDatabase, ident, setPublicSchemaOwner } from '../clusters/neon-roles.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import { nameBytes, readBody } from './validate.ts';
import { databaseView, operationView } from './views.ts';
import { syncFromCluster } from './roles.ts';

const databaseCreate = z.object({ database: z.object({ name: nameBytes('database.name', 63), owner_name: nameBytes('database.owner_name', 63) }) });
const databaseUpdate = z.object({ database: z.object({ name: nameBytes('database.name', 63).optional(), owner_name: nameBytes('database.owner_name', 63).optional() }) });

/**
 * The owner must be a role of the branch: one made through the API, or one made in SQL (Neon's
 * compute reports those to the control plane too, so they are valid owners there as well).
 */
async function checkOwner(engine: Engine, branch: BranchRecord, owner: string): Promise<void> {
  if (owner === 'neon_superuser') throw badRequest('database.owner_name cannot be neon_superuser');
  if (branch.roles.some((r) => r.name === owner)) return;
  const inCluster = await engine.withAdmin(branch, async (admin) => (await admin.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [owner])).rowCount === 1);
  if (!inCluster) throw notFound(`role ${owner} (database.owner_name) not found on branch ${branch.id}`);
}

async function terminate(admin: import('pg').Client, database: string): Promise<void> {
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
}

export function databaseRoutes(engine: Engine): Hono {
  const app = new Hono();
  const base = '/projects/:project_id/branches/:branch_id/databases';
  const branchOf = (c: { req: { param(name: string): string } }) => engine.branch(c.req.param('project_id'), c.req.param('branch_id'));
  const find = (branch: BranchRecord, name: string) => {
    const database = branch.databases.find((d) => d.name === name);
    if (!database) throw notFound(`database ${name} not found on branch ${branch.id}`);
    return database;
  };

  app.get(base, async (c) => {
    const branch = branchOf(c);
    await syncFromCluster(engine, branch);
    return c.json({ databases: branch.databases.map((d) => databaseView(branch.id, d)) });
  });

  app.post(base, async (c) => {
    const branch = branchOf(c);
    const { database: body } = await readBody(c, databaseCreate);
    if (['postgres', 'template0', 'template1'].includes(body.name)) throw badRequest(`database.name ${body.name} is reserved`);
    await syncFromCluster(engine, branch);
    if (branch.databases.some((d) => d.name === body.name)) throw conflict(`database ${body.name} already exists on branch ${branch.id}`);
    await checkOwner(engine, branch, body.owner_name);
    engine.assertUnlocked(branch.project_id);
    const at = nowIso();
    const database = { id: engine.data.next_database_id++, name: body.name, owner_name: body.owner_name, created_at: at, updated_at: at };
    branch.databases.push(database);
    const op = engine.operation(branch.project_id, 'apply_config', { branch_id: branch.id });
    await engine.save();
    engine.schedule(
      branch.project_id,
      [op],
      () =>
        engine.withAdmin(branch, async (admin, connect) => {
          await createDatabase(admin, body.name, body.owner_name);
          const db = await connect(body.name);
          try {
            await setPublicSchemaOwner(db, body.owner_name);
          } finally {
            await db.end();
          }
        }),
      async () => {
        branch.databases = branch.databases.filter((d) => d !== database);
      },
    );
    return c.json({ database: databaseView(branch.id, database), operations: [operationView(op)] }, 201);
  });

  app.get(`${base}/:database_name`, async (c) => {
    const branch = branchOf(c);
    await syncFromCluster(engine, branch);
    return c.json({ database: databaseView(branch.id, find(branch, c.req.param('database_name'))) });
  });

  app.patch(`${base}/:database_name`, async (c) => {
    const branch = branchOf(c);
    await syncFromCluster(engine, branch);
    const database = find(branch, c.req.param('database_name'));
    const { database: body } = await readBody(c, databaseUpdate);
    if (body.name && body.name !== database.name && branch.databases.some((d) => d.name === body.name)) throw conflict(`database ${body.name} already exists on branch ${branch.id}`);
    if (body.owner_name) await checkOwner(engine, branch, body.owner_name);
    engine.assertUnlocked(branch.project_id);
    const op = engine.operation(branch.project_id, 'apply_config', { branch_id: branch.id });
    await engine.save();
    const oldName = database.name;
    engine.schedule(branch.project_id, [op], async () => {
      await engine.withAdmin(branch, async (admin) => {
        if (body.name && body.name !== oldName) {
          await terminate(admin, oldName);
          await admin.query(`ALTER DATABASE ${ident(oldName)} RENAME TO ${ident(body.name)}`);
        }
        if (body.owner_name) await admin.query(`ALTER DATABASE ${ident(body.name ?? oldName)} OWNER TO ${ident(body.owner_name)}`);
      });
      if (body.name) database.name = body.name;
      if (body.owner_name) database.owner_name = body.owner_name;
      database.updated_at = nowIso();
    });
    const preview = { ...database, ...(body.name ? { name: body.name } : {}), ...(body.owner_name ? { owner_name: body.owner_name } : {}) };
    return c.json({ database: databaseView(branch.id, preview), operations: [operationView(op)] });
  });

  app.delete(`${base}/:database_name`, async (c) => {
    const branch = branchOf(c);
    if (!branch.databases.some((d) => d.name === c.req.param('database_name'))) await syncFromCluster(engine, branch);
    const database = branch.databases.find((d) => d.name === c.req.param('database_name'));
    if (!database) return c.body(null, 204);
    engine.assertUnlocked(branch.project_id);
    const op = engine.operation(branch.project_id, 'apply_config', { branch_id: branch.id });
    await engine.save();
    engine.schedule(branch.project_id, [op], async () => {
      await engine.withAdmin(branch, (admin) => admin.query(`DROP DATABASE IF EXISTS ${ident(database.name)} WITH (FORCE)`));
      branch.databases = branch.databases.filter((d) => d !== database);
    });
    return c.json({ database: databaseView(branch.id, database), operations: [operationView(op)] });
  });

  return app;
}
