/**
 * @module What a failed step tells whom. Environment views, steps, lists and logs get a public
 * text: the statement's file and line, the SQLSTATE, and PostgreSQL's message only when it cannot
 * carry row data; app admins read the full text (with DETAIL, HINT, CONTEXT) through a separate,
 * audited call. Each failure is also classified: permanent (a 4xx from Neon that retrying cannot
 * change: not retried, says what to change) or transient (retried with backoff).
 *
 * The rule for PostgreSQL's message: kept when (1) it was raised by the statement itself, not
 * inside a function, `DO` block or dynamic SQL (`where` is empty: so no `RAISE`, whatever SQLSTATE
 * it claims); (2) it is a schema error raised while the text was analysed (42xxx, 3D/3F, 0A, 2B
 * with a cursor position: no row read yet), or one of a few run-time SQLSTATEs whose messages are
 * fixed text and quoted names (already exists, does not exist, permission denied, lock timeout,
 * ...); and (3) every quoted name in it occurs in the migration's own text (a run-time
 * `(SELECT email ...)::regclass` puts a row's value in a 42P01 message). Everything else (P0001
 * raise_exception, 23xxx constraints, 22xxx data, 0A000 at run time, ...) becomes "failed with
 * SQLSTATE X".
 */
import { MigrationError } from '../postgres/migrate.ts';
import { neonMessage, neonStatus } from '../neon/client.ts';

/**
 * Raised while the statement's text was parsed and analysed (the error has a cursor position):
 * no row had been read yet, so the message names only the text. These classes' messages are made
 * from the schema.
 */
const SAFE_AT_PARSE = new Set(['42', '3D', '3F', '0A', '2B']);
/**
 * Raised while running: only these SQLSTATEs, whose messages are fixed text plus quoted object
 * names (which must then occur in the migration's own text), or no names at all.
 */
const SAFE_AT_RUN = new Set(['42P07', '42710', '42701', '42P06', '42723', '42P04', '42704', '42P01', '42703', '42501', '42P16', '42830', '2BP01', '3D000', '3F000', '55P03', '55006', '40001', '40P01', '57014', '57P01']);
const SAFE_RUN_CLASSES = new Set(['25', '53', '08', '28']);

export const DETAIL_HINT = 'details for app admins: GET …/error-detail';

interface PgError {
  code: string;
  message: string;
  severity?: string;
  detail?: string;
  hint?: string;
  where?: string;
  internalQuery?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

function pgCause(error: unknown): PgError | undefined {
  for (let e = error as { cause?: unknown } | undefined, depth = 0; e && depth < 6; e = e.cause as typeof e, depth++) {
    const c = e as Partial<PgError>;
    if (typeof c.code === 'string' && /^[0-9A-Z]{5}$/.test(c.code) && typeof c.message === 'string' && 'severity' in c) return c as PgError;
  }
  return undefined;
}

export function pgMessageIsSafe(cause: PgError & { position?: string }, source: string | undefined): boolean {
  if (cause.where || cause.internalQuery) return false;
  const cls = cause.code.slice(0, 2);
  const atParse = !!cause.position && SAFE_AT_PARSE.has(cls);
  if (!atParse && !SAFE_AT_RUN.has(cause.code) && !SAFE_RUN_CLASSES.has(cls)) return false;
  if (source !== undefined) {
    const text = source.toLowerCase();
    for (const [, name] of cause.message.matchAll(/"((?:[^"]|"")*)"/g)) {
      if (!text.includes(name.replace(/""/g, '"').toLowerCase())) return false;
    }
  }
  return true;
}

/** A failure retrying cannot fix until something changes; its message says what to change. */
export class Permanent extends Error {}

export interface Failure {
  /** For views, steps and logs. */
  shown: string;
  /** Everything, for app admins only (error-detail). */
  full: string;
  /** Retrying cannot help until something changes. */
  permanent: boolean;
  /** Neon's HTTP status, when Neon refused. */
  neonStatus?: number;
}

/** Set by the migrations step on a MigrationError: the failing file's SQL. */
export function withSource<E>(error: E, sql: string): E {
  if (error && typeof error === 'object') Object.defineProperty(error, 'sourceText', { value: sql, enumerable: false });
  return error;
}

export function describeFailure(error: unknown): Failure {
  const status = neonStatus(error);
  if ((error as { isAxiosError?: boolean } | undefined)?.isAxiosError) {
    const text = neonMessage(error);
    const said = !status || /^(Neon|the Neon API|the API URL)/.test(text) ? text : `Neon answered ${status}: ${text}`;
    const permanent = status === 400 || status === 422;
    const shown = permanent ? `${said}. Retrying does not help: change the environment (or the account) and retry.` : said;
    return { shown, full: shown, permanent, neonStatus: status };
  }
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof Permanent) return { shown: message, full: message, permanent: true };
  const cause = pgCause(error);
  if (!cause) return { shown: message, full: message, permanent: false };
  const extra = [cause.detail && `DETAIL: ${cause.detail}`, cause.hint && `HINT: ${cause.hint}`, cause.where && `CONTEXT: ${cause.where}`].filter(Boolean);
  const full = [message, ...extra].join('\n');
  // A migration's quoted names must come from its own text; without it, none may appear.
  const src = error instanceof MigrationError ? ((error as { sourceText?: string }).sourceText ?? '') : undefined;
  // DETAIL and CONTEXT (constraint keys, RAISE context, queries) never go to views.
  let shown = message;
  for (const part of [cause.detail, cause.where, cause.internalQuery]) {
    if (!part) continue;
    shown = shown
      .split('\n')
      .filter((line) => !part.split('\n').some((p) => p.trim() && line.includes(p.trim())))
      .join('\n');
  }
  if (!pgMessageIsSafe(cause, src)) {
    const hidden = `failed with SQLSTATE ${cause.code} (PostgreSQL's message is not shown here: it may carry data; ${DETAIL_HINT})`;
    shown = cause.message && shown.includes(cause.message) ? shown.split(cause.message).join(hidden) : `${error instanceof MigrationError ? `migration ${error.file} ` : ''}${hidden}`;
  }
  return { shown, full, permanent: false };
}
