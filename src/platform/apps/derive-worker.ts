/**
 * @module The worker thread that reads uploaded Encore apps (derive-pool.ts): one upload at a
 * time, answered with the derived app or the error, a PlatformError's status and field kept so
 * the API answers as it would in process. The compiler's parse is reported as it starts and ends.
 */
import { parentPort } from 'node:worker_threads';
import { PlatformError } from '../errors.ts';
import type { DeriveAnswer, DeriveJob } from './derive-pool.ts';
import { deriveWrittenUpload } from './encore.ts';

parentPort!.on('message', async (job: DeriveJob) => {
  let answer: DeriveAnswer;
  try {
    answer = { ok: true, result: await deriveWrittenUpload(job, (phase) => parentPort!.postMessage({ phase })) };
  } catch (error) {
    const e = error as Error;
    answer = { ok: false, error: e instanceof PlatformError ? { message: e.message, status: e.status, code: e.code, field: e.field } : { message: e.message } };
  }
  parentPort!.postMessage(answer);
});
