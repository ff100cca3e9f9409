/**
 * @module The dashboard's static files (web/, built by `npm run build:web` into dist/web) at `/`:
 * assets as they are, index.html for every other non-API path so the app's own routes load.
 * Without a build, `/` says how to make one.
 */
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type MiddlewareHandler } from 'hono';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DASHBOARD_DIR = fileURLToPath(new URL('../../../dist/web', import.meta.url));

const MISSING = `Arbor platform. The dashboard is not built: run \`npm run build:web\` (npm start and npm test do it).
The API is at /api/v1 (OpenAPI: /api/v1/openapi.json).
`;

export function dashboardRoutes(dir: string = DASHBOARD_DIR): Hono {
  const app = new Hono();
  // Made on first use: serveStatic complains at construction when its root is missing, and the
  // build may appear after the platform started.
  let files: MiddlewareHandler | undefined;
  let index: MiddlewareHandler | undefined;
  app.get('*', async function dashboard(c, next) {
    if (c.req.path === '/api' || c.req.path.startsWith('/api/')) return next();
    if (!existsSync(join(dir, 'index.html'))) return c.text(MISSING, 503);
    files ??= serveStatic({ root: dir });
    index ??= serveStatic({ root: dir, path: 'index.html' });
    // Vite names assets by content hash: cache them for good, never index.html.
    const asset = c.req.path.startsWith('/assets/');
    c.header('Cache-Control', asset ? 'public, max-age=31536000, immutable' : 'no-cache');
    const found = await files(c, async () => {});
    if (found) return found;
    if (asset) {
      // A stale page asking for an old build's file: say so instead of answering with HTML.
      c.header('Cache-Control', 'no-cache');
      return c.text('not found (the dashboard was rebuilt: reload the page)\n', 404);
    }
    return (await index(c, next)) ?? next();
  });
  return app;
}
