/**
 * The GitHub webhook against a real platform and engine: recorded `pull_request` deliveries
 * (src/github/fixtures, GitHub's payload shape, sent with the headers GitHub sends), signed for
 * real with HMAC-SHA256 and the configured secret. A closed pull request's preview is closed with
 * no workflow involved; a redelivery does nothing again; bad signatures are 401 with nothing but
 * a counter left; no body gives a 5xx.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../test-support.ts';

const FIXTURES = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../github/fixtures'));
const SECRET = 'It’s a Secret to Everybody';
const MODEL = 'app: shop\ndatabases:\n  - name: main\nservices:\n  - name: orders\n    databases: [main]\n';
const payload = (event: string) => readFileSync(join(FIXTURES, `pull_request.${event}.json`));

let t: TestPlatform;
let ci: string;
const saved = { secret: process.env.ARBOR_GITHUB_WEBHOOK_SECRET, repositories: process.env.ARBOR_GITHUB_REPOSITORIES };

const sign = (body: Buffer | string, secret = SECRET, algorithm: 'sha256' | 'sha1' = 'sha256') => `${algorithm}=${createHmac(algorithm, secret).update(body).digest('hex')}`;

/** A delivery as GitHub sends it. */
async function deliver(event: string, body: Buffer | string, options: { signature?: string | null; delivery?: string; contentType?: string } = {}) {
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/json',
    'user-agent': 'GitHub-Hookshot/7b1c9e2',
    'x-github-event': event,
    'x-github-delivery': options.delivery ?? randomUUID(),
    'x-github-hook-id': '512345678',
    'x-github-hook-installation-target-id': '812345678',
    'x-github-hook-installation-target-type': 'repository',
    'x-hub-signature': sign(body, SECRET, 'sha1'),
  };
  if (options.signature !== null) headers['x-hub-signature-256'] = options.signature ?? sign(body);
  const response = await fetch(`${t.platform.url}/api/v1/github/webhook`, { method: 'POST', headers, body: typeof body === 'string' ? body : new Uint8Array(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, delivery: headers['x-github-delivery'] };
}

async function gone(env: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await t.call('GET', `/apps/shop/environments/${env}`)).status !== 404) {
    assert.ok(Date.now() < deadline, `${env} gone in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const auditEntries = async () => (await t.call('GET', '/audit')).body.entries as { action: string; target: string; actor: string; detail: Record<string, unknown> }[];

before(async () => {
  process.env.ARBOR_GITHUB_WEBHOOK_SECRET = SECRET;
  process.env.ARBOR_GITHUB_REPOSITORIES = 'octo-org/other=other, Octo-Org/Shop=shop';
  t = await startTestPlatform();
  ci = (await t.call('POST', '/tokens', { name: 'ci', role: 'developer' })).body.token;
  await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  assert.equal((await t.call('POST', '/apps', { model: MODEL })).status, 201);
  await t.call('POST', '/apps/shop/environments', { name: 'staging', account: 'engine', mode: 'new-project' });
  await t.waitFor('shop', 'staging', 'ready');
  await t.call('PATCH', '/apps/shop/previews', { parentEnvironment: 'staging' });
});

after(async () => {
  await t?.close();
  for (const [key, value] of [['ARBOR_GITHUB_WEBHOOK_SECRET', saved.secret], ['ARBOR_GITHUB_REPOSITORIES', saved.repositories]] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

test('bad signatures are 401 and leave nothing but a counter', async () => {
  const body = payload('closed');
  const before = (await auditEntries()).length;
  assert.equal((await deliver('pull_request', body, { signature: null })).status, 401, 'none');
  assert.equal((await deliver('pull_request', body, { signature: sign(body, 'another secret') })).status, 401, 'another secret');
  assert.equal((await deliver('pull_request', body, { signature: sign(Buffer.concat([body, Buffer.from(' ')])) })).status, 401, 'another body');
  assert.equal((await deliver('pull_request', body, { signature: sign(body, SECRET, 'sha1') })).status, 401, 'sha1 in the sha256 header');
  assert.equal((await deliver('pull_request', body, { signature: 'sha256=' + 'zz'.repeat(32) })).status, 401, 'not hex');
  const r = await deliver('pull_request', body, { signature: 'sha256=00' });
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 'bad_signature');
  assert.equal((await auditEntries()).length, before, 'no audit entry');
  const stats = (await t.call('GET', '/github/webhook')).body;
  assert.equal(stats.rejectedSignatures, 6);
  assert.equal(stats.configured, true);
  assert.deepEqual(stats.repositories, { 'octo-org/other': 'other', 'octo-org/shop': 'shop' });
  assert.ok(!JSON.stringify(stats).includes(SECRET), 'never the secret');
  assert.equal((await t.call('GET', '/github/webhook', undefined, { token: ci })).status, 403, 'admins only');
});

test("ping, then opened is recorded; closed closes the preview no workflow closed; a redelivery does nothing again", async () => {
  assert.deepEqual((await deliver('ping', JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 512345678 }))).body, { pong: true });
  // The workflow opened the preview (it has the migrations); the webhook records the event.
  assert.equal((await t.call('PUT', '/apps/shop/previews/42', {}, { token: ci })).status, 201);
  await t.waitFor('shop', 'pr:42', 'ready');
  const opened = await deliver('pull_request', payload('opened'));
  assert.equal(opened.status, 202);
  assert.deepEqual(opened.body, { app: 'shop', preview: 'pr:42', recorded: 'opened' });
  const sync = await deliver('pull_request', payload('synchronize'));
  assert.equal(sync.body.recorded, 'synchronize');
  const entries = await auditEntries();
  const recorded = entries.find((e) => e.action === 'preview.github.synchronize')!;
  assert.equal(recorded.target, 'shop/pr:42');
  assert.equal(recorded.actor, 'github-webhook');
  assert.equal(recorded.detail.sha, 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
  assert.equal(recorded.detail.delivery, sync.delivery);

  const closed = await deliver('pull_request', payload('closed'));
  assert.equal(closed.status, 202);
  assert.deepEqual(closed.body, { app: 'shop', preview: 'pr:42', closed: true });
  await gone('pr:42');
  const again = await deliver('pull_request', payload('closed'), { delivery: closed.delivery });
  assert.equal(again.status, 200);
  assert.deepEqual(again.body, { duplicate: true });
  const later = await deliver('pull_request', payload('closed'));
  assert.deepEqual(later.body, { app: 'shop', preview: 'pr:42', closed: false }, 'a new delivery of a closed one: nothing left to close');
  const audit = await auditEntries();
  assert.equal(audit.filter((e) => e.action === 'preview.github.closed').length, 2);
  assert.ok(audit.some((e) => e.action === 'environment.delete' && e.target === 'shop/pr:42' && e.actor === 'github-webhook'));
  assert.equal((await t.call('GET', '/github/webhook')).body.duplicates, 1);
});

test('repositories mapped to no app, other events and other actions are acknowledged and ignored', async () => {
  const other = JSON.parse(payload('closed').toString());
  other.repository.full_name = 'someone/else';
  const r = await deliver('pull_request', JSON.stringify(other));
  assert.equal(r.status, 202);
  assert.match(r.body.ignored, /someone\/else is mapped to no app/);
  assert.match((await deliver('push', JSON.stringify({ ref: 'refs/heads/main', repository: other.repository }))).body.ignored, /event push/);
  const labeled = JSON.parse(payload('opened').toString());
  labeled.action = 'labeled';
  assert.match((await deliver('pull_request', JSON.stringify(labeled))).body.ignored, /action labeled/);
});

test('no body gives a 5xx, signed or not', async () => {
  const closed = JSON.parse(payload('closed').toString());
  const bodies = [
    '',
    'null',
    '[]',
    '"closed"',
    '{',
    '{"action":"closed"}',
    '{"action":"closed","repository":{"full_name":"octo-org/shop"}}',
    JSON.stringify({ ...closed, number: 'x', pull_request: { number: 'x' } }),
    JSON.stringify({ ...closed, number: 1e309, pull_request: { number: -1 } }),
    JSON.stringify({ ...closed, number: 2 ** 53, pull_request: { number: 2 ** 53 } }),
    JSON.stringify({ ...closed, number: 7, pull_request: { number: 7 } }),
    JSON.stringify({ ...closed, repository: { full_name: 'octo-org/other' } }), // mapped to an app that does not exist
    JSON.stringify({ ...closed, repository: { full_name: ['octo-org/shop'] } }),
    JSON.stringify({ ...closed, action: { closed: true } }),
    JSON.stringify({ ...closed, pull_request: { ...closed.pull_request, head: { sha: '\u0000\ud800' } } }),
    '{"a":' + '['.repeat(5000) + ']'.repeat(5000) + '}',
    Buffer.from([0xff, 0xfe, 0x00, 0x7b]).toString('latin1'),
  ];
  for (const body of bodies) {
    for (const signature of [undefined, null]) {
      for (const event of ['pull_request', 'ping', '']) {
        const r = await deliver(event, body, { signature });
        assert.ok(r.status < 500, `${r.status} for ${event} ${body.slice(0, 60)}: ${JSON.stringify(r.body)}`);
        if (signature === null) assert.equal(r.status, 401);
      }
    }
  }
  const form = await deliver('pull_request', `payload=${encodeURIComponent(payload('closed').toString())}`, { contentType: 'application/x-www-form-urlencoded' });
  assert.equal(form.status, 415, 'the webhook takes JSON only (content type application/json)');
});

test('without a configured secret the webhook is off: 404, nothing done', async () => {
  delete process.env.ARBOR_GITHUB_WEBHOOK_SECRET;
  try {
    const r = await deliver('pull_request', payload('closed'));
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'github_webhook_off');
  } finally {
    process.env.ARBOR_GITHUB_WEBHOOK_SECRET = SECRET;
  }
});
