/**
 * The dashboard in a real Chromium (issue 10's failures and shared retention on screen, and small
 * items of issue 17): the login page asks nothing that answers 401; a migration with a syntax error
 * shows the failed step, the API's cause, "transient" with the next attempt, Retry and (for app
 * admins) the full error; fixing the migration brings it to ready on the page; a permanent failure
 * says so and Retry runs it again; retention shows which environments share it, a change asks for
 * confirmation naming them, and a branch environment's retention is read-only with the reason;
 * hints in human units (days, hours, CU with memory, never) on Infrastructure; a revealed password
 * is copied; removing an account is confirmed by name.
 *
 * Needs the built dashboard and /usr/bin/chromium, as dashboard.test.ts. Run alone with
 * `npm run build:web && node scripts/test.mjs src/platform/dashboard-failures.test.ts`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DASHBOARD_DIR } from './http/dashboard.ts';
import { SHOP_MIGRATIONS, SHOP_MODEL, startTestPlatform, type TestPlatform } from './test-support.ts';

const CHROMIUM = '/usr/bin/chromium';
/** The shop's migrations with a typo in the second: PostgreSQL answers 'syntax error at or near "CREAT"'. */
const BROKEN = { ...SHOP_MIGRATIONS, main: [SHOP_MIGRATIONS.main[0], { file: '2_seed.up.sql', sql: 'CREAT TABLE seed (id int);' }] };

let t: TestPlatform;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const unauthorized: string[] = [];
const consoleErrors: string[] = [];

before(async () => {
  assert.ok(existsSync(join(DASHBOARD_DIR, 'index.html')), `the dashboard is not built in ${DASHBOARD_DIR}: run npm run build:web`);
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: apt-get install chromium`);
  t = await startTestPlatform();
  const connect = await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  assert.equal(connect.status, 201, JSON.stringify(connect.body));
  assert.equal((await t.call('POST', '/apps', { model: SHOP_MODEL, migrations: BROKEN })).status, 201);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('response', (r) => {
    if (r.status() === 401) unauthorized.push(r.url());
  });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
});
after(async () => {
  await browser?.close();
  await t?.close();
});

const envPage = (env: string) => `${t.platform.url}/apps/shop/environments/${env}`;
const failure = () => page.getByRole('region', { name: 'Failure' });
const infrastructure = (env: string) => `${envPage(env)}/infrastructure`;
const retention = () => page.getByRole('form', { name: 'Retention settings' }).getByLabel('History retention', { exact: true });
const retentionUnit = () => page.getByRole('form', { name: 'Retention settings' }).getByLabel('Retention unit', { exact: true });
const retentionHint = () => page.locator('.field:has(> label:text-is("History retention")) .hint');
const api = async (path: string) => (await t.call('GET', path)).body;

describe('dashboard: failures, shared retention', () => {
  test('the login page shows without a 401 in the console; logging in works', async () => {
    await page.goto(`${t.platform.url}/`);
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    assert.deepEqual(unauthorized, [], 'nothing answered 401 on the way to the login page');
    assert.deepEqual(consoleErrors, []);
    const admin = t.platform.firstAdmin!;
    await page.getByLabel('Name', { exact: true }).fill(admin.name);
    await page.getByLabel('Password', { exact: true }).fill(admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('who').waitFor();
    // A reload stays logged in (the dashboard remembers that it logged in, and asks /me).
    await page.reload();
    await page.getByTestId('who').waitFor();
    assert.deepEqual(unauthorized, []);
  });

  test("a migration's syntax error: the failed step, the cause, transient with the next attempt, the full error for admins", async () => {
    const created = await t.call('POST', '/apps/shop/environments', { name: 'staging', account: 'engine', mode: 'new-project', type: 'development' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const failed = await t.waitFor('shop', 'staging', 'failed');
    assert.equal(failed.retry?.permanent, false);
    await page.goto(envPage('staging'));
    assert.equal(await page.getByRole('navigation', { name: 'Breadcrumb' }).innerText(), 'Apps / shop / staging', 'breadcrumbs end in the page, not "/"');
    await failure().waitFor();
    assert.match(await failure().getByRole('heading').innerText(), /Failed at step migrations/);
    const cause = await failure().getByTestId('failure-cause').innerText();
    assert.match(cause, /2_seed\.up\.sql/);
    assert.match(cause, /syntax error at or near "CREAT"/);
    assert.equal(cause, (await api('/apps/shop/environments/staging')).environment.error, "the API's words");
    assert.doesNotMatch(cause, /Request failed with status code/);
    assert.match(await failure().getByTestId('failure-kind').innerText(), /Transient: It is retried automatically: next attempt (in \d+ (s|min)|any moment now)/);

    // App admins read the full text (audited).
    await failure().getByRole('button', { name: 'Show full error' }).click();
    assert.match(await failure().getByTestId('full-error').innerText(), /Step migrations[\s\S]*syntax error at or near "CREAT"/);
    const reads = (await api('/audit')).entries.filter((e: { action: string }) => e.action === 'environment.error-detail');
    assert.equal(reads.length, 1);

    // Retry now runs it again at once (audited); the migration is still broken, so it fails again.
    const [retried] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/apps/shop/environments/staging/retry')), failure().getByRole('button', { name: 'Retry now' }).click()]);
    assert.equal(retried.status(), 202);
    assert.equal((await api('/audit')).entries.filter((e: { action: string }) => e.action === 'environment.retry').length, 1);
    await page.getByText(/Earlier runs/).waitFor();
    await failure().waitFor();
  });

  test('after the migration is fixed through the API, the page reaches ready without a reload', async () => {
    const fixed = await t.call('PATCH', '/apps/shop', { model: SHOP_MODEL, migrations: SHOP_MIGRATIONS });
    assert.equal(fixed.status, 200, JSON.stringify(fixed.body));
    // The change re-runs the environment (Retry would too); the page follows it to ready.
    await page.locator('h1 .status-ready').waitFor({ timeout: 90_000 });
    assert.equal(await failure().count(), 0, 'no failure panel once ready');
  });

  test('a permanent failure says what to change, and Retry runs it once more', async () => {
    // Neon's permanent refusal (a Postgres version the engine lacks is now refused by the API itself):
    // a branch at an LSN before the parent's history.
    await t.engine.engine.history.settled();
    assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'old', mode: 'branch-environment', parentEnvironment: 'staging', at: '0/1' })).status, 201);
    const failed = await t.waitFor('shop', 'old', 'failed');
    assert.equal(failed.retry?.permanent, true);
    await page.goto(envPage('old'));
    await failure().waitFor();
    assert.match(await failure().getByRole('heading').innerText(), /Failed at step neon-resources/);
    assert.match(await failure().getByTestId('failure-cause').innerText(), /parent_lsn 0\/1 is before the history kept/);
    assert.match(await failure().getByTestId('failure-kind').innerText(), /Permanent: retrying as it is will not help\. Change what the message names/);
    const [retried] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/apps/shop/environments/old/retry')), failure().getByRole('button', { name: 'Retry', exact: true }).click()]);
    assert.equal(retried.status(), 202);
    await page.getByText(/Earlier runs/).waitFor();
    await failure().waitFor();
    // The app's list says so too.
    await page.goto(`${t.platform.url}/apps/shop`);
    await page.locator('tr', { hasText: 'parent_lsn 0/1' }).getByText('permanent: change the cause, then Retry on its page').waitFor();
    assert.equal((await t.call('DELETE', '/apps/shop/environments/old?confirm=old')).status, 202);
    for (;;) {
      if ((await t.call('GET', '/apps/shop/environments/old')).status === 404) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  test('hints are in human units, never NaN', async () => {
    await page.goto(infrastructure('staging'));
    await page.locator('h1 .status-ready').waitFor();
    await retentionUnit().selectOption('86400');
    await retention().fill('1');
    assert.match(await retentionHint().innerText(), /^1 day/);
    await retention().fill('34.7');
    assert.match(await retentionHint().innerText(), /^about 34\.7 days/);
    await retentionUnit().selectOption('3600');
    await retention().fill('36');
    assert.match(await retentionHint().innerText(), /^1\.5 days|^about 1\.5 days/);
    await retention().fill('abc');
    assert.match(await retentionHint().innerText(), /^not a number/);
    const form = page.getByRole('form', { name: 'Compute settings' });
    await form.getByLabel('Maximum compute', { exact: true }).selectOption('2');
    assert.match(await form.innerText(), /2 CU \(8 GB RAM\)/);
    await form.getByLabel('Suspend after', { exact: true }).fill('60');
    assert.match(await form.innerText(), /1 hour ·/);
    await form.getByLabel('Suspend unit', { exact: true }).selectOption('3600');
    await form.getByLabel('Suspend after', { exact: true }).fill('2');
    assert.match(await form.innerText(), /2 hours ·/);
    await form.getByLabel('Never suspend').check();
    assert.match(await form.innerText(), /never suspends/);
    assert.doesNotMatch(await page.locator('main').innerText(), /NaN/);
    await page.reload();
  });

  test("retention shows who shares it; a change names them and asks first; a branch environment's is read-only with the reason", async () => {
    assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'dev', account: 'engine', mode: 'branch-environment', parentEnvironment: 'staging' })).status, 201);
    await t.waitFor('shop', 'dev', 'ready');
    await page.goto(infrastructure('staging'));
    await page.locator('h1 .status-ready').waitFor();
    const staging = (await api('/apps/shop/environments/staging')).environment;
    assert.equal(Number(await retention().inputValue()) * Number(await retentionUnit().inputValue()), staging.settings.historyRetentionSeconds, "the project's real value");
    assert.match(await retentionHint().innerText(), /the Neon project's setting, shared with dev/);
    assert.equal(await page.getByTestId('shared-with').innerText(), 'dev');

    await retentionUnit().selectOption('86400');
    await retention().fill('2');
    await page.getByRole('button', { name: 'Save retention' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Confirm the retention change' });
    assert.match(await confirm.innerText(), /changes it for dev too/);
    assert.match(await confirm.innerText(), /to 2 days/);
    assert.equal((await api('/apps/shop/environments/staging')).environment.settings.historyRetentionSeconds, staging.settings.historyRetentionSeconds, 'nothing saved before confirming');
    await confirm.getByRole('button', { name: 'Change it for all of them' }).click();
    await page.getByText('Saved; applying to Neon…').waitFor();
    // The message ends once the environment is ready with the change.
    await page.getByText('Saved and applied on Neon.').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByText('Saved; applying to Neon…').count(), 0);
    const after = (await api('/apps/shop/environments/staging')).environment;
    assert.equal(after.status, 'ready');
    assert.equal(after.settings.historyRetentionSeconds, 2 * 86400);
    assert.equal(t.engine.engine.project(after.neon.projectId).history_retention_seconds, 2 * 86400, 'on Neon');
    assert.equal((await api('/apps/shop/environments/dev')).environment.settings.historyRetentionSeconds, 2 * 86400, 'dev shows the shared value');

    await page.goto(infrastructure('dev'));
    await page.locator('h1 .status-ready').waitFor();
    assert.equal(await retention().inputValue(), '2');
    assert.equal(await retentionUnit().inputValue(), '86400');
    assert.ok(await retention().evaluate((input) => (input as HTMLInputElement).readOnly), 'read-only on a branch environment');
    assert.equal(await page.getByRole('button', { name: 'Save retention' }).count(), 0);
    assert.match(await page.getByTestId('retention-locked').innerText(), /a branch environment never changes it\. Change it on staging, which created the project/);
    assert.match(await retentionHint().innerText(), /shared with staging/);
    await page.goto(`${t.platform.url}/apps/shop`);
    assert.match(await page.locator('tr', { hasText: 'branch-environment' }).innerText(), /shared with staging/);
    assert.match(await page.locator('tr', { hasText: 'new-project' }).innerText(), /shared with dev/);
  });

  test('a revealed password has a copy button', async () => {
    await page.goto(infrastructure('staging'));
    const row = page.locator('li[data-user="svc_orders"]');
    await row.getByRole('button', { name: 'Reveal' }).click();
    const revealed = page.locator('[data-revealed="svc_orders"]');
    await revealed.getByRole('button', { name: 'Copy the password of svc_orders' }).click();
    await revealed.getByText('copied').first().waitFor();
    const { password } = (await t.call('POST', '/apps/shop/environments/staging/users/svc_orders/reveal')).body.user;
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), password);
  });

  test('Retry is offered by the role on the app: a developer retries (no full error) and is offered no Reveal, a viewer is told who may', async () => {
    // Neon's permanent refusal (a Postgres version the engine lacks is now refused by the API itself):
    // a branch at an LSN before the parent's history.
    await t.engine.engine.history.settled();
    assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'old', mode: 'branch-environment', parentEnvironment: 'staging', at: '0/1' })).status, 201);
    await t.waitFor('shop', 'old', 'failed');
    const dana = (await t.call('POST', '/team', { name: 'dana', role: 'member' })).body.user;
    assert.equal((await t.call('PUT', '/apps/shop/members/dana', { role: 'developer' })).status, 200);
    const logIn = async (name: string, password: string) => {
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByTestId('who').waitFor();
    };
    await logIn(dana.name, dana.password);
    await page.goto(envPage('old'));
    await failure().getByRole('button', { name: 'Retry', exact: true }).waitFor();
    assert.equal(await failure().getByRole('button', { name: 'Show full error' }).count(), 0, 'the full text is for app admins');
    // Revealing a password is an app admin's on every environment: a developer is offered Rotate only.
    await page.goto(infrastructure('staging'));
    const card = page.locator('li[data-user="svc_orders"]');
    await card.getByRole('button', { name: 'Rotate' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Reveal' }).count(), 0, 'no Reveal for a developer');
    await page.getByText('Only app admins can reveal passwords (every reveal is audited); you can rotate them.').waitFor();
    await page.goto(envPage('old'));

    assert.equal((await t.call('PUT', '/apps/shop/members/dana', { role: 'viewer' })).status, 200);
    await page.reload();
    await failure().getByText('Only developers and admins of the app can retry.').waitFor();
    assert.equal(await failure().getByRole('button').count(), 0);

    await logIn(t.platform.firstAdmin!.name, t.platform.firstAdmin!.password);
    assert.equal((await t.call('DELETE', '/team/dana')).status < 300, true);
    assert.equal((await t.call('DELETE', '/apps/shop/environments/old?confirm=old')).status, 202);
    for (;;) {
      if ((await t.call('GET', '/apps/shop/environments/old')).status === 404) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  test("removing an account asks for its name first; the API's refusal is shown in its words", async () => {
    await page.goto(`${t.platform.url}/accounts`);
    const row = page.locator('tr[data-account="engine"]');
    await row.getByRole('button', { name: 'Remove' }).click();
    const remove = row.getByRole('button', { name: 'Remove account' });
    assert.ok(await remove.isDisabled(), 'not before the name is typed');
    await row.getByLabel('Type engine to confirm').fill('engine');
    await remove.click();
    const refusal = await row.getByRole('alert').innerText();
    assert.match(refusal, /is used by shop\/dev, shop\/staging; delete those environments first/);
    assert.doesNotMatch(refusal, /status code/);
    await row.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await api('/accounts')).accounts.length, 1, 'still there');
  });
});
