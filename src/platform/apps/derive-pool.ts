/**
 * @module Where POST /encore-apps/derive reads an uploaded app: worker threads, because reading it
 * (postgres/encore-app.ts runs the TypeScript compiler over every file) is synchronous CPU work
 * that, on the request handler, would stall every other request of every member for as long as
 * one large upload takes. At most two workers (one on a 2-core machine, leaving a core to the
 * platform), reused between uploads (starting one loads tsx and TypeScript: about a second), a
 * bounded queue, a time limit after which the worker is stopped, and a memory limit per worker.
 * The CLI's `apps apply --encore DIR` reads the folder in its own process (encore.ts).
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { PlatformError, RateLimited } from '../errors.ts';
import type { DerivedApp } from './encore.ts';

/** One upload: checked files to write under `root` (inside a temporary folder the caller removes). */
export interface DeriveJob {
  root: string;
  folder: string;
  files: { path: string; text: string }[];
}

/** What a worker answers (derive-worker.ts). */
export type DeriveAnswer = { ok: true; result: DerivedApp } | { ok: false; error: { message: string; status?: PlatformError['status']; code?: string; field?: string } } | { phase: 'parsing' | 'parsed' };

const WORKERS = Math.min(2, Math.max(1, availableParallelism() - 1));
/** Uploads waiting for a worker beyond this are refused (429), not queued without end. */
const MAX_WAITING = 16;
/** Heap per worker: an app whose reading needs more is refused as too large, the platform unharmed. */
const MEMORY_MB = 1024;

/** The time limit of one derive, in seconds: ARBOR_DERIVE_TIME_LIMIT_SECONDS, default 60 (read per upload). */
export function deriveTimeLimitSeconds(): number {
  const raw = Number(process.env.ARBOR_DERIVE_TIME_LIMIT_SECONDS);
  return Number.isFinite(raw) && raw > 0 ? raw : 60;
}

/** `start` when a worker takes an upload, `parsing`/`parsed` around the compiler's parse, `end` when it is answered (each with the job): for tests and logs. */
export const deriveEvents = new EventEmitter();

interface Queued {
  job: DeriveJob;
  resolve: (derived: DerivedApp) => void;
  reject: (error: Error) => void;
}
const idle: Worker[] = [];
const waiting: Queued[] = [];
let running = 0;

/** Derives `job` in a worker: the same answer (and the same 400s) as deriving it in process. */
export function deriveInWorker(job: DeriveJob): Promise<DerivedApp> {
  return new Promise((resolve, reject) => {
    if (waiting.length >= MAX_WAITING) return reject(new RateLimited(`${waiting.length} Encore apps are waiting to be read; try again in a minute`, 60));
    waiting.push({ job, resolve, reject });
    pump();
  });
}

function pump(): void {
  while (waiting.length && running < WORKERS) {
    const next = waiting.shift()!;
    running++;
    void run(next).finally(() => {
      running--;
      pump();
    });
  }
}

function spawn(): Worker {
  // A .ts worker entry is not run through tsx's hooks in Node 20's workers (ERR_UNKNOWN_FILE_EXTENSION),
  // whether the platform started under `node --import tsx` or bin/arbor.js: the .mjs entry registers
  // tsx in the worker itself, then imports the TypeScript.
  const worker = new Worker(new URL('./derive-worker.mjs', import.meta.url), { execArgv: [], resourceLimits: { maxOldGenerationSizeMb: MEMORY_MB } });
  // An idle worker's crash is no request's error: it is only dropped.
  worker.on('error', () => {});
  worker.once('exit', () => idle.includes(worker) && idle.splice(idle.indexOf(worker), 1));
  return worker;
}

function run({ job, resolve, reject }: Queued): Promise<void> {
  const worker = idle.pop() ?? spawn();
  worker.ref();
  const limit = deriveTimeLimitSeconds();
  return new Promise<void>((done) => {
    const finish = (keep: boolean, settle: () => void) => {
      clearTimeout(timer);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      if (keep) {
        // Idle workers do not keep the process alive.
        worker.unref();
        idle.push(worker);
      } else void worker.terminate();
      settle();
      deriveEvents.emit('end', job);
      done();
    };
    const timer = setTimeout(
      () => finish(false, () => reject(new PlatformError(413, 'too_large', `the Encore app took longer than ${limit} s to read (the limit of POST /encore-apps/derive): upload fewer files (no node_modules, build output or generated code), or derive it locally with \`arbor apps apply --encore DIR\``, 'files'))),
      limit * 1000,
    );
    const onMessage = (answer: DeriveAnswer) => {
      if ('phase' in answer) deriveEvents.emit(answer.phase, job);
      else finish(true, () => (answer.ok ? resolve(answer.result) : reject(revive(answer.error))));
    };
    const onError = (error: Error & { code?: string }) =>
      finish(false, () => reject(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new PlatformError(413, 'too_large', `the Encore app needs more than ${MEMORY_MB} MiB to read (the limit of POST /encore-apps/derive): upload fewer files, or derive it locally with \`arbor apps apply --encore DIR\``, 'files') : error));
    const onExit = (code: number) => finish(false, () => reject(new Error(`the worker reading the Encore app stopped (exit code ${code})`)));
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    deriveEvents.emit('start', job);
    worker.postMessage(job);
  });
}

function revive(error: { message: string; status?: PlatformError['status']; code?: string; field?: string }): Error {
  return error.status && error.code ? new PlatformError(error.status, error.code, error.message, error.field) : new Error(error.message);
}

/** Stops every idle worker (the platform's close). */
export async function stopDeriveWorkers(): Promise<void> {
  await Promise.all(idle.splice(0).map((w) => w.terminate()));
}
