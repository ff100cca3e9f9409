/**
 * The schema diff of a preview against its parent, through the API, on real branches of the
 * engine: the parent runs the app's migrations, the preview its pull request's, which add,
 * change and drop an object of every kind the diff reads (schemas, extensions, tables, columns,
 * constraints, indexes, views, functions, triggers, sequences, grants, default privileges). The
 * diff is deterministic (the same twice) and its markdown names every change.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../test-support.ts';
import { schemaDiffMarkdown, type SchemaChange, type SchemaDiff } from './schema-diff.ts';

const MODEL = 'app: web\ndatabases:\n  - name: main\nservices:\n  - name: api\n    databases: [main]\n';
const BASE = `
CREATE TABLE users (id serial PRIMARY KEY, email text, name text DEFAULT 'anonymous', age int CONSTRAINT age_positive CHECK (age > 0));
CREATE INDEX users_email ON users (email);
CREATE TABLE legacy (id int PRIMARY KEY);
CREATE VIEW adults AS SELECT id, email FROM users WHERE age >= 18;
CREATE FUNCTION double_it(x int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT x * 2 $$;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
CREATE SEQUENCE invoice_numbers START 1000;
`;
const PR = `
CREATE SCHEMA audit;
CREATE EXTENSION citext;
CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id int NOT NULL REFERENCES users (id), total numeric(10,2) NOT NULL DEFAULT 0);
ALTER TABLE users ALTER COLUMN email SET NOT NULL, ALTER COLUMN name DROP DEFAULT, ADD COLUMN phone text;
ALTER TABLE users DROP CONSTRAINT age_positive, ADD CONSTRAINT age_positive CHECK (age >= 0);
DROP TABLE legacy;
DROP INDEX users_email;
CREATE UNIQUE INDEX users_email_unique ON users (lower(email));
CREATE OR REPLACE VIEW adults AS SELECT id, email FROM users WHERE age >= 21;
CREATE OR REPLACE FUNCTION double_it(x int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT x + x $$;
CREATE FUNCTION triple_it(x int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT x * 3 $$;
DROP TRIGGER users_touch ON users;
CREATE TRIGGER users_touch_insert BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION touch();
ALTER SEQUENCE invoice_numbers INCREMENT BY 10;
REVOKE DELETE ON users FROM db_main_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT SELECT ON TABLES TO db_main_reader;
`;

let t: TestPlatform;
let ci: string;

before(async () => {
  t = await startTestPlatform();
  ci = (await t.call('POST', '/tokens', { name: 'ci', role: 'developer' })).body.token;
  await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  assert.equal((await t.call('POST', '/apps', { model: MODEL, migrations: { main: [{ file: '1_base.up.sql', sql: BASE }] } })).status, 201);
  await t.call('POST', '/apps/web/environments', { name: 'staging', account: 'engine', mode: 'new-project' });
  await t.waitFor('web', 'staging', 'ready');
  await t.call('PATCH', '/apps/web/previews', { parentEnvironment: 'staging' });
});
after(() => t.close());

const find = (diff: SchemaDiff, kind: string, name: string) => diff.changes.find((c) => c.kind === kind && c.name === name);
const expectChange = (diff: SchemaDiff, kind: SchemaChange['kind'], name: string, change: SchemaChange['change']) => {
  const found = find(diff, kind, name);
  assert.ok(found, `${change} ${kind} ${name} is in the diff (it has: ${diff.changes.map((c) => `${c.change} ${c.kind} ${c.name}`).join('; ')})`);
  assert.equal(found.change, change, `${kind} ${name}`);
  return found;
};

test('no migrations of its own: no schema changes', async () => {
  assert.equal((await t.call('PUT', '/apps/web/previews/1', {}, { token: ci })).status, 201);
  await t.waitFor('web', 'pr:1', 'ready');
  const r = await t.call('GET', '/apps/web/previews/1/schema-diff', undefined, { token: ci });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.diff.changes, []);
  assert.deepEqual(r.body.diff.summary, { added: 0, removed: 0, changed: 0 });
  assert.equal(r.body.markdown, 'No schema changes: `pr:1` has the schema of `staging`.');
  await t.call('DELETE', '/apps/web/previews/1', undefined, { token: ci });
});

test('added, changed and removed objects of every kind, the same twice, as JSON and markdown', async () => {
  const migrations = { main: [{ file: '1_base.up.sql', sql: BASE }, { file: '2_pr.up.sql', sql: PR }] };
  assert.equal((await t.call('PUT', '/apps/web/previews/2', { migrations }, { token: ci })).status, 201);
  await t.waitFor('web', 'pr:2', 'ready');
  const r = await t.call('GET', '/apps/web/previews/2/schema-diff', undefined, { token: ci });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const diff: SchemaDiff = r.body.diff;
  assert.equal(diff.preview, 'pr:2');
  assert.equal(diff.parent, 'staging');
  assert.deepEqual(diff.databases, ['main']);

  expectChange(diff, 'schema', 'audit', 'added');
  assert.match(expectChange(diff, 'extension', 'citext', 'added').after!, /^version [\d.]+ in schema public$/);
  assert.match(expectChange(diff, 'table', 'public.orders', 'added').after!, /owner db_main_admin/);
  assert.equal(expectChange(diff, 'column', 'public.orders.id', 'added').after, 'bigint GENERATED ALWAYS AS IDENTITY NOT NULL');
  assert.equal(expectChange(diff, 'column', 'public.orders.total', 'added').after, 'numeric(10,2) DEFAULT 0 NOT NULL');
  const email = expectChange(diff, 'column', 'public.users.email', 'changed');
  assert.deepEqual([email.before, email.after], ['text', 'text NOT NULL']);
  const name = expectChange(diff, 'column', 'public.users.name', 'changed');
  assert.deepEqual([name.before, name.after], ["text DEFAULT 'anonymous'::text", 'text']);
  expectChange(diff, 'column', 'public.users.phone', 'added');
  expectChange(diff, 'table', 'public.legacy', 'removed');
  expectChange(diff, 'column', 'public.legacy.id', 'removed');
  const check = expectChange(diff, 'constraint', 'public.users.age_positive', 'changed');
  assert.deepEqual([check.before, check.after], ['CHECK (age > 0)', 'CHECK (age >= 0)']);
  assert.equal(expectChange(diff, 'constraint', 'public.orders.orders_user_id_fkey', 'added').after, 'FOREIGN KEY (user_id) REFERENCES users(id)');
  expectChange(diff, 'constraint', 'public.legacy.legacy_pkey', 'removed');
  expectChange(diff, 'index', 'public.users_email', 'removed');
  assert.equal(expectChange(diff, 'index', 'public.users_email_unique', 'added').after, 'CREATE UNIQUE INDEX users_email_unique ON public.users USING btree (lower(email))');
  const view = expectChange(diff, 'view', 'public.adults', 'changed');
  assert.match(view.before!, />= 18/);
  assert.match(view.after!, />= 21/);
  const fn = expectChange(diff, 'function', 'public.double_it(x integer)', 'changed');
  assert.match(fn.after!, /SELECT x \+ x/);
  expectChange(diff, 'function', 'public.triple_it(x integer)', 'added');
  expectChange(diff, 'trigger', 'public.users.users_touch', 'removed');
  assert.match(expectChange(diff, 'trigger', 'public.users.users_touch_insert', 'added').after!, /BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION touch\(\)/);
  const seq = expectChange(diff, 'sequence', 'public.invoice_numbers', 'changed');
  assert.match(seq.before!, /increment 1 /);
  assert.match(seq.after!, /increment 10 /);
  expectChange(diff, 'sequence', 'public.orders_id_seq', 'added');
  const grant = expectChange(diff, 'grant', 'table public.users to db_main_writer', 'changed');
  assert.match(grant.before!, /DELETE/);
  assert.doesNotMatch(grant.after!, /DELETE/);
  assert.match(expectChange(diff, 'grant', 'table public.orders to db_main_reader', 'added').after!, /^SELECT$/);
  expectChange(diff, 'grant', 'schema audit to db_main_admin', 'added');
  assert.equal(expectChange(diff, 'default-privileges', 'of db_main_admin in schema audit on tables to db_main_reader', 'added').after, 'SELECT');
  assert.ok(!diff.changes.some((c) => c.kind === 'function' && c.name.includes('citext')), "an extension's own objects are not listed apart");
  assert.ok(!diff.changes.some((c) => c.name.includes('schema_migrations')), 'both have the same bookkeeping table');
  assert.deepEqual(diff.summary, {
    added: diff.changes.filter((c) => c.change === 'added').length,
    removed: diff.changes.filter((c) => c.change === 'removed').length,
    changed: diff.changes.filter((c) => c.change === 'changed').length,
  });

  // Deterministic: the same diff again, and the markdown is the function of it.
  const again = await t.call('GET', '/apps/web/previews/2/schema-diff', undefined, { token: ci });
  assert.deepEqual(again.body, r.body);
  const markdown: string = r.body.markdown;
  assert.equal(markdown, schemaDiffMarkdown(diff));
  assert.match(markdown, /^\*\*\d+ added, \d+ changed, \d+ removed\*\* in `pr:2` against `staging`\./);
  assert.match(markdown, /#### Database `main`/);
  assert.match(markdown, /^- ➕ added table `public\.orders`: `owner db_main_admin`\n {2}- column `id`: `bigint GENERATED ALWAYS AS IDENTITY NOT NULL`/m);
  assert.match(markdown, /^- ✏️ changed column `public\.users\.email`: `text` → `text NOT NULL`$/m);
  assert.match(markdown, /^- ➖ removed table `public\.legacy`/m);
  assert.ok(!/^- ➕ added column `public\.orders\./m.test(markdown), "an added table's columns are listed under it");
  assert.match(markdown, /^- ✏️ changed function `public\.double_it\(x integer\)`\n {2}<details><summary>before and after<\/summary>/m);

  // Viewers read it too; no role on the app: as if it did not exist.
  assert.equal((await t.call('GET', '/apps/web/previews/2/schema-diff', undefined, { anonymous: true })).status, 401);
  assert.equal((await t.call('GET', '/apps/web/previews/999/schema-diff', undefined, { token: ci })).status, 404);
  assert.equal((await t.call('GET', '/apps/web/previews/x/schema-diff', undefined, { token: ci })).body.error.field, 'number');
});

test('a preview that is not ready has no diff yet: 409', async () => {
  assert.equal((await t.call('PUT', '/apps/web/previews/3', { migrations: { main: [{ file: '1_base.up.sql', sql: BASE }, { file: '2_slow.up.sql', sql: 'SELECT pg_sleep(3);' }] } }, { token: ci })).status, 201);
  const r = await t.call('GET', '/apps/web/previews/3/schema-diff', undefined, { token: ci });
  assert.equal(r.status, 409);
  assert.equal(r.body.error.code, 'not_ready');
});
