/**
 * Side doors, tried as an attacker would (issue 9): a migration that reads rows into its error
 * text, a production environment named like a preview, and an import of another app's branch.
 * Each must fail closed: no row data in any view, the previews routes touch previews only, and
 * a branch belongs to one environment (nobody's passwords rotated).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startTestPlatform, type TestPlatform } from '../test-support.ts';

let t: TestPlatform;
let memberToken: string;
const SECRET = 'alice.secret@example.com';
const MODEL = 'app: shop\ndatabases:\n  - name: main\nservices:\n  - name: orders\n    databases: [main]\n';
const BASE = [
  { file: '1_customers.up.sql', sql: `CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE NOT NULL);\nINSERT INTO customers (email) VALUES ('${SECRET}');` },
];

async function connects(uri: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: uri });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Everything a member or admin can list without the audited error-detail call. */
async function everyView(): Promise<string> {
  const parts = await Promise.all([
    t.call('GET', '/apps/shop/environments/prod'),
    t.call('GET', '/apps/shop/environments'),
    t.call('GET', '/apps/shop/environments/prod', undefined, { token: memberToken }),
    t.call('GET', '/apps/shop/previews'),
    t.call('GET', '/apps/shop'),
    t.call('GET', '/audit'),
  ]);
  return JSON.stringify(parts.map((p) => p.body)) + t.logs.join('\n');
}

/** Replaces the app's second migration with `sql` and waits for prod to fail on it. */
async function failWith(file: string, sql: string) {
  const r = await t.call('PATCH', '/apps/shop', { model: MODEL, migrations: { main: [...BASE, { file, sql }] } });
  assert.equal(r.status, 200, JSON.stringify(r.body) + t.logs.filter((l) => l.startsWith("WARN")).slice(-3).join("\n"));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const e = (await t.call('GET', '/apps/shop/environments/prod')).body.environment;
    if (e.status === 'failed' && String(e.error).includes(file)) return e;
    assert.ok(Date.now() < deadline, `prod did not fail on ${file}: ${e.status} ${e.error}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  t = await startTestPlatform();
  memberToken = (await t.call('POST', '/tokens', { name: 'member', role: 'member' })).body.token;
  await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true }).then(async (r) => {
    // Before the http-hardening change the field is unknown: connect without it.
    if (r.status === 400) await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale' });
  });
  assert.equal((await t.call('POST', '/apps', { model: MODEL, migrations: { main: BASE } })).status, 201);
  assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'prod', type: 'production', account: 'engine', mode: 'new-project' })).status, 201);
  await t.waitFor('shop', 'prod', 'ready');
});
after(() => t.close());

test('a migration that raises row data: the views show file, line and SQLSTATE, never the rows; admins read it through an audited call', async () => {
  const attacks = [
    // RAISE with the rows as its message.
    { file: '2_unique.up.sql', sql: 'INSERT INTO customers (email) SELECT email FROM customers;', code: '23505' },
    { file: '2_raise.up.sql', sql: "DO $$ BEGIN RAISE EXCEPTION '%', (SELECT string_agg(email, ',') FROM customers); END $$;", code: 'P0001' },
    // RAISE claiming a schema-error SQLSTATE.
    { file: '2_raise42.up.sql', sql: "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '42P01', MESSAGE = (SELECT string_agg(email, ',') FROM customers); END $$;", code: '42P01' },
    // A row's value cast to a name at run time: a 42P01 "relation ... does not exist" naming it.
    { file: '2_regclass.up.sql', sql: 'SELECT (SELECT email FROM customers LIMIT 1)::regclass;', code: '0A000' },
    { file: '2_regclass2.up.sql', sql: "SELECT (SELECT split_part(email, '.', 1) FROM customers LIMIT 1)::regclass;", code: '42P01', leak: '"alice"' },
    { file: '2_regproc.up.sql', sql: "SELECT (SELECT replace(email, '.', '_') || '(int)' FROM customers LIMIT 1)::regprocedure;", code: '42883', leak: 'alice_secret' },
    // A unique violation: DETAIL carries the key.
    { file: '2_unique.up.sql', sql: 'INSERT INTO customers (email) SELECT email FROM customers;', code: '23505' },
    // A data error quoting the value.
    { file: '2_cast.up.sql', sql: 'SELECT email::int FROM customers;', code: '22P02' },
  ];
  for (const attack of attacks as { file: string; sql: string; code: string; leak?: string }[]) {
    const leak = attack.leak ?? SECRET;
    const failed = await failWith(attack.file, attack.sql);
    assert.match(failed.error, new RegExp(attack.file.replace('.', '\\.')));
    assert.match(failed.error, new RegExp(`SQLSTATE ${attack.code}`), failed.error);
    assert.match(failed.error, /line 1/);
    assert.equal(failed.retry.permanent, false, 'a failed migration is retried with backoff');
    assert.ok(failed.retry.nextAttemptAt, 'the next attempt is shown');
    const views = await everyView();
    assert.ok(!views.includes(SECRET), `${attack.file}: the row's email appears in a view: ${views.slice(Math.max(0, views.indexOf(SECRET) - 600), views.indexOf(SECRET) + 100)}`);
    assert.ok(!views.includes(leak), `${attack.file}: part of the row appears in a view`);

    const refused = await t.call('GET', '/apps/shop/environments/prod/error-detail', undefined, { token: memberToken });
    assert.equal(refused.status, 403);
    const detail = await t.call('GET', '/apps/shop/environments/prod/error-detail');
    assert.equal(detail.status, 200);
    assert.equal(detail.body.errorDetail.failure.step, 'migrations');
    assert.ok(detail.body.errorDetail.failure.message.includes(leak), `the admin reads the full text of ${attack.file}: ${detail.body.errorDetail.failure.message}`);
  }
  const audit = (await t.call('GET', '/audit')).body.entries;
  assert.ok(audit.some((e: { action: string; target: string }) => e.action === 'environment.error-detail' && e.target === 'shop/prod'));
});

test("a schema error keeps PostgreSQL's message (it names only what the migration names)", async () => {
  const failed = await failWith('2_orders.up.sql', 'CREATE TABLE orders (id serial PRIMARY KEY, customer int REFERENCES nowhere (id));');
  assert.match(failed.error, /relation "nowhere" does not exist/);
  const step = failed.steps.filter((s: { step: string }) => s.step === 'migrations').at(-1);
  assert.match(step.detail, /relation "nowhere" does not exist/);
  // Fixed: ready again, and the failure's text is gone.
  await t.call('PATCH', '/apps/shop', { model: MODEL, migrations: { main: BASE } });
  await t.waitFor('shop', 'prod', 'ready');
  assert.equal((await t.call('GET', '/apps/shop/environments/prod/error-detail')).body.errorDetail.failure, null);
});

test('pr:<n> is reserved for previews; the previews routes never touch another environment', async () => {
  const named = await t.call('POST', '/apps/shop/environments', { name: 'pr:9', type: 'production', account: 'engine', mode: 'new-project' });
  assert.equal(named.status, 400);
  assert.equal(named.body.error.field, 'name');
  assert.match(named.body.error.message, /reserved for preview/);

  // One made before the rule (or by hand in the store): not a preview, whatever its name.
  assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'legacy', type: 'development', account: 'engine', mode: 'branch-environment', parentEnvironment: 'prod' })).status, 201);
  await t.waitFor('shop', 'legacy', 'ready');
  await t.platform.store.db.execute(`UPDATE environments SET name = 'pr:9' WHERE name = 'legacy'`);
  assert.equal((await t.call('PATCH', '/apps/shop/previews', { parentEnvironment: 'prod' })).status, 200);

  const closed = await t.call('DELETE', '/apps/shop/previews/9', undefined, { token: memberToken });
  assert.equal(closed.status, 409, JSON.stringify(closed.body));
  const pushed = await t.call('PUT', '/apps/shop/previews/9', { migrations: { main: [] } }, { token: memberToken });
  assert.equal(pushed.status, 409, JSON.stringify(pushed.body));
  const still = (await t.call('GET', '/apps/shop/environments/pr:9')).body.environment;
  assert.equal(still.status, 'ready');
  assert.equal(still.type, 'development');
  assert.ok(!(await t.call('GET', '/apps/shop/previews')).body.previews.some((p: { name: string }) => p.name === 'pr:9'));
  assert.ok(t.engine.engine.branch(still.neon.projectId, still.neon.branchId), 'its branch is still there');
  // Cleaned up the ordinary way.
  assert.equal((await t.call('DELETE', `/apps/shop/environments/${encodeURIComponent('pr:9')}?confirm=${encodeURIComponent('pr:9')}`)).status, 202);
});

test("importing another app's branch is refused (409), and nothing of the holder's is rotated", async () => {
  const prod = (await t.call('GET', '/apps/shop/environments/prod')).body.environment;
  const before = (await t.call('POST', '/apps/shop/environments/prod/users/encore_platform/reveal')).body.user;
  const service = (await t.call('POST', '/apps/shop/environments/prod/users/svc_orders/reveal')).body.user;
  // The attacker's app: the same role names.
  assert.equal((await t.call('POST', '/apps', { model: MODEL.replace('app: shop', 'app: shop2') })).status, 201);
  const input = { name: 'stolen', account: 'engine', mode: 'import', neonProjectId: prod.neon.projectId, neonBranchId: prod.neon.branchId };

  const asAdmin = await t.call('POST', '/apps/shop2/environments', input);
  assert.equal(asAdmin.status, 409, JSON.stringify(asAdmin.body));
  assert.match(asAdmin.body.error.message, /shop\/prod/, 'an instance admin learns the holder');
  const asMember = await t.call('POST', '/apps/shop2/environments', input, { token: memberToken });
  assert.ok([403, 404, 409].includes(asMember.status), JSON.stringify(asMember.body));
  assert.ok(!JSON.stringify(asMember.body).includes('shop/prod'), 'a member does not learn the holder');
  assert.ok(!/\bprod\b/.test(JSON.stringify(asMember.body)), `a member does not learn the holder: ${JSON.stringify(asMember.body)}`);
  assert.equal((await t.call('GET', '/apps/shop2/environments/stolen')).status, 404, 'nothing was created');
  // Branching from it would copy shop's rows to shop2's roles: refused too.
  const copy = await t.call('POST', '/apps/shop2/environments', { ...input, name: 'copied', mode: 'branch-neon' });
  assert.equal(copy.status, 409, JSON.stringify(copy.body));
  assert.equal((await t.call('GET', '/apps/shop2/environments/copied')).status, 404, 'nothing was created');

  // The holder's credentials still work, unchanged.
  assert.equal((await t.call('POST', '/apps/shop/environments/prod/users/encore_platform/reveal')).body.user.password, before.password);
  assert.ok(await connects(before.connectionUri), "the holder's platform role still connects");
  assert.ok(await connects(service.connectionUri), "the holder's service still connects");
});
