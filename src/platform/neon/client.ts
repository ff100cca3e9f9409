/**
 * @module The platform's only way to Neon (or the Arbor engine): the official
 * `@neondatabase/api-client`, with Neon's rules added — retry 423/429/503 with backoff, await
 * operations, and treat a 404 on delete as done.
 */
import { createApiClient, type Api } from '@neondatabase/api-client';

export type NeonApi = Api<unknown>;

const RETRY_STATUSES = new Set([423, 429, 503]);
const MAX_ATTEMPTS = 8;

/** Counts API calls per client, for benchmarks ("Neon API calls per environment"). */
export interface CallCounter {
  calls: number;
}

export function neonClient(apiUrl: string, apiKey: string, counter?: CallCounter): NeonApi {
  const api = createApiClient({ apiKey, baseURL: apiUrl, timeout: 60_000 });
  api.instance.interceptors.request.use((config) => {
    if (counter) counter.calls++;
    return config;
  });
  api.instance.interceptors.response.use(undefined, async (error) => {
    const config = error.config as (typeof error.config & { __attempt?: number }) | undefined;
    const status = error.response?.status;
    if (!config || !RETRY_STATUSES.has(status)) throw error;
    const attempt = (config.__attempt ?? 0) + 1;
    if (attempt >= MAX_ATTEMPTS) throw error;
    config.__attempt = attempt;
    const retryAfter = Number(error.response?.headers?.['retry-after']);
    const delay = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : Math.min(5000, 100 * 2 ** attempt);
    await new Promise((r) => setTimeout(r, delay));
    return api.instance.request(config);
  });
  return api;
}

export function neonStatus(error: unknown): number | undefined {
  return (error as { response?: { status?: number } }).response?.status;
}

/** Neon's message for a failed call, for errors shown to people. */
export function neonMessage(error: unknown): string {
  const data = (error as { response?: { data?: { message?: string } } }).response?.data;
  return data?.message ?? (error as Error).message;
}

/** Waits until the project has no operation in progress; fails on a failed one. */
export async function awaitOperations(api: NeonApi, projectId: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 20; ; delay = Math.min(1000, delay * 2)) {
    const { data } = await api.listProjectOperations({ projectId, limit: 100 });
    const pending = data.operations.filter((o) => !['finished', 'skipped', 'cancelled', 'failed', 'error'].includes(o.status));
    if (!pending.length) return;
    if (Date.now() > deadline) throw new Error(`Neon operations on project ${projectId} still running after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Deleting something already gone is done. */
export async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (neonStatus(error) !== 404) throw error;
  }
}
