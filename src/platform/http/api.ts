/**
 * @module The REST API's plumbing: one `route()` declares a path, who may call it, its zod-checked
 * body and query, the zod schema of its answer (responses.ts; it types the handler's result), and
 * its handler; the same declarations produce the OpenAPI document, every success status with its
 * body's schema. Errors
 * become `{error: {code, message, field?}}`; input never causes a 500: bodies are JSON of bounded
 * size and depth, and no path parameter, query value or body string may hold a NUL or other
 * control character (tab, newline and carriage return allowed in bodies) or a lone surrogate.
 *
 * CSRF: a state-changing request (POST, PUT, PATCH, DELETE) authenticated by the session cookie
 * must say `Content-Type: application/json` (which a cross-origin page cannot send without a
 * CORS preflight, which is never granted) and, when it names where it comes from (`Origin`, or
 * `Referer` without one; every browser sends `Origin` on such requests), come from the platform's
 * own origin or one configured (`ARBOR_ALLOWED_ORIGINS`, comma-separated); a browser's
 * `Sec-Fetch-Site` must be `same-origin`. Requests with an API token in the Authorization header
 * are not subject to this (a page cannot make a browser send one). Login also takes JSON only.
 */
import { Hono, type Context as HonoContext } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie } from 'hono/cookie';
import { z } from 'zod';
import { actorForSession, actorForToken, requireAdmin } from '../auth/auth.ts';
import type { Actor, Context } from '../context.ts';
import { PlatformError, RateLimited } from '../errors.ts';
import { describeNeonFailure } from '../neon/client.ts';
import { timed } from './timing.ts';

export type Access = 'public' | 'member' | 'admin';
export const SESSION_COOKIE = 'arbor_session';

export interface Call<B, Q> {
  actor: Actor;
  body: B;
  query: Q;
  params: Record<string, string>;
  c: HonoContext;
}

export type SuccessStatus = 200 | 201 | 202 | 204;

export interface RouteDef<B extends z.ZodType, Q extends z.ZodType, R extends z.ZodType> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI style: `/apps/{app}`. */
  path: string;
  summary: string;
  access: Access;
  body?: B;
  query?: Q;
  status?: SuccessStatus;
  /** Other success statuses the handler may choose (`c.status`), answered with the same schema. */
  alsoStatus?: SuccessStatus[];
  /** The success body (responses.ts); none for 204. Documented under each success status. */
  response?: R;
  handler(call: Call<z.infer<B>, z.infer<Q>>): Promise<z.input<R>>;
}

const ANONYMOUS: Actor = { name: 'anonymous', role: 'member' };

/** Request bodies: app models with their migration files fit; anything larger is refused (413). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
const MAX_JSON_DEPTH = 64;
/** Longest path parameter or query value taken (no name is near this long). */
const MAX_PARAM_LENGTH = 1024;

export interface ApiOptions {
  /** Origins besides the platform's own allowed to make cookie-authenticated changes; default `ARBOR_ALLOWED_ORIGINS`. */
  allowedOrigins?: string[];
}

/** Another client status than PlatformError's (413, 415), raised by the plumbing itself. */
class Refusal extends Error {
  constructor(
    readonly status: 403 | 413 | 415,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a string cannot be taken, or null. `text` allows tab, newline and carriage return (SQL files, YAML). */
function stringProblem(value: string, text: boolean): string | null {
  if (value.includes('\0')) return 'contains a NUL byte';
  if (text ? /[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value) : /[\u0001-\u001f\u007f]/.test(value)) return 'contains a control character';
  if (LONE_SURROGATE.test(value)) return 'contains a lone UTF-16 surrogate (not valid Unicode)';
  return null;
}

/** Walks a parsed JSON body without recursion limits of its own: depth is bounded, every string (and key) checked. */
function checkJson(value: unknown): void {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  while (stack.length) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const problem = stringProblem(value, true);
      if (problem) throw new PlatformError(400, 'invalid_input', `${path || 'body'} ${problem}`, path || undefined);
    } else if (value && typeof value === 'object') {
      if (depth >= MAX_JSON_DEPTH) throw new PlatformError(400, 'invalid_input', `${path || 'body'} is nested more than ${MAX_JSON_DEPTH} levels deep`, path || undefined);
      for (const [key, item] of Object.entries(value)) {
        const problem = stringProblem(key, false);
        if (problem) throw new PlatformError(400, 'invalid_input', `a key of ${path || 'the body'} ${problem}`, path || undefined);
        stack.push({ value: item, path: path ? `${path}.${key}` : key, depth: depth + 1 });
      }
    }
  }
}

function checkParam(kind: 'path parameter' | 'query parameter', name: string, value: string): void {
  const problem = value.length > MAX_PARAM_LENGTH ? `is longer than ${MAX_PARAM_LENGTH} characters` : stringProblem(value, false);
  if (problem) throw new PlatformError(400, 'invalid_input', `${kind} ${name} ${problem}`, name);
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function isJson(c: HonoContext): boolean {
  return /^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '');
}

/** The client's address as the socket sees it (proxies' X-Forwarded-For is not trusted). */
export function clientAddress(c: HonoContext): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'unknown';
}

/** A zod schema as the JSON Schema (2020-12, OpenAPI 3.1's dialect) inside the document. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): object {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  return rest;
}

function fieldOf(issue: z.core.$ZodIssue): string {
  return issue.path.map(String).join('.');
}

export class Api {
  readonly hono = new Hono();
  private readonly defs: RouteDef<z.ZodType, z.ZodType, z.ZodType>[] = [];
  private readonly allowedOrigins: Set<string>;

  constructor(
    private readonly ctx: Context,
    options: ApiOptions = {},
  ) {
    const configured = options.allowedOrigins ?? (process.env.ARBOR_ALLOWED_ORIGINS ?? '').split(',');
    this.allowedOrigins = new Set(configured.map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean));
    this.hono.use(
      '*',
      bodyLimit({
        maxSize: MAX_BODY_BYTES,
        onError: () => {
          throw new Refusal(413, 'too_large', `the request body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`);
        },
      }),
    );
    this.hono.onError((error, c) => {
      if (error instanceof PlatformError) {
        if (error instanceof RateLimited) c.header('Retry-After', String(error.retryAfterSeconds));
        return c.json({ error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } }, error.status);
      }
      if (error instanceof Refusal) return c.json({ error: { code: error.code, message: error.message } }, error.status);
      if (error instanceof z.ZodError) {
        const first = error.issues[0];
        return c.json({ error: { code: 'invalid_input', message: error.issues.map((i) => `${fieldOf(i) || 'body'}: ${i.message}`).join('; '), field: fieldOf(first) || undefined } }, 400);
      }
      const failure = describeNeonFailure(error);
      if (failure) {
        // A Neon call failed: a fixed message per kind, or Neon's own error message; never the
        // upstream's body otherwise, nor the request (which holds the key).
        return c.json({ error: { code: failure.kind === 'neon_error' ? 'neon_error' : `neon_${failure.kind}`, message: failure.message } }, failure.kind === 'timeout' ? 504 : 502);
      }
      this.ctx.log.warn(`internal error on ${c.req.method} ${c.req.path}: ${(error as Error).stack ?? error}`);
      return c.json({ error: { code: 'internal', message: 'internal error; see the platform log' } }, 500);
    });
    this.hono.notFound((c) => c.json({ error: { code: 'not_found', message: `no API route ${c.req.method} ${c.req.path}` } }, 404));
  }

  private async actorOf(c: HonoContext): Promise<Actor | null> {
    const header = c.req.header('authorization');
    const bearer = header && /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (bearer) {
      if (bearer.length > MAX_PARAM_LENGTH || stringProblem(bearer, false)) return null;
      return actorForToken(this.ctx, bearer);
    }
    const session = getCookie(c, SESSION_COOKIE);
    if (!session || session.length > MAX_PARAM_LENGTH || stringProblem(session, false)) return null;
    if (STATE_CHANGING.has(c.req.method)) this.checkBrowserRequest(c);
    return actorForSession(this.ctx, session);
  }

  /** The CSRF rules (see the module comment), for a state-changing request a browser may have sent. */
  private checkBrowserRequest(c: HonoContext): void {
    if (!isJson(c)) throw new Refusal(415, 'unsupported_media_type', 'requests that change something with the session cookie must send Content-Type: application/json');
    const fetchSite = c.req.header('sec-fetch-site');
    if (fetchSite && fetchSite !== 'same-origin' && fetchSite !== 'none') throw new Refusal(403, 'cross_origin', `a ${fetchSite} request may not change anything with the session cookie`);
    const origin = c.req.header('origin');
    const referer = origin === undefined ? c.req.header('referer') : undefined;
    let from: string | undefined = origin;
    if (referer !== undefined) {
      try {
        from = new URL(referer).origin;
      } catch {
        from = 'null';
      }
    }
    if (from === undefined) return; // not a browser: every browser names the origin of a POST, PUT, PATCH or DELETE
    const own = new URL(c.req.url).origin;
    if (from !== own && !this.allowedOrigins.has(from)) {
      throw new Refusal(403, 'cross_origin', `requests from ${from.slice(0, 200)} may not change anything with the session cookie; only ${own} (and ARBOR_ALLOWED_ORIGINS) may`);
    }
  }

  route<B extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, R extends z.ZodType = z.ZodVoid>(def: RouteDef<B, Q, R>): void {
    // Every answer is documented: a body schema, or 204 and none.
    if (!def.response !== (def.status === 204)) throw new Error(`route ${def.method} ${def.path}: a response schema is required unless the status is 204, and refused with 204`);
    this.defs.push(def as unknown as RouteDef<z.ZodType, z.ZodType, z.ZodType>);
    const path = def.path.replace(/\{(\w+)\}/g, ':$1');
    this.hono.on(def.method.toUpperCase(), path, async (c) => {
      let actor = ANONYMOUS;
      const params: Record<string, string> = {};
      // Hono has decoded them once already (and left malformed %-escapes as they are).
      for (const [name, value] of Object.entries(c.req.param() as Record<string, string>)) {
        checkParam('path parameter', name, value);
        params[name] = value;
      }
      if (def.access === 'public' && STATE_CHANGING.has(c.req.method)) {
        // Login: JSON only, and from this origin when a browser says where it comes from.
        if (!isJson(c)) throw new Refusal(415, 'unsupported_media_type', 'send the body as JSON with Content-Type: application/json');
        const origin = c.req.header('origin');
        if (origin !== undefined && origin !== new URL(c.req.url).origin && !this.allowedOrigins.has(origin)) {
          throw new Refusal(403, 'cross_origin', `requests from ${origin.slice(0, 200)} may not log in here`);
        }
      }
      if (def.access !== 'public') {
        // Timed as auth (its store queries count under store too).
        const found = await timed('auth', () => this.actorOf(c));
        if (!found) throw new PlatformError(401, 'unauthorized', 'log in (POST /api/v1/auth/login) or pass an API token as "Authorization: Bearer <token>"');
        if (def.access === 'admin') requireAdmin(found, def.summary.toLowerCase());
        actor = found;
      }
      let body: unknown;
      if (def.body) {
        const text = await c.req.text();
        try {
          body = text.trim() ? JSON.parse(text) : {};
        } catch {
          throw new PlatformError(400, 'invalid_json', 'the request body is not valid JSON');
        }
        checkJson(body);
        body = def.body.parse(body);
      }
      let query: unknown;
      if (def.query) {
        const raw = c.req.query();
        for (const [name, value] of Object.entries(raw)) checkParam('query parameter', name, value);
        query = def.query.parse(raw);
      }
      const result = await def.handler({ actor, body: body as z.infer<B>, query: query as z.infer<Q>, params, c });
      if (def.status === 204) return c.body(null, 204);
      return def.status ? c.json(result as object, def.status) : c.json(result as object);
    });
  }

  /** OpenAPI 3.1 for every declared route. */
  openapi(): object {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const def of this.defs) {
      const parameters = [
        ...[...def.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } })),
        ...(def.query instanceof z.ZodObject
          ? Object.keys(def.query.shape).map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } }))
          : []),
      ];
      (paths[def.path] ??= {})[def.method] = {
        summary: def.summary,
        security: def.access === 'public' ? [] : [{ bearer: [] }, { session: [] }],
        ...(def.access === 'admin' ? { description: 'Admin only.' } : {}),
        parameters,
        ...(def.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(def.body, 'input') } } } } : {}),
        responses: {
          ...Object.fromEntries(
            [def.status ?? 200, ...(def.alsoStatus ?? [])].map((status) => [
              String(status),
              def.response ? { description: 'success', content: { 'application/json': { schema: jsonSchema(def.response, 'output') } } } : { description: 'success, no body' },
            ]),
          ),
          default: { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        },
      };
    }
    return {
      openapi: '3.1.0',
      info: { title: 'Arbor platform API', version: '1' },
      servers: [{ url: '/api/v1' }],
      paths,
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE } },
        schemas: {
          Error: {
            type: 'object',
            required: ['error'],
            properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } } } },
          },
        },
      },
    };
  }
}
