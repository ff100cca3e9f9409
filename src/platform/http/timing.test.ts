/**
 * Per-request timing on a real platform (and engine): every answer carries a Server-Timing header
 * whose entries parse; an environments list counts its store queries; an authenticated request
 * (session cookie, API token) has an auth phase; a call that goes to Neon counts its calls; and
 * with ARBOR_TRACE=1 the log gets one line per request that names no secret and no query value.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SHOP_MIGRATIONS, SHOP_MODEL, startTestPlatform, type TestPlatform } from '../test-support.ts';

let t: TestPlatform;
let token: string;
let cookie: string;

interface Entry {
  name: string;
  dur: number;
  desc?: string;
}

/** Server-Timing as the spec writes it: `name;dur=1.2;desc="…"`, comma-separated. */
function parseServerTiming(header: string): Entry[] {
  return header.split(',').map((part) => {
    const [name, ...params] = part.trim().split(';');
    assert.match(name, /^[a-z]+$/, `entry name in ${header}`);
    const entry: Entry = { name, dur: NaN };
    for (const param of params) {
      const m = /^(dur|desc)=(?:"([^"]*)"|([0-9.]+))$/.exec(param.trim());
      assert.ok(m, `parameter ${param} of ${header}`);
      if (m[1] === 'dur') entry.dur = Number(m[3]);
      else entry.desc = m[2];
    }
    assert.ok(Number.isFinite(entry.dur) && entry.dur >= 0, `dur of ${name} in ${header}`);
    return entry;
  });
}

async function timing(path: string, auth: { token?: string; cookie?: string }): Promise<{ status: number; entries: Map<string, Entry> }> {
  const headers: Record<string, string> = {};
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.cookie) headers.cookie = auth.cookie;
  const response = await fetch(`${t.platform.url}/api/v1${path}`, { headers });
  await response.arrayBuffer();
  const header = response.headers.get('server-timing');
  assert.ok(header, `${path} answers with Server-Timing`);
  return { status: response.status, entries: new Map(parseServerTiming(header).map((e) => [e.name, e])) };
}

const count = (entry: Entry | undefined) => Number(/^(\d+) /.exec(entry?.desc ?? '')?.[1]);

before(async () => {
  process.env.ARBOR_TRACE = '1';
  t = await startTestPlatform();
  delete process.env.ARBOR_TRACE;
  assert.equal((await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true })).status, 201);
  assert.equal((await t.call('POST', '/apps', { model: SHOP_MODEL, migrations: SHOP_MIGRATIONS })).status, 201);
  token = (await t.call('POST', '/tokens', { name: 'timing', role: 'viewer', app: 'shop' })).body.token;
  const login = await fetch(`${t.platform.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: t.platform.firstAdmin!.name, password: t.platform.firstAdmin!.password }),
  });
  assert.equal(login.status, 200);
  cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
});
after(() => t?.close());

test('an environments list answers with Server-Timing: auth, store with its query count, neon, total', async () => {
  for (const auth of [{ token }, { cookie }]) {
    const { status, entries } = await timing('/apps/shop/environments', auth);
    assert.equal(status, 200);
    assert.deepEqual([...entries.keys()], ['auth', 'store', 'neon', 'total']);
    assert.ok(count(entries.get('store')) >= 1, `store counts its queries: ${entries.get('store')?.desc}`);
    assert.equal(count(entries.get('neon')), 0, 'no Neon call');
    assert.ok(entries.get('total')!.dur >= entries.get('auth')!.dur, 'total covers auth');
  }
});

test('a refused request still has the header; a public route has no auth phase', async () => {
  const { status, entries } = await timing('/apps/shop/environments', {});
  assert.equal(status, 401);
  assert.ok(entries.has('auth') && entries.has('total'));
  const health = await timing('/openapi.json', {});
  assert.equal(health.status, 200);
  assert.ok(!health.entries.has('auth'), 'a public route has no auth phase');
  assert.equal(count(health.entries.get('store')), 0);
});

test('a route that asks Neon counts its calls', async () => {
  const { status, entries } = await timing('/accounts/engine/regions', { cookie });
  assert.equal(status, 200);
  assert.ok(count(entries.get('neon')) >= 1, `neon counts its calls: ${entries.get('neon')?.desc}`);
});

test('ARBOR_TRACE=1: one log line per request with the phases, no secret, no query value', async () => {
  const marker = 'zz-not-logged';
  const response = await fetch(`${t.platform.url}/api/v1/audit?secret=${marker}`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  const lines = t.logs.filter((l) => l.includes('trace GET /api/v1/audit '));
  assert.equal(lines.length, 1, t.logs.slice(-5).join('\n'));
  assert.match(lines[0], /^INFO trace GET \/api\/v1\/audit 200 total=[0-9.]+ms auth=[0-9.]+ms store=[0-9.]+ms\/[1-9][0-9]*q neon=[0-9.]+ms\/0$/);
  const all = t.logs.join('\n');
  assert.ok(!all.includes(marker), 'no query string');
  assert.ok(!all.includes(token), 'no token');
  assert.ok(!all.includes(cookie.split('=')[1]), 'no session');
});

test("a token's last use is written once a minute, not on every request: the next request has a query fewer", async () => {
  const fresh = (await t.call('POST', '/tokens', { name: 'last-use', role: 'viewer', app: 'shop' })).body;
  const first = await timing('/apps/shop', { token: fresh.token });
  const second = await timing('/apps/shop', { token: fresh.token });
  assert.equal(first.status, 200);
  assert.equal(count(second.entries.get('store')), count(first.entries.get('store')) - 1, 'no UPDATE of last use');
  const listed = (await t.call('GET', '/tokens')).body.tokens.find((x: { id: number }) => x.id === fresh.info.id);
  assert.ok(listed.lastUsedAt, 'the first use is recorded');
  // Revoked: refused on the very next request.
  assert.equal((await t.call('DELETE', `/tokens/${fresh.info.id}`)).status, 204);
  assert.equal((await timing('/apps/shop', { token: fresh.token })).status, 401);
});
