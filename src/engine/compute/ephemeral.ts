/**
 * @module Ephemeral read-only computes: a branch's data as of a past point, rebuilt from its
 * history (history/point-in-time.ts) into a scratch directory beside the branch, started on the
 * engine's unix socket only, used, stopped and removed. `GET .../schema?lsn=|timestamp=` reads
 * past schemas through it. The scratch directory ends in `.partial`, so a crash leaves nothing
 * that the next start does not remove (Engine.recover).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { BranchRecord } from '../catalog/types.ts';
import { removeCluster, SUPERUSER, uniqueName, writeSettings } from '../clusters/cluster.ts';
import type { Engine } from '../engine.ts';
import { buildAtPoint, type HistoryPoint, type PointFields } from '../history/point-in-time.ts';
import { startPostmaster, stopPostmaster } from './postmaster.ts';
import { freePort } from './computes.ts';

export interface EphemeralCompute {
  /** The engine's unix socket directory and the port its socket file is named after. */
  host: string;
  port: number;
  password: string;
  /** A `cloud_admin` session on `database` (ended by the caller). */
  connect(database: string): Promise<pg.Client>;
}

/** Runs `fn` against `branch` as it was at `point`, on a compute that exists only meanwhile. */
export async function withPointInTime<T>(engine: Engine, branch: BranchRecord, point: HistoryPoint, fields: PointFields, fn: (compute: EphemeralCompute) => Promise<T>): Promise<T> {
  const project = engine.project(branch.project_id);
  const dir = `${engine.computes.dataDir(branch.id)}.${uniqueName('at')}.partial`;
  let pid: number | undefined;
  try {
    await buildAtPoint(engine, branch, point, dir, fields);
    const port = await freePort();
    await writeSettings(dir, {
      port,
      tlsCert: engine.tls.cert,
      tlsKey: engine.tls.key,
      sharedBuffersMb: 32,
      maxConnections: 10,
      socketDir: engine.computes.socketDir,
      listenAddresses: '',
    });
    // Read-only (written after the endpoint settings, which do not allow it).
    await fs.appendFile(join(dir, 'arbor.conf'), 'default_transaction_read_only = on\n');
    pid = await startPostmaster(engine.binaries(project.pg_version), dir, port, engine.computes.logFile(branch.id), { socketDir: engine.computes.socketDir });
    const password = engine.superuserPassword(project);
    const host = engine.computes.socketDir;
    return await fn({
      host,
      port,
      password,
      async connect(database) {
        const client = new pg.Client({ host, port, user: SUPERUSER, password, database });
        client.on('error', () => {});
        await client.connect();
        return client;
      },
    });
  } finally {
    if (pid) await stopPostmaster(pid);
    await removeCluster(dir);
    await removeCluster(`${dir}.pitr`);
  }
}
