/**
 * @module `GET /projects/{id}/branches/{id}/schema`: a database's schema as SQL (`{ sql }`), at
 * the branch's head or at a past `lsn`/`timestamp` of its history (read from an ephemeral
 * compute, compute/ephemeral.ts). What `neonctl branches schema-diff` and Neon's
 * schema-diff-action compare. See clusters/schema-dump.ts for the text's shape.
 */
import { Hono } from 'hono';
import type { Engine } from '../engine.ts';
import { dumpSchema } from '../clusters/schema-dump.ts';
import { withPointInTime } from '../compute/ephemeral.ts';
import { badRequest, notFound } from '../errors.ts';
import { checkPoint, type HistoryPoint } from '../history/point-in-time.ts';

const SCHEMA_POINT = { lsn: 'lsn', timestamp: 'timestamp', whose: "the branch's" };

export function schemaRoutes(engine: Engine): Hono {
  const app = new Hono();

  app.get('/projects/:project_id/branches/:branch_id/schema', async (c) => {
    const branch = engine.branch(c.req.param('project_id'), c.req.param('branch_id'));
    const project = engine.project(branch.project_id);
    const database = c.req.query('db_name');
    if (!database) throw badRequest('db_name is required');
    const format = c.req.query('format') ?? 'sql';
    if (format !== 'sql') throw badRequest(`format ${format} is not supported by the Arbor engine; use sql`);
    const lsn = c.req.query('lsn') || undefined;
    const timestamp = c.req.query('timestamp') || undefined;
    if (lsn && timestamp) throw badRequest('give lsn or timestamp, not both');
    if (lsn && !/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i.test(lsn)) throw badRequest('lsn must be an LSN like 0/1DE2850');
    if (timestamp && Number.isNaN(Date.parse(timestamp))) throw badRequest('timestamp must be a date-time like 2022-11-30T20:09:48Z');
    if (branch.current_state === 'init') throw badRequest(`branch ${branch.id} is still being created`);
    const bins = engine.binaries(project.pg_version);
    const point: HistoryPoint | undefined = lsn || timestamp ? { lsn, timestamp } : undefined;
    let sql: string;
    if (point) {
      await engine.history.quiesce(branch.id);
      await checkPoint(engine, branch, point, SCHEMA_POINT, false);
      sql = await withPointInTime(engine, branch, point, SCHEMA_POINT, async (compute) => {
        const client = await compute.connect(database).catch((error) => {
          throw (error as { code?: string }).code === '3D000' ? notFound(`database ${database} does not exist on branch ${branch.id} at that point`) : error;
        });
        try {
          return await dumpSchema(bins, project.pg_version, { host: compute.host, port: compute.port, password: compute.password, database }, client);
        } finally {
          await client.end();
        }
      });
    } else {
      if (!branch.databases.some((d) => d.name === database)) throw notFound(`database ${database} not found on branch ${branch.id}`);
      sql = await engine.withAdmin(branch, async (_admin, connect) => {
        const client = await connect(database);
        try {
          const port = engine.computes.portOf(branch.id)!;
          return await dumpSchema(bins, project.pg_version, { host: engine.computes.socketDir, port, password: engine.superuserPassword(project), database }, client);
        } finally {
          await client.end();
        }
      });
    }
    return c.json({ sql });
  });

  return app;
}
