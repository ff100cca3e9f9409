/**
 * The reset of a masked preview killed (SIGKILL) at each point between its Neon calls, then the
 * platform restarted: the reset finishes with the parent's current data masked, one masking
 * branch (the new one, the preview's parent), the old one gone, the stored credentials still
 * connecting, and no personal value readable by the preview's roles. The platform runs as
 * `arbor serve` in a child process; the engine stands in for Neon.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { stringify } from 'yaml';
import { removeTree } from '../../../scripts/reaper.ts';
import { callPlatform, servePlatform } from '../test-process.ts';
import { startEngineServer, type EngineServer } from '../../engine/server.ts';

let engine: EngineServer;
const home = mkdtempSync(join(tmpdir(), 'arbor-masked-reset-crash-'));
let token = '';
/** A masked reset copies the parent twice on the engine: a deadline for a loaded machine. */
const SLOW = 300_000;
const MODEL = stringify({
  app: 'shop',
  databases: [{ name: 'main' }],
  services: [{ name: 'orders', databases: ['main'] }],
  previews: { mask: { 'main.customers.email': 'email', 'main.customers.name': 'fake-name' } },
});
const MIGRATIONS = { main: [{ file: '1_customers.up.sql', sql: 'CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text);' }] };
const POINTS = ['branch-made', 'masked', 'endpoint-recorded', 'restored', 'passwords', 'retired'];

const serve = (failpoint?: string) => servePlatform(home, failpoint);

const call = (url: string, method: string, path: string, body?: unknown, auth: Record<string, string> = { authorization: `Bearer ${token}` }) => callPlatform(url, method, path, body, auth);

async function settled(url: string, env: string) {
  const deadline = Date.now() + SLOW;
  for (;;) {
    const e = (await call(url, 'GET', `/apps/shop/environments/${env}`)).body.environment;
    if (e.generation === e.observedGeneration && (e.status === 'ready' || e.status === 'failed')) return e;
    assert.ok(Date.now() < deadline, `${env} settled in time (is ${e.status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function query<T = Record<string, unknown>>(uri: string, sql: string, params?: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const reveal = async (url: string, env: string, role: string) => (await call(url, 'POST', `/apps/shop/environments/${env}/users/${role}/reveal`)).body.user.connectionUri as string;
let previewUri = '';
let added = 0;

before(async () => {
  engine = await startEngineServer({ home: join(home, 'engine') });
  const first = await serve();
  try {
    const password = /admin \/ (\S+)/.exec(first.output)![1];
    const login = await fetch(`${first.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password }) });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    token = (await call(first.url, 'POST', '/tokens', { name: 'crash-test', role: 'admin' }, { cookie })).body.token;
    assert.equal((await call(first.url, 'POST', '/accounts', { name: 'engine', apiKey: engine.apiKey, apiUrl: engine.url, plan: 'scale', allowInsecureUrl: true })).status, 201);
    assert.equal((await call(first.url, 'POST', '/apps', { model: MODEL, migrations: MIGRATIONS })).status, 201);
    assert.equal((await call(first.url, 'POST', '/apps/shop/environments', { name: 'staging', account: 'engine', mode: 'new-project' })).status, 201);
    assert.equal((await settled(first.url, 'staging')).status, 'ready');
    await addCustomer(first.url, 'first');
    assert.equal((await call(first.url, 'PATCH', '/apps/shop/previews', { parentEnvironment: 'staging' })).status, 200);
    assert.equal((await call(first.url, 'PUT', '/apps/shop/previews/1', {})).status, 201);
    const pr = await settled(first.url, 'pr:1');
    assert.equal(pr.status, 'ready', pr.error);
    previewUri = await reveal(first.url, 'pr:1', 'svc_orders');
  } finally {
    await first.stop();
  }
});

after(async () => {
  await engine.close();
  await removeTree(home);
});

async function addCustomer(url: string, tag: string): Promise<void> {
  await query(await reveal(url, 'staging', 'db_main_admin'), 'INSERT INTO customers (email, name) VALUES ($1, $2)', [`${tag}.secret@real-mail.test`, `${tag} Secretson`]);
  added++;
}

for (const point of POINTS) {
  test(`a masked reset killed at "${point}": the restart finishes it, masked, with one masking branch and the same credentials`, async () => {
    const doomed = await serve(`masked-reset:${point}`);
    const before = (await call(doomed.url, 'GET', '/apps/shop/environments/pr:1')).body.environment;
    const oldMasking = engine.engine.branch(before.neon.projectId, before.neon.branchId).parent_id!;
    await addCustomer(doomed.url, `crash-${point}`);
    assert.equal((await call(doomed.url, 'POST', '/apps/shop/previews/1/reset')).status, 202);
    assert.equal(await doomed.exited, 137, 'the process was killed at the failpoint');

    const again = await serve();
    try {
      const pr = await settled(again.url, 'pr:1');
      assert.equal(pr.status, 'ready', pr.error);
      const runs = pr.steps.filter((s: { step: string }) => s.step === 'reset-from-parent');
      assert.ok(runs.length >= 2, 'the step ran before the crash and again after it');
      assert.equal(await reveal(again.url, 'pr:1', 'svc_orders'), previewUri, 'the stored credential is kept');
      const rows = await query<{ email: string; name: string }>(previewUri, 'SELECT email, name FROM customers');
      assert.equal(rows.length, added, "the parent's current rows");
      for (const row of rows) {
        assert.match(row.email, /^user-[0-9a-f]{16}@example\.invalid$/);
        assert.ok(!row.name.includes('Secretson'), row.name);
      }
      const api = engine.engine;
      await api.idle();
      const branch = api.branch(pr.neon.projectId, pr.neon.branchId);
      assert.equal(branch.id, before.neon.branchId, 'the same branch');
      const masking = api.branchesOf(pr.neon.projectId).filter((b) => b.name.startsWith('preview/shop/pr-1-masking'));
      assert.deepEqual(masking.map((b) => b.id), [branch.parent_id], 'one masking branch: the preview\'s parent');
      assert.notEqual(branch.parent_id, oldMasking);
      assert.deepEqual(api.endpointsOf(branch.parent_id!), [], 'the masking branch has no endpoint');
    } finally {
      await again.stop();
    }
  });
}
