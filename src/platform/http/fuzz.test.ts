/**
 * A bounded property-based fuzz of the whole API (issue 9): fast-check generates requests from
 * the OpenAPI document — any route, path parameters from plain names to raw bytes and broken
 * %-escapes, bodies shaped by the route's schema with hostile strings and numbers in them (or no
 * JSON at all), query strings, and three ways of calling (the session cookie from the platform's
 * origin, an admin token, nobody) — and checks that none is answered 5xx and that every answer
 * matches the document: an error is `{error: {code, message}}`, a success has a documented status
 * and a body that matches the route's success schema (strict objects: no field the document does
 * not name). No Neon account is connected, so nothing generated reaches Neon; answers on real
 * environments are checked by every test through test-support's `call()` (and responses.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { SHOP_MODEL, startTestPlatform, type TestPlatform } from '../test-support.ts';

/** Requests per run: a few thousand, bounded (about a minute on a busy machine); ARBOR_FUZZ_RUNS for a longer hunt. */
const RUNS = Number(process.env.ARBOR_FUZZ_RUNS) || 2000;

let t: TestPlatform;
let cookie: string;
let token: string;

before(async () => {
  t = await startTestPlatform();
  const { name, password } = t.platform.firstAdmin!;
  const login = await fetch(`${t.platform.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) });
  cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
  token = (await t.call('POST', '/tokens', { name: 'fuzz', role: 'admin' })).body.token;
  assert.equal((await t.call('POST', '/apps', { model: SHOP_MODEL })).status, 201);
});
after(() => t.close());

/** A string with what breaks parsers and databases: NUL, controls, lone surrogates, RTL marks, quotes, long runs. */
const hostile = (maxLong: number) => fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', '\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\ud83d', '\u202e', '%', '%25', '%00', '..', '../..', "'", '"', '\\', '\n', 'pr:1', 'pr:99999999999', 'shop', 'main', 'admin', 'local'),
  fc.integer({ min: 64, max: maxLong }).map((n) => 'x'.repeat(n)),
);
const hostileString = hostile(70_000);
/** In URLs: Node's HTTP parser itself answers 431 (no body) to a request head over 16 KiB, before any route. */
const hostileUrlPart = hostile(3000);

const hostileNumber = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308, Number.MIN_VALUE, 0.5));

/** A JSON value shaped by a (zod-made) JSON schema: mostly of the right type with hostile content, sometimes anything. */
function fromSchema(schema: any, depth = 0): fc.Arbitrary<unknown> {
  const anything = fc.jsonValue({ maxDepth: 3 });
  if (!schema || depth > 5) return anything;
  let shaped: fc.Arbitrary<unknown>;
  if (schema.anyOf) shaped = fc.oneof(...schema.anyOf.map((s: any) => fromSchema(s, depth + 1)));
  else if (schema.enum) shaped = fc.oneof(fc.constantFrom(...schema.enum), hostileString);
  else if (schema.const !== undefined) shaped = fc.constant(schema.const);
  else
    switch (schema.type) {
      case 'object': {
        const props = Object.fromEntries(Object.entries<any>(schema.properties ?? {}).map(([k, v]) => [k, fromSchema(v, depth + 1)]));
        const record = fc.record(props, { requiredKeys: [] });
        const extra = schema.additionalProperties && typeof schema.additionalProperties === 'object' ? fc.dictionary(hostileString, fromSchema(schema.additionalProperties, depth + 1), { maxKeys: 3 }) : fc.constant({});
        shaped = fc.tuple(record, extra).map(([a, b]) => ({ ...b, ...a }));
        break;
      }
      case 'array':
        shaped = fc.array(fromSchema(schema.items, depth + 1), { maxLength: 4 });
        break;
      case 'string':
        shaped = hostileString;
        break;
      case 'integer':
      case 'number':
        shaped = hostileNumber;
        break;
      case 'boolean':
        shaped = fc.boolean();
        break;
      default:
        shaped = anything;
    }
  return fc.oneof({ weight: 9, arbitrary: shaped }, { weight: 1, arbitrary: anything });
}

/** A path segment as it goes on the wire: a name, an encoded string, raw bytes as %-escapes, or broken escapes. */
const segment = fc.oneof(
  fc.constantFrom('shop', 'main', 'dev', 'pr:1', 'local', 'admin', '1'),
  hostileUrlPart.map((s) => {
    try {
      return encodeURIComponent(s);
    } catch {
      return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '')) + '%ED%A0%80';
    }
  }),
  fc.uint8Array({ minLength: 1, maxLength: 12 }).map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
  fc.constantFrom('%', '%2', '%zz', '%E0%A4%A', '%C0%AF', '%F0%9F', '%25%32%35', '%2F', '%5C'),
);

interface Route {
  method: string;
  path: string;
  body?: any;
  query: string[];
}

test(`${RUNS} generated requests over every route of the OpenAPI document: no 5xx, every answer as documented`, async () => {
  const spec = await (await fetch(`${t.platform.url}/api/v1/openapi.json`)).json();
  const routes: Route[] = [];
  for (const [path, ops] of Object.entries<any>(spec.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      routes.push({
        method: method.toUpperCase(),
        path,
        body: op.requestBody?.content?.['application/json']?.schema,
        query: (op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name),
      });
    }
  }
  assert.ok(routes.length >= 20, `${routes.length} routes`);

  const request = fc.constantFrom(...routes).chain((route) =>
    fc.record({
      route: fc.constant(route),
      params: fc.array(segment, { minLength: 4, maxLength: 4 }),
      body: route.body
        ? fc.oneof(
            { weight: 8, arbitrary: fromSchema(route.body).map((v) => JSON.stringify(v)) },
            { weight: 1, arbitrary: fc.constantFrom('', 'null', '[]', '"\\u0000"', '{"a":', '\u0000', '{"\\ud800":1}', '['.repeat(3000) + ']'.repeat(3000)) },
            { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
          )
        : fc.constant(undefined),
      query: fc.option(fc.array(fc.tuple(fc.constantFrom(...route.query, 'x'), segment), { maxLength: 3 }), { nil: undefined }),
      auth: fc.constantFrom('cookie', 'cookie', 'token', 'anonymous'),
    }),
  );

  let sent = 0;
  /** Per documented route: successes checked against its schema. */
  const successes = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(request, async ({ route, params, body, query, auth }) => {
      let i = 0;
      const path = route.path.replace(/\{(\w+)\}/g, () => params[i++]);
      const search = query?.length ? `?${query.map(([k, v]) => `${k}=${v}`).join('&')}` : '';
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      // Logging out with the cookie would end the session the other requests use.
      if (auth === 'token' || route.path === '/auth/logout') headers.authorization = `Bearer ${token}`;
      else if (auth === 'cookie') Object.assign(headers, { cookie, origin: t.platform.url });
      const url = `${t.platform.url}/api/v1${path}${search}`;
      let response: Response;
      try {
        response = await fetch(url, { method: route.method, headers, body });
      } catch (error) {
        // A kept-alive connection the server closed after an earlier answer that left its body unread
        // (e.g. a 401 or 413 before the body): the request never reached the platform; once more.
        if ((error as { cause?: { code?: string } }).cause?.code !== 'UND_ERR_SOCKET') throw error;
        response = await fetch(url, { method: route.method, headers, body });
      }
      const text = await response.text();
      sent++;
      const what = `${route.method} ${path.slice(0, 200)}${search.slice(0, 100)} (${auth}) ${String(body).slice(0, 200)}`;
      assert.ok(response.status < 500, `${what}: answered ${response.status} ${text.slice(0, 300)}`);
      const problems = t.checker.check(route.method, path, response.status, text);
      assert.deepEqual(problems, [], `${what}: answered ${response.status} ${text.slice(0, 300)}`);
      if (response.status >= 400) assert.equal(typeof JSON.parse(text).error?.code, 'string', `${what}: ${text.slice(0, 300)}`);
      else successes.set(`${route.method} ${route.path}`, (successes.get(`${route.method} ${route.path}`) ?? 0) + 1);
    }),
    { numRuns: RUNS, endOnFailure: true },
  );
  assert.equal(sent, RUNS);
  // Not only errors: routes without parameters, which any authenticated call passes, succeeded and were checked.
  for (const route of ['GET /me', 'GET /apps', 'GET /tokens', 'GET /audit', 'GET /accounts']) assert.ok(successes.get(route), `${route} succeeded at least once: ${JSON.stringify(Object.fromEntries(successes))}`);
  // The session still works: nothing generated broke the platform.
  assert.equal((await fetch(`${t.platform.url}/api/v1/me`, { headers: { cookie } })).status, 200);
});
