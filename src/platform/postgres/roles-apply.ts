/**
 * @module `arbor roles apply`: observe the branch, plan, and run the plan in as few round trips
 * as its phases allow, then observe again to prove the result.
 */
import type { AppModel } from './app-model.ts';
import { newRoundTrips, openSession, type RoundTrips, type Session } from './connection.ts';
import { mapLimited, observeRoles } from './roles-observe.ts';
import { planRoles, type Deviation, type Operation, type PlanOptions, type Secret } from './roles-plan.ts';

const DATABASE_CONCURRENCY = 4;

export interface ApplyResult {
  /** False when the branch already matched the model: nothing was sent but the observation. */
  changed: boolean;
  /** What was done, in order (comments only, never SQL: it can hold passwords). */
  operations: { phase: string; comment: string; database: string | null }[];
  /** Passwords of login roles created (or re-enabled) by this run: shown once, kept nowhere. */
  secrets: Secret[];
  /** Deviations still there afterwards (ones that need a superuser or another role's owner). */
  remaining: Deviation[];
  roundTrips: RoundTrips;
  ms: number;
}

/** A step failed. Steps before it stay applied; `secrets` holds the passwords they set. */
export class RolesApplyError extends Error {
  constructor(
    message: string,
    readonly operation: Pick<Operation, 'phase' | 'comment' | 'database'> | null,
    readonly secrets: Secret[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RolesApplyError';
  }
}

/**
 * Brings the branch at `url` (connected as the platform role, e.g. `encore_platform`) to the
 * hierarchy of `model`. Idempotent; a second run sends only the observation queries.
 *
 * @example
 * const result = await applyRoles(process.env.PLATFORM_URL!, await loadAppModel('arbor.yaml'));
 * for (const { role, password } of result.secrets) store(role, password);
 */
export async function applyRoles(url: string, model: AppModel, options: PlanOptions & { log?: (line: string) => void } = {}): Promise<ApplyResult> {
  const started = performance.now();
  const roundTrips = newRoundTrips();
  const session = await openSession(url, roundTrips);
  try {
    const observed = await observeRoles(session, url, model, roundTrips);
    const plan = planRoles(model, observed, options);
    if (!plan.operations.length) {
      return { changed: false, operations: [], secrets: [], remaining: plan.deviations, roundTrips, ms: performance.now() - started };
    }
    const committed = new Set<string>();
    const secretsSoFar = () => plan.secrets.filter((s) => committed.has(s.role));
    try {
      await runOperations(session, url, plan.operations, roundTrips, (done) => {
        for (const o of done) {
          if (o.setsPasswordOf) committed.add(o.setsPasswordOf);
          options.log?.(o.comment);
        }
      });
    } catch (error) {
      if (error instanceof RolesApplyError) throw new RolesApplyError(error.message, error.operation, secretsSoFar(), { cause: error.cause });
      throw error;
    }
    const after = planRoles(model, await observeRoles(session, url, model, roundTrips), { generatePassword: () => 'unused' });
    return {
      changed: true,
      operations: plan.operations.map(({ phase, comment, database }) => ({ phase, comment, database })),
      secrets: secretsSoFar(),
      remaining: after.deviations,
      roundTrips,
      ms: performance.now() - started,
    };
  } finally {
    await session.end();
  }
}

/**
 * Runs operations in order. Consecutive platform-connection operations share one multi-statement
 * query (one round trip, one implicit transaction); CREATE DATABASE goes alone; a run of
 * in-database operations goes as one query per database, databases in parallel.
 */
export async function runOperations(
  session: Session,
  url: string,
  operations: Operation[],
  stats: RoundTrips,
  onCommitted: (done: Operation[]) => void,
): Promise<void> {
  let i = 0;
  while (i < operations.length) {
    if (operations[i].database !== null) {
      let end = i;
      while (end < operations.length && operations[end].database !== null) end++;
      const byDatabase = new Map<string, Operation[]>();
      for (const o of operations.slice(i, end)) byDatabase.set(o.database!, [...(byDatabase.get(o.database!) ?? []), o]);
      await mapLimited([...byDatabase], DATABASE_CONCURRENCY, async ([database, ops]) => {
        const own = database === session.database ? session : await openSession(url, stats, database);
        try {
          await runBatch(own, ops);
          onCommitted(ops);
        } finally {
          if (own !== session) await own.end();
        }
      });
      i = end;
      continue;
    }
    let end = i + 1;
    if (!operations[i].standalone) {
      while (end < operations.length && operations[end].database === null && !operations[end].standalone) end++;
    }
    const batch = operations.slice(i, end);
    await runBatch(session, batch);
    onCommitted(batch);
    i = end;
  }
}

/** One round trip; on failure, finds the failing operation in a rolled-back replay for the message. */
async function runBatch(session: Session, batch: Operation[]): Promise<void> {
  try {
    await session.batch(batch.map((o) => o.sql + ';').join('\n'));
    return;
  } catch (error) {
    let failing: Operation | null = batch.length === 1 ? batch[0] : null;
    let cause = error as Error;
    if (!failing) {
      await session.query('BEGIN');
      try {
        for (const o of batch) {
          try {
            await session.query(o.sql);
          } catch (replayError) {
            failing = o;
            cause = replayError as Error;
            break;
          }
        }
      } finally {
        await session.query('ROLLBACK');
      }
    }
    const where = failing ? `could not ${failing.comment}${failing.database ? ` (in database ${failing.database})` : ''}` : 'a step failed';
    throw new RolesApplyError(
      `roles apply: ${where}: ${cause.message}\nNothing of this step was applied; earlier steps were. Fix the cause and run apply again: it continues from what exists.`,
      failing && { phase: failing.phase, comment: failing.comment, database: failing.database },
      [],
      { cause },
    );
  }
}
