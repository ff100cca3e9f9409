/**
 * @module Engine extension, not part of Neon's API: `GET /api/v2/x-arbor/pg_versions` says which
 * Postgres majors this engine can run (those it finds binaries for: the embedded default,
 * `postgres-<major>` npm aliases, `ARBOR_PG_BINARIES`, Debian's `/usr/lib/postgresql/<major>/bin`;
 * clusters/binaries.ts). Neon runs every version it supports and has no such route; the platform
 * asks it of accounts that are not Neon's cloud and takes a 404 as "Neon's versions".
 */
import { Hono } from 'hono';
import { DEFAULT_PG_VERSION, SUPPORTED_PG_VERSIONS, findBinaries, installHint } from '../clusters/binaries.ts';

export function pgVersionRoutes(): Hono {
  const app = new Hono();
  app.get('/x-arbor/pg_versions', (c) => {
    const installed = SUPPORTED_PG_VERSIONS.filter((v) => findBinaries(v) !== null);
    return c.json({
      pg_versions: installed,
      default_pg_version: installed.includes(DEFAULT_PG_VERSION) ? DEFAULT_PG_VERSION : (installed[installed.length - 1] ?? null),
      // How another major is added, as the engine's refusal of a missing one says it.
      install_hint: `add a version's binaries with \`${installHint(0).replace(/([-@])0\b/g, '$1<major>')}\` (or apt-get install postgresql-<major>) and restart the engine`,
    });
  });
  return app;
}
