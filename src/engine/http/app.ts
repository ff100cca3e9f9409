/**
 * @module The engine's HTTP API: Neon's management API v2 under `/api/v2`. Every call needs
 * `Authorization: Bearer <key>` with a key the engine issued; errors use Neon's envelope. Two
 * extensions, outside Neon's API and named so: `GET /api/v2/x-arbor/pg_versions` (pg-versions.ts)
 * and `GET /api/v2/x-arbor/projects/{id}/branches/{id}/creation` (branch-creation.ts).
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import type { Engine } from '../engine.ts';
import { NeonApiError } from '../errors.ts';
import { DISK_FULL_CODE, isDiskFull } from '../clusters/disk-space.ts';
import { accountRoutes } from './account.ts';
import { branchRoutes } from './branches.ts';
import { databaseRoutes } from './databases.ts';
import { endpointRoutes } from './endpoints.ts';
import { operationRoutes } from './operations.ts';
import { projectRoutes } from './projects.ts';
import { restoreRoutes } from './restore.ts';
import { roleRoutes } from './roles.ts';
import { schemaRoutes } from './schema.ts';
import { apiKeyRoutes } from './api-keys.ts';
import { pgVersionRoutes } from './pg-versions.ts';
import { branchCreationRoutes } from './branch-creation.ts';

export function engineApp(engine: Engine): Hono {
  const app = new Hono();
  const api = new Hono();

  api.use('*', async (c, next) => {
    const requestId = c.req.header('x-request-id') ?? randomUUID();
    c.header('X-Neon-Ret-Request-Id', requestId);
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match || !engine.isValidApiKey(match[1])) {
      return c.json({ code: 'UNAUTHORIZED', message: 'authorization failed: pass a valid API key as "Authorization: Bearer <key>"', request_id: requestId }, 401);
    }
    await next();
  });

  for (const routes of [accountRoutes(), projectRoutes(engine), branchRoutes(engine), restoreRoutes(engine), roleRoutes(engine), databaseRoutes(engine), endpointRoutes(engine), operationRoutes(engine), schemaRoutes(engine), apiKeyRoutes(engine), pgVersionRoutes(), branchCreationRoutes(engine)]) {
    api.route('/', routes);
  }

  app.route('/api/v2', api);

  app.notFound((c) => c.json({ code: 'NOT_FOUND', message: `no API endpoint ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
  app.onError((error, c) => {
    const requestId = c.res.headers.get('X-Neon-Ret-Request-Id') ?? undefined;
    if (error instanceof NeonApiError) {
      return c.json({ code: error.code, message: error.message, ...(requestId ? { request_id: requestId } : {}) }, error.status as 400);
    }
    engine.log.warn(`internal error on ${c.req.method} ${new URL(c.req.url).pathname}: ${error.stack ?? error.message}`);
    // A full disk (e.g. the catalog not written) is told as such: the user can act on it.
    if (isDiskFull(error)) {
      return c.json({ code: DISK_FULL_CODE, message: `the disk holding the engine's home ${engine.home} is full: ${error.message}; free space on that filesystem and try again`, ...(requestId ? { request_id: requestId } : {}) }, 500);
    }
    return c.json({ code: 'INTERNAL_ERROR', message: 'internal error in the Arbor engine; see its log', ...(requestId ? { request_id: requestId } : {}) }, 500);
  });
  return app;
}
