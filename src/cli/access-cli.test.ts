/**
 * The access commands through the built binary against a real platform: `tokens create` scoped to
 * one app with an expiry (handed to the running platform through ARBOR_HOME), `tokens list`
 * (never a secret) and `revoke`; `apps members`, `add-member`; a developer's pending model change
 * listed, then approved with `apps approve`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../platform/test-support.ts';

let t: TestPlatform;
let admin: string;
const MODEL = 'app: shop\ndatabases:\n  - name: main\nservices:\n  - name: api\n    databases: [main]\n';

function arbor(args: string[], token = admin): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['bin/arbor.js', ...args], { env: { ...process.env, ARBOR_URL: t.platform.url, ARBOR_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

async function me(token: string) {
  const response = await fetch(`${t.platform.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
}

before(async () => {
  t = await startTestPlatform();
  admin = (await t.call('POST', '/tokens', { name: 'cli', role: 'admin' })).body.token;
  assert.equal((await t.call('POST', '/apps', { model: MODEL })).status, 201);
  assert.equal((await t.call('POST', '/apps', { model: MODEL.replace('shop', 'other') })).status, 201);
});
after(() => t.close());

test('tokens create --app --expires-in through ARBOR_HOME; list shows no secret; revoke ends it', async () => {
  const made = await arbor(['tokens', 'create', '--role', 'viewer', '--app', 'shop', '--expires-in', '2h', '--name', 'deploy', '--home', t.home]);
  assert.equal(made.code, 0, made.stderr);
  const token = made.stdout.trim();
  assert.match(token, /^arbor_pat_\S+$/);
  const who = await me(token);
  assert.deepEqual(who.body.user.token, { scope: 'shop', role: 'viewer' });
  const other = await fetch(`${t.platform.url}/api/v1/apps/other`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(other.status, 404, 'scoped to shop');

  const missing = await arbor(['tokens', 'create', '--role', 'viewer', '--app', 'nope', '--home', t.home]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /app nope not found/);
  assert.match((await arbor(['tokens', 'create', '--role', 'owner', '--home', t.home])).stderr, /--role must be viewer, developer or admin/);
  assert.match((await arbor(['tokens', 'create', '--role', 'viewer', '--expires-in', 'forever', '--home', t.home])).stderr, /--expires-in/);

  const list = await arbor(['tokens', 'list']);
  assert.equal(list.code, 0, list.stderr);
  const line = list.stdout.split('\n').find((l) => l.split('\t')[1] === 'deploy');
  assert.ok(line, list.stdout);
  const [id, , scope, role, , lastUsed, expires] = line.split('\t');
  assert.deepEqual([scope, role], ['shop', 'viewer']);
  assert.notEqual(lastUsed, 'never');
  assert.ok(Date.parse(expires) - Date.now() <= 2 * 3600_000 && Date.parse(expires) - Date.now() > 3600_000);
  assert.ok(!list.stdout.includes(token.slice(10)) && !list.stdout.includes(admin.slice(10)), 'no secret listed');
  const json = await arbor(['tokens', 'list', '--json']);
  assert.ok(!json.stdout.includes(token.slice(10)) && !/hash/i.test(json.stdout));

  const revoked = await arbor(['tokens', 'revoke', id]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal((await me(token)).status, 401);
});

test("apps members, add-member; a developer's change pending, then approved by an app admin", async () => {
  const dana = (await t.call('POST', '/team', { name: 'dana', role: 'member' })).body.user;
  assert.equal((await arbor(['apps', 'add-member', 'shop', 'dana', '--role', 'developer'])).stdout, 'dana\tdeveloper\n');
  assert.match((await arbor(['apps', 'members', 'shop'])).stdout, /^dana\tdeveloper$/m);
  const login = await fetch(`${t.platform.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'dana', password: dana.password }) });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
  const danaToken = (await (await fetch(`${t.platform.url}/api/v1/tokens`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'dana-cli', role: 'developer', app: 'shop' }) })).json()).token;

  const patched = await fetch(`${t.platform.url}/api/v1/apps/shop`, { method: 'PATCH', headers: { authorization: `Bearer ${danaToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, migrations: { main: [{ file: '1_a.up.sql', sql: 'CREATE TABLE a (id int);' }] } }) });
  const pending = (await patched.json()).pending;
  assert.equal(pending.status, 'pending');
  assert.match((await arbor(['apps', 'changes', 'shop'])).stdout, new RegExp(`^${pending.id}\\tpending\\ttoken:dana-cli\\t`, 'm'));
  const refused = await arbor(['apps', 'approve', 'shop', String(pending.id)], danaToken);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /admin role on app shop/);
  const approved = await arbor(['apps', 'approve', 'shop', String(pending.id)]);
  assert.equal(approved.code, 0, approved.stderr);
  assert.equal(approved.stdout, `${pending.id}\tapproved\n`);
  assert.deepEqual((await t.call('GET', '/apps/shop/changes')).body.changes.map((c: { status: string }) => c.status), ['approved']);
});
