/**
 * @module Read replicas (`read_only` endpoints): each is a hot standby of its branch, streaming
 * from the branch's read_write compute, in `clusters/<endpoint-id>` on the endpoint's own port.
 * Its compute is keyed by the endpoint id (the branch id keys the read_write one).
 *
 * A start — the endpoint's creation, or a client waking it — runs with the primary up (woken for
 * it as for any API call that needs the database, and let to suspend again afterwards): the
 * standby is made once as a copy of the running primary, started holding its clients, and let to
 * serve them only once it has replayed everything the primary had flushed, so a replica that
 * wakes never serves data older than its primary's. While it runs it streams; when its primary
 * suspends the standby keeps serving (a clean shutdown sends it the last WAL) and reconnects once
 * the primary wakes. WAL the primary no longer keeps is read from the primary's archive
 * (`restore_command`); a standby that cannot catch up at all is made again.
 */
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Engine } from '../engine.ts';
import type { EndpointRecord } from '../catalog/types.ts';
import { copyRunningCluster, removeCluster, SUPERUSER } from '../clusters/cluster.ts';
import { lsnValue } from '../history/lsn.ts';
import { walArchiveDir } from '../history/store.ts';
import { runningPid, stopPostmaster } from './postmaster.ts';

/** Bounds a standby's start and catch-up (a correctness wait, not a timing: its failure makes the standby again). */
const CATCH_UP_DEADLINE_MS = 60_000;

/** Starts the read_only endpoint's standby (making it first if needed); resolves once it serves clients. */
export async function startReplica(engine: Engine, endpoint: EndpointRecord): Promise<void> {
  const branch = engine.branch(endpoint.project_id, endpoint.branch_id);
  const primary = engine.readWriteEndpoint(branch.id);
  if (!primary) throw new Error(`branch ${branch.id} has no read_write endpoint for read_only endpoint ${endpoint.id} to replicate`);
  const project = engine.project(endpoint.project_id);
  const dataDir = engine.computes.dataDir(endpoint.id);
  const password = engine.superuserPassword(project);
  await engine.withAdmin(branch, async (admin) => {
    const attempt = async () => {
      if (!existsSync(dataDir)) {
        const partial = `${dataDir}.partial`;
        await removeCluster(partial);
        await copyRunningCluster(admin, engine.computes.dataDir(branch.id), partial, project.pg_version, undefined, endpoint.id);
        await fs.writeFile(join(partial, 'standby.signal'), '');
        await fs.rename(partial, dataDir);
      }
      await engine.computes.start({
        branchId: endpoint.id,
        bins: engine.binaries(project.pg_version),
        port: endpoint.port,
        // A hot standby refuses to replay a primary with a larger max_connections than its own.
        minCu: endpoint.autoscaling_limit_min_cu,
        maxCu: Math.max(endpoint.autoscaling_limit_max_cu, primary.autoscaling_limit_max_cu),
        pgSettings: endpoint.settings.pg_settings,
        standbyOf: { port: primary.port, user: SUPERUSER, password, name: endpoint.id },
        restoreFrom: walArchiveDir(engine.home, branch.id),
        archive: false,
        holdClients: true,
      });
      const target = (await admin.query('SELECT pg_current_wal_flush_lsn()::text AS lsn')).rows[0].lsn as string;
      await waitReplayed(engine, endpoint.port, password, target);
    };
    try {
      await attempt();
    } catch (error) {
      engine.log.warn(`read_only endpoint ${endpoint.id}: standby unusable, making it again: ${(error as Error).message}`);
      await engine.computes.stop(endpoint.id);
      await removeCluster(dataDir);
      await attempt();
    }
    await engine.computes.resumeAccepting(endpoint.id);
  });
}

/** Waits (over the unix socket) until the standby on `port` is consistent and has replayed up to `target`. */
async function waitReplayed(engine: Engine, port: number, password: string, target: string): Promise<void> {
  const deadline = Date.now() + CATCH_UP_DEADLINE_MS;
  let replayed = '';
  for (;;) {
    const standby = new pg.Client({ host: engine.computes.socketDir, port, user: SUPERUSER, password, database: 'postgres' });
    standby.on('error', () => {});
    try {
      await standby.connect();
      for (;;) {
        replayed = (await standby.query('SELECT pg_last_wal_replay_lsn()::text AS lsn')).rows[0].lsn ?? '';
        if (replayed && lsnValue(replayed) >= lsnValue(target)) return;
        if (Date.now() > deadline) throw new Error(`the standby did not catch up with ${target} (at ${replayed || 'nothing'})`);
        await new Promise((r) => setTimeout(r, 5));
      }
    } catch (error) {
      // 57P03: still starting up (not yet consistent); anything else is a real failure.
      if ((error as { code?: string }).code !== '57P03' || Date.now() > deadline) throw error;
    } finally {
      await standby.end().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Stops the read_only endpoint's standby and removes its data (the endpoint's deletion, or its primary's data was replaced). */
export async function removeReplica(engine: Engine, endpoint: EndpointRecord): Promise<void> {
  await engine.computes.stop(endpoint.id);
  const dataDir = engine.computes.dataDir(endpoint.id);
  for (const dir of [dataDir, `${dataDir}.partial`]) {
    const pid = existsSync(dir) ? runningPid(dir) : null;
    if (pid) await stopPostmaster(pid);
    await removeCluster(dir);
  }
}

/** Removes the standbys of every read_only endpoint of the branch (they are made again on their next start). */
export async function removeReplicasOf(engine: Engine, branchId: string): Promise<void> {
  for (const e of engine.endpointsOf(branchId)) if (e.type === 'read_only') await removeReplica(engine, e);
}
