/**
 * @module Spares: branches made ahead of time, so that creating one takes a promotion instead of
 * a copy.
 *
 * For a running branch that is likely to be branched from (the default branch, and any branch
 * once branched from), the engine keeps one spare: a physical copy started as a hot standby that
 * streams the parent's WAL. Creating a branch then claims the spare, waits until it has replayed
 * everything the parent had flushed at that moment (so every acknowledged commit is in), and
 * promotes it — tens of milliseconds whatever the size — while a new spare is prepared in the
 * background. Without a ready spare the branch is copied directly (clusters/cluster.ts).
 *
 * A spare lives in `clusters/<future-branch-id>` and runs on the port its endpoint will keep, so
 * nothing is renamed or rebound on promotion. Spares are never persisted: after a restart the
 * engine removes what they left (see Engine.recover) and makes new ones.
 */
import pg from 'pg';
import { branchId } from './catalog/ids.ts';
import type { BranchRecord } from './catalog/types.ts';
import { copyRunningCluster, removeCluster, SUPERUSER } from './clusters/cluster.ts';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from './engine.ts';
import { lsnValue } from './history/lsn.ts';
import { spaceShortfall } from './clusters/disk-space.ts';

export interface Spare {
  id: string;
  parentId: string;
  port: number;
  /** The compute size and settings it runs with: the parent's (see `make`). */
  minCu: number;
  maxCu: number;
  pgSettings?: Record<string, string>;
}

const CATCH_UP_DEADLINE_MS = 10_000;
/** How many times a spare is tried before its parent's branches fall back to copies. */
const MAKE_ATTEMPTS = 3;

export class Spares {
  private ready = new Map<string, Spare>();
  private making = new Map<string, Promise<void>>();
  /** Why the parent's last spare could not be made (after every attempt), until one is. */
  private failures = new Map<string, string>();
  private enabled = true;

  constructor(private readonly engine: Engine) {}

  /** Whether the parent has a spare ready now (tests and benchmarks). */
  hasReady(parentId: string): boolean {
    return this.ready.has(parentId);
  }

  /** Waits until the spare being made for `parentId` (if any) is done. */
  async settled(parentId: string): Promise<void> {
    await this.making.get(parentId);
  }

  /** Turns making spares off (every branch is then copied) or back on. */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
  }

  /** Ports held by spares, so endpoints do not take them. */
  ports(): number[] {
    return [...this.ready.values()].map((s) => s.port);
  }

  /** Ids of the directories spares occupy (they are not branches yet). */
  isSpare(id: string): boolean {
    return [...this.ready.values()].some((s) => s.id === id);
  }

  /**
   * Why the parent has no ready spare now, in a user's words: a branch made now is a full copy
   * (recorded on the branch, `made_by`).
   */
  whyNone(parent: BranchRecord): string {
    if (!this.enabled) return 'spares are off (engine serve --no-spares)';
    if (!this.engine.computes.isRunning(parent.id)) return 'the parent was not running (a spare is kept only while its compute runs)';
    if (this.making.has(parent.id)) return "the parent's spare was not ready yet (still being made)";
    const failed = this.failures.get(parent.id);
    if (failed) return `the parent's spare could not be made: ${failed}`;
    return 'the parent had no spare yet (one is kept for the default branch and for a branch once it is branched from)';
  }

  /** Takes the parent's ready spare, if any; the caller must `promote` or `discardSpare` it. */
  claim(parentId: string): Spare | undefined {
    const spare = this.ready.get(parentId);
    this.ready.delete(parentId);
    return spare;
  }

  /** Starts preparing a spare for `parent` in the background unless one exists or is on its way. */
  replenish(parent: BranchRecord): void {
    if (!this.enabled || this.ready.has(parent.id) || this.making.has(parent.id)) return;
    if (!this.engine.computes.isRunning(parent.id)) return;
    // Never rejects (background work must not take the engine down): what went wrong is logged.
    const work = this.makeWithRetries(parent)
      .catch((error) => this.engine.log.warn(`spare for ${parent.id}: ${(error as Error).message}`))
      .finally(() => this.making.delete(parent.id));
    this.making.set(parent.id, work);
  }

  /**
   * A spare that could not be made (on a loaded machine its standby may not stream within the
   * deadline) is tried again a few times: without it, every branch of the parent is a slow copy.
   */
  private async makeWithRetries(parent: BranchRecord): Promise<void> {
    // A spare that would not fit on the disk is not tried (nor retried): a branch is then a copy, refused if that does not fit either.
    const short = await spaceShortfall(this.engine, this.engine.computes.dataDir(parent.id), join(this.engine.home, 'clusters'), `branch ${parent.id}'s data for its spare`);
    if (short) {
      this.engine.log.warn(`spare for ${parent.id} not made: ${short.message}`);
      this.failures.set(parent.id, short.message);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.make(parent);
        this.failures.delete(parent.id);
        return;
      } catch (error) {
        const again = attempt < MAKE_ATTEMPTS && this.enabled && this.engine.computes.isRunning(parent.id);
        this.engine.log.warn(`spare for ${parent.id} not made: ${(error as Error).message}${again ? '; trying again' : ''}`);
        if (!again) {
          this.failures.set(parent.id, (error as Error).message);
          return;
        }
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  }

  private async make(parent: BranchRecord): Promise<void> {
    const engine = this.engine;
    const project = engine.project(parent.project_id);
    const id = branchId();
    const port = await engine.allocatePort();
    const dataDir = engine.computes.dataDir(id);
    const password = engine.superuserPassword(project);
    const parentPort = engine.computes.portOf(parent.id);
    if (!parentPort) return;
    // A hot standby refuses to replay a primary with a larger max_connections (or other such
    // settings) than its own: the spare runs with the parent's compute size and settings.
    const running = engine.readWriteEndpoint(parent.id);
    const size = running
      ? { minCu: running.autoscaling_limit_min_cu, maxCu: running.autoscaling_limit_max_cu, pgSettings: running.settings.pg_settings }
      : { minCu: project.default_endpoint_settings.autoscaling_limit_min_cu, maxCu: project.default_endpoint_settings.autoscaling_limit_max_cu };
    const spare: Spare = { id, parentId: parent.id, port, ...size };
    try {
      await engine.withAdmin(parent, (admin) =>
        copyRunningCluster(admin, engine.computes.dataDir(parent.id), dataDir, project.pg_version, async () => {
          await fs.writeFile(join(dataDir, 'standby.signal'), '');
          await engine.computes.start({
            branchId: id,
            bins: engine.binaries(project.pg_version),
            port,
            minCu: spare.minCu,
            maxCu: spare.maxCu,
            pgSettings: spare.pgSettings,
            standbyOf: { port: parentPort, user: SUPERUSER, password, name: id },
            // A hot standby's postmaster.pid says `ready`: clients wait until the promotion.
            holdClients: true,
          });
          // Keep the backup's WAL reserved until the standby streams on its own.
          const deadline = Date.now() + CATCH_UP_DEADLINE_MS;
          for (;;) {
            const { rows } = await admin.query(`SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'`, [id]);
            if (rows.length) break;
            if (Date.now() > deadline) throw new Error('the spare did not start streaming');
            await new Promise((r) => setTimeout(r, 5));
          }
        }, id),
      );
    } catch (error) {
      await this.discardSpare(spare);
      throw error;
    }
    if (!this.enabled || !engine.computes.isRunning(parent.id) || this.ready.has(parent.id)) {
      await this.discardSpare(spare);
      return;
    }
    this.ready.set(parent.id, spare);
  }

  /**
   * Turns a claimed spare into the parent's branch as of now: waits until it has replayed the
   * parent's flushed WAL, then promotes it. Returns the LSN the child starts from.
   */
  async promote(spare: Spare, parent: BranchRecord): Promise<string> {
    const engine = this.engine;
    const password = engine.superuserPassword(engine.project(parent.project_id));
    const target = await engine.withAdmin(parent, async (admin) => (await admin.query('SELECT pg_current_wal_flush_lsn()::text AS lsn')).rows[0].lsn as string);
    // Over the unix socket: the spare's TCP port serves clients only once it is promoted.
    const standby = new pg.Client({ host: engine.computes.socketDir, port: spare.port, user: SUPERUSER, password, database: 'postgres' });
    await standby.connect();
    try {
      const deadline = Date.now() + CATCH_UP_DEADLINE_MS;
      let replayed: string;
      for (;;) {
        replayed = (await standby.query('SELECT pg_last_wal_replay_lsn()::text AS lsn')).rows[0].lsn;
        if (replayed && lsnValue(replayed) >= lsnValue(target)) break;
        if (Date.now() > deadline) throw new Error(`the spare did not catch up with ${target} (at ${replayed})`);
        await new Promise((r) => setTimeout(r, 1));
      }
      const { rows } = await standby.query('SELECT pg_promote(true, 30) AS promoted');
      if (!rows[0].promoted) throw new Error('the spare did not promote');
      // Promoted: the clients that connected since the 201 are served now, read-write.
      await engine.computes.resumeAccepting(spare.id);
      return replayed;
    } finally {
      await standby.end();
    }
  }

  async discardSpare(spare: Spare): Promise<void> {
    await this.engine.computes.stop(spare.id);
    await removeCluster(this.engine.computes.dataDir(spare.id));
  }

  /**
   * The parent's compute restarts with another size or settings: its spare, made for the old
   * ones, is removed first and made again afterwards.
   */
  async whileResizing(parent: BranchRecord, restart: () => Promise<void>): Promise<void> {
    const had = this.ready.has(parent.id) || this.making.has(parent.id);
    await this.discard(parent.id);
    await restart();
    if (had) this.replenish(parent);
  }

  /** Removes the parent's spare (before the parent stops or goes away). */
  async discard(parentId: string): Promise<void> {
    await this.making.get(parentId);
    this.failures.delete(parentId);
    const spare = this.claim(parentId);
    if (spare) await this.discardSpare(spare);
  }

  async close(): Promise<void> {
    this.enabled = false;
    await Promise.allSettled([...this.making.values()]);
    await Promise.all([...this.ready.keys()].map((id) => this.discard(id)));
  }
}
