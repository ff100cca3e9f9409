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
import { ownFile } from '../clusters/os-user.ts';
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

export interface PointCompute {
  port: number;
  pid: number;
}

/**
 * Rebuilds `branch` as of `point` into `dir` and starts it read-only on the engine's unix socket
 * only. `trustLocal`: sessions on that socket need no password (time travel, where the branch's
 * own backend already authenticated its client). On failure nothing is left running or on disk.
 */
export async function startAtPoint(engine: Engine, branch: BranchRecord, point: HistoryPoint, dir: string, fields: PointFields, options: { maxConnections: number; trustLocal?: boolean }): Promise<PointCompute> {
  const project = engine.project(branch.project_id);
  let pid: number | undefined;
  try {
    await buildAtPoint(engine, branch, point, dir, fields);
    const port = await freePort();
    await writeSettings(dir, {
      port,
      tlsCert: engine.tls.cert,
      tlsKey: engine.tls.key,
      sharedBuffersMb: 32,
      maxConnections: options.maxConnections,
      socketDir: engine.computes.socketDir,
      listenAddresses: '',
    });
    // Read-only (written after the endpoint settings, which do not allow it).
    await fs.appendFile(join(dir, 'arbor.conf'), 'default_transaction_read_only = on\n');
    if (options.trustLocal) {
      await fs.writeFile(join(dir, 'pg_hba.conf'), "# Written by the Arbor engine: a compute at a past point, reached only on the engine's private socket.\nlocal all all trust\n");
      ownFile(join(dir, 'pg_hba.conf'), 0o600);
    }
    pid = await startPostmaster(engine.binaries(project.pg_version), dir, port, engine.computes.logFile(branch.id), { socketDir: engine.computes.socketDir });
    return { port, pid };
  } catch (error) {
    await stopAtPoint(dir, pid);
    throw error;
  }
}

/** Stops a compute made by `startAtPoint` and removes its directories. */
export async function stopAtPoint(dir: string, pid: number | undefined): Promise<void> {
  if (pid) await stopPostmaster(pid);
  await removeCluster(dir);
  await removeCluster(`${dir}.pitr`);
}

/** Runs `fn` against `branch` as it was at `point`, on a compute that exists only meanwhile. */
export async function withPointInTime<T>(engine: Engine, branch: BranchRecord, point: HistoryPoint, fields: PointFields, fn: (compute: EphemeralCompute) => Promise<T>): Promise<T> {
  const project = engine.project(branch.project_id);
  const dir = `${engine.computes.dataDir(branch.id)}.${uniqueName('at')}.partial`;
  const { port, pid } = await startAtPoint(engine, branch, point, dir, fields, { maxConnections: 10 });
  try {
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
    await stopAtPoint(dir, pid);
  }
}
