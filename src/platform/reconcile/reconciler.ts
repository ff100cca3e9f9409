/**
 * @module The reconciler: moves each environment from its desired spec to what exists on Neon and
 * Postgres, one recorded step at a time.
 *
 * Level-based: every run reads the spec and what exists, and acts on the difference. Work is
 * claimed with a row lock (`FOR UPDATE SKIP LOCKED`) and held with a lease, so several platform
 * processes on one database never work on the same environment at once, and a crashed process's
 * lease runs out for another to finish its job. Outcomes: done; not yet (check again soon);
 * error (recorded on the environment, retried with backoff).
 */
import { randomUUID } from 'node:crypto';
import { and, eq, isNull, lt, ne, or, sql } from 'drizzle-orm';
import { clientFor } from '../accounts/accounts.ts';
import { appFor, modelOf } from '../apps/apps.ts';
import type { Context } from '../context.ts';
import { accounts, apps, environments, environmentSteps, type Environment, type EnvironmentNeon } from '../store/schema.ts';
import type { CallCounter } from '../neon/client.ts';
import { expirePreviews } from '../previews/previews.ts';
import { maskPreview, withMasking } from '../previews/masking.ts';
import { resetFromParent, withReset } from '../previews/reset.ts';
import { restoreToPoint, withRestore } from '../environments/restore.ts';
import { sweepPreviewBranches } from '../previews/sweep.ts';
import { describeFailure } from './failure.ts';
import { recoverVanished } from './vanished.ts';
import { neonStatus } from '../neon/client.ts';
import { applyHierarchy, applySettings, awaitNeon, deleteNeonResources, ensureNeonResources, ensureSuperuser, NotYet, runMigrations, type StepContext } from './steps.ts';

const LEASE_MS = 15_000;
const POLL_MS = 500;
const MAX_BACKOFF_MS = 5 * 60_000;
const EXPIRY_CHECK_MS = 2000;
/** How often Neon is looked through for preview branches no environment holds (previews/sweep.ts). */
const SWEEP_MS = 60_000;

type Step = { name: string; run: (s: StepContext) => Promise<string | void> };

/** The order is the seed's: resources, operations, superuser, hierarchy, settings, migrations. */
export const STEPS: Step[] = [
  { name: 'neon-resources', run: ensureNeonResources },
  { name: 'operations', run: awaitNeon },
  { name: 'superuser', run: ensureSuperuser },
  { name: 'roles', run: applyHierarchy },
  { name: 'settings', run: applySettings },
  { name: 'migrations', run: runMigrations },
];

export interface ReconcilerOptions {
  /** Test hook: SIGKILL this process right after the named step (`ARBOR_FAILPOINT=after:<step>`), or at a point inside one (StepContext.crashPoint). */
  failpoint?: string;
  /** Counts Neon API calls (benchmarks). */
  counter?: CallCounter;
  /**
   * This process is the store's only user (embedded PGlite): leases found at start belong to a
   * process that died, and are dropped instead of waited out.
   */
  exclusive?: boolean;
}

export class Reconciler {
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private wake?: () => void;

  constructor(
    private readonly ctx: Context,
    private readonly options: ReconcilerOptions = {},
  ) {}

  async start(): Promise<void> {
    if (this.options.exclusive) await this.ctx.db.update(environments).set({ leaseOwner: null, leaseUntil: null });
    const loop = async () => {
      let expiredAt = 0;
      // The first sweep a minute after start (not on every test platform's first second).
      let sweptAt = Date.now();
      while (!this.stopped) {
        if (Date.now() - expiredAt > EXPIRY_CHECK_MS) {
          expiredAt = Date.now();
          await expirePreviews(this.ctx).catch((error) => this.ctx.log.warn(`preview expiry: ${(error as Error).message}`));
        }
        if (Date.now() - sweptAt > SWEEP_MS) {
          sweptAt = Date.now();
          await sweepPreviewBranches(this.ctx).catch((error) => this.ctx.log.warn(`preview sweep: ${(error as Error).message}`));
        }
        const worked = await this.runOnce().catch((error) => {
          this.ctx.log.warn(`reconciler: ${(error as Error).message}`);
          return false;
        });
        if (!worked && !this.stopped) await new Promise<void>((r) => ((this.wake = r), (this.timer = setTimeout(r, POLL_MS))));
      }
    };
    this.running = loop();
  }

  /** Look for work now (after an API call changed something). */
  kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.kick();
    await this.running;
  }

  /** Claims one environment that needs work and reconciles it; false when there was none. */
  async runOnce(): Promise<boolean> {
    const env = await this.claim();
    if (!env) return false;
    const renew = setInterval(() => {
      void this.ctx.db.update(environments).set({ leaseUntil: new Date(Date.now() + LEASE_MS) }).where(and(eq(environments.id, env.id), eq(environments.leaseOwner, this.owner)));
    }, LEASE_MS / 3);
    try {
      await this.reconcile(env);
    } finally {
      clearInterval(renew);
    }
    return true;
  }

  private async claim(): Promise<Environment | undefined> {
    return this.ctx.db.transaction(async (tx) => {
      const [candidate] = await tx
        .select()
        .from(environments)
        .where(
          and(
            or(ne(environments.generation, environments.observedGeneration), eq(environments.status, 'deleting')),
            or(isNull(environments.leaseUntil), lt(environments.leaseUntil, new Date())),
          ),
        )
        .orderBy(environments.id)
        .limit(1)
        .for('update', { skipLocked: true });
      if (!candidate) return undefined;
      const [claimed] = await tx
        .update(environments)
        .set({ leaseOwner: this.owner, leaseUntil: new Date(Date.now() + LEASE_MS) })
        .where(eq(environments.id, candidate.id))
        .returning();
      return claimed;
    });
  }

  private async release(envId: number, retryInMs?: number): Promise<void> {
    await this.ctx.db
      .update(environments)
      .set({ leaseOwner: null, leaseUntil: retryInMs ? new Date(Date.now() + retryInMs) : null })
      .where(and(eq(environments.id, envId), eq(environments.leaseOwner, this.owner)));
  }

  private async reconcile(claimed: Environment): Promise<void> {
    const ctx = this.ctx;
    let env = claimed;
    const generation = env.generation;
    // A protected environment runs the app's approved model and migrations (a developer's pending change waits).
    const app = appFor((await ctx.db.select().from(apps).where(eq(apps.id, env.appId)))[0], env);
    const [account] = await ctx.db.select().from(accounts).where(eq(accounts.id, env.accountId));
    const step: StepContext = {
      ctx,
      api: clientFor(ctx, account, this.options.counter),
      app,
      model: modelOf(app),
      env,
      uriCache: {},
      crashPoint: (point: string) => {
        if (this.options.failpoint === point) process.kill(process.pid, 'SIGKILL');
      },
      saveNeon: async (neon: EnvironmentNeon) => {
        [env] = await ctx.db.update(environments).set({ neon, updatedAt: new Date() }).where(eq(environments.id, env.id)).returning();
        step.env = env;
      },
    };
    // A preview asked to reset from its parent runs `reset-from-parent` after `operations` (previews/reset.ts),
    // an environment asked to restore to a point in time `restore-to-point` (environments/restore.ts).
    // A masked preview's branch is made by `masking`, first (previews/masking.ts).
    const steps: Step[] =
      env.status === 'deleting'
        ? [{ name: 'delete-neon', run: deleteNeonResources }]
        : await withMasking(ctx, app, env, withRestore(env, withReset(env, STEPS, { name: 'reset-from-parent', run: resetFromParent }), { name: 'restore-to-point', run: restoreToPoint }), { name: 'masking', run: maskPreview });
    // A deletion requested meanwhile wins over whatever this run writes (status is never moved off 'deleting').
    const keepDeleting = (next: string) => sql`CASE WHEN ${environments.status} = 'deleting' THEN 'deleting' ELSE ${next} END`;
    if (env.status !== 'deleting') await ctx.db.update(environments).set({ status: keepDeleting('provisioning'), error: null }).where(eq(environments.id, env.id));
    let failedStep = '';
    try {
      for (const s of steps) {
        failedStep = s.name;
        await this.runStep(step, generation, s);
      }
    } catch (error) {
      if (error instanceof NotYet) {
        await this.release(env.id, 1000);
        return;
      }
      if (env.status !== 'deleting' && neonStatus(error) === 404) {
        // Something the environment holds may be gone on Neon: made again, or a clear failure.
        const outcome = await recoverVanished(step).catch(() => null);
        if (outcome === 'recreate') {
          await this.release(env.id, 1000);
          return;
        }
        if (outcome) error = outcome;
      }
      const failure = describeFailure(error);
      ctx.log.warn(`environment ${app.name}/${env.name}: ${failure.shown}`);
      // The full text (it may carry row data) only sealed, for app admins (error-detail).
      const neon = { ...env.neon, failure: { sealed: ctx.secrets.seal(failure.full), step: failedStep, at: new Date().toISOString() } } as EnvironmentNeon;
      // Transient: retry with exponential backoff. Permanent (Neon refused the request as such): not
      // retried until something changes (a change to the environment, or POST …/retry).
      const failures = env.failures + 1;
      await ctx.db
        .update(environments)
        .set({ status: keepDeleting('failed'), error: failure.shown, failures, neon, ...(failure.permanent ? { observedGeneration: generation } : {}) })
        .where(eq(environments.id, env.id));
      await this.release(env.id, Math.min(MAX_BACKOFF_MS, 1000 * 2 ** failures));
      return;
    }
    if (env.status === 'deleting') {
      await ctx.db.delete(environments).where(eq(environments.id, env.id));
      return;
    }
    // Ready for this generation; a newer one (changed meanwhile) keeps it queued. An import with
    // changes to make waits for an app admin's confirmation (POST …/confirm-import).
    const done = env.spec.mode === 'import' && !env.spec.fixRoles && env.neon.pendingChanges?.length ? 'awaiting_confirmation' : 'ready';
    await ctx.db
      .update(environments)
      .set({
        status: sql`CASE WHEN ${environments.status} = 'deleting' THEN 'deleting' WHEN ${environments.generation} = ${generation} THEN ${done} ELSE 'provisioning' END`,
        observedGeneration: generation,
        error: null,
        failures: 0,
        neon: sql`${environments.neon} - 'failure'`,
        updatedAt: new Date(),
      })
      .where(eq(environments.id, env.id));
    await this.release(env.id);
  }

  private async runStep(s: StepContext, generation: number, step: Step): Promise<void> {
    const [row] = await this.ctx.db.insert(environmentSteps).values({ environmentId: s.env.id, generation, step: step.name, status: 'running', worker: this.owner }).returning();
    try {
      const detail = await step.run(s);
      await this.ctx.db.update(environmentSteps).set({ status: 'done', detail: detail || null, finishedAt: new Date() }).where(eq(environmentSteps.id, row.id));
    } catch (error) {
      const retry = error instanceof NotYet;
      await this.ctx.db
        .update(environmentSteps)
        .set({ status: retry ? 'done' : 'failed', detail: retry ? `waiting: ${(error as Error).message}` : describeFailure(error).shown, finishedAt: new Date() })
        .where(eq(environmentSteps.id, row.id));
      throw error;
    }
    if (this.options.failpoint === `after:${step.name}`) process.kill(process.pid, 'SIGKILL');
  }
}
