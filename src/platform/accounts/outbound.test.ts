/**
 * Calls out to a Neon account's API URL (issue 9), against real local HTTP servers posing as
 * Neon: redirects are not followed (the server redirected to never sees the key), plain http is
 * refused off loopback and taken on loopback only when asked for, the key goes to the URL's origin
 * only, and what an upstream answers never comes back through Arbor except Neon's own error
 * message — a fixed message per kind of failure instead.
 */
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { describeNeonFailure, neonClient } from '../neon/client.ts';
import { startTestPlatform, type TestPlatform } from '../test-support.ts';

const SECRET = 'TOPSECRET-internal-admin-panel-4f7c';
const KEY = 'neon-key-under-test-0001';

interface Fake {
  url: string;
  /** Every request seen: method, path and Authorization header. */
  seen: { method: string; path: string; authorization?: string }[];
  close(): Promise<void>;
}

async function fakeServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Fake> {
  const seen: Fake['seen'] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

let t: TestPlatform;
const fakes: Fake[] = [];
async function fake(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Fake> {
  const f = await fakeServer(handler);
  fakes.push(f);
  return f;
}

before(async () => {
  t = await startTestPlatform();
});
after(async () => {
  for (const f of fakes) await f.close();
  await t.close();
});

const connect = (name: string, apiUrl: string, extra: Record<string, unknown> = { allowInsecureUrl: true }) => t.call('POST', '/accounts', { name, apiKey: KEY, apiUrl, plan: 'free', ...extra });

describe('connecting an account', () => {
  test('a redirect is not followed: the server it points to never sees the key', async () => {
    const target = await fake((_req, res) => json(res, 200, { projects: [] }));
    const redirector = await fake((req, res) => {
      res.writeHead(302, { location: `${target.url}${req.url}` });
      res.end();
    });
    const r = await connect('redirected', `${redirector.url}/api/v2`);
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.equal(r.body.error.field, 'apiUrl');
    assert.match(r.body.error.message, /redirect/);
    assert.equal(redirector.seen.length, 1);
    assert.equal(target.seen.length, 0, 'the redirect target was never called');
    assert.equal((await t.call('GET', '/accounts')).body.accounts.some((a: { name: string }) => a.name === 'redirected'), false);
  });

  test('plain http off loopback, other schemes and credentials in the URL are refused before any call', async () => {
    for (const apiUrl of ['http://10.255.255.1/api/v2', 'http://example.com/api/v2', 'http://169.254.169.254/latest', 'ftp://127.0.0.1/api/v2', 'file:///etc/passwd', 'https://user:pw@example.com/api/v2', 'gopher://127.0.0.1:6379/_x']) {
      const r = await connect('insecure', apiUrl);
      assert.equal(r.status, 400, `${apiUrl}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.field, 'apiUrl');
    }
    const offLoopback = await connect('insecure', 'http://10.255.255.1/api/v2');
    assert.match(offLoopback.body.error.message, /https/);
  });

  test('plain http to loopback needs allowInsecureUrl', async () => {
    const neon = await fake((_req, res) => json(res, 200, { projects: [] }));
    const refused = await connect('loopback', `${neon.url}/api/v2`, {});
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(refused.body.error.message, /allowInsecureUrl/);
    assert.equal(neon.seen.length, 0, 'nothing was sent');
    const ok = await connect('loopback', `${neon.url}/api/v2`);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(neon.seen[0].authorization, `Bearer ${KEY}`);
    // The engine, as any loopback engine, with the flag.
    assert.equal((await connect('engine', t.engine.url, { allowInsecureUrl: true, apiKey: t.engine.apiKey })).status, 201);
  });

  test("an upstream's body never comes back: a fixed message per kind of failure", async () => {
    const cases: { name: string; handler: (req: IncomingMessage, res: ServerResponse) => void; field: string; message: RegExp }[] = [
      { name: 'err500', handler: (_q, res) => (res.writeHead(500, { 'content-type': 'text/html' }), res.end(`<h1>${SECRET}</h1>`)), field: 'apiUrl', message: /not a Neon API \(it answered 500\)/ },
      { name: 'err500json', handler: (_q, res) => json(res, 500, { message: SECRET, code: 'X' }), field: 'apiUrl', message: /not a Neon API/ },
      { name: 'err404', handler: (_q, res) => json(res, 404, { message: `no route; ${SECRET}` }), field: 'apiUrl', message: /not a Neon API/ },
      { name: 'err401', handler: (_q, res) => json(res, 401, { message: SECRET }), field: 'apiKey', message: /API key was refused/ },
      { name: 'notneon', handler: (_q, res) => (res.writeHead(200, { 'content-type': 'text/html' }), res.end(`<html>${SECRET}</html>`)), field: 'apiUrl', message: /not a Neon API/ },
      { name: 'notneonjson', handler: (_q, res) => json(res, 200, { status: 'ok', secret: SECRET }), field: 'apiUrl', message: /not a Neon API/ },
    ];
    for (const c of cases) {
      const upstream = await fake(c.handler);
      const r = await connect(c.name, `${upstream.url}/api/v2`);
      assert.equal(r.status, 422, `${c.name}: ${JSON.stringify(r.body)}`);
      assert.ok(!JSON.stringify(r.body).includes(SECRET), `${c.name}: the upstream's body is reflected: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.field, c.field, c.name);
      assert.match(r.body.error.message, c.message, c.name);
    }
    const closed = await fake(() => {});
    await closed.close();
    const unreachable = await connect('unreachable', `${closed.url}/api/v2`);
    assert.equal(unreachable.status, 422);
    assert.match(unreachable.body.error.message, /could not reach it/);
    assert.ok(!/ECONNREFUSED|127\.0\.0\.1:\d+\/api\/v2\/projects/.test(unreachable.body.error.message.replace(`${closed.url}/api/v2`, '')), unreachable.body.error.message);
  });

  test("later calls (members listing projects) pass on Neon's error message, never an arbitrary body, and follow no redirect", async () => {
    const elsewhere = await fake((_req, res) => json(res, 200, { branches: [] }));
    let mode: 'garbage' | 'neon' | 'redirect' = 'garbage';
    const upstream = await fake((req, res) => {
      if (req.url?.startsWith('/api/v2/projects?') || req.url === '/api/v2/projects') return json(res, 200, { projects: [{ id: 'p-1', name: 'one', region_id: 'aws-us-east-2', pg_version: 17 }] });
      if (mode === 'garbage') return json(res, 500, { message: SECRET, stack: `at internal (${SECRET})` });
      if (mode === 'neon') return json(res, 404, { code: 'NOT_FOUND', message: 'project p-1 not found', request_id: 'r-1' });
      res.writeHead(307, { location: `${elsewhere.url}${req.url}` });
      res.end();
    });
    assert.equal((await connect('later', `${upstream.url}/api/v2`)).status, 201);
    const garbage = await t.call('GET', '/accounts/later/projects');
    assert.equal(garbage.status, 502, JSON.stringify(garbage.body));
    assert.ok(!JSON.stringify(garbage.body).includes(SECRET), JSON.stringify(garbage.body));
    mode = 'neon';
    const neon = await t.call('GET', '/accounts/later/projects');
    assert.equal(neon.status, 502);
    assert.match(neon.body.error.message, /Neon answered 404: project p-1 not found/);
    mode = 'redirect';
    const redirected = await t.call('GET', '/accounts/later/projects');
    assert.ok(redirected.status >= 400 && redirected.status < 600 && redirected.status !== 500, JSON.stringify(redirected.body));
    assert.equal(elsewhere.seen.length, 0, 'the redirect target was never called');
  });
});

describe('the Neon client', () => {
  test('sends the key to its API URL origin only', async () => {
    const other = await fake((_req, res) => json(res, 200, {}));
    const own = await fake((_req, res) => json(res, 200, { projects: [] }));
    const api = neonClient(`${own.url}/api/v2`, KEY);
    await assert.rejects(api.instance.get(`${other.url}/api/v2/projects`), /refusing to send the Neon API key/);
    assert.equal(other.seen.length, 0);
    await api.listProjects({});
    assert.equal(own.seen[0].authorization, `Bearer ${KEY}`);
  });

  test('refuses plain http off loopback even for stored accounts', () => {
    assert.throws(() => neonClient('http://192.0.2.1/api/v2', KEY), /plain http/);
    assert.ok(neonClient('https://console.neon.tech/api/v2', KEY));
  });

  test('a call that gets no answer in time is a timeout, one to a closed port unreachable', async () => {
    const silent = await fake(() => {});
    const failure = await neonClient(`${silent.url}/api/v2`, KEY, { timeoutMs: 200 })
      .listProjects({})
      .then(
        () => null,
        (error) => describeNeonFailure(error),
      );
    assert.equal(failure?.kind, 'timeout');
    const closed = await fakeServer(() => {});
    await closed.close();
    const unreachable = await neonClient(`${closed.url}/api/v2`, KEY)
      .listProjects({})
      .then(
        () => null,
        (error) => describeNeonFailure(error),
      );
    assert.equal(unreachable?.kind, 'unreachable');
  });
});
