/**
 * Masked previews through the API on the engine: every kind of rule (email, redact, fake-name,
 * null, keep, a SQL expression), then a check that no preview role reads an unmasked value through
 * any table, view, materialized view or statistic, nor through history (time travel on the
 * preview's endpoint, a branch of the preview at a past timestamp through Neon's API), nor on
 * the parent; a failing rule keeps the preview not ready with an error free of row data;
 * requireMasking blocks a preview naming the columns, and a rule unblocks it.
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
const MIGRATIONS = {
  main: [
    {
      file: '1_customers.up.sql',
      sql: `CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text, card text, phone text, notes text, city text, billing_address text);
CREATE TABLE orders (id serial PRIMARY KEY, customer_email text NOT NULL, total int);
CREATE TABLE changes (id serial PRIMARY KEY, old_email text);
CREATE FUNCTION remember() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO changes (old_email) VALUES (OLD.email); RETURN NEW; END $$;
CREATE TRIGGER remember BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION remember();
CREATE VIEW contacts AS SELECT name, email, phone FROM customers;
CREATE MATERIALIZED VIEW emails AS SELECT email, upper(name) AS shout FROM customers;
CREATE INDEX ON customers (name);`,
    },
  ],
};
const PEOPLE = Array.from({ length: 40 }, (_, i) => ({
  email: `person${i}.secret@real-mail.test`,
  name: `Realname${i} Secretson`,
  card: `4111-1111-1111-${String(1000 + i)}`,
  phone: `+44 20 7946 ${String(1000 + i)}`,
  notes: `private note ${i} about Secretson`,
}));
/** Every original value, and the distinctive parts of them, that must not be read on a preview. */
const SECRETS = ['secret@real-mail', 'Realname', 'Secretson', 'SECRETSON', '4111-1111', '20 7946', 'private note'];

const RULES: Record<string, string> = {
  'main.customers.email': 'email',
  'main.orders.customer_email': 'email',
  'main.customers.card': 'redact',
  'main.public.customers.name': 'fake-name',
  'main.customers.notes': 'null',
  'main.customers.phone': `'+1-555-' || lpad((id % 10000)::text, 4, '0')`,
  'main.customers.city': 'keep',
  'main.customers.billing_address': 'redact',
  'main.changes.old_email': 'null',
};
const model = (previews: object) => stringify({ app: 'web', databases: [{ name: 'main' }], services: [{ name: 'api', databases: ['main'] }], previews });

const reveal = async (env: string, role: string) => (await t.call('POST', `/apps/web/environments/${env}/users/${role}/reveal`)).body.user;
const LOGIN_ROLES = ['encore_platform', 'encore_reader', 'encore_writer', 'encore_admin', 'db_main_admin', 'svc_api'];

const assertNoSecret = (text: string, where: string) => assertShowsNone(SECRETS, text, where);

before(async () => {
  t = await startTestPlatform();
  await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  assert.equal((await t.call('POST', '/apps', { model: model({ mask: RULES }), migrations: MIGRATIONS })).status, 201);
  await t.call('POST', '/apps/web/environments', { name: 'staging', account: 'engine', mode: 'new-project' });
  await t.waitFor('web', 'staging', 'ready');
  await withClient((await reveal('staging', 'db_main_admin')).connectionUri, async (c) => {
    for (const [i, p] of PEOPLE.entries()) {
      await c.query('INSERT INTO customers (email, name, card, phone, notes, city, billing_address) VALUES ($1, $2, $3, $4, $5, $6, $7)', [p.email, p.name, p.card, p.phone, p.notes, `City${i % 3}`, `${i} Secretson Road`]);
      await c.query('INSERT INTO orders (customer_email, total) VALUES ($1, $2), ($1, $3)', [p.email, i, i + 1]);
    }
    await c.query('REFRESH MATERIALIZED VIEW emails');
    await c.query('ANALYZE');
  });
  assert.equal((await t.call('PATCH', '/apps/web/previews', { parentEnvironment: 'staging' })).status, 200);
});
after(() => t.close());

test('every kind of rule; no preview role reads an unmasked value through any table, view, statistic or history', async () => {
  const openedAt = new Date();
  await new Promise((r) => setTimeout(r, 1100)); // a whole second before the preview, for a timestamp point
  assert.equal((await t.call('PUT', '/apps/web/previews/1', {})).status, 201);
  const pr = await t.waitFor('web', 'pr:1', 'ready', SLOW);
  const staging = (await t.call('GET', '/apps/web/environments/staging')).body.environment;
  const { steps } = (await t.call('GET', '/apps/web/environments/pr:1')).body.environment;
  assert.equal(steps[0].step, 'masking');
  assert.match(steps[0].detail, /masked main: customers \(.*email.*\), orders \(customer_email\)/);

  // The preview's branch is a child of the masking branch, which has no endpoint left.
  const engine = t.engine.engine;
  const branch = engine.branch(pr.neon.projectId, pr.neon.branchId);
  const masking = engine.branch(pr.neon.projectId, branch.parent_id!);
  assert.equal(branch.name, 'preview/web/pr-1');
  assert.equal(masking.name, 'preview/web/pr-1-masking');
  assert.equal(masking.parent_id, staging.neon.branchId);
  await engine.idle(); // the endpoint's deletion is the run's last call; Neon finishes it as an operation
  assert.deepEqual(engine.endpointsOf(masking.id), []);

  const admin = await reveal('pr:1', 'db_main_admin');
  const rows = await withClient(admin.connectionUri, async (c) => (await c.query('SELECT * FROM customers ORDER BY id')).rows);
  assert.equal(rows.length, PEOPLE.length);
  for (const [i, row] of rows.entries()) {
    assert.match(row.email, /^user-[0-9a-f]{16}@example\.invalid$/);
    assert.equal(row.card, 'xxxx-xxxx-xxxx-xxxx');
    assert.match(row.name, /^[A-Z][a-z]+ [A-Z][a-z]+$/);
    assert.notEqual(row.name, PEOPLE[i].name);
    assert.equal(row.notes, null);
    assert.equal(row.phone, `+1-555-${String(row.id).padStart(4, '0')}`);
    assert.equal(row.city, `City${i % 3}`, 'keep leaves it');
    assert.equal(row.billing_address, `${i} Secretson Road`.replace(/[A-Za-z0-9]/g, 'x'));
  }
  assert.equal(new Set(rows.map((r) => r.email)).size, PEOPLE.length, 'distinct emails stay distinct (unique holds)');
  await withClient(admin.connectionUri, async (c) => {
    const joined = await c.query('SELECT count(*)::int AS n FROM orders o JOIN customers c ON c.email = o.customer_email');
    assert.equal(joined.rows[0].n, PEOPLE.length * 2, 'the email rule is deterministic: joins on it still match');
    assert.equal((await c.query('SELECT count(*)::int AS n FROM changes')).rows[0].n, 0, 'the table triggers did not see the masking');
  });

  for (const role of LOGIN_ROLES) {
    const user = await reveal('pr:1', role);
    assertNoSecret(await withClient(user.connectionUri, everythingReadable), `${role} on the preview`);
    // Preview credentials open nothing on the parent.
    const onParent = new URL(user.connectionUri);
    onParent.host = staging.neon.host;
    await assert.rejects(withClient(onParent.toString(), async (c) => c.query('SELECT 1')), /password authentication failed/, `${role}'s preview password on the parent`);
  }

  // History: time travel on the preview's endpoint.
  const travel = (at: string) => {
    const url = new URL(admin.connectionUri);
    url.searchParams.set('options', `neon_timestamp:${at}`);
    return url.toString();
  };
  await assert.rejects(withClient(travel(openedAt.toISOString()), everythingReadable), (e: Error) => !SECRETS.some((s) => e.message.includes(s)), 'before the preview: refused');
  await engine.history.settled();
  await new Promise((r) => setTimeout(r, 1100));
  const now = new Date().toISOString();
  assertNoSecret(await withClient(travel(now), everythingReadable), 'time travel on the preview');

  // History: branches of the preview at a past timestamp, through Neon's API (its expiry
  // cleared first: Neon branches nothing from a branch that expires).
  const neon = createApiClient({ apiKey: t.engine.apiKey, baseURL: t.engine.url });
  await neon.updateProjectBranch(pr.neon.projectId, pr.neon.branchId, { branch: { expires_at: null } });
  await assert.rejects(neon.createProjectBranch(pr.neon.projectId, { branch: { parent_id: pr.neon.branchId, parent_timestamp: openedAt.toISOString() } }), (e: { response?: { status: number } }) => e.response?.status === 400);
  const past = (await neon.createProjectBranch(pr.neon.projectId, { branch: { parent_id: pr.neon.branchId, parent_timestamp: now }, endpoints: [{ type: 'read_write' as never }] })).data;
  await engine.idle();
  const pastUri = new URL(admin.connectionUri);
  pastUri.host = past.endpoints[0].host;
  assertNoSecret(await withClient(pastUri.toString(), everythingReadable), 'a branch of the preview at a past timestamp');
  await neon.deleteProjectBranch({ projectId: pr.neon.projectId, branchId: past.branch.id });
  await engine.idle();

  // (A reset masks the parent's current data again on a new branch: masked-reset.test.ts.)

  // Closing deletes both branches.
  assert.equal((await t.call('DELETE', '/apps/web/previews/1')).status, 202);
  for (let i = 0; (await t.call('GET', '/apps/web/environments/pr:1')).status !== 404; i++) await new Promise((r) => setTimeout(r, 50));
  await engine.idle();
  assert.throws(() => engine.branch(pr.neon.projectId, masking.id), /not found/);
});

test('a failing rule keeps the preview not ready, with an error that names the rule and carries no row data', async () => {
  assert.equal((await t.call('PATCH', '/apps/web', { model: model({ mask: { ...RULES, 'main.customers.email': 'NULL::text' } }) })).status, 200);
  await t.call('PUT', '/apps/web/previews/2', {});
  const failed = await t.waitFor('web', 'pr:2', 'failed', SLOW);
  assert.match(failed.error, /masking rule main\.customers\.email: NULL::text failed in database main: null value in column "email"/);
  assertNoSecret(failed.error, 'the error');
  assert.equal((await t.call('POST', '/apps/web/environments/pr:2/users/svc_api/reveal')).status, 409, 'no preview password exists');
  assert.ok(!t.engine.engine.branchesOf(failed.neon.projectId).some((b) => b.name === 'preview/web/pr-2'), 'no preview branch was made');

  // A data error's message may hold the value: only its SQLSTATE is shown.
  await t.call('PATCH', '/apps/web', { model: model({ mask: { ...RULES, 'main.customers.city': `city::int` } }) });
  const again = await waitForError('pr:2', /city::int/);
  assert.match(again, /SQLSTATE 22P02 \(its message is not shown/);
  assert.ok(!again.includes('City0'), again);
  await t.call('DELETE', '/apps/web/previews/2');
});

test('requireMasking blocks a preview naming the personal-looking columns without a rule or with keep; a rule unblocks it', async () => {
  const { 'main.customers.phone': _phone, ...withoutPhone } = RULES;
  await t.call('PATCH', '/apps/web', { model: model({ requireMasking: true, mask: { ...withoutPhone, 'main.customers.billing_address': 'keep' } }) });
  await t.call('PUT', '/apps/web/previews/3', {});
  const blocked = await t.waitFor('web', 'pr:3', 'failed', SLOW);
  assert.match(blocked.error, /previews\.requireMasking: 2 column\(s\) look personal and have no masking rule \(or keep\): main\.customers\.phone, main\.customers\.billing_address/);
  assert.equal((await t.call('POST', '/apps/web/environments/pr:3/users/svc_api/reveal')).status, 409);

  await t.call('PATCH', '/apps/web', { model: model({ requireMasking: true, mask: RULES }) });
  await waitForReady('pr:3');
  const rows = await withClient((await reveal('pr:3', 'svc_api')).connectionUri, async (c) => (await c.query('SELECT email, phone FROM customers')).rows);
  assert.ok(rows.every((r) => /@example\.invalid$/.test(r.email) && r.phone.startsWith('+1-555-')));
});

async function waitForError(env: string, pattern: RegExp): Promise<string> {
  for (;;) {
    const e = (await t.call('GET', `/apps/web/environments/${env}`)).body.environment;
    if (e.status === 'failed' && e.observedGeneration === e.generation && pattern.test(e.error ?? '')) return e.error;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Ready for the current generation (a failure of an earlier one is waited past). */
async function waitForReady(env: string): Promise<void> {
  for (;;) {
    const e = (await t.call('GET', `/apps/web/environments/${env}`)).body.environment;
    if (e.observedGeneration === e.generation && e.status === 'ready') return;
    if (e.observedGeneration === e.generation && e.status === 'failed') throw new Error(`${env} failed: ${e.error}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
