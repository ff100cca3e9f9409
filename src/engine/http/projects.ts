/**
 * @module Project routes: create (a new cluster with its default branch, role, database and
 * endpoint; made by lifecycle/project-creation.ts), list, get, update, delete
 * (lifecycle/project-deletion.ts), and `connection_uri`.
 */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Engine } from '../engine.ts';
import { nowIso } from '../catalog/time.ts';
import { DEFAULT_PG_VERSION } from '../clusters/binaries.ts';
import { isReservedRoleName } from '../clusters/neon-roles.ts';
import { badRequest, notFound } from '../errors.ts';
import { DEFAULT_REGION, REGIONS } from './regions.ts';
import { pgSettingsVersionProblem } from '../compute/pg-settings.ts';
import { checkCuRange, checkSuspendTimeout, computeUnit, nameBytes, pgSettings, queryInt, readBody, suspendTimeout } from './validate.ts';
import { createProject } from '../lifecycle/project-creation.ts';
import { deleteProject } from '../lifecycle/project-deletion.ts';
import { branchView, connectionUri, connectionUris, databaseView, endpointView, operationView, projectListItemView, projectView, roleView } from './views.ts';

const endpointSettings = z.object({
  autoscaling_limit_min_cu: computeUnit('autoscaling_limit_min_cu').optional(),
  autoscaling_limit_max_cu: computeUnit('autoscaling_limit_max_cu').optional(),
  suspend_timeout_seconds: suspendTimeout.optional(),
  pg_settings: pgSettings.optional(),
});

const projectCreate = z.object({
  project: z
    .object({
      name: nameBytes('project.name', 256).optional(),
      region_id: z.string().optional(),
      pg_version: z.number().int().min(14, { error: 'pg_version must be between 14 and 18' }).max(18, { error: 'pg_version must be between 14 and 18' }).optional(),
      history_retention_seconds: z.number().int().min(0).max(2_592_000, { error: 'history_retention_seconds must be at most 2592000 (30 days)' }).optional(),
      store_passwords: z.boolean().optional(),
      default_endpoint_settings: endpointSettings.optional(),
      settings: z.record(z.string(), z.unknown()).optional(),
      autoscaling_limit_min_cu: computeUnit('autoscaling_limit_min_cu').optional(),
      autoscaling_limit_max_cu: computeUnit('autoscaling_limit_max_cu').optional(),
      branch: z
        .object({
          name: nameBytes('branch.name', 256).optional(),
          role_name: nameBytes('branch.role_name', 63).optional(),
          database_name: nameBytes('branch.database_name', 63).optional(),
        })
        .optional(),
    })
    .passthrough(),
});

const projectUpdate = z.object({
  project: z
    .object({
      name: nameBytes('project.name', 256).optional(),
      history_retention_seconds: z.number().int().min(0).max(2_592_000, { error: 'history_retention_seconds must be at most 2592000 (30 days)' }).optional(),
      default_endpoint_settings: endpointSettings.optional(),
      settings: z.record(z.string(), z.unknown()).optional(),
    })
    .passthrough(),
});

export function projectRoutes(engine: Engine): Hono {
  const app = new Hono();

  app.post('/projects', async (c) => {
    const { project: body } = await readBody(c, projectCreate);
    const pgVersion = body.pg_version ?? DEFAULT_PG_VERSION;
    engine.binaries(pgVersion); // 422 unless that version is installed
    const regionId = body.region_id ?? DEFAULT_REGION;
    if (!REGIONS.some((r) => r.region_id === regionId)) {
      throw badRequest(`region_id ${regionId} is not a Neon region; use one of ${REGIONS.map((r) => r.region_id).join(', ')}`);
    }
    const settings = body.default_endpoint_settings ?? {};
    const versionProblem = pgSettingsVersionProblem(settings.pg_settings, pgVersion);
    if (versionProblem) throw badRequest(`project.default_endpoint_settings.pg_settings: ${versionProblem}`);
    const minCu = settings.autoscaling_limit_min_cu ?? body.autoscaling_limit_min_cu ?? 0.25;
    const maxCu = settings.autoscaling_limit_max_cu ?? body.autoscaling_limit_max_cu ?? Math.max(minCu, 0.25);
    checkCuRange(minCu, maxCu, 'default_endpoint_settings.');
    checkSuspendTimeout(settings.suspend_timeout_seconds, engine.minSuspendSeconds, 'default_endpoint_settings.suspend_timeout_seconds');
    const databaseName = body.branch?.database_name ?? 'neondb';
    const roleName = body.branch?.role_name ?? `${databaseName}_owner`;
    if (isReservedRoleName(roleName)) throw badRequest(`branch.role_name ${roleName} is reserved; choose another name`);

    const { project, branch, endpoint, ops, password } = await createProject(engine, {
      name: body.name,
      regionId,
      pgVersion,
      historyRetentionSeconds: body.history_retention_seconds,
      storePasswords: body.store_passwords,
      settings: body.settings,
      minCu,
      maxCu,
      suspendTimeoutSeconds: settings.suspend_timeout_seconds,
      pgSettings: settings.pg_settings,
      branchName: body.branch?.name,
      roleName,
      databaseName,
    });

    return c.json(
      {
        project: projectView(project),
        connection_uris: connectionUris(engine, branch, endpoint),
        roles: [roleView(branch.id, branch.roles[0], password)],
        databases: [databaseView(branch.id, branch.databases[0])],
        operations: ops.map(operationView),
        branch: branchView(branch),
        endpoints: [endpointView(endpoint, regionId)],
      },
      201,
    );
  });

  function listProjects(c: Context) {
    const limit = queryInt(c, 'limit', 1, 400, 10);
    const search = c.req.query('search');
    const cursor = c.req.query('cursor');
    let projects = [...engine.data.projects].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
    if (search) projects = projects.filter((p) => p.name.includes(search) || p.id.includes(search));
    if (cursor) {
      const index = projects.findIndex((p) => p.id === cursor);
      projects = index >= 0 ? projects.slice(index + 1) : [];
    }
    const page = projects.slice(0, limit);
    return c.json({
      projects: page.map(projectListItemView),
      ...(page.length ? { pagination: { cursor: page[page.length - 1].id } } : {}),
      applications: {},
      integrations: {},
    });
  }

  app.get('/projects', (c) => listProjects(c));
  app.get('/projects/shared', (c) => c.json({ projects: [] }));

  app.get('/projects/:project_id', (c) => c.json({ project: projectView(engine.project(c.req.param('project_id'))) }));

  app.patch('/projects/:project_id', async (c) => {
    const project = engine.project(c.req.param('project_id'));
    const { project: body } = await readBody(c, projectUpdate);
    // No 423: an update schedules no operation (Engine.assertUnlocked has Neon's rules).
    if (body.default_endpoint_settings) {
      const versionProblem = pgSettingsVersionProblem(body.default_endpoint_settings.pg_settings, project.pg_version);
      if (versionProblem) throw badRequest(`project.default_endpoint_settings.pg_settings: ${versionProblem}`);
      const next = { ...project.default_endpoint_settings, ...body.default_endpoint_settings };
      checkCuRange(next.autoscaling_limit_min_cu, next.autoscaling_limit_max_cu, 'default_endpoint_settings.');
      checkSuspendTimeout(body.default_endpoint_settings.suspend_timeout_seconds, engine.minSuspendSeconds, 'default_endpoint_settings.suspend_timeout_seconds');
      project.default_endpoint_settings = next;
    }
    if (body.name !== undefined) project.name = body.name;
    if (body.history_retention_seconds !== undefined) {
      project.history_retention_seconds = body.history_retention_seconds;
      // History outside the new window goes now, not at the next retention round.
      void engine.history.prune(project.id);
      for (const branch of engine.branchesOf(project.id)) engine.history.track(branch);
    }
    if (body.settings) project.settings = { ...project.settings, ...body.settings };
    project.updated_at = nowIso();
    await engine.save();
    return c.json({ project: projectView(project), operations: [] });
  });

  app.delete('/projects/:project_id', async (c) => {
    const project = engine.project(c.req.param('project_id'));
    // No 423: what runs finishes first (Engine.assertUnlocked has Neon's rules).
    await deleteProject(engine, project);
    return c.json({ project: projectView(project) });
  });

  app.get('/projects/:project_id/connection_uri', (c) => {
    const project = engine.project(c.req.param('project_id'));
    const branchIdParam = c.req.query('branch_id');
    const branch = branchIdParam ? engine.branch(project.id, branchIdParam) : engine.defaultBranch(project.id);
    const databaseName = c.req.query('database_name');
    const roleName = c.req.query('role_name');
    if (!databaseName) throw badRequest('database_name is required');
    if (!roleName) throw badRequest('role_name is required');
    const endpointIdParam = c.req.query('endpoint_id');
    const endpoint = endpointIdParam ? engine.endpointsOf(branch.id).find((e) => e.id === endpointIdParam) : engine.readWriteEndpoint(branch.id);
    if (!endpoint) throw notFound(endpointIdParam ? `endpoint ${endpointIdParam} not found on branch ${branch.id}` : `branch ${branch.id} has no read_write endpoint`);
    if (!branch.databases.some((d) => d.name === databaseName)) throw notFound(`database ${databaseName} not found on branch ${branch.id}`);
    const role = branch.roles.find((r) => r.name === roleName);
    if (!role) throw notFound(`role ${roleName} not found on branch ${branch.id}`);
    if (!role.password) throw badRequest(`role ${roleName} cannot log in (NOLOGIN)`);
    // `pooled=true`: PgBouncer's port where pgbouncer is installed, else the direct one (compute/pooler.ts).
    const pooled = c.req.query('pooled') === 'true';
    return c.json({ uri: connectionUri(engine, endpoint, role.name, engine.secrets.open(role.password), databaseName, pooled) });
  });

  return app;
}
