/**
 * The reset of a masked preview through the API on the engine: the parent's current data, masked
 * by the current rules on a new masking branch, the preview's branch restored from it; the same
 * stored credentials still connect, the pull request's migration is applied again, the reset is
 * audited, the old masking branch is gone; no preview role reads a new personal value through any
 * table, view, statistic or history (time travel and branches of the preview at points between
 * the request and its completion). A reset whose rule fails leaves the preview on its earlier
 * masked data, names the rule, and is carried out once the rule is fixed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createApiClient } from '@neondatabase/api-client';
import { stringify } from 'yaml';
import { startTestPlatform, type TestPlatform } from '../test-support.ts';
import { assertShowsNone, everythingReadable, withClient } from './masking-checks.ts';

let t: TestPlatform;
/** A masked preview copies the parent twice on the engine (no copy-on-write here): a deadline for a loaded machine. */
const SLOW = 300_000;
const BASE = {
  file: '1_customers.up.sql',
  sql: `CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text, card text, phone text, notes text);
CREATE VIEW contacts AS SELECT name, email, phone FROM customers;
CREATE MATERIALIZED VIEW emails AS SELECT email, upper(name) AS shout FROM customers;
CREATE INDEX ON customers (name);`,
};
/** The pull request's own migration: only the preview has it. */
const PR_MIGRATION = { file: '2_pr_feature.up.sql', sql: 'CREATE TABLE pr_feature (id serial PRIMARY KEY, note text);' };
const RULES: Record<string, string> = {
  'main.customers.email': 'email',
  'main.customers.card': 'redact',
  'main.customers.name': 'fake-name',
  'main.customers.notes': 'null',
  'main.customers.phone': `'+1-555-' || lpad((id % 10000)::text, 4, '0')`,
};
const model = (mask: Record<string, string>) => stringify({ app: 'web', databases: [{ name: 'main' }], services: [{ name: 'api', databases: ['main'] }], previews: { mask } });
const LOGIN_ROLES = ['encore_platform', 'encore_reader', 'encore_writer', 'encore_admin', 'db_main_admin', 'svc_api'];

const people = (tag: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    email: `${tag}${i}.secret@real-mail.test`,
    name: `${tag}${i} Secretson`,
    card: `4111-1111-1111-${String(1000 + i)}`,
    phone: `+44 20 7946 ${String(1000 + i)}`,
    notes: `private note ${i} about ${tag}`,
  }));
/** What the parent holds before the preview is opened, what it gets after, and later still. */
const FIRST = people('Oldperson', 10);
const SECOND = people('Newperson', 10);
const THIRD = people('Latestperson', 5);
const SECRETS = ['secret@real-mail', 'Oldperson', 'OLDPERSON', 'Newperson', 'NEWPERSON', 'Latestperson', 'LATESTPERSON', 'Secretson', 'SECRETSON', '4111-1111', '20 7946', 'private note'];

const reveal = async (env: string, role: string) => (await t.call('POST', `/apps/web/environments/${env}/users/${role}/reveal`)).body.user;

const assertNoSecret = (text: string, where: string) => assertShowsNone(SECRETS, text, where);

const maskingBranches = (projectId: string) =>
  t.engine.engine
    .branchesOf(projectId)
    .map((b) => b.name)
    .filter((n) => n.startsWith('preview/web/pr-1-masking'));

async function addPeople(list: typeof FIRST): Promise<void> {
  await withClient((await reveal('staging', 'db_main_admin')).connectionUri, async (c) => {
    for (const p of list) await c.query('INSERT INTO customers (email, name, card, phone, notes) VALUES ($1, $2, $3, $4, $5)', [p.email, p.name, p.card, p.phone, p.notes]);
    await c.query('REFRESH MATERIALIZED VIEW emails');
    await c.query('ANALYZE');
  });
}

/** Ready or failed for the current generation, whatever an earlier one was. */
async function settled(env: string): Promise<any> {
  for (let started = Date.now(); Date.now() - started < SLOW; ) {
    const e = (await t.call('GET', `/apps/web/environments/${env}`)).body.environment;
    if (e.observedGeneration === e.generation && (e.status === 'ready' || e.status === 'failed')) return e;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${env} did not settle`);
}

/** A point of the preview's history, read through time travel on its endpoint and through a branch of it at that time. */
async function assertHistoryMasked(pr: { neon: { projectId: string; branchId: string } }, uri: string, at: string, where: string): Promise<void> {
  const url = new URL(uri);
  url.searchParams.set('options', `neon_timestamp:${at}`);
  try {
    assertNoSecret(await withClient(url.toString(), everythingReadable), `time travel on the preview to ${where}`);
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    assertNoSecret((error as Error).message, `time travel's refusal at ${where}`);
  }
  const neon = createApiClient({ apiKey: t.engine.apiKey, baseURL: t.engine.url });
  await neon.updateProjectBranch(pr.neon.projectId, pr.neon.branchId, { branch: { expires_at: null } });
  let past;
  try {
    past = (await neon.createProjectBranch(pr.neon.projectId, { branch: { parent_id: pr.neon.branchId, parent_timestamp: at }, endpoints: [{ type: 'read_write' as never }] })).data;
  } catch (error) {
    const e = error as { response?: { status: number; data?: unknown } };
    assert.equal(e.response?.status, 400, `a branch of the preview at ${where}: ${(error as Error).message}`);
    assertNoSecret(JSON.stringify(e.response?.data ?? ''), `the refusal of a branch at ${where}`);
    return;
  }
  try {
    await t.engine.engine.idle();
    const pastUri = new URL(uri);
    pastUri.host = past.endpoints[0].host;
    assertNoSecret(await withClient(pastUri.toString(), everythingReadable), `a branch of the preview at ${where}`);
  } finally {
    await neon.deleteProjectBranch({ projectId: pr.neon.projectId, branchId: past.branch.id });
    await t.engine.engine.idle();
  }
}

before(async () => {
  t = await startTestPlatform();
  await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  assert.equal((await t.call('POST', '/apps', { model: model(RULES), migrations: { main: [BASE] } })).status, 201);
  await t.call('POST', '/apps/web/environments', { name: 'staging', account: 'engine', mode: 'new-project' });
  await t.waitFor('web', 'staging', 'ready');
  await addPeople(FIRST);
  assert.equal((await t.call('PATCH', '/apps/web/previews', { parentEnvironment: 'staging' })).status, 200);
});
after(() => t.close());

test("reset of a masked preview: the parent's current data masked, the same credentials, the migrations again, audited, no unmasked value in its history", async () => {
  assert.equal((await t.call('PUT', '/apps/web/previews/1', { migrations: { main: [BASE, PR_MIGRATION] } })).status, 201);
  const opened = await t.waitFor('web', 'pr:1', 'ready', SLOW);
  const engine = t.engine.engine;
  const oldMasking = engine.branch(opened.neon.projectId, opened.neon.branchId).parent_id!;
  assert.equal(engine.branch(opened.neon.projectId, oldMasking).name, 'preview/web/pr-1-masking');
  const uris = Object.fromEntries(await Promise.all(LOGIN_ROLES.map(async (role) => [role, (await reveal('pr:1', role)).connectionUri as string])));
  const admin = uris.db_main_admin;
  await withClient(admin, (c) => c.query("INSERT INTO pr_feature (note) VALUES ('only on the preview')"));

  await addPeople(SECOND);
  const reset = await t.call('POST', '/apps/web/previews/1/reset');
  assert.equal(reset.status, 202, JSON.stringify(reset.body));
  // Points of the preview's history while the reset runs (each at least a second apart: whole-second timestamps).
  const during: string[] = [];
  let pr;
  for (;;) {
    const e = (await t.call('GET', '/apps/web/environments/pr:1')).body.environment;
    if (e.observedGeneration === e.generation && (e.status === 'ready' || e.status === 'failed')) {
      pr = e;
      break;
    }
    if (!during.length || Date.now() - Date.parse(during[during.length - 1]) >= 1000) during.push(new Date().toISOString());
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(pr.status, 'ready', pr.error);
  const doneAt = new Date().toISOString();
  assert.ok(during.length, 'the reset took some time');

  const stepsNow = pr.steps.filter((s: { generation: number }) => s.generation === pr.generation);
  assert.deepEqual(
    stepsNow.map((s: { step: string }) => s.step),
    ['masking', 'neon-resources', 'operations', 'reset-from-parent', 'superuser', 'roles', 'settings', 'migrations'],
  );
  const resetStep = stepsNow.find((s: { step: string }) => s.step === 'reset-from-parent');
  assert.match(resetStep.detail, /restored from staging's current data, masked on a new branch: masked main: customers \(.*email.*\)/);
  assertNoSecret(JSON.stringify(pr), 'the environment view');

  // The same branch and host; its parent is the new masking branch (a child of staging, no endpoint); the old one is gone.
  const staging = (await t.call('GET', '/apps/web/environments/staging')).body.environment;
  assert.equal(pr.neon.branchId, opened.neon.branchId);
  assert.equal(pr.neon.host, opened.neon.host);
  const newMasking = engine.branch(pr.neon.projectId, engine.branch(pr.neon.projectId, pr.neon.branchId).parent_id!);
  assert.match(newMasking.name, /^preview\/web\/pr-1-masking-[0-9a-z]+$/);
  assert.equal(newMasking.parent_id, staging.neon.branchId);
  await engine.idle();
  assert.deepEqual(maskingBranches(pr.neon.projectId), [newMasking.name], 'one masking branch left');
  assert.deepEqual(engine.endpointsOf(newMasking.id), []);
  assert.throws(() => engine.branch(pr.neon.projectId, oldMasking), /not found/);

  // The parent's current rows, masked; the pull request's migration applied again (its table empty: the preview's row went).
  const rows = await withClient(admin, async (c) => (await c.query('SELECT * FROM customers ORDER BY id')).rows);
  assert.equal(rows.length, FIRST.length + SECOND.length);
  for (const row of rows) {
    assert.match(row.email, /^user-[0-9a-f]{16}@example\.invalid$/);
    assert.equal(row.card, 'xxxx-xxxx-xxxx-xxxx');
    assert.match(row.name, /^[A-Z][a-z]+ [A-Z][a-z]+$/);
    assert.equal(row.notes, null);
    assert.equal(row.phone, `+1-555-${String(row.id).padStart(4, '0')}`);
  }
  await withClient(admin, async (c) => {
    assert.equal((await c.query('SELECT count(*)::int AS n FROM pr_feature')).rows[0].n, 0);
    assert.deepEqual((await c.query('SELECT version, dirty FROM schema_migrations')).rows.map((r) => [String(r.version), r.dirty]), [['2', false]], 'golang-migrate keeps the latest version');
  });

  // Every role's stored credential still connects, and reads no personal value anywhere.
  // (The platform's own role gets a new password through Neon on every run of a preview.)
  for (const role of LOGIN_ROLES) {
    const uri = (await reveal('pr:1', role)).connectionUri;
    if (role !== 'encore_platform') assert.equal(uri, uris[role], `${role}'s credential is kept`);
    assertNoSecret(await withClient(uri, everythingReadable), `${role} on the preview after the reset`);
  }
  const audit = (await t.call('GET', '/audit')).body.entries;
  assert.ok(audit.some((e: { action: string; target: string }) => e.action === 'preview.reset' && e.target === 'web/pr:1'));

  // History: points between the request and the completion, and just after.
  await engine.history.settled();
  await new Promise((r) => setTimeout(r, 1100));
  for (const at of [...during.slice(0, 3), doneAt]) await assertHistoryMasked(pr, admin, at, at);
});

test('a reset whose masking rule fails leaves the preview on its earlier masked data and names the rule; fixed, the reset is carried out', async () => {
  const before = (await t.call('GET', '/apps/web/environments/pr:1')).body.environment;
  const engine = t.engine.engine;
  const maskingBefore = engine.branch(before.neon.projectId, before.neon.branchId).parent_id!;
  const admin = (await reveal('pr:1', 'svc_api')).connectionUri as string;
  await addPeople(THIRD);
  assert.equal((await t.call('PATCH', '/apps/web', { model: model({ ...RULES, 'main.customers.email': 'NULL::text' }) })).status, 200);
  assert.equal((await t.call('POST', '/apps/web/previews/1/reset')).status, 202);
  const failed = await settled('pr:1');
  assert.equal(failed.status, 'failed');
  assert.match(failed.error, /the reset was not carried out, and the preview keeps its earlier masked data and passwords: masking rule main\.customers\.email: NULL::text failed in database main: null value in column "email"/);
  assertNoSecret(failed.error, 'the error');

  // Nothing moved: the same masking branch, no reset branch left, the earlier (masked) rows through the same credential.
  await engine.idle();
  assert.equal(engine.branch(failed.neon.projectId, failed.neon.branchId).parent_id, maskingBefore);
  assert.deepEqual(maskingBranches(failed.neon.projectId), [engine.branch(failed.neon.projectId, maskingBefore).name], 'the failed reset left no branch');
  await withClient(admin, async (c) => {
    assert.equal((await c.query('SELECT count(*)::int AS n FROM customers')).rows[0].n, FIRST.length + SECOND.length);
    assertNoSecret(await everythingReadable(c), 'the preview after the failed reset');
  });

  // The rule fixed: the reset still asked for is carried out.
  assert.equal((await t.call('PATCH', '/apps/web', { model: model(RULES) })).status, 200);
  const ready = await settled('pr:1');
  assert.equal(ready.status, 'ready', ready.error);
  await engine.idle();
  assert.notEqual(engine.branch(ready.neon.projectId, ready.neon.branchId).parent_id, maskingBefore);
  assert.throws(() => engine.branch(ready.neon.projectId, maskingBefore), /not found/);
  assert.equal(maskingBranches(ready.neon.projectId).length, 1);
  await withClient(admin, async (c) => {
    assert.equal((await c.query('SELECT count(*)::int AS n FROM customers')).rows[0].n, FIRST.length + SECOND.length + THIRD.length);
    assertNoSecret(await everythingReadable(c), 'the preview after the fixed reset');
  });

  // The preview's branch deleted behind the platform's back: made again as a child of the masking branch, masked.
  const masking = engine.branch(ready.neon.projectId, ready.neon.branchId).parent_id!;
  const neon = createApiClient({ apiKey: t.engine.apiKey, baseURL: t.engine.url });
  await neon.deleteProjectBranch({ projectId: ready.neon.projectId, branchId: ready.neon.branchId });
  await engine.idle();
  assert.equal((await t.call('PUT', '/apps/web/previews/1', {})).status, 200);
  let remade;
  for (;;) {
    remade = await settled('pr:1');
    if (remade.status === 'ready' && remade.neon.branchId !== ready.neon.branchId) break;
    assert.notEqual(remade.status, 'failed', remade.error);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(engine.branch(remade.neon.projectId, remade.neon.branchId).parent_id, masking, "the new branch is the masking branch's child");
  const remadeUri = (await reveal('pr:1', 'svc_api')).connectionUri;
  await withClient(remadeUri, async (c) => {
    assert.equal((await c.query('SELECT count(*)::int AS n FROM customers')).rows[0].n, FIRST.length + SECOND.length + THIRD.length);
    assertNoSecret(await everythingReadable(c), 'the preview made again');
  });

  // Closing deletes the preview and its masking branch.
  assert.equal((await t.call('DELETE', '/apps/web/previews/1')).status, 202);
  for (let i = 0; (await t.call('GET', '/apps/web/environments/pr:1')).status !== 404; i++) await new Promise((r) => setTimeout(r, 50));
  await engine.idle();
  assert.deepEqual(engine.branchesOf(remade.neon.projectId).map((b) => b.name).filter((n) => n.startsWith('preview/')), []);
});
