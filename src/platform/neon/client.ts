/**
 * @module The platform's only way to Neon (or the Arbor engine): the official
 * `@neondatabase/api-client`, with Neon's rules added — retry 423/429/503 with backoff, await
 * operations, and treat a 404 on delete as done — and the rules for calling out: https (or plain
 * http to a loopback address only), no redirects followed, the key sent to the API URL's origin
 * and nowhere else, and upstream bodies never passed on except Neon's own error message.
 */
import { createApiClient, type Api } from '@neondatabase/api-client';
import { recordPhase } from '../http/timing.ts';

export type NeonApi = Api<unknown>;

const RETRY_STATUSES = new Set([423, 429, 503]);
const MAX_ATTEMPTS = 8;

/** Counts API calls per client, for benchmarks ("Neon API calls per environment"). */
export interface CallCounter {
  calls: number;
}

/** 127.0.0.0/8, ::1 and `localhost`: plain http there never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Why `apiUrl` may not be called, or null: https anywhere; plain http only to a loopback address
 * and only with `allowInsecure`; no other scheme, no user:password@ in it.
 */
export function apiUrlProblem(apiUrl: string, allowInsecure: boolean): string | null {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    return 'is not a URL';
  }
  if (url.username || url.password) return 'must not carry a user name or password (the API key is sent as a header)';
  if (url.search || url.hash) return 'must not carry a query or fragment';
  if (url.protocol === 'https:') return null;
  if (url.protocol !== 'http:') return `uses ${url.protocol.replace(/:$/, '')}; only https is accepted (or plain http to a loopback address)`;
  if (!isLoopbackHost(url.hostname)) return 'is plain http to a host that is not loopback; the API key would cross the network unencrypted: use https';
  if (!allowInsecure) return 'is plain http; to use a loopback engine say so with allowInsecureUrl: true (CLI --allow-insecure-url)';
  return null;
}

export interface NeonClientOptions {
  counter?: CallCounter;
  /** Per request; default 60 s. */
  timeoutMs?: number;
}

export function neonClient(apiUrl: string, apiKey: string, counterOrOptions?: CallCounter | NeonClientOptions): NeonApi {
  const options: NeonClientOptions = counterOrOptions && 'calls' in counterOrOptions ? { counter: counterOrOptions } : (counterOrOptions ?? {});
  const counter = options.counter;
  // Checked again on every client (stored accounts were checked when connected; the local engine is loopback).
  const problem = apiUrlProblem(apiUrl, true);
  if (problem) throw new NeonCallError('insecure_url', `the Neon API URL ${problem}`);
  const origin = new URL(apiUrl).origin;
  // No key in the defaults: the request interceptor adds it, and only for the API URL's origin.
  const api = createApiClient({ apiKey: null, baseURL: apiUrl, timeout: options.timeoutMs ?? 60_000, maxRedirects: 0 });
  api.instance.defaults.maxRedirects = 0;
  api.instance.interceptors.request.use((config) => {
    const target = new URL(api.instance.getUri(config));
    if (target.origin !== origin) throw new NeonCallError('insecure_url', `refusing to send the Neon API key to ${target.origin}, which is not the account's API URL`);
    config.headers.set('Authorization', `Bearer ${apiKey}`);
    if (counter) counter.calls++;
    (config as typeof config & { __started?: number }).__started = performance.now();
    return config;
  });
  // Each attempt's time, for the request that made the call (http/timing.ts).
  const timeCall = (config: { __started?: number } | undefined) => {
    if (config?.__started !== undefined) recordPhase('neon', performance.now() - config.__started);
  };
  api.instance.interceptors.response.use(
    (response) => (timeCall(response.config as { __started?: number }), response),
    (error) => (timeCall(error?.config), Promise.reject(error)),
  );
  api.instance.interceptors.response.use(undefined, async (error) => {
    const config = error.config as (typeof error.config & { __attempt?: number }) | undefined;
    const status = error.response?.status;
    if (!config || !RETRY_STATUSES.has(status)) throw error;
    const attempt = (config.__attempt ?? 0) + 1;
    if (attempt >= MAX_ATTEMPTS) throw error;
    config.__attempt = attempt;
    const retryAfter = Number(error.response?.headers?.['retry-after']);
    const delay = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 30) * 1000 : Math.min(5000, 100 * 2 ** attempt);
    await new Promise((r) => setTimeout(r, delay));
    return api.instance.request(config);
  });
  return api;
}

/** A call refused before it was made (URL rules). */
export class NeonCallError extends Error {
  constructor(
    readonly kind: 'insecure_url',
    message: string,
  ) {
    super(message);
    this.name = 'NeonCallError';
  }
}

export type NeonFailureKind = 'key_refused' | 'not_neon' | 'unreachable' | 'timeout' | 'neon_error' | 'insecure_url';

export interface NeonFailure {
  kind: NeonFailureKind;
  status?: number;
  /** Safe to show: fixed text, or Neon's own error message when the body has Neon's error shape. */
  message: string;
}

const NEON_ERROR_KEYS = new Set(['code', 'message', 'request_id']);

/** Neon's error message when the body is Neon's error shape (`{code, message, request_id}`), else null. */
function neonErrorText(response: { data?: unknown; headers?: Record<string, unknown> } | undefined): string | null {
  if (!response) return null;
  const type = String((response.headers as { get?: (n: string) => unknown })?.get?.('content-type') ?? response.headers?.['content-type'] ?? '');
  if (!/^application\/json\b/i.test(type)) return null;
  const data = response.data;
  if (!data || typeof data !== 'object' || Array.isArray(data)) return null;
  const keys = Object.keys(data);
  if (!keys.every((k) => NEON_ERROR_KEYS.has(k))) return null;
  const { message, code } = data as { message?: unknown; code?: unknown };
  if (typeof message !== 'string' || !message || message.length > 500 || /[\u0000-\u001f\u007f]/.test(message)) return null;
  if (code !== undefined && typeof code !== 'string') return null;
  return message;
}

/**
 * What went wrong with a call to a Neon API, in words that never carry the upstream's body
 * (only Neon's own error message, when the body is shaped like one).
 */
export function describeNeonFailure(error: unknown): NeonFailure | null {
  if (error instanceof NeonCallError) return { kind: error.kind, message: error.message };
  const e = error as { isAxiosError?: boolean; code?: string; response?: { status?: number; data?: unknown; headers?: Record<string, unknown> } };
  if (!e || typeof e !== 'object' || !e.isAxiosError) return null;
  const status = e.response?.status;
  if (!status) {
    if (e.code === 'ECONNABORTED' || e.code === 'ETIMEDOUT') return { kind: 'timeout', message: 'the Neon API did not answer in time' };
    return { kind: 'unreachable', message: 'the Neon API could not be reached' };
  }
  if (status === 401 || status === 403) return { kind: 'key_refused', status, message: `the Neon API refused the API key (${status})` };
  if (status >= 300 && status < 400) return { kind: 'not_neon', status, message: `the API URL answered with a redirect (${status}), which is not followed; give the final URL` };
  const text = neonErrorText(e.response);
  if (text) return { kind: 'neon_error', status, message: `Neon answered ${status}: ${text}` };
  return { kind: 'not_neon', status, message: `the API URL answered ${status} with something that is not a Neon API error` };
}

export function neonStatus(error: unknown): number | undefined {
  return (error as { response?: { status?: number } }).response?.status;
}

/** A failed call in words safe to show people (see `describeNeonFailure`). */
export function neonMessage(error: unknown): string {
  return describeNeonFailure(error)?.message ?? (error as Error).message;
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
