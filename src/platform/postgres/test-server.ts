/**
 * @module Test fixture: a branch on the Arbor engine, with `encore_platform` created through the
 * engine's Neon API — so it is an API role with Neon's `neon_superuser` semantics, not a
 * superuser, exactly as on Neon. One engine per test file.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiClient } from '@neondatabase/api-client';
import { removeTree } from '../../../scripts/reaper.ts';
import { SUPERUSER } from '../../engine/clusters/cluster.ts';
import { startEngineServer } from '../../engine/server.ts';
import { settle as settleOperations } from '../../engine/test-support.ts';

export const PLATFORM_ROLE = 'encore_platform';

export interface NeonLikeServer {
  port: number;
  /** A URL for `role` with `password` on `database` (default `postgres`); names are encoded. */
  url(role: string, password: string, database?: string): string;
  /** The engine's internal superuser (Neon's cloud_admin): only for setting up deviations by hand. */
  superuserUrl: string;
  /** `encore_platform`, an API-created role. */
  platformUrl: string;
  platformPassword: string;
  stop(): Promise<void>;
}

export async function startNeonLikeServer(): Promise<NeonLikeServer> {
  const home = mkdtempSync(join(tmpdir(), 'arbor-pg-test-'));
  const engine = await startEngineServer({ home });
  try {
    const api = createApiClient({ apiKey: engine.apiKey, baseURL: engine.url });
    const settle = (projectId: string) => settleOperations(api, projectId, { pollMs: 10 });
    // Never suspended during a test: the fixture's sessions come and go.
    const { data } = await api.createProject({ project: { name: 'roles-test', default_endpoint_settings: { suspend_timeout_seconds: -1 } } });
    await settle(data.project.id);
    const role = (await api.createProjectBranchRole(data.project.id, data.branch.id, { role: { name: PLATFORM_ROLE } })).data.role;
    await settle(data.project.id);
    const port = Number(data.endpoints[0].host.split(':')[1]);
    const url = (name: string, password: string, database = 'postgres') =>
      `postgresql://${encodeURIComponent(name)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
    const superPassword = engine.engine.superuserPassword(engine.engine.project(data.project.id));
    return {
      port,
      url,
      superuserUrl: url(SUPERUSER, superPassword),
      platformUrl: url(PLATFORM_ROLE, role.password!),
      platformPassword: role.password!,
      async stop() {
        await engine.close();
        await removeTree(home);
      },
    };
  } catch (error) {
    await engine.close();
    await removeTree(home);
    throw error;
  }
}
