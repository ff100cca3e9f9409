/**
 * @module Operations: list (newest first, cursor paging) and get.
 */
import { Hono } from 'hono';
import type { Engine } from '../engine.ts';
import { notFound } from '../errors.ts';
import { queryInt } from './validate.ts';
import { operationView } from './views.ts';

export function operationRoutes(engine: Engine): Hono {
  const app = new Hono();

  app.get('/projects/:project_id/operations', (c) => {
    const project = engine.project(c.req.param('project_id'));
    const limit = queryInt(c, 'limit', 1, 1000, 10);
    let ops = engine.data.operations.filter((o) => o.project_id === project.id).reverse();
    const cursor = c.req.query('cursor');
    if (cursor) {
      const index = ops.findIndex((o) => o.id === cursor);
      ops = index >= 0 ? ops.slice(index + 1) : [];
    }
    const page = ops.slice(0, limit);
    return c.json({ operations: page.map(operationView), ...(page.length ? { pagination: { cursor: page[page.length - 1].id } } : {}) });
  });

  app.get('/projects/:project_id/operations/:operation_id', (c) => {
    const project = engine.project(c.req.param('project_id'));
    const op = engine.data.operations.find((o) => o.project_id === project.id && o.id === c.req.param('operation_id'));
    if (!op) throw notFound(`operation ${c.req.param('operation_id')} not found in project ${project.id}`);
    return c.json({ operation: operationView(op) });
  });

  return app;
}
