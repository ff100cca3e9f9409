/**
 * Point in time (issue 10), end to end through the platform API against the engine: an
 * environment branched at a past timestamp (branch-environment) or LSN (branch-neon) holds
 * exactly the rows of that moment; one restored
 * to a past timestamp holds the old rows and its service credentials (rotated since that moment)
 * still connect; a point outside the history window is refused on `at` with the window's bounds;
 * restoring takes an app admin, and a protected environment its name as confirmation.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { SHOP_MIGRATIONS, SHOP_MODEL, startTestPlatform, type TestPlatform } from '../test-support.ts';

let t: TestPlatform;
let developerToken: string;

async function sql<T = Record<string, unknown>>(uri: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

const reveal = async (env: string, role: string) => {
  const r = await t.call('POST', `/apps/shop/environments/${env}/users/${role}/reveal`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.user.connectionUri as string;
};
const items = async (uri: string) => (await sql<{ item: string }>(uri, 'SELECT item FROM orders ORDER BY id')).map((r) => r.item);
/** A moment strictly between two commits (commit timestamps are in microseconds). */
const moment = async () => {
  await new Promise((r) => setTimeout(r, 20));
  const at = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 20));
  return at;
};

before(async () => {
  t = await startTestPlatform();
  const connect = await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  if (connect.status === 400) await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale' });
  assert.equal((await t.call('POST', '/apps', { model: SHOP_MODEL, migrations: SHOP_MIGRATIONS })).status, 201);
  developerToken = (await t.call('POST', '/tokens', { name: 'dev', role: 'developer' })).body.token;
  const r = await t.call('POST', '/apps/shop/environments', { name: 'staging', account: 'engine', mode: 'new-project' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await t.waitFor('shop', 'staging', 'ready');
});
// The engine and the platform, with every project and branch made here, go with their homes.
after(() => t.close());

test('a branch environment at a past timestamp, and a branch-neon one at an LSN, hold exactly the rows of that moment', async () => {
  const orders = await reveal('staging', 'svc_orders');
  // The engine's history of a branch begins with its first base copy, taken in the background
  // right after the branch is made (docs/engine.md); Neon's at the branch's creation. The moment
  // is taken after it, as a user's would be.
  await t.engine.engine.history.settled();
  await sql(orders, "INSERT INTO orders (item) VALUES ('before')");
  const [{ lsn }] = await sql<{ lsn: string }>(orders, 'SELECT pg_current_wal_lsn()::text AS lsn');
  const at = await moment();
  await sql(orders, "INSERT INTO orders (item) VALUES ('after')");

  const r = await t.call('POST', '/apps/shop/environments', { name: 'then', mode: 'branch-environment', parentEnvironment: 'staging', at });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const then = await t.waitFor('shop', 'then', 'ready');
  assert.deepEqual(await items(await reveal('then', 'svc_orders')), ['first', 'before']);
  // No spare serves a past point: the page says the branch was a full copy, and why.
  assert.ok(then.warnings.some((w: string) => /^branched by a full copy of staging \(\d+\.\d s\) because a point in time was asked/.test(w)), JSON.stringify(then.warnings));
  assert.deepEqual(await items(orders), ['first', 'before', 'after'], 'the parent is untouched');

  // branch-neon at an LSN: the same moment, named the other way.
  const { projectId, branchId } = (await t.call('GET', '/apps/shop/environments/staging')).body.environment.neon;
  const byLsn = await t.call('POST', '/apps/shop/environments', { name: 'by-lsn', account: 'engine', mode: 'branch-neon', neonProjectId: projectId, neonBranchId: branchId, at: lsn });
  assert.equal(byLsn.status, 201, JSON.stringify(byLsn.body));
  assert.equal(byLsn.body.environment.at, lsn);
  await t.waitFor('shop', 'by-lsn', 'ready');
  assert.deepEqual(await items(await reveal('by-lsn', 'svc_orders')), ['first', 'before']);
  assert.equal((await t.call('DELETE', '/apps/shop/environments/by-lsn?confirm=by-lsn')).status, 202);
  while ((await t.call('GET', '/apps/shop/environments/by-lsn')).status !== 404) await new Promise((r) => setTimeout(r, 100));
});

test('a point outside the history window is refused on `at`, with the window\'s bounds', async () => {
  const old = '2020-01-01T00:00:00Z';
  const branch = await t.call('POST', '/apps/shop/environments', { name: 'ancient', mode: 'branch-environment', parentEnvironment: 'staging', at: old });
  assert.equal(branch.status, 400, JSON.stringify(branch.body));
  assert.equal(branch.body.error.field, 'at');
  assert.match(branch.body.error.message, /outside the history of branch .* goes from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(.*created then\) to now, \d{4}-/);
  // The same window, as the API shows it (the project is younger than its retention: it begins at a creation).
  const { history } = (await t.call('GET', '/apps/shop/environments/staging/history')).body;
  assert.match(history.why, /created then/);
  assert.ok(branch.body.error.message.includes(history.from.replace(/\.\d{3}Z$/, 'Z')), `${branch.body.error.message} names ${history.from}`);
  assert.equal(history.historyRetentionSeconds, 86_400);
  const future = new Date(Date.now() + 3_600_000).toISOString();
  const restore = await t.call('POST', '/apps/shop/environments/staging/restore', { at: future, confirm: 'staging' });
  assert.equal(restore.status, 400, JSON.stringify(restore.body));
  assert.equal(restore.body.error.field, 'at');
  const garbage = await t.call('POST', '/apps/shop/environments/staging/restore', { at: 'yesterday' });
  assert.equal(garbage.body.error.field, 'at');
  assert.equal((await t.call('GET', '/apps/shop/environments/ancient')).status, 404, 'nothing was created');
  const newProject = await t.call('POST', '/apps/shop/environments', { name: 'nowhere', account: 'engine', mode: 'new-project', at: new Date().toISOString() });
  assert.equal(newProject.body.error.field, 'at');
});

test('restore to a past timestamp: the old rows, the same host, and the service credentials still connect', async () => {
  const orders = await reveal('staging', 'svc_orders');
  const host = (await t.call('GET', '/apps/shop/environments/staging')).body.environment.neon.host;
  await sql(orders, "INSERT INTO orders (item) VALUES ('kept')");
  const at = await moment();
  await sql(orders, "INSERT INTO orders (item) VALUES ('undone')");
  // A new password after that moment: the restored data has the old one; Arbor puts the new one back.
  assert.equal((await t.call('POST', '/apps/shop/environments/staging/users/rotate', { role: 'svc_orders' })).status, 200);
  const rotated = await reveal('staging', 'svc_orders');
  assert.notEqual(rotated, orders);

  // Protected: a developer may not restore it, an admin only with its name typed.
  assert.equal((await t.call('PATCH', '/apps/shop/environments/staging', { protected: true })).status, 200);
  const developer = await t.call('POST', '/apps/shop/environments/staging/restore', { at, confirm: 'staging' }, { token: developerToken });
  assert.equal(developer.status, 403, JSON.stringify(developer.body));
  const unconfirmed = await t.call('POST', '/apps/shop/environments/staging/restore', { at });
  assert.equal(unconfirmed.status, 400);
  assert.equal(unconfirmed.body.error.field, 'confirm');
  assert.match(unconfirmed.body.error.message, /confirm with its name/);

  const r = await t.call('POST', '/apps/shop/environments/staging/restore', { at, confirm: 'staging' });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const env = await t.waitFor('shop', 'staging', 'ready');
  assert.ok(env.steps.some((s: { step: string; status: string }) => s.step === 'restore-to-point' && s.status === 'done'), JSON.stringify(env.steps));
  assert.equal(env.neon.host, host, 'same endpoint');
  assert.equal(await reveal('staging', 'svc_orders'), rotated, 'credentials kept');
  assert.deepEqual(await items(rotated), ['first', 'before', 'after', 'kept']);

  const audit = (await t.call('GET', '/audit')).body.entries.filter((e: { action: string }) => e.action === 'environment.restore');
  assert.equal(audit.length, 1);
  assert.equal(audit[0].target, 'shop/staging');
  assert.equal((await t.call('PATCH', '/apps/shop/environments/staging', { protected: false })).status, 200);
});

test('an unprotected environment is restored without confirmation; deleting it deletes the state its restore preserved', async () => {
  const orders = await reveal('then', 'svc_orders');
  await t.engine.engine.history.settled();
  const at = await moment();
  await sql(orders, "INSERT INTO orders (item) VALUES ('later')");
  const wrong = await t.call('POST', '/apps/shop/environments/then/restore', { at, confirm: 'staging' });
  assert.equal(wrong.body.error?.field, 'confirm', 'a confirmation naming another environment is refused');
  assert.equal((await t.call('POST', '/apps/shop/environments/then/restore', { at })).status, 202);
  const env = await t.waitFor('shop', 'then', 'ready');
  assert.deepEqual(await items(orders), ['first', 'before']);

  const neon = async () => {
    const response = await fetch(`${t.engine.url}/projects/${env.neon.projectId}/branches`, { headers: { authorization: `Bearer ${t.engine.apiKey}` } });
    return ((await response.json()) as { branches: { id: string; name: string }[] }).branches;
  };
  const preserved = (await neon()).filter((b) => b.name.startsWith('shop-then-before-restore-'));
  assert.equal(preserved.length, 1, JSON.stringify(await neon()));
  assert.equal((await t.call('DELETE', '/apps/shop/environments/then?confirm=then')).status, 202);
  while ((await t.call('GET', '/apps/shop/environments/then')).status !== 404) await new Promise((r) => setTimeout(r, 100));
  // Neon deletes in the background: wait for the project's operations to finish.
  for (;;) {
    const response = await fetch(`${t.engine.url}/projects/${env.neon.projectId}/operations`, { headers: { authorization: `Bearer ${t.engine.apiKey}` } });
    const { operations } = (await response.json()) as { operations: { status: string }[] };
    if (operations.every((o) => ['finished', 'failed', 'error', 'cancelled', 'skipped'].includes(o.status))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const left = (await neon()).map((b) => b.id);
  assert.ok(!left.includes(env.neon.branchId) && !left.includes(preserved[0].id), JSON.stringify(await neon()));
});
