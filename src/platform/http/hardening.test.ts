/**
 * Attacks on the platform's HTTP API from outside (issue 9), on a real platform over HTTP:
 * cross-site requests riding the session cookie, inputs that used to answer 500 (double-decoded
 * paths, NUL bytes, lone surrogates, oversized names) over every route of the OpenAPI document,
 * and password guessing at login (rate limit; unknown names cost the same scrypt).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { SHOP_MODEL, startTestPlatform, type TestPlatform } from '../test-support.ts';

let t: TestPlatform;
/** A session of the first admin, made here (the fixture keeps its own to itself). */
let cookie: string;
let adminToken: string;

async function loginCookie(p: TestPlatform): Promise<string> {
  const { name, password } = p.platform.firstAdmin!;
  const response = await fetch(`${p.platform.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) });
  assert.equal(response.status, 200);
  return (response.headers.get('set-cookie') ?? '').split(';')[0];
}

interface Raw {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function raw(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Raw> {
  const response = await fetch(`${t.platform.url}/api/v1${path}`, { method, headers: init.headers, body: init.body });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

function assertErrorShape(r: Raw, what: string): void {
  assert.ok(r.status < 500, `${what}: answered ${r.status} ${r.text.slice(0, 300)}`);
  if (r.status >= 400) {
    assert.equal(typeof r.json?.error?.code, 'string', `${what}: no error.code in ${r.text.slice(0, 300)}`);
    assert.equal(typeof r.json?.error?.message, 'string', `${what}: no error.message in ${r.text.slice(0, 300)}`);
  }
}

before(async () => {
  t = await startTestPlatform();
  cookie = await loginCookie(t);
  adminToken = (await t.call('POST', '/tokens', { name: 'hardening', role: 'admin' })).body.token;
  assert.ok(adminToken, 'an admin token');
});
after(() => t.close());

const appModel = (name: string) => SHOP_MODEL.replace('app: shop', `app: ${name}`);

async function appExists(name: string): Promise<boolean> {
  return (await t.call('GET', `/apps/${name}`)).status === 200;
}

describe('CSRF: the session cookie changes nothing from another origin', () => {
  const evil = 'http://127.0.0.1:1';

  test('a cross-origin text/plain POST with a valid session cookie is refused and creates nothing', async () => {
    const r = await raw('POST', '/apps', { headers: { cookie, 'content-type': 'text/plain;charset=UTF-8', origin: evil }, body: JSON.stringify({ model: appModel('csrf-plain') }) });
    assert.ok(r.status === 403 || r.status === 415, `answered ${r.status} ${r.text}`);
    assertErrorShape(r, 'text/plain POST');
    assert.equal(await appExists('csrf-plain'), false);
  });

  test('a text/plain POST with the cookie is refused even without an Origin', async () => {
    const r = await raw('POST', '/apps', { headers: { cookie, 'content-type': 'text/plain' }, body: JSON.stringify({ model: appModel('csrf-noorigin') }) });
    assert.equal(r.status, 415);
    assert.equal(await appExists('csrf-noorigin'), false);
  });

  test('JSON from another origin (Origin, or Referer without one, or Sec-Fetch-Site) is refused', async () => {
    const variants: Record<string, string>[] = [
      { origin: evil },
      { origin: 'null' },
      { origin: t.platform.url.replace('127.0.0.1', 'localhost') },
      { referer: `${evil}/attack.html` },
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site', origin: t.platform.url },
    ];
    for (const [i, headers] of variants.entries()) {
      const name = `csrf-json-${i}`;
      const r = await raw('POST', '/apps', { headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: appModel(name) }) });
      assert.equal(r.status, 403, `${JSON.stringify(headers)}: ${r.status} ${r.text}`);
      assert.equal(r.json.error.code, 'cross_origin');
      assert.equal(await appExists(name), false);
    }
  });

  test('a DELETE with the cookie and no JSON content type is refused', async () => {
    const r = await raw('DELETE', '/accounts/nothing', { headers: { cookie, origin: t.platform.url } });
    assert.equal(r.status, 415);
  });

  test('a same-origin JSON POST with the cookie works (as the dashboard sends it)', async () => {
    const r = await raw('POST', '/apps', { headers: { cookie, 'content-type': 'application/json', origin: t.platform.url, referer: `${t.platform.url}/apps`, 'sec-fetch-site': 'same-origin' }, body: JSON.stringify({ model: appModel('csrf-same') }) });
    assert.equal(r.status, 201, r.text);
    assert.equal(await appExists('csrf-same'), true);
    const byReferer = await raw('POST', '/apps', { headers: { cookie, 'content-type': 'application/json; charset=utf-8', referer: `${t.platform.url}/apps` }, body: JSON.stringify({ model: appModel('csrf-referer') }) });
    assert.equal(byReferer.status, 201, byReferer.text);
  });

  test('an API token in the Authorization header is unaffected', async () => {
    const r = await raw('POST', '/apps', { headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'text/plain', origin: evil }, body: JSON.stringify({ model: appModel('csrf-token') }) });
    assert.equal(r.status, 201, r.text);
  });

  test('login takes JSON only, and not from another origin', async () => {
    const { name, password } = t.platform.firstAdmin!;
    const body = JSON.stringify({ name, password });
    const plain = await raw('POST', '/auth/login', { headers: { 'content-type': 'text/plain' }, body });
    assert.equal(plain.status, 415);
    assert.equal(plain.headers.get('set-cookie'), null);
    const form = await raw('POST', '/auth/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `name=${name}&password=${password}` });
    assert.equal(form.status, 415);
    const cross = await raw('POST', '/auth/login', { headers: { 'content-type': 'application/json', origin: evil }, body });
    assert.equal(cross.status, 403);
    assert.equal(cross.headers.get('set-cookie'), null);
  });
});

/** Values that once made the API answer 500, or might: as path segments (already encoded) and as strings. */
const BAD_SEGMENTS = ['%25', '%', '%E0%A4%A', '%zz', '%00', 'a%00b', '%ED%A0%80', '%F0%9F', '%C0%AF', 'x'.repeat(5000), '%2F..%2F', '%0A', '%22%27%3B'];
const BAD_STRINGS = ['\u0000', 'a\u0000b', '\ud800', 'x\udfffy', 'x'.repeat(100_000), '\u202e', '%25', "'; DROP TABLE apps; --", '\n', ''];

describe('no input makes the API answer 5xx', () => {
  test('GET /apps/%25 is a 404, not a 500 (the path was decoded twice)', async () => {
    const r = await raw('GET', '/apps/%25', { headers: { cookie } });
    assert.equal(r.status, 404, r.text);
    assertErrorShape(r, 'GET /apps/%25');
  });

  test('a NUL byte in an unauthenticated login is a 400', async () => {
    for (const body of [{ name: 'adm\u0000in', password: 'x' }, { name: 'admin', password: 'x\u0000' }, { name: '\ud800', password: 'x' }]) {
      const r = await raw('POST', '/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(r.status, 400, r.text);
      assertErrorShape(r, 'login');
    }
  });

  test('app names follow the environment-name rules, the role-name limit explained', async () => {
    for (const name of ['x'.repeat(64), 'Shop', 'a_b', '"x"', '1abc', 'a'.repeat(41)]) {
      const r = await t.call('POST', '/apps', { model: { app: name, databases: [{ name: 'main' }] } });
      assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.field, 'model.app');
    }
    const r = await t.call('POST', '/apps', { model: { app: 'x'.repeat(64) } });
    assert.match(r.body.error.message, /at most 40/);
    assert.match(r.body.error.message, /63 bytes/);
    assert.equal((await t.call('POST', '/apps', { model: { app: 'a'.repeat(40) } })).status, 201);
  });

  test('every route of the OpenAPI document, with bad path parameters and bad strings in its body', async () => {
    const spec = (await raw('GET', '/openapi.json')).json;
    assert.ok(spec?.paths, 'the OpenAPI document');
    const routes: { method: string; path: string; op: any }[] = [];
    for (const [path, ops] of Object.entries<any>(spec.paths)) for (const [method, op] of Object.entries<any>(ops)) routes.push({ method: method.toUpperCase(), path, op });
    assert.ok(routes.length >= 20, `${routes.length} routes`);
    const headers = { cookie, 'content-type': 'application/json', origin: t.platform.url };
    let sent = 0;
    for (const { method, path, op } of routes) {
      if (path === '/auth/logout') continue; // would end this test's session
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const fill = (value: string, only?: string) => path.replace(/\{(\w+)\}/g, (_, n) => (only === undefined || n === only ? value : 'shop'));
      const schema = op.requestBody?.content?.['application/json']?.schema;
      const bodies: (string | undefined)[] = schema ? [JSON.stringify(example(schema, 'ok')), ...BAD_STRINGS.map((s) => JSON.stringify(example(schema, s))), 'null', '[]', '"\\u0000"', '{"a":', '['.repeat(5000) + ']'.repeat(5000), '{"\\u0000":1}'] : [undefined];
      for (const name of names) {
        for (const segment of BAD_SEGMENTS) {
          const r = await raw(method, fill(segment, name), { headers, body: schema ? '{}' : undefined });
          assertErrorShape(r, `${method} ${fill(segment, name).slice(0, 120)}`);
          sent++;
        }
      }
      for (const body of bodies) {
        const target = fill('shop');
        const r = await raw(method, target, { headers, body });
        assertErrorShape(r, `${method} ${target} ${String(body).slice(0, 120)}`);
        sent++;
      }
    }
    assert.ok(sent > 300, `${sent} requests`);
  });

  test('a body over the size limit is a 413', async () => {
    const r = await raw('POST', '/apps', { headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'x'.repeat(17 * 1024 * 1024) }) });
    assert.equal(r.status, 413, r.text.slice(0, 200));
    assertErrorShape(r, 'oversized body');
  });
});

/** A value for a JSON schema (zod's output), with every string set to `text`. */
function example(schema: any, text: string, depth = 0): unknown {
  if (!schema || depth > 6) return text;
  if (schema.anyOf) return example(schema.anyOf.find((s: any) => s.type !== 'null') ?? schema.anyOf[0], text, depth + 1);
  if (schema.enum) return schema.enum[0];
  if (schema.const !== undefined) return schema.const;
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries<any>(schema.properties ?? {})) out[k] = example(v, text, depth + 1);
      if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out[text.slice(0, 50) || 'k'] = example(schema.additionalProperties, text, depth + 1);
      return out;
    }
    case 'array':
      return [example(schema.items, text, depth + 1)];
    case 'string':
      return text;
    case 'integer':
      return text === 'ok' ? 1 : 2 ** 53 - 1;
    case 'number':
      return text === 'ok' ? 1 : 1e308;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return text;
  }
}

describe('login: password guessing', () => {
  let p: TestPlatform;
  before(async () => {
    // A platform of its own (sharing the engine): the limits below would lock this file's admin out.
    p = await startTestPlatform({ engine: t.engine });
  });
  after(() => p.close());

  /** A login from a chosen loopback source address (all of 127/8 reaches the platform on 127.0.0.1). */
  function login(name: string, password: string, from = '127.0.0.1'): Promise<{ status: number; retryAfter: string | undefined; body: any }> {
    const url = new URL(`${p.platform.url}/api/v1/auth/login`);
    const payload = JSON.stringify({ name, password });
    return new Promise((resolve, reject) => {
      const request = http.request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress: from, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] as string | undefined, body: text ? JSON.parse(text) : undefined }));
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  test('an unknown user name costs the same scrypt as a known one', async () => {
    const original = crypto.scrypt;
    let calls = 0;
    crypto.scrypt = ((...args: Parameters<typeof crypto.scrypt>) => {
      calls++;
      return (original as (...a: unknown[]) => void)(...args);
    }) as typeof crypto.scrypt;
    try {
      calls = 0;
      assert.equal((await login('admin', 'wrong')).status, 401);
      const known = calls;
      calls = 0;
      assert.equal((await login('nobody-by-this-name', 'wrong')).status, 401);
      const unknown = calls;
      assert.equal(known, 1, 'a known user: one scrypt');
      assert.equal(unknown, known, 'an unknown user: the same scrypt work');
    } finally {
      crypto.scrypt = original;
    }
  });

  test('the 11th failed login for one user name within 15 minutes is a 429 with Retry-After, even with the right password', async () => {
    const { name, password } = p.platform.firstAdmin!;
    // One failure for this name above (the scrypt test); nine more, each from another address.
    for (let i = 2; i <= 10; i++) assert.equal((await login(name, `guess-${i}`, `127.0.0.${i + 10}`)).status, 401, `failure ${i}`);
    const blocked = await login(name, 'guess-11', '127.0.0.40');
    assert.equal(blocked.status, 429);
    const retryAfter = Number(blocked.retryAfter);
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${blocked.retryAfter}`);
    assert.equal(blocked.body.error.code, 'rate_limited');
    assert.equal((await login(name, password, '127.0.0.41')).status, 429, 'the right password does not get through the limit');
  });

  test('the 11th failed login from one address is a 429, whatever the user names', async () => {
    const from = '127.0.0.50';
    for (let i = 1; i <= 10; i++) assert.equal((await login(`guesser-${i}`, 'x', from)).status, 401, `failure ${i}`);
    const blocked = await login('guesser-11', 'x', from);
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.retryAfter) > 0);
    // Another address and another name are not affected.
    assert.equal((await login('guesser-12', 'x', '127.0.0.51')).status, 401);
  });

  test('a successful login is not counted as a failure', async () => {
    const q = await startTestPlatform({ engine: t.engine });
    try {
      const { name, password } = q.platform.firstAdmin!;
      for (let i = 0; i < 12; i++) {
        const r = await fetch(`${q.platform.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) });
        assert.equal(r.status, 200, `login ${i + 1}`);
      }
    } finally {
      await q.close();
    }
  });
});
