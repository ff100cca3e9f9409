/**
 * @module The running postmasters, one per branch at most: start (writing the branch's settings
 * first), stop, adopt the ones a previous engine process left running, and short-lived admin
 * sessions as `cloud_admin`.
 *
 * An endpoint's port is a socket the engine keeps open for the endpoint's whole life
 * (listeners.ts): a start hands it to the postmaster, a stop drains the postmaster (no new
 * connection is accepted, the queued ones wait) and takes it back. The engine's own sessions use
 * a unix socket in a private directory, so they never count as clients.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { writeSettings, SUPERUSER, type ClusterSettings } from '../clusters/cluster.ts';
import type { PgBinaries } from '../clusters/binaries.ts';
import { holdAccepting, resumeAccepting, runningPid, servesThroughShim, startPostmaster, stopAccepting, stopPostmaster, type PostmasterListen } from './postmaster.ts';
import { clientBackends } from './activity.ts';
import type { Listeners } from './listeners.ts';
import { ownedDir } from '../clusters/os-user.ts';
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
  /** A standby's restore source (its primary's WAL archive). */
  restoreFrom?: string;
  /** Archive completed WAL into the compute's history (default); off for a read_only endpoint's standby. */
  archive?: boolean;
  /** `endpoint` (default): serve clients on `port` through its engine-owned socket; `none`: only the engine's unix socket (a maintenance start). */
  listen?: 'endpoint' | 'none';
  /**
   * Clients connecting to `port` wait in its backlog until `resumeAccepting` (a spare: a hot
   * standby says `ready` too, and must serve no client before its promotion).
   */
  holdClients?: boolean;
}

interface Running {
  pid: number;
  port: number;
  /** Clients reach it on `port` (its socket goes back to the engine when it stops). */
  serves: boolean;
}

/** What the engine gives Computes to manage endpoint ports (see listeners.ts). */
export interface PortManagement {
  listeners: Listeners;
  /** The compiled listen shim, or null: postmasters then bind their port themselves. */
  shim: string | null;
  /** The time travel socket postmasters' backends ask on (time-travel.ts). */
  timeTravelSocket?: string;
  /** Whether `port` still belongs to an endpoint (else its socket is closed when its postmaster stops). */
  isEndpointPort(port: number): boolean;
  warn(message: string): void;
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
  busy(key: string): boolean {
    return this.tails.has(key);
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
  private ports?: PortManagement;
  private closing = false;
  /** The engine's private unix socket directory (short enough for a socket path). */
  readonly socketDir: string;

  constructor(
    private readonly home: string,
    private readonly tls: TlsFiles,
  ) {
    const run = join(home, 'run');
    this.socketDir = run.length <= 80 ? run : `/tmp/arbor-${createHash('sha256').update(home).digest('hex').slice(0, 12)}`;
    ownedDir(this.socketDir, 0o700);
  }

  /** Turns on engine-owned endpoint ports (before any start). */
  managePorts(ports: PortManagement): void {
    this.ports = ports;
  }

  pidOf(branchId: string): number | undefined {
    return this.running.get(branchId)?.pid;
  }

  /** Whether a start or stop of the branch is in progress or queued. */
  isBusy(branchId: string): boolean {
    return this.mutex.busy(branchId);
  }

  /** Resolves once the branch's queued starts and stops are done. */
  settled(branchId: string): Promise<void> {
    return this.mutex.run(branchId, async () => {});
  }

  /**
   * Runs `fn` if the branch's postmaster is down, keeping it down meanwhile (a wake waits): a
   * stopped cluster can be copied as it is. Returns false, without running `fn`, if it runs.
   */
  whileStopped(branchId: string, fn: () => Promise<unknown>): Promise<boolean> {
    return this.mutex.run(branchId, async () => {
      if (this.running.has(branchId)) return false;
      await fn();
      return true;
    });
  }

  /** Postmasters that died on their own (not stopped by the engine) are forgotten and their ports taken back; returns their branches. */
  async reapDead(): Promise<string[]> {
    const dead: string[] = [];
    for (const [branchId, current] of this.running) {
      if (this.isBusy(branchId) || runningPid(this.dataDir(branchId)) === current.pid) continue;
      dead.push(branchId);
      await this.mutex.run(branchId, async () => {
        if (this.running.get(branchId) !== current) return;
        this.running.delete(branchId);
        await this.takeBack(current);
      });
    }
    return dead;
  }

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
      if (current && current.port === spec.port && current.serves === (spec.listen !== 'none')) return;
      if (current) await this.stopNow(spec.branchId);
      const dataDir = this.dataDir(spec.branchId);
      const orphan = runningPid(dataDir);
      if (orphan) await stopPostmaster(orphan);
      await resumeAccepting(dataDir);
      if (spec.holdClients) await holdAccepting(dataDir);
      const serves = spec.listen !== 'none';
      const size = computeSize(spec.minCu, spec.maxCu);
      await writeSettings(dataDir, {
        port: spec.port,
        tlsCert: this.tls.cert,
        tlsKey: this.tls.key,
        ...size,
        extra: spec.pgSettings,
        standbyOf: spec.standbyOf && { host: this.socketDir, ...spec.standbyOf },
        restoreFrom: spec.restoreFrom,
        archiveDir: spec.archive === false ? undefined : walArchiveDir(this.home, spec.branchId),
        socketDir: this.socketDir,
        ...(serves ? {} : { listenAddresses: '' }),
      });
      const listen: PostmasterListen = { socketDir: this.socketDir };
      const ports = serves ? this.ports : undefined;
      if (ports?.shim) {
        await ports.listeners.listen(spec.port);
        listen.fd = ports.listeners.fd(spec.port) ?? undefined;
        listen.shim = ports.shim;
        listen.spawned = () => void ports.listeners.handOver(spec.port);
        listen.timeTravelSocket = ports.timeTravelSocket;
      } else if (ports) {
        await ports.listeners.handOver(spec.port, true);
      }
      let pid: number;
      try {
        pid = await startPostmaster(spec.bins, dataDir, spec.port, this.logFile(spec.branchId), listen);
      } catch (error) {
        if (ports && !this.closing) await ports.listeners.listen(spec.port).catch((e) => ports.warn(`port ${spec.port}: ${(e as Error).message}`));
        throw error;
      }
      this.running.set(spec.branchId, { pid, port: spec.port, serves });
    });
  }

  /** Lets the postmaster of a branch started with `holdClients` take the clients waiting on its port. */
  resumeAccepting(branchId: string): Promise<void> {
    return resumeAccepting(this.dataDir(branchId));
  }

  /** Rewrites the settings of a running postmaster (after a spare's promotion, to drop its standby settings). */
  async rewriteSettings(spec: ComputeSpec): Promise<void> {
    const size = computeSize(spec.minCu, spec.maxCu);
    await writeSettings(this.dataDir(spec.branchId), { port: spec.port, tlsCert: this.tls.cert, tlsKey: this.tls.key, ...size, extra: spec.pgSettings, archiveDir: walArchiveDir(this.home, spec.branchId), socketDir: this.socketDir });
  }

  /** Takes over a postmaster a previous engine process left running; false when there is none. */
  adopt(branchId: string, port: number): boolean {
    if (this.running.has(branchId)) return true;
    const pid = runningPid(this.dataDir(branchId));
    if (!pid) return false;
    this.running.set(branchId, { pid, port, serves: true });
    return true;
  }

  /**
   * Stops the branch's postmaster (fast shutdown: sessions are ended) after draining it: its
   * socket stops accepting first, so connections arriving meanwhile wait for the next start
   * instead of meeting a postmaster that is shutting down. With `ifIdle`, stops only when, once
   * drained, no client is connected and `ifIdle()` still holds; returns whether it stopped.
   */
  stop(branchId: string, options: { ifIdle?: () => boolean } = {}): Promise<boolean> {
    return this.mutex.run(branchId, () => this.stopNow(branchId, options));
  }

  private async stopNow(branchId: string, options: { ifIdle?: () => boolean } = {}): Promise<boolean> {
    const current = this.running.get(branchId);
    const dataDir = this.dataDir(branchId);
    // Draining writes a flag file: on a full disk it cannot, and the postmaster is stopped undrained.
    if (current && servesThroughShim(current.pid)) await stopAccepting(dataDir, current.pid).catch((e) => this.ports?.warn(`branch ${branchId}: stopping without draining: ${(e as Error).message}`));
    if (current && options.ifIdle && (!options.ifIdle() || (await clientBackends(current.pid)) > 0)) {
      await resumeAccepting(dataDir);
      return false;
    }
    this.running.delete(branchId);
    const pid = current?.pid ?? (existsSync(dataDir) ? runningPid(dataDir) : null);
    if (pid) await stopPostmaster(pid);
    if (existsSync(dataDir)) await resumeAccepting(dataDir);
    if (current) await this.takeBack(current);
    return true;
  }

  /** After a postmaster that served a port exited: the engine accepts on it again (or closes it if no endpoint has it). */
  private async takeBack(stopped: Running): Promise<void> {
    const ports = this.ports;
    if (!ports || !stopped.serves || this.closing) return;
    if (!ports.isEndpointPort(stopped.port)) return ports.listeners.release(stopped.port);
    await ports.listeners.listen(stopped.port).catch((e) => ports.warn(`port ${stopped.port}: ${(e as Error).message}`));
  }

  /** Stops every postmaster; one that fails to stop does not keep the others running. */
  async stopAll(): Promise<void> {
    this.closing = true;
    const results = await Promise.allSettled([...this.running.keys()].map((id) => this.stop(id)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** A session as `cloud_admin` on a running branch, over the engine's unix socket. */
  async admin(branchId: string, password: string, database = 'postgres'): Promise<pg.Client> {
    const port = this.portOf(branchId);
    if (!port) throw new Error(`branch ${branchId} has no running compute`);
    const client = new pg.Client({ host: this.socketDir, port, user: SUPERUSER, password, database });
    // A session ended by a stop (an explicit suspend or restart) fails its queries; it must not crash the engine.
    client.on('error', () => {});
    await client.connect();
    return client;
  }
}
