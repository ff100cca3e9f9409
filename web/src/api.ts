/**
 * @module The dashboard's one way to call the platform: `/api/v1` on the same origin, the session
 * cookie sent by the browser. Failures become `ApiError` carrying the API's code, message and field.
 */
import type { ApiErrorBody } from '../../src/platform/http/types.ts';

export type * from '../../src/platform/http/types.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The input at fault, as the API names it (`historyRetentionSeconds`, `settings.minCu`, …). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Called on any 401, so the app can show the login page. */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

/** A path segment, escaped (`pr:42` and other names stay intact). */
export const seg = (value: string) => encodeURIComponent(value);

export async function api<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      // Every change says JSON: the platform refuses cookie-authenticated changes that do not (CSRF).
      headers: method === 'GET' ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (error) {
    throw new ApiError(0, 'unreachable', `could not reach the platform: ${(error as Error).message}`);
  }
  const text = await response.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(response.status, 'bad_response', `the platform answered ${response.status} with something that is not JSON`);
  }
  if (!response.ok) {
    const error = (data as Partial<ApiErrorBody> | undefined)?.error;
    if (response.status === 401 && !path.startsWith('/auth/')) onUnauthorized();
    throw new ApiError(response.status, error?.code ?? 'error', error?.message ?? `the platform answered ${response.status}`, error?.field);
  }
  return data as T;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
