/**
 * A failing step: the environment shows `failed` with the error (naming the migration file), is
 * retried with growing waits rather than in a tight loop, and a fix to the app is picked up at once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../test-support.ts';

let t: TestPlatform;
before(async () => {
  t = await startTestPlatform();
  assert.equal((await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true })).status, 201);
});
after(() => t.close());

const MODEL = 'app: retry\ndatabases:\n  - name: main\nservices:\n  - name: api\n    databases: [main]\n';

test('a broken migration fails the environment, backs off, and a fixed app recovers at once', async () => {
  const broken = { main: [{ file: '1_init.up.sql', sql: 'CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL' }] };
  assert.equal((await t.call('POST', '/apps', { model: MODEL, migrations: broken })).status, 201);
  assert.equal((await t.call('POST', '/apps/retry/environments', { name: 'prod', account: 'engine', mode: 'new-project' })).status, 201);
  const failed = await t.waitFor('retry', 'prod', 'failed');
  assert.match(failed.error, /1_init\.up\.sql/);
  assert.equal(failed.steps.at(-1).step, 'migrations');
  assert.equal(failed.steps.at(-1).status, 'failed');

  await new Promise((r) => setTimeout(r, 4000));
  const runs = (await t.call('GET', '/apps/retry/environments/prod')).body.environment.steps.filter((s: { step: string }) => s.step === 'migrations').length;
  assert.ok(runs >= 2 && runs <= 3, `retried with backoff (2 s, then 4 s): ${runs} runs in ~4 s`);

  const fixed = { main: [{ file: '1_init.up.sql', sql: 'CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);' }] };
  const started = Date.now();
  assert.equal((await t.call('PATCH', '/apps/retry', { model: MODEL, migrations: fixed })).status, 200);
  const ready = await t.waitFor('retry', 'prod', 'ready');
  assert.ok(Date.now() - started < 3000, 'the change was picked up without waiting out the backoff');
  assert.equal(ready.error, undefined);
});
