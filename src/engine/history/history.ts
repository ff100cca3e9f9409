/**
 * @module History retention: the background work that keeps each branch's history to its
 * project's `history_retention_seconds` — base copies (a project's first when it is made; a
 * branch copied or promoted from its parent starts on its parent's, lineage.ts; others get a
 * first right after they are made; then one whenever enough WAL or time has passed), pruning
 * what falls out of the window, measuring storage for the API — and the timing of branch expiry (`expires_at`; which branches expire and
 * how they are deleted is lifecycle/expiry.ts, handed in by the engine).
 *
 * Base copies run one at a time beside the project's operations (a copy takes as long as the
 * cluster is big; it must not hold up branch creations); a delete or restore of the branch waits
 * for its copy first (`quiesce`), and a copy of a state that was restored meanwhile is dropped.
 * Pruning runs in the project's queue (Engine.schedule, with no operation), so it never removes
 * what a point-in-time build of the same project is reading.
 */
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BranchRecord, ProjectRecord } from '../catalog/types.ts';
import type { Engine } from '../engine.ts';
import { takeBaseCopy } from './base-copy.ts';
import { basesNeededByDescendants, historySource, readInherited } from './lineage.ts';
import { segmentOrder } from './lsn.ts';
import { archivedSegments, branchHistoryDir, dirSize, historyRoot, listBases, walArchiveDir } from './store.ts';

export interface HistoryOptions {
  /** How often retention is enforced (pruning, periodic base copies, storage sizes). Default 60 s. */
  tickMs?: number;
  /** A new base copy once this much WAL was archived since the newest one. Default 1 GiB. */
  baseCopyWalBytes?: number;
  /** A new base copy once the newest is this old and WAL was written since. Default 24 h. */
  baseCopyIntervalMs?: number;
  /** How often expired branches are looked for. Default 5 s. */
  expiryCheckMs?: number;
}

const SEGMENT_BYTES = 16 * 1024 * 1024;

export class History {
  readonly options: Required<HistoryOptions>;
  private timers: NodeJS.Timeout[] = [];
  private pendingBases = new Map<string, Promise<void>>();
  /** Branches whose base copies are running now, and those being deleted (see `forget`). */
  private runningBases = new Set<string>();
  private forgotten = new Set<string>();
  private pendingTracks = new Set<Promise<void>>();
  private runningPrunes = new Set<string>();
  private copying: Promise<unknown> = Promise.resolve();
  private pendingPrunes = new Map<string, Promise<void>>();
  private ticking: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly engine: Engine,
    options: HistoryOptions = {},
    /** One expiry round: deletes the branches whose `expires_at` has passed (lifecycle/expiry.ts). */
    private readonly expireBranches: () => void = () => {},
  ) {
    this.options = {
      tickMs: options.tickMs ?? 60_000,
      baseCopyWalBytes: options.baseCopyWalBytes ?? 1024 * 1024 * 1024,
      baseCopyIntervalMs: options.baseCopyIntervalMs ?? 24 * 3_600_000,
      expiryCheckMs: options.expiryCheckMs ?? 5_000,
    };
  }

  /** Starts the timers; expired branches are deleted at once (they may have expired while stopped). */
  start(): void {
    this.expire();
    const every = (ms: number, fn: () => void) => {
      const timer = setInterval(fn, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.expiryCheckMs, () => this.expire());
    every(this.options.tickMs, () => void this.tick());
    for (const branch of this.engine.data.branches) this.track(branch);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.settled();
  }

  /** Waits for the base copies and pruning queued so far (tests). */
  async settled(): Promise<void> {
    await this.ticking;
    await Promise.allSettled([...this.pendingTracks]);
    await Promise.allSettled([...this.pendingBases.values(), ...this.pendingPrunes.values()]);
  }

  /** Waits for the branch's queued or running base copy (before its data is deleted or replaced). */
  async quiesce(branchId: string): Promise<void> {
    await this.pendingBases.get(branchId);
  }

  /**
   * Before the branch is deleted: a base copy of it still queued (behind other branches' copies,
   * one at a time engine-wide) is dropped instead of waited for; a running one is waited for.
   */
  async forget(branchId: string): Promise<void> {
    this.forgotten.add(branchId);
    if (this.runningBases.has(branchId)) await this.pendingBases.get(branchId);
  }

  /** Whether a base copy of the branch is queued or running. */
  isPending(branchId: string): boolean {
    return this.pendingBases.has(branchId);
  }

  /** Queues the branch's first base copy if it has none (after creation, restore, engine start). */
  track(branch: BranchRecord): void {
    if (this.closed || this.pendingBases.has(branch.id)) return;
    if (this.engine.project(branch.project_id).history_retention_seconds === 0) return;
    // Tracked until the copy is queued, so `settled()` waits for a first copy decided just now.
    // A branch that inherited its history (lineage.ts) needs none while an ancestor's base covers its fork.
    const check: Promise<void> = historySource(this.engine.home, this.engine.data.branches, branch, {})
      .then((source) => (source ? undefined : this.baseCopy(branch)))
      .catch(() => {})
      .finally(() => this.pendingTracks.delete(check));
    this.pendingTracks.add(check);
  }

  /** Queues a base copy of the branch (one copy at a time engine-wide); resolves when it is taken. */
  baseCopy(branch: BranchRecord): Promise<void> {
    const existing = this.pendingBases.get(branch.id);
    if (existing) return existing;
    const done = this.copying.then(async () => {
      const current = this.engine.data.branches.find((b) => b.id === branch.id);
      if (!current || this.closed || this.forgotten.has(branch.id) || current.current_state !== 'ready' || !existsSync(this.engine.computes.dataDir(branch.id))) return;
      this.runningBases.add(branch.id);
      try {
        await takeBaseCopy(this.engine, current);
      } finally {
        this.runningBases.delete(branch.id);
      }
    });
    this.copying = done.catch(() => {});
    const tracked = done
      .catch((error) => this.engine.log.warn(`base copy of ${branch.id} failed: ${(error as Error).message}`))
      .finally(() => this.pendingBases.delete(branch.id));
    this.pendingBases.set(branch.id, tracked);
    return done;
  }

  /** Queues pruning of the project's history (after its retention changed); resolves when done. */
  prune(projectId: string): Promise<void> {
    // A queued prune will read the retention when it runs; one already running may have read the
    // old value, so a new one is queued behind it.
    const existing = this.pendingPrunes.get(projectId);
    if (existing && !this.runningPrunes.has(projectId)) return existing;
    const done = new Promise<void>((resolve) => {
      this.engine.schedule(projectId, [], async () => {
        this.runningPrunes.add(projectId);
        try {
          const project = this.engine.data.projects.find((p) => p.id === projectId);
          if (project) {
            const branches = this.engine.branchesOf(projectId);
            const needed = await basesNeededByDescendants(this.engine.home, branches, Date.now() - project.history_retention_seconds * 1000);
            for (const branch of branches) await this.pruneBranch(project, branch, needed);
          }
          if (project) await this.measure(project);
        } finally {
          this.runningPrunes.delete(projectId);
          resolve();
        }
      });
    });
    const tracked: Promise<void> = done.finally(() => {
      if (this.pendingPrunes.get(projectId) === tracked) this.pendingPrunes.delete(projectId);
    });
    this.pendingPrunes.set(projectId, tracked);
    return tracked;
  }

  /**
   * Keeps the base copies a point inside the window needs — those taken after the window start,
   * and the newest one before it — and the archived WAL from the oldest kept copy on.
   */
  private async pruneBranch(project: ProjectRecord, branch: BranchRecord, needed: ReadonlySet<string>): Promise<void> {
    const home = this.engine.home;
    const root = branchHistoryDir(home, branch.id);
    if (!existsSync(root)) return;
    for (const name of await fs.readdir(root)) {
      if (name.endsWith('.partial') && !this.pendingBases.has(branch.id)) await fs.rm(join(root, name), { recursive: true, force: true });
    }
    const bases = await listBases(home, branch.id);
    const start = Date.now() - project.history_retention_seconds * 1000;
    let keepFrom = bases.findIndex((b) => Date.parse(b.time) >= start);
    if (keepFrom === -1) keepFrom = bases.length;
    if (project.history_retention_seconds > 0 && keepFrom > 0) keepFrom -= 1;
    // Descendants whose history starts in this branch's keep the base their fork resolves to.
    const oldestNeeded = bases.findIndex((b) => needed.has(b.dir));
    if (oldestNeeded !== -1 && oldestNeeded < keepFrom) keepFrom = oldestNeeded;
    for (const base of bases.slice(0, keepFrom)) await fs.rm(base.dir, { recursive: true, force: true });
    const kept = bases.slice(keepFrom);
    // While points of the window still replay from an ancestor's base, all of the branch's own WAL
    // (from its fork on) is needed.
    if (readInherited(home, branch.id) && !kept.some((b) => Date.parse(b.time) <= start)) return;
    const oldestSegment = kept.length ? segmentOrder(kept[0].startSegment) : undefined;
    for (const segment of await archivedSegments(home, branch.id)) {
      if (oldestSegment === undefined || segmentOrder(segment) < oldestSegment) await fs.rm(join(walArchiveDir(home, branch.id), segment), { force: true });
    }
  }

  /** Whether the branch wrote enough WAL, or enough time passed, since its newest base copy. */
  private async needsBaseCopy(branch: BranchRecord): Promise<boolean> {
    const bases = await listBases(this.engine.home, branch.id);
    const segments = await archivedSegments(this.engine.home, branch.id);
    let since: number;
    let newestTime: string;
    if (bases.length) {
      const newest = bases[bases.length - 1];
      since = segments.filter((s) => segmentOrder(s) > segmentOrder(newest.startSegment)).length;
      newestTime = newest.time;
    } else if (await historySource(this.engine.home, this.engine.data.branches, branch, {})) {
      // Inherited history: its own WAL since the fork counts, from the branch's creation.
      since = segments.length;
      newestTime = branch.created_at;
    } else {
      return true;
    }
    if (since * SEGMENT_BYTES >= this.options.baseCopyWalBytes) return true;
    return since > 0 && Date.now() - Date.parse(newestTime) >= this.options.baseCopyIntervalMs;
  }

  /** One round of retention: base copies where due, pruning, storage sizes, leftover directories. */
  tick(): Promise<void> {
    if (this.ticking || this.closed) return this.ticking ?? Promise.resolve();
    this.ticking = (async () => {
      try {
        for (const project of [...this.engine.data.projects]) {
          if (project.history_retention_seconds > 0) {
            for (const branch of this.engine.branchesOf(project.id)) {
              if (branch.current_state === 'ready' && !this.pendingBases.has(branch.id) && (await this.needsBaseCopy(branch))) {
                void this.baseCopy(branch).catch(() => {});
              }
            }
          }
          void this.prune(project.id);
        }
        await this.removeOrphans();
      } catch (error) {
        this.engine.log.warn(`history retention round failed: ${(error as Error).message}`);
      } finally {
        this.ticking = undefined;
      }
    })();
    return this.ticking;
  }

  /** History of branches that no longer exist (deleted, or half-made before a crash). */
  private async removeOrphans(): Promise<void> {
    const root = historyRoot(this.engine.home);
    if (!existsSync(root)) return;
    const clusters = readdirSync(join(this.engine.home, 'clusters'));
    for (const name of readdirSync(root)) {
      if (!name.startsWith('br-') || this.engine.data.branches.some((b) => b.id === name)) continue;
      if (this.engine.spares.isSpare(name) || clusters.some((c) => c === name || c.startsWith(`${name}.`))) continue;
      await fs.rm(join(root, name), { recursive: true, force: true });
    }
  }

  /**
   * Storage as Neon reports it: a branch's `logical_size` is its cluster on disk; the project's
   * `synthetic_storage_size` adds every branch's history (base copies and archived WAL), and
   * `data_storage_bytes_hour` accumulates it over time.
   */
  async measure(project: ProjectRecord): Promise<void> {
    let total = 0;
    for (const branch of this.engine.branchesOf(project.id)) {
      branch.logical_size = await dirSize(this.engine.computes.dataDir(branch.id));
      total += branch.logical_size + (await dirSize(branchHistoryDir(this.engine.home, branch.id)));
    }
    const now = Date.now();
    const last = project.storage_measured_at ? Date.parse(project.storage_measured_at) : now;
    project.data_storage_bytes_hour = Math.round((project.data_storage_bytes_hour ?? 0) + ((project.synthetic_storage_size ?? total) * (now - last)) / 3_600_000);
    project.synthetic_storage_size = total;
    project.storage_measured_at = new Date(now).toISOString();
  }

  /** Deletes branches whose `expires_at` has passed, through the same path as DELETE (lifecycle/expiry.ts). */
  expire(): void {
    if (this.closed) return;
    this.expireBranches();
  }
}
