/**
 * @module Test fixture: a real PostgreSQL 17 set up the way Neon sets up a branch — a superuser
 * playing `cloud_admin`, the `neon_superuser` group, and `encore_platform` created as an
 * API role (a member of neon_superuser, not a superuser). One server per test file.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { findBinaries, installHint } from '../../engine/clusters/binaries.ts';
import { initCluster, SUPERUSER, writeSettings } from '../../engine/clusters/cluster.ts';
import { createApiRole, createNeonSuperuser } from '../../engine/clusters/neon-roles.ts';
import { makeTraversable, ownedDir } from '../../engine/clusters/os-user.ts';
import { startPostmaster, stopPostmaster } from '../../engine/compute/postmaster.ts';
import { ensureTls } from '../../engine/compute/tls.ts';

const PG_VERSION = 17;
export const PLATFORM_ROLE = 'encore_platform';

export interface NeonLikeServer {
  port: number;
  /** A URL for `role` with `password` on `database` (default `postgres`); names are encoded. */
  url(role: string, password: string, database?: string): string;
  /** The real superuser (Neon's internal cloud_admin): only for setting up deviations by hand. */
  superuserUrl: string;
  /** `encore_platform`, an API-created role. */
  platformUrl: string;
  platformPassword: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startNeonLikeServer(): Promise<NeonLikeServer> {
  const bins = findBinaries(PG_VERSION);
  if (!bins) throw new Error(`PostgreSQL ${PG_VERSION} binaries are missing: ${installHint(PG_VERSION)}`);
  const home = mkdtempSync(join(tmpdir(), 'arbor-pg-test-'));
  let pid: number | null = null;
  try {
    makeTraversable(home);
    ownedDir(join(home, 'run'));
    mkdirSync(join(home, 'logs'));
    const tls = await ensureTls(home);
    const superPassword = 'test-superuser-password';
    const dataDir = join(home, 'data');
    await initCluster(bins, dataDir, superPassword, join(home, 'run'));
    const port = await freePort();
    await writeSettings(dataDir, { port, tlsCert: tls.cert, tlsKey: tls.key, sharedBuffersMb: 16, maxConnections: 200 });
    pid = await startPostmaster(bins, dataDir, port, join(home, 'logs', 'postgres.log'));
    const url = (role: string, password: string, database = 'postgres') =>
      `postgresql://${encodeURIComponent(role)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
    const superuserUrl = url(SUPERUSER, superPassword);
    const platformPassword = 'platform-Pw-0123456789-abcdefgh';
    const admin = new pg.Client({ connectionString: superuserUrl });
    await admin.connect();
    try {
      await createNeonSuperuser(admin, PG_VERSION);
      await createApiRole(admin, PLATFORM_ROLE, platformPassword);
    } finally {
      await admin.end();
    }
    const started = pid;
    return {
      port,
      url,
      superuserUrl,
      platformUrl: url(PLATFORM_ROLE, platformPassword),
      platformPassword,
      async stop() {
        await stopPostmaster(started);
        rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (pid !== null) await stopPostmaster(pid);
    rmSync(home, { recursive: true, force: true });
    throw error;
  }
}
