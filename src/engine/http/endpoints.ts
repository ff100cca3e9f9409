/**
 * @module Endpoints (computes): one read_write endpoint per branch, a postmaster on its own
 * loopback port, and any number of read_only ones (hot standbys of it, compute/replicas.ts).
 * Create, list, get, update (a size change restarts it, a suspend timeout change does not),
 * delete, start, suspend, restart.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Engine } from '../engine.ts';
import { nowIso } from '../catalog/time.ts';
import type { EndpointRecord } from '../catalog/types.ts';
import { badRequest, notFound, unprocessable } from '../errors.ts';
import { pgSettingsVersionProblem } from '../compute/pg-settings.ts';
import { endpointCreateFields } from './branches.ts';
import { newEndpoint } from '../lifecycle/endpoints.ts';
import { removeReplica } from '../compute/replicas.ts';
import { checkCuRange, checkSuspendTimeout, computeUnit, pgSettings, readBody, suspendTimeout } from './validate.ts';
import { endpointView, operationView } from './views.ts';

const endpointCreate = z.object({
  endpoint: z.object({ branch_id: z.string({ error: 'endpoint.branch_id is required' }), type: z.enum(['read_write', 'read_only']), ...endpointCreateFields }).passthrough(),
});

const endpointUpdate = z.object({
  endpoint: z
    .object({
      autoscaling_limit_min_cu: computeUnit('autoscaling_limit_min_cu').optional(),
      autoscaling_limit_max_cu: computeUnit('autoscaling_limit_max_cu').optional(),
      suspend_timeout_seconds: suspendTimeout.optional(),
      disabled: z.boolean().optional(),
      settings: z.object({ pg_settings: pgSettings.optional() }).passthrough().optional(),
      branch_id: z.string().optional(),
    })
    .passthrough(),
});

export function endpointRoutes(engine: Engine): Hono {
  const app = new Hono();
  const base = '/projects/:project_id/endpoints';
  const find = (projectId: string, id: string): EndpointRecord => {
    engine.project(projectId);
    const endpoint = engine.data.endpoints.find((e) => e.project_id === projectId && e.id === id);
    if (!endpoint) throw notFound(`endpoint ${id} not found in project ${projectId}`);
    return endpoint;
  };
  const view = (e: EndpointRecord) => endpointView(e, engine.project(e.project_id).region_id);

  /** Schedules `work` as one operation on the endpoint and answers with it. */
  async function act(e: EndpointRecord, action: 'start_compute' | 'suspend_compute' | 'apply_config', work: () => Promise<void>) {
    engine.assertUnlocked(e.project_id);
    const op = engine.operation(e.project_id, action, { branch_id: e.branch_id, endpoint_id: e.id });
    await engine.save();
    engine.schedule(e.project_id, [op], work);
    return { endpoint: view(e), operations: [operationView(op)] };
  }

  app.post(base, async (c) => {
    const project = engine.project(c.req.param('project_id'));
    const { endpoint: body } = await readBody(c, endpointCreate);
    const branch = engine.branch(project.id, body.branch_id);
    const endpoint = await newEndpoint(engine, project.id, branch, body);
    engine.assertUnlocked(project.id);
    engine.data.endpoints.push(endpoint);
    const op = engine.operation(project.id, 'start_compute', { branch_id: branch.id, endpoint_id: endpoint.id });
    await engine.save();
    // From the 201 on its port accepts: a client connecting early waits for the compute (Engine.wake).
    await engine.listeners.listen(endpoint.port);
    engine.schedule(
      project.id,
      [op],
      () => engine.startEndpoint(endpoint),
      async () => {
        endpoint.current_state = 'idle';
        delete endpoint.pending_state;
      },
    );
    return c.json({ endpoint: view(endpoint), operations: [operationView(op)] }, 201);
  });

  app.get(base, (c) => {
    const project = engine.project(c.req.param('project_id'));
    return c.json({ endpoints: engine.data.endpoints.filter((e) => e.project_id === project.id).map(view) });
  });

  app.get(`${base}/:endpoint_id`, (c) => c.json({ endpoint: view(find(c.req.param('project_id'), c.req.param('endpoint_id'))) }));

  app.patch(`${base}/:endpoint_id`, async (c) => {
    const endpoint = find(c.req.param('project_id'), c.req.param('endpoint_id'));
    const { endpoint: body } = await readBody(c, endpointUpdate);
    const versionProblem = pgSettingsVersionProblem(body.settings?.pg_settings, engine.project(endpoint.project_id).pg_version);
    if (versionProblem) throw badRequest(`endpoint.settings.pg_settings: ${versionProblem}`);
    if (body.branch_id && body.branch_id !== endpoint.branch_id) throw unprocessable('moving an endpoint to another branch is not supported by the Arbor engine');
    const minCu = body.autoscaling_limit_min_cu ?? endpoint.autoscaling_limit_min_cu;
    const maxCu = body.autoscaling_limit_max_cu ?? Math.max(minCu, endpoint.autoscaling_limit_max_cu);
    checkCuRange(minCu, maxCu);
    checkSuspendTimeout(body.suspend_timeout_seconds, engine.minSuspendSeconds);
    engine.assertUnlocked(endpoint.project_id);
    const resized = minCu !== endpoint.autoscaling_limit_min_cu || maxCu !== endpoint.autoscaling_limit_max_cu || body.settings?.pg_settings !== undefined;
    endpoint.autoscaling_limit_min_cu = minCu;
    endpoint.autoscaling_limit_max_cu = maxCu;
    if (body.suspend_timeout_seconds !== undefined) endpoint.suspend_timeout_seconds = body.suspend_timeout_seconds;
    if (body.settings?.pg_settings) endpoint.settings = { pg_settings: body.settings.pg_settings };
    if (body.disabled !== undefined) endpoint.disabled = body.disabled;
    endpoint.updated_at = nowIso();
    const restart = (resized || body.disabled === true) && endpoint.current_state === 'active';
    if (!restart) {
      await engine.save();
      return c.json({ endpoint: view(endpoint), operations: [] });
    }
    // As on Neon, a new size restarts the compute: its connections are dropped.
    const restartNow = async () => {
      await engine.computes.stop(engine.computeKey(endpoint));
      if (endpoint.disabled) await engine.suspendEndpoint(endpoint);
      else await engine.startEndpoint(endpoint);
    };
    if (endpoint.type === 'read_only') return c.json(await act(endpoint, 'apply_config', restartNow));
    return c.json(
      await act(endpoint, 'apply_config', async () => {
        // The branch's spare is sized like its compute: it is made again for the new size.
        await engine.spares.whileResizing(engine.branch(endpoint.project_id, endpoint.branch_id), restartNow);
        // Its standbys run at least its size (compute/replicas.ts): the running ones restart too.
        for (const replica of engine.endpointsOf(endpoint.branch_id)) {
          if (replica.type !== 'read_only' || !engine.computes.isRunning(replica.id)) continue;
          await engine.computes.stop(replica.id);
          await engine.startEndpoint(replica);
        }
      }),
    );
  });

  app.delete(`${base}/:endpoint_id`, async (c) => {
    const project = engine.project(c.req.param('project_id'));
    const endpoint = engine.data.endpoints.find((e) => e.project_id === project.id && e.id === c.req.param('endpoint_id'));
    if (!endpoint) return c.body(null, 204);
    const replicas = engine.endpointsOf(endpoint.branch_id).filter((e) => e.type === 'read_only');
    if (endpoint.type === 'read_write' && replicas.length) {
      throw unprocessable(`endpoint ${endpoint.id} is replicated by read_only endpoints (${replicas.map((e) => e.id).join(', ')}); delete them first`);
    }
    return c.json(
      await act(endpoint, 'suspend_compute', async () => {
        if (endpoint.type === 'read_only') await removeReplica(engine, endpoint);
        else {
          await engine.spares.discard(endpoint.branch_id);
          await engine.computes.stop(endpoint.branch_id);
        }
        engine.data.endpoints = engine.data.endpoints.filter((e) => e !== endpoint);
      }),
    );
  });

  app.post(`${base}/:endpoint_id/start`, async (c) => {
    const endpoint = find(c.req.param('project_id'), c.req.param('endpoint_id'));
    if (endpoint.disabled) throw unprocessable(`endpoint ${endpoint.id} is disabled; enable it first`);
    return c.json(await act(endpoint, 'start_compute', () => engine.startEndpoint(endpoint)));
  });

  app.post(`${base}/:endpoint_id/suspend`, async (c) => {
    const endpoint = find(c.req.param('project_id'), c.req.param('endpoint_id'));
    return c.json(await act(endpoint, 'suspend_compute', () => engine.suspendEndpoint(endpoint)));
  });

  app.post(`${base}/:endpoint_id/restart`, async (c) => {
    const endpoint = find(c.req.param('project_id'), c.req.param('endpoint_id'));
    return c.json(
      await act(endpoint, 'start_compute', async () => {
        await engine.computes.stop(engine.computeKey(endpoint));
        await engine.startEndpoint(endpoint);
      }),
    );
  });

  return app;
}
