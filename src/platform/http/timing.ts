/**
 * @module Per-request timing: where a request's time goes — auth (the session or token lookup),
 * store (every metadata-store query, counted), neon (calls to a Neon API) and total — kept in an
 * AsyncLocalStorage for the request, answered as a `Server-Timing` header
 * (`auth;dur=1.2, store;dur=3.4;desc="5 queries", neon;dur=0;desc="0 calls", total;dur=6.1`) and,
 * with tracing on (`--trace`, ARBOR_TRACE=1), logged as one line per request.
 *
 * The store and the Neon client report here (store/db.ts, neon/client.ts) from wherever they are
 * called; outside a request (the reconciler) nothing is recorded. A phase's duration is the sum of
 * its parts: two queries at once count twice, so store can exceed total under Promise.all; the
 * phases overlap (auth's own queries count under store too).
 * Nothing recorded carries a secret: no header, cookie, query string, SQL text nor parameter.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { MiddlewareHandler } from 'hono';

export type Phase = 'auth' | 'store' | 'neon';

interface PhaseTotal {
  ms: number;
  count: number;
}

export class RequestTiming {
  readonly started = performance.now();
  readonly phases: Record<Phase, PhaseTotal> = { auth: { ms: 0, count: 0 }, store: { ms: 0, count: 0 }, neon: { ms: 0, count: 0 } };

  add(phase: Phase, ms: number): void {
    this.phases[phase].ms += ms;
    this.phases[phase].count++;
  }

  /** The `Server-Timing` header's value. */
  header(totalMs = performance.now() - this.started): string {
    const { auth, store, neon } = this.phases;
    const parts = [
      ...(auth.count ? [`auth;dur=${round(auth.ms)}`] : []),
      `store;dur=${round(store.ms)};desc="${store.count} ${store.count === 1 ? 'query' : 'queries'}"`,
      `neon;dur=${round(neon.ms)};desc="${neon.count} ${neon.count === 1 ? 'call' : 'calls'}"`,
      `total;dur=${round(totalMs)}`,
    ];
    return parts.join(', ');
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;

const current = new AsyncLocalStorage<RequestTiming>();

/** The timing of the request being served, if any. */
export function requestTiming(): RequestTiming | undefined {
  return current.getStore();
}

/** Runs `work`, adding its duration (settled or failed) to `phase` of the current request, if any. */
export async function timed<T>(phase: Phase, work: () => Promise<T>): Promise<T> {
  const timing = current.getStore();
  if (!timing) return work();
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    timing.add(phase, performance.now() - t0);
  }
}

/** Runs `work` as if it were a request of its own (benchmarks, tests): its result and its timing. */
export async function measured<T>(work: () => Promise<T>): Promise<{ result: T; timing: RequestTiming }> {
  const timing = new RequestTiming();
  const result = await current.run(timing, work);
  return { result, timing };
}

/** Adds a duration measured elsewhere (the Neon client's interceptors) to the current request. */
export function recordPhase(phase: Phase, ms: number): void {
  current.getStore()?.add(phase, ms);
}

/** Tracing on: ARBOR_TRACE=1 (or true/yes). */
export function traceFromEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes|on)$/i.test(env.ARBOR_TRACE ?? '');
}

export interface TimingOptions {
  /** One line per request to this function (`--trace`). */
  trace?: (line: string) => void;
}

/**
 * The middleware: every request runs inside its own RequestTiming; the answer gets the
 * Server-Timing header. The trace line names the method, the path without its query string, the
 * status and the phases.
 */
export function serverTiming(options: TimingOptions = {}): MiddlewareHandler {
  return (c, next) => {
    const timing = new RequestTiming();
    return current.run(timing, async () => {
      try {
        await next();
      } finally {
        const total = performance.now() - timing.started;
        const header = timing.header(total);
        // An error answered by an onError handler has its response by now; an uncaught one does not.
        try {
          c.res?.headers.set('Server-Timing', header);
        } catch {
          // a response with immutable headers goes without
        }
        if (options.trace) options.trace(`${c.req.method} ${c.req.path} ${c.res?.status ?? '-'} ${traceText(timing, total)}`);
      }
    });
  };
}

function traceText(timing: RequestTiming, total: number): string {
  const { auth, store, neon } = timing.phases;
  return `total=${round(total)}ms auth=${round(auth.ms)}ms store=${round(store.ms)}ms/${store.count}q neon=${round(neon.ms)}ms/${neon.count}`;
}
