/**
 * @module The REST API's plumbing: one `route()` declares a path, who may call it, its zod-checked
 * body and query, and its handler; the same declarations produce the OpenAPI document. Errors
 * become `{error: {code, message, field?}}`; input never causes a 500.
 */
import { Hono, type Context as HonoContext } from 'hono';
import { getCookie } from 'hono/cookie';
import { z } from 'zod';
import { actorForSession, actorForToken, requireAdmin } from '../auth/auth.ts';
import type { Actor, Context } from '../context.ts';
import { PlatformError } from '../errors.ts';

export type Access = 'public' | 'member' | 'admin';
export const SESSION_COOKIE = 'arbor_session';

export interface Call<B, Q> {
  actor: Actor;
  body: B;
  query: Q;
  params: Record<string, string>;
  c: HonoContext;
}

export interface RouteDef<B extends z.ZodType, Q extends z.ZodType> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI style: `/apps/{app}`. */
  path: string;
  summary: string;
  access: Access;
  body?: B;
  query?: Q;
  status?: 200 | 201 | 202 | 204;
  handler(call: Call<z.infer<B>, z.infer<Q>>): Promise<unknown>;
}

const ANONYMOUS: Actor = { name: 'anonymous', role: 'member' };

function fieldOf(issue: z.core.$ZodIssue): string {
  return issue.path.map(String).join('.');
}

export class Api {
  readonly hono = new Hono();
  private readonly defs: RouteDef<z.ZodType, z.ZodType>[] = [];

  constructor(private readonly ctx: Context) {
    this.hono.onError((error, c) => {
      if (error instanceof PlatformError) {
        return c.json({ error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } }, error.status);
      }
      if (error instanceof z.ZodError) {
        const first = error.issues[0];
        return c.json({ error: { code: 'invalid_input', message: error.issues.map((i) => `${fieldOf(i) || 'body'}: ${i.message}`).join('; '), field: fieldOf(first) || undefined } }, 400);
      }
      const status = (error as { response?: { status?: number } }).response?.status;
      if (status) {
        // A Neon call failed: say so, with Neon's own message (never the request, which holds the key).
        const message = (error as { response?: { data?: { message?: string } } }).response?.data?.message ?? 'no message';
        return c.json({ error: { code: 'neon_error', message: `Neon answered ${status}: ${message}` } }, 502);
      }
      this.ctx.log.warn(`internal error on ${c.req.method} ${c.req.path}: ${(error as Error).stack ?? error}`);
      return c.json({ error: { code: 'internal', message: 'internal error; see the platform log' } }, 500);
    });
    this.hono.notFound((c) => c.json({ error: { code: 'not_found', message: `no API route ${c.req.method} ${c.req.path}` } }, 404));
  }

  private async actorOf(c: HonoContext): Promise<Actor | null> {
    const header = c.req.header('authorization');
    const bearer = header && /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (bearer) return actorForToken(this.ctx, bearer);
    const session = getCookie(c, SESSION_COOKIE);
    return session ? actorForSession(this.ctx, session) : null;
  }

  route<B extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined>(def: RouteDef<B, Q>): void {
    this.defs.push(def as unknown as RouteDef<z.ZodType, z.ZodType>);
    const path = def.path.replace(/\{(\w+)\}/g, ':$1');
    this.hono.on(def.method.toUpperCase(), path, async (c) => {
      let actor = ANONYMOUS;
      if (def.access !== 'public') {
        const found = await this.actorOf(c);
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
        body = def.body.parse(body);
      }
      const query = def.query ? def.query.parse(c.req.query()) : undefined;
      const params = Object.fromEntries(Object.entries(c.req.param() as Record<string, string>).map(([k, v]) => [k, decodeURIComponent(v)]));
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
        ...(def.body ? { requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(def.body, { io: 'input', unrepresentable: 'any' }) } } } } : {}),
        responses: {
          [String(def.status ?? 200)]: { description: 'success' },
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
