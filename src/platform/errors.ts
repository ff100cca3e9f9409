/**
 * @module The platform's one error type, mapped to `{error: {code, message, field?}}` by the HTTP
 * layer. Messages say what went wrong, which input, and what to do.
 */
export class PlatformError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 502,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'PlatformError';
  }
}

/** 429: too many attempts; the HTTP layer sends `Retry-After`. */
export class RateLimited extends PlatformError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, 'rate_limited', message);
    this.name = 'RateLimited';
  }
}

export const invalid = (field: string, message: string) => new PlatformError(400, 'invalid_input', message, field);
export const notFound = (what: string) => new PlatformError(404, 'not_found', `${what} not found`);
export const conflict = (message: string, field?: string) => new PlatformError(409, 'conflict', message, field);
export const forbidden = (message: string) => new PlatformError(403, 'forbidden', message);
export const unprocessable = (message: string, field?: string) => new PlatformError(422, 'unprocessable', message, field);

/**
 * Whether `error` (a store query's, as drizzle wraps it: the driver's error is its cause) is a
 * unique violation of `constraint`: two requests wrote the same row at once, and the store's
 * unique index let one through. The caller turns it into the 409 the earlier check would have given.
 */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  for (let e = error as { code?: unknown; constraint?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 6; e = e.cause as typeof e, depth++) {
    if (e.code === '23505') return e.constraint === undefined || e.constraint === constraint;
  }
  return false;
}
