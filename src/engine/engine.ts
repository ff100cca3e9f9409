/**
 * @module The engine core: the catalog, the computes, and how mutations run as Neon operations.
 *
 * A mutation checks the project's lock (423 while operations run), records its operations as
 * `scheduling`, answers at once, and does the work in the background, one project at a time
 * (`running` meanwhile); each operation ends `finished` or `failed` with the error. On start,
 * acknowledged branch creations a crash interrupted are run again; other interrupted operations
 * are marked failed and what they left half-made is removed (see `recover`).
 */
import { mkdirSync, promises as fs, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { CatalogStore, catalogPath } from './catalog/store.ts';
import { SecretBox, hashKey } from './catalog/secrets.ts';
import { apiKey, operationId } from './catalog/ids.ts';
import type { BranchRecord, EndpointRecord, OperationAction, OperationRecord, ProjectRecord } from './catalog/types.ts';
import { findBinaries, installHint, type PgBinaries } from './clusters/binaries.ts';
import { makeTraversable, ownedDir } from './clusters/os-user.ts';
import { Computes, freePort } from './compute/computes.ts';
import { ensureTls, type TlsFiles } from './compute/tls.ts';
import { locked, notFound, unprocessable } from './errors.ts';
import { detectCopyStrategy, type CopyStrategy } from './clusters/copy.ts';
import { linkDataDir } from './clusters/data-dir.ts';
import { explainDiskFull } from './clusters/disk-space.ts';
import { Spares } from './spares.ts';
import { runningPid, stopEverythingIn, stopPostmaster } from './compute/postmaster.ts';
import { Listeners } from './compute/listeners.ts';
import { buildShim } from './compute/shim.ts';
import { Autosuspend } from './compute/autosuspend.ts';
import { TimeTravel } from './compute/time-travel.ts';
import { removeReplicasOf, startReplica } from './compute/replicas.ts';
import { Poolers } from './compute/pooler.ts';
import { History, type HistoryOptions } from './history/history.ts';
import { finishInterruptedRestores } from './history/restore.ts';
import { rescheduleBranchCreations, resumeBranchCreations } from './lifecycle/resume.ts';
import { expireBranches } from './lifecycle/expiry.ts';
import { nowIso } from './catalog/time.ts';

export interface EngineLog {
  info(message: string): void;
  warn(message: string): void;
}

const quietLog: EngineLog = { info: () => {}, warn: () => {} };

export interface EngineOptions {
  /**
   * The smallest `suspend_timeout_seconds` the API accepts (Neon's 60 by default; tests use 1).
   * Also `ARBOR_ENGINE_MIN_SUSPEND_SECONDS`.
   */
  minSuspendSeconds?: number;
  /** How often endpoints are checked for clients (default 1000 ms, 100 ms when minSuspendSeconds < 10). */
  activityPollMs?: number;
  /** Timing of history retention and expiry (tests shorten them). */
  history?: HistoryOptions;
  /**
   * Keep a hot standby ("spare") per branched-from branch, so the next branch is a promotion
   * (default). Off: every branch is a copy — slower, but no second cluster per parent on disk.
   */
  spares?: boolean;
  /**
   * Where the clusters and their history live (default: in the home). On a filesystem that
   * clones files (XFS with reflink, btrfs) a branch costs only what it writes (clusters/data-dir.ts).
   */
  dataDir?: string;
}

export class Engine {
  readonly store: CatalogStore;
  readonly secrets: SecretBox;
  readonly computes: Computes;
  readonly spares: Spares;
  readonly history: History;
  readonly listeners: Listeners;
  readonly autosuspend: Autosuspend;
  readonly timeTravel: TimeTravel;
  readonly poolers: Poolers;
  readonly minSuspendSeconds: number;
  private projectQueues = new Map<string, Promise<void>>();
  private background = new Set<Promise<void>>();
  /** Branches whose compute withAdmin started for its own sessions (no endpoint serves them). */
  private maintenance = new Set<string>();
  /** Per branch, the last withAdmin compute start decided (they run one after another). */
  private adminStarts = new Map<string, Promise<void>>();

  private constructor(
    readonly home: string,
    readonly tls: TlsFiles,
    readonly copyStrategy: CopyStrategy,
    readonly log: EngineLog,
    options: EngineOptions = {},
  ) {
    this.store = new CatalogStore(catalogPath(home));
    this.secrets = SecretBox.open(home);
    this.computes = new Computes(home, tls);
    this.spares = new Spares(this);
    if (options.spares === false) this.spares.setEnabled(false);
    this.history = new History(this, options.history, () => expireBranches(this));
    this.minSuspendSeconds = options.minSuspendSeconds ?? (Number(process.env.ARBOR_ENGINE_MIN_SUSPEND_SECONDS) || 60);
    this.listeners = new Listeners((port) => this.wake(port), (m) => this.log.warn(m));
    this.autosuspend = new Autosuspend(this, options.activityPollMs ?? (this.minSuspendSeconds < 10 ? 100 : 1000));
    this.timeTravel = new TimeTravel(this, this.minSuspendSeconds * 1000);
    this.poolers = new Poolers(this);
  }

  /** Opens (or creates) the engine's home, recovers from a crash, and brings endpoints back. */
  static async open(home: string, log: EngineLog = quietLog, options: EngineOptions = {}): Promise<Engine> {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    makeTraversable(home);
    chmodSync(home, 0o711);
    if (options.dataDir) linkDataDir(home, options.dataDir);
    ownedDir(join(home, 'clusters'), 0o711);
    ownedDir(join(home, 'run'), 0o700);
    mkdirSync(join(home, 'logs'), { recursive: true, mode: 0o700 });
    const tls = await ensureTls(home);
    const strategy = await detectCopyStrategy(join(home, 'clusters'));
    const engine = new Engine(home, tls, strategy, log, options);
    const shim = await buildShim(home);
    if (!shim.path) log.warn(`endpoints bind their ports themselves (a connection during a wake or suspend may be refused): ${shim.reason}`);
    engine.computes.managePorts({
      listeners: engine.listeners,
      shim: shim.path,
      isEndpointPort: (port) => engine.data.endpoints.some((e) => e.port === port),
      timeTravelSocket: engine.timeTravel.socketPath,
      warn: (m) => log.warn(m),
    });
    await engine.timeTravel.start();
    await engine.recover();
    engine.autosuspend.start();
    engine.history.start();
    return engine;
  }

  get data() {
    return this.store.data;
  }

  save(): Promise<void> {
    return this.store.save();
  }

  // ---- API keys -------------------------------------------------------------------------

  /** Accepts `key` from now on (stored as a hash only). */
  addApiKey(name: string, key: string): void {
    const hash = hashKey(key);
    if (this.data.api_keys.some((k) => k.hash === hash)) return;
    const id = Math.max(0, ...this.data.api_keys.map((k) => k.id)) + 1;
    this.data.api_keys.push({ id, name, hash, created_at: nowIso() });
  }

  /** The engine's own key, generated on first use and the same on every start. */
  localApiKey(): string {
    const existing = this.data.api_keys.find((k) => k.sealed);
    if (existing) return this.secrets.open(existing.sealed!);
    const key = apiKey();
    this.addApiKey('local', key);
    this.data.api_keys[this.data.api_keys.length - 1].sealed = this.secrets.seal(key);
    return key;
  }

  isValidApiKey(key: string): boolean {
    const hash = hashKey(key);
    return this.data.api_keys.some((k) => k.hash === hash);
  }

  // ---- lookups ----------------------------------------------------------------------------

  project(id: string): ProjectRecord {
    const project = this.data.projects.find((p) => p.id === id);
    if (!project) throw notFound(`project ${id} not found`);
    return project;
  }

  branchesOf(projectId: string): BranchRecord[] {
    return this.data.branches.filter((b) => b.project_id === projectId);
  }

  branch(projectId: string, idOrName: string): BranchRecord {
    this.project(projectId);
    const branch = this.branchesOf(projectId).find((b) => b.id === idOrName) ?? this.branchesOf(projectId).find((b) => b.name === idOrName);
    if (!branch) throw notFound(`branch ${idOrName} not found in project ${projectId}`);
    return branch;
  }

  defaultBranch(projectId: string): BranchRecord {
    const branch = this.branchesOf(projectId).find((b) => b.default);
    if (!branch) throw notFound(`project ${projectId} has no default branch`);
    return branch;
  }

  endpointsOf(branchId: string): EndpointRecord[] {
    return this.data.endpoints.filter((e) => e.branch_id === branchId);
  }

  readWriteEndpoint(branchId: string): EndpointRecord | undefined {
    return this.endpointsOf(branchId).find((e) => e.type === 'read_write');
  }

  /**
   * The id the endpoint's compute runs under (`computes`, `clusters/<id>`): the branch's for its
   * read_write endpoint (the branch's own cluster), the endpoint's for a read_only one (a standby).
   */
  computeKey(endpoint: EndpointRecord): string {
    return endpoint.type === 'read_only' ? endpoint.id : endpoint.branch_id;
  }

  /** The endpoints served by the compute `key` runs (see computeKey). */
  endpointsOfCompute(key: string): EndpointRecord[] {
    const replica = this.data.endpoints.find((e) => e.id === key && e.type === 'read_only');
    return replica ? [replica] : this.endpointsOf(key).filter((e) => e.type === 'read_write');
  }

  binaries(pgVersion: number): PgBinaries {
    const bins = findBinaries(pgVersion);
    if (!bins) {
      throw unprocessable(
        `pg_version ${pgVersion} is not installed in this engine; add its binaries with \`${installHint(pgVersion)}\` and restart the engine`,
      );
    }
    return bins;
  }

  superuserPassword(project: ProjectRecord): string {
    return this.secrets.open(project.superuser_password);
  }

  // ---- operations -------------------------------------------------------------------------

  /**
   * Refuses with 423 while the project has operations in progress, as Neon does for a request
   * that would schedule operations of its own (branch, endpoint, role and database changes,
   * restores). Neon's rules, in one place:
   *
   * | request                                   | while operations run |
   * | ----------------------------------------- | -------------------- |
   * | creates/deletes/changes a branch, endpoint, role or database; restore | 423 (clients retry) |
   * | project update (name, settings, retention, defaults)                  | 200: no operation   |
   * | project delete                            | 200: waits for them (`projectSettled`), then deletes |
   * | reads                                     | 200                  |
   */
  assertUnlocked(projectId: string): void {
    if (this.data.operations.some((op) => op.project_id === projectId && (op.status === 'running' || op.status === 'scheduling'))) {
      throw locked();
    }
  }

  operation(projectId: string, action: OperationAction, ids: { branch_id?: string; endpoint_id?: string } = {}): OperationRecord {
    const at = nowIso();
    const op: OperationRecord = {
      id: operationId(),
      project_id: projectId,
      ...ids,
      action,
      // As on Neon: `scheduling` until its work starts (Engine.schedule), then `running`.
      status: 'scheduling',
      failures_count: 0,
      created_at: at,
      updated_at: at,
      total_duration_ms: 0,
    };
    this.data.operations.push(op);
    return op;
  }

  finish(op: OperationRecord, error?: unknown): void {
    if (op.status !== 'running' && op.status !== 'scheduling') return;
    op.status = error ? 'failed' : 'finished';
    if (error) {
      op.error = error instanceof Error ? error.message : String(error);
      op.failures_count += 1;
    }
    op.updated_at = nowIso();
    op.total_duration_ms = Date.now() - Date.parse(op.created_at);
  }

  /**
   * Runs `work` after the project's earlier work, then marks `ops` finished (or failed with the
   * error, calling `onError` to undo what the operation left behind). Returns at once.
   */
  schedule(projectId: string, ops: OperationRecord[], work: () => Promise<void>, onError?: (error: unknown) => Promise<void>): void {
    const previous = this.projectQueues.get(projectId) ?? Promise.resolve();
    // Started on a later turn of the event loop, never in the same one: the request that
    // scheduled it answers first, with its operations still `scheduling` (as on Neon), however
    // many awaits the route has between scheduling and building its answer.
    const run = previous.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(async () => {
      const started = nowIso();
      for (const op of ops) {
        if (op.status !== 'scheduling') continue;
        op.status = 'running';
        op.updated_at = started;
      }
      try {
        await work();
        for (const op of ops) this.finish(op);
      } catch (error) {
        this.log.warn(`operation ${ops.map((o) => o.action).join('+')} on ${projectId} failed: ${(error as Error).message}`);
        if (onError) await onError(error).catch((e) => this.log.warn(`cleanup failed: ${(e as Error).message}`));
        // A full disk (clusters/disk-space.ts) says so, once the cleanup freed what it could.
        const reported = await explainDiskFull(error, this.home, Boolean(onError));
        for (const op of ops) this.finish(op, reported);
      }
      // Never rejects: a catalog write that fails (a full disk) is logged, the queue goes on.
      await this.save().catch((e) => this.log.warn(`catalog not saved after ${ops.map((o) => o.action).join('+') || 'background work'} on ${projectId}: ${(e as Error).message}`));
    });
    this.projectQueues.set(projectId, run);
    this.background.add(run);
    run.finally(() => this.background.delete(run));
  }

  /** Waits until the project's scheduled work (operations) is done. */
  async projectSettled(projectId: string): Promise<void> {
    for (;;) {
      const queue = this.projectQueues.get(projectId);
      if (!queue) return;
      await queue.catch(() => {});
      if (this.projectQueues.get(projectId) === queue) return;
    }
  }

  /** Waits for every scheduled operation (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.background.size) await Promise.allSettled([...this.background]);
  }

  // ---- compute helpers --------------------------------------------------------------------

  /** A free loopback port no endpoint, pooler or spare has (nor `also`: ports of a record not saved yet). */
  async allocatePort(also: number[] = []): Promise<number> {
    const taken = new Set([...this.data.endpoints.flatMap((e) => [e.port, e.pooler_port ?? 0]), ...this.spares.ports(), ...also]);
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) return port;
    }
  }

  /**
   * Starts the endpoint's postmaster and marks it active. With `holdClients`, clients wait on its
   * port until `computes.resumeAccepting` (a new project's, until its roles exist).
   */
  async startEndpoint(endpoint: EndpointRecord, options: { holdClients?: boolean } = {}): Promise<void> {
    const project = this.project(endpoint.project_id);
    if (endpoint.type === 'read_only') await startReplica(this, endpoint);
    else await this.computes.start({
      branchId: endpoint.branch_id,
      bins: this.binaries(project.pg_version),
      port: endpoint.port,
      minCu: endpoint.autoscaling_limit_min_cu,
      maxCu: endpoint.autoscaling_limit_max_cu,
      pgSettings: endpoint.settings.pg_settings,
      ...(options.holdClients ? { holdClients: true } : {}),
    });
    const at = nowIso();
    endpoint.current_state = 'active';
    delete endpoint.pending_state;
    endpoint.started_at = at;
    endpoint.last_active = at;
    endpoint.updated_at = at;
    this.autosuspend.touch(endpoint.id);
  }

  /**
   * A client connected to the port of an endpoint whose compute is down: start it. The listener
   * hands the client over once it serves (compute/listeners.ts).
   */
  async wake(port: number): Promise<void> {
    const pooled = this.poolers.endpointOf(port);
    if (pooled) return this.poolers.start(pooled);
    const endpoint = this.data.endpoints.find((e) => e.port === port);
    if (!endpoint) throw new Error(`no endpoint has port ${port}`);
    if (endpoint.disabled) throw new Error(`endpoint ${endpoint.id} is disabled`);
    // A branch still being created or restored: its compute starts when that is done.
    const branch = this.data.branches.find((b) => b.id === endpoint.branch_id);
    if (endpoint.current_state === 'init' || (branch && branch.current_state !== 'ready')) await this.projectQueues.get(endpoint.project_id);
    await this.computes.settled(this.computeKey(endpoint));
    if (this.computes.isRunning(this.computeKey(endpoint))) return;
    if (!this.data.endpoints.includes(endpoint)) throw new Error(`endpoint ${endpoint.id} was deleted`);
    await this.startEndpoint(endpoint);
    void this.save().catch((e) => this.log.warn(`catalog not saved: ${(e as Error).message}`));
  }

  async suspendEndpoint(endpoint: EndpointRecord): Promise<void> {
    if (endpoint.type === 'read_write') await this.spares.discard(endpoint.branch_id);
    await this.computes.stop(this.computeKey(endpoint));
    const at = nowIso();
    endpoint.current_state = 'idle';
    delete endpoint.pending_state;
    endpoint.suspended_at = at;
    endpoint.updated_at = at;
  }

  /** Starts the branch's compute for withAdmin if none runs; returns the endpoint it woke, if any. */
  private async ensureAdminCompute(branch: BranchRecord): Promise<EndpointRecord | undefined> {
    await this.computes.settled(branch.id);
    if (this.computes.isRunning(branch.id)) return undefined;
    const endpoint = this.readWriteEndpoint(branch.id);
    if (endpoint && !endpoint.disabled && endpoint.current_state !== 'init') {
      // An idle endpoint is woken as a client would wake it, and suspended again afterwards.
      await this.startEndpoint(endpoint);
      return endpoint;
    }
    await this.computes.start({
      branchId: branch.id,
      bins: this.binaries(this.project(branch.project_id).pg_version),
      port: endpoint?.port ?? (await this.allocatePort()),
      minCu: 0.25,
      maxCu: 0.25,
      listen: 'none',
    });
    this.maintenance.add(branch.id);
    return undefined;
  }

  /**
   * Runs `fn` with a `cloud_admin` session on the branch. A branch whose compute is not running
   * (no endpoint, or suspended) gets a short-lived maintenance postmaster, as Neon briefly starts
   * an idle compute to apply configuration.
   */
  async withAdmin<T>(branch: BranchRecord, fn: (client: import('pg').Client, connect: (db: string) => Promise<import('pg').Client>) => Promise<T>): Promise<T> {
    const project = this.project(branch.project_id);
    const password = this.superuserPassword(project);
    // The compute stays up while the engine works on it (a branch copy must not lose its parent).
    const release = this.autosuspend.hold(branch.id);
    let woken: EndpointRecord | undefined;
    try {
      // One session at a time decides whether to start a compute: two that both found none would
      // each start one on its own port, the second stopping the first under its session.
      const previous = this.adminStarts.get(branch.id) ?? Promise.resolve();
      const ready = previous.then(() => this.ensureAdminCompute(branch));
      const tail = ready.then(() => {}, () => {});
      this.adminStarts.set(branch.id, tail);
      void tail.then(() => this.adminStarts.get(branch.id) === tail && this.adminStarts.delete(branch.id));
      woken = await ready;
      const connect = (db: string) => this.computes.admin(branch.id, password, db);
      const client = await connect('postgres');
      try {
        return await fn(client, connect);
      } finally {
        await client.end();
      }
    } finally {
      release();
      // The last of the concurrent sessions stops the maintenance postmaster (another may have
      // found it running and be using it). Checked and stopped in one tick: a session that holds
      // the branch later queues behind this stop and starts its own.
      if (this.maintenance.has(branch.id) && !this.autosuspend.isHeld(branch.id)) {
        this.maintenance.delete(branch.id);
        await this.computes.stop(branch.id);
      }
      if (woken) await this.autosuspend.suspend(woken);
    }
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /**
   * After a crash: operations that were running are failed; branches whose data never finished
   * copying are removed with their endpoints; endpoints that were active come back (adopting a
   * postmaster that survived the engine, else starting it).
   */
  private async recover(): Promise<void> {
    const data = this.data;
    // Acknowledged branches whose data a crash left incomplete are made again (their operations retried).
    const resumed = await resumeBranchCreations(this);
    const resumedIds = new Set(resumed.map((b) => b.id));
    // A standby of a branch made again would follow data that is gone: it is made again too.
    for (const id of resumedIds) await removeReplicasOf(this, id);
    // A compute the crash interrupted in its start is started below: its operation ends with it.
    const interruptedStarts = new Map<string, OperationRecord>();
    for (const op of data.operations) {
      if (op.branch_id && resumedIds.has(op.branch_id)) continue;
      if (op.action === 'start_compute' && op.endpoint_id && (op.status === 'running' || op.status === 'scheduling')) {
        interruptedStarts.set(op.endpoint_id, op);
        continue;
      }
      if (op.status === 'running' || op.status === 'scheduling') this.finish(op, new Error('the engine stopped while this operation ran'));
    }
    // A restore past its commit point is finished before unknown directories are removed.
    await finishInterruptedRestores(this);
    const clusters = join(this.home, 'clusters');
    for (const name of await fs.readdir(clusters)) {
      if (!name.endsWith('.partial')) continue;
      await stopEverythingIn(join(clusters, name));
      await fs.rm(join(clusters, name), { recursive: true, force: true });
    }
    // Directories no branch owns: half-made copies and spares (see spares.ts) of a previous run.
    const known = new Set([...data.branches.map((b) => b.id), ...data.endpoints.filter((e) => e.type === 'read_only').map((e) => e.id)]);
    for (const name of await fs.readdir(clusters)) {
      if (known.has(name)) continue;
      await stopEverythingIn(join(clusters, name));
      await fs.rm(join(clusters, name), { recursive: true, force: true });
    }
    const halfMade = data.branches.filter((b) => !resumedIds.has(b.id) && !existsSync(this.computes.dataDir(b.id)));
    for (const branch of halfMade) {
      this.log.warn(`removing branch ${branch.id}: its creation did not complete`);
      data.endpoints = data.endpoints.filter((e) => e.branch_id !== branch.id);
      data.branches = data.branches.filter((b) => b.id !== branch.id);
    }
    data.projects = data.projects.filter((p) => data.branches.some((b) => b.project_id === p.id));
    for (const branch of data.branches) {
      if (branch.current_state !== 'ready' && !resumedIds.has(branch.id)) {
        branch.current_state = 'ready';
        delete branch.pending_state;
      }
    }
    for (const endpoint of data.endpoints) {
      const interrupted = interruptedStarts.get(endpoint.id);
      if (interrupted) {
        interruptedStarts.delete(endpoint.id);
        if (!endpoint.disabled) endpoint.pending_state = 'active';
        else this.finish(interrupted, new Error('the engine stopped while this operation ran'));
      }
      // The branch's creation is retried: clients wait on its port until it is done.
      if (resumedIds.has(endpoint.branch_id)) {
        await this.listeners.listen(endpoint.port).catch((e) => this.log.warn(`endpoint ${endpoint.id}: port ${endpoint.port} unavailable: ${(e as Error).message}`));
        continue;
      }
      // A postmaster that survived the engine keeps serving (it holds the port); it is adopted.
      if (this.computes.adopt(this.computeKey(endpoint), endpoint.port)) {
        if (interrupted) this.finish(interrupted);
        endpoint.current_state = 'active';
        delete endpoint.pending_state;
        this.autosuspend.touch(endpoint.id);
        continue;
      }
      if ((endpoint.current_state !== 'idle' || endpoint.pending_state === 'active') && !endpoint.disabled) {
        try {
          await this.startEndpoint(endpoint);
          if (interrupted) this.finish(interrupted);
          continue;
        } catch (error) {
          if (interrupted) this.finish(interrupted, error);
          this.log.warn(`endpoint ${endpoint.id} could not be started: ${(error as Error).message}`);
          endpoint.current_state = 'idle';
          delete endpoint.pending_state;
        }
      }
      if (interrupted) this.finish(interrupted, new Error('the engine stopped while this operation ran'));
      // Idle: the engine accepts on its port and wakes it on the first connection.
      await this.listeners.listen(endpoint.port).catch((e) => this.log.warn(`endpoint ${endpoint.id}: port ${endpoint.port} unavailable: ${(e as Error).message}`));
    }
    // A maintenance postmaster (see withAdmin) the crash left behind.
    for (const branch of data.branches) {
      const pid = this.computes.isRunning(branch.id) ? null : runningPid(this.computes.dataDir(branch.id));
      if (pid) await stopPostmaster(pid);
    }
    for (const op of interruptedStarts.values()) this.finish(op, new Error('the engine stopped while this operation ran'));
    // Pooler ports (where pgbouncer is installed), also for endpoints made before it was.
    await this.poolers.stopLeftovers();
    for (const endpoint of data.endpoints) await this.poolers.ensurePort(endpoint).catch((e) => this.log.warn(`endpoint ${endpoint.id}: pooler port: ${(e as Error).message}`));
    await this.save();
    rescheduleBranchCreations(this, resumed);
  }

  /** Stops background work and every postmaster this engine runs. */
  async close(): Promise<void> {
    // Each step runs even if one before it failed (a full disk): no postmaster is left running.
    const step = async (name: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (error) {
        this.log.warn(`closing the engine: ${name} failed: ${(error as Error).message}`);
      }
    };
    await step('time travel', () => this.timeTravel.close());
    await step('history', () => this.history.close());
    await step('autosuspend', () => this.autosuspend.stop());
    await step('operations', () => this.idle());
    await step('spares', () => this.spares.close());
    await step('poolers', () => this.poolers.close());
    await step('computes', () => this.computes.stopAll());
    await step('listeners', () => this.listeners.close());
    await step('catalog', () => this.save());
  }
}
