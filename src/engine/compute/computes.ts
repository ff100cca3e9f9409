/**
 * @module The running postmasters, one per branch at most: start (writing the branch's settings
 * first), stop, adopt the ones a previous engine process left running, and short-lived admin
 * sessions as `cloud_admin`.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { writeSettings, SUPERUSER, type ClusterSettings } from '../clusters/cluster.ts';
import type { PgBinaries } from '../clusters/binaries.ts';
import { runningPid, startPostmaster, stopPostmaster } from './postmaster.ts';
import type { TlsFiles } from './tls.ts';
import { computeSize } from './size.ts';
import { walArchiveDir } from '../history/store.ts';

export interface ComputeSpec {
  branchId: string;
  bins: PgBinaries;
  port: number;
  minCu: number;
  maxCu: number;
  pgSettings?: Record<string, string>;
  standbyOf?: ClusterSettings['standbyOf'];
}

interface Running {
  pid: number;
  port: number;
}

/** Serializes work per key (one start/stop at a time per branch). */
class KeyedMutex {
  private tails = new Map<string, Promise<unknown>>();
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => {});
    this.tails.set(key, tail);
    tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export class Computes {
  private running = new Map<string, Running>();
  private mutex = new KeyedMutex();

  constructor(
    private readonly home: string,
    private readonly tls: TlsFiles,
  ) {}

  dataDir(branchId: string): string {
    return join(this.home, 'clusters', branchId);
  }

  logFile(branchId: string): string {
    return join(this.home, 'logs', `${branchId}.log`);
  }

  isRunning(branchId: string): boolean {
    return this.running.has(branchId);
  }

  portOf(branchId: string): number | undefined {
    return this.running.get(branchId)?.port;
  }

  /** Starts the branch's postmaster on `spec.port` unless it already runs there. */
  start(spec: ComputeSpec): Promise<void> {
    return this.mutex.run(spec.branchId, async () => {
      const current = this.running.get(spec.branchId);
      if (current && current.port === spec.port) return;
      if (current) await this.stopNow(spec.branchId);
      const dataDir = this.dataDir(spec.branchId);
      const orphan = runningPid(dataDir);
      if (orphan) await stopPostmaster(orphan);
      const size = computeSize(spec.minCu, spec.maxCu);
      await writeSettings(dataDir, { port: spec.port, tlsCert: this.tls.cert, tlsKey: this.tls.key, ...size, extra: spec.pgSettings, standbyOf: spec.standbyOf, archiveDir: walArchiveDir(this.home, spec.branchId) });
      const pid = await startPostmaster(spec.bins, dataDir, spec.port, this.logFile(spec.branchId));
      this.running.set(spec.branchId, { pid, port: spec.port });
    });
  }

  /** Rewrites the settings of a running postmaster (after a spare's promotion, to drop its standby settings). */
  async rewriteSettings(spec: ComputeSpec): Promise<void> {
    const size = computeSize(spec.minCu, spec.maxCu);
    await writeSettings(this.dataDir(spec.branchId), { port: spec.port, tlsCert: this.tls.cert, tlsKey: this.tls.key, ...size, extra: spec.pgSettings, archiveDir: walArchiveDir(this.home, spec.branchId) });
  }

  /** Takes over a postmaster a previous engine process left running; false when there is none. */
  adopt(branchId: string, port: number): boolean {
    const pid = runningPid(this.dataDir(branchId));
    if (!pid) return false;
    this.running.set(branchId, { pid, port });
    return true;
  }

  stop(branchId: string): Promise<void> {
    return this.mutex.run(branchId, () => this.stopNow(branchId));
  }

  private async stopNow(branchId: string): Promise<void> {
    const current = this.running.get(branchId);
    this.running.delete(branchId);
    const pid = current?.pid ?? (existsSync(this.dataDir(branchId)) ? runningPid(this.dataDir(branchId)) : null);
    if (pid) await stopPostmaster(pid);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.stop(id)));
  }

  /** A session as `cloud_admin` on a running branch. */
  async admin(branchId: string, password: string, database = 'postgres'): Promise<pg.Client> {
    const port = this.portOf(branchId);
    if (!port) throw new Error(`branch ${branchId} has no running compute`);
    const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database });
    await client.connect();
    return client;
  }
}
