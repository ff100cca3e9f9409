/**
 * The dashboard in a real Chromium against a real engine and platform: log in, connect the engine
 * as a Neon account, create an environment through the form and watch its steps reach ready, see
 * an over-limit setting refused at its field, reveal and rotate a credential as admin, see an
 * account removal refused, and check that a member gets no Reveal button.
 *
 * Needs the built dashboard (`npm run build:web`; `npm test` runs it first) and Debian's Chromium at
 * /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it). Run alone with
 * `npm run build:web && node scripts/test.mjs src/platform/dashboard.test.ts`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DASHBOARD_DIR } from './http/dashboard.ts';
import { SHOP_MIGRATIONS, SHOP_MODEL, startTestPlatform, type TestPlatform } from './test-support.ts';

const CHROMIUM = '/usr/bin/chromium';

let t: TestPlatform;
let browser: Browser;
let page: Page;

before(async () => {
  assert.ok(existsSync(join(DASHBOARD_DIR, 'index.html')), `the dashboard is not built in ${DASHBOARD_DIR}: run npm run build:web`);
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: apt-get install chromium`);
  t = await startTestPlatform();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage();
  page.setDefaultTimeout(15_000);
});
after(async () => {
  await browser?.close();
  await t?.close();
});

async function logIn(name: string, password: string) {
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** The text of the API's error shown under the named field. */
async function fieldError(field: string): Promise<string> {
  const error = page.locator(`.field-error[data-field="${field}"]`);
  await error.waitFor();
  return error.innerText();
}

describe('dashboard', () => {
  test('an admin logs in (a wrong password is refused) and the header says who and which role', async () => {
    const admin = t.platform.firstAdmin!;
    await page.goto(`${t.platform.url}/`);
    await logIn(admin.name, 'wrong');
    await page.getByRole('alert').filter({ hasText: /password/i }).waitFor();
    await logIn(admin.name, admin.password);
    assert.equal(await page.getByTestId('who').innerText(), 'admin admin');
    assert.ok(await page.getByRole('link', { name: 'Audit' }).isVisible(), 'admins see the audit log');
  });

  test('connects the engine as a Neon account; a refused key shows at the key field', async () => {
    await page.getByRole('link', { name: 'Accounts' }).click();
    const form = page.getByRole('form', { name: 'Connect a Neon account' });
    await form.getByLabel('Name', { exact: true }).fill('engine');
    await form.getByLabel('API key', { exact: true }).fill('not-the-key');
    await form.getByLabel('API URL', { exact: true }).fill(t.engine.url);
    await form.getByLabel('Allow plain http', { exact: true }).check();
    await form.getByLabel('Plan', { exact: true }).selectOption('scale');
    await form.getByRole('button', { name: 'Connect' }).click();
    assert.match(await fieldError('apiKey'), /API key was refused/);
    await form.getByLabel('API key', { exact: true }).fill(t.engine.apiKey);
    await form.getByRole('button', { name: 'Connect' }).click();
    const row = page.locator('tr[data-account="engine"]');
    await row.waitFor();
    assert.match(await row.innerText(), new RegExp(`scale[\\s\\S]*…${t.engine.apiKey.slice(-4)}`));
    assert.ok(!(await page.content()).includes(t.engine.apiKey), 'the key is not on the page');
  });

  test('creates a new-project environment through the form and watches its steps reach ready', async () => {
    assert.equal((await t.call('POST', '/apps', { model: SHOP_MODEL, migrations: SHOP_MIGRATIONS })).status, 201);
    await page.getByRole('link', { name: 'Apps' }).click();
    await page.getByRole('link', { name: 'shop' }).click();
    const form = page.getByRole('form', { name: 'New environment' });
    assert.ok(await form.getByRole('radio', { name: /Branch of an environment/ }).isDisabled(), 'nothing to branch from yet');
    assert.match(await form.innerText(), /no environment to branch from/);
    await form.getByLabel('Name', { exact: true }).fill('staging');
    await form.getByLabel('Type', { exact: true }).selectOption('production');
    assert.equal(await form.getByLabel('Project name', { exact: true }).inputValue(), 'shop-staging');
    assert.equal(await form.getByLabel('Branch name', { exact: true }).inputValue(), 'main');
    assert.equal(await form.getByLabel('Postgres version', { exact: true }).inputValue(), '17');
    await form.getByLabel('Region', { exact: true }).selectOption('aws-eu-central-1');
    await form.getByRole('button', { name: 'Create environment' }).click();

    await page.waitForURL('**/apps/shop/environments/staging');
    await page.locator('h1 .status-ready').waitFor({ timeout: 60_000 });
    const steps = await page.locator('table.steps').first().locator('tbody tr').allInnerTexts();
    assert.deepEqual(steps.map((s) => s.split('\t')[0]), ['neon-resources', 'operations', 'superuser', 'roles', 'settings', 'migrations']);
    assert.ok(steps.every((s) => s.includes('done')), steps.join('\n'));
    const env = (await t.call('GET', '/apps/shop/environments/staging')).body.environment;
    assert.match(await page.locator('dl.facts').innerText(), new RegExp(env.neon.branchId));
    assert.equal(env.type, 'production');
    assert.equal(t.engine.engine.project(env.neon.projectId).region_id, 'aws-eu-central-1');
  });

  test("import offers the account's projects and branches and warns that the data is shared", async () => {
    const env = (await t.call('GET', '/apps/shop/environments/staging')).body.environment;
    await page.getByRole('link', { name: 'shop' }).click();
    const form = page.getByRole('form', { name: 'New environment' });
    assert.ok(await form.getByRole('radio', { name: /Branch of an environment/ }).isEnabled(), 'staging can be branched now');
    await form.getByRole('radio', { name: /Import a Neon branch/ }).check();
    await form.getByLabel('Neon project', { exact: true }).selectOption(env.neon.projectId);
    assert.equal(await form.getByLabel('Branch to import', { exact: true }).inputValue(), env.neon.branchId);
    assert.match(await form.getByRole('note').innerText(), /data is shared/);
    await page.getByRole('link', { name: 'staging' }).click();
  });

  test("a setting beyond the plan shows the API's message at the field", async () => {
    const form = page.getByRole('form', { name: 'Neon settings' });
    await form.getByLabel('History retention (seconds)', { exact: true }).fill(String(31 * 86400));
    await form.getByRole('button', { name: 'Save settings' }).click();
    assert.match(await fieldError('historyRetentionSeconds'), /scale plan's maximum of 2592000/);
  });

  test('an admin reveals a password and its connection URI (audited)', async () => {
    const row = page.locator('tr[data-user="svc_orders"]');
    await row.getByRole('button', { name: 'Reveal' }).click();
    const revealed = page.locator('tr[data-revealed="svc_orders"]');
    await revealed.waitFor();
    const { password, connectionUri } = (await t.call('POST', '/apps/shop/environments/staging/users/svc_orders/reveal')).body.user;
    const text = await revealed.innerText();
    assert.ok(text.includes(password), 'the password is shown');
    assert.ok(text.includes(connectionUri), 'the connection URI is shown');
    const audit = (await t.call('GET', '/audit')).body.entries.filter((e: { action: string }) => e.action === 'credentials.reveal');
    assert.equal(audit.length, 2, 'the dashboard reveal and ours are both audited');
  });

  test('an admin rotates a password after confirming', async () => {
    const before = (await t.call('POST', '/apps/shop/environments/staging/users/svc_invoices/reveal')).body.user.password;
    const row = page.locator('tr[data-user="svc_invoices"]');
    await row.getByRole('button', { name: 'Rotate' }).click();
    await row.getByRole('button', { name: 'Yes, rotate' }).click();
    await row.getByText('password rotated').waitFor();
    const after = (await t.call('POST', '/apps/shop/environments/staging/users/svc_invoices/reveal')).body.user.password;
    assert.notEqual(after, before);
  });

  test("removing an account in use shows the API's refusal", async () => {
    await page.getByRole('link', { name: 'Accounts' }).click();
    const row = page.locator('tr[data-account="engine"]');
    await row.getByRole('button', { name: 'Remove' }).click();
    await row.getByLabel('Type engine to confirm').fill('engine');
    await row.getByRole('button', { name: 'Remove account' }).click();
    assert.match(await row.getByRole('alert').innerText(), /used by shop\/staging; delete those environments first/);
  });

  test('a member sees the credentials but no Reveal or Rotate button, and no admin pages', async () => {
    const member = (await t.call('POST', '/team', { name: 'dana', role: 'member' })).body.user;
    // A user sees only the apps they belong to: dana is a viewer of shop.
    assert.equal((await t.call('PUT', '/apps/shop/members/dana', { role: 'viewer' })).status, 200);
    await page.getByRole('button', { name: 'Log out' }).click();
    await logIn(member.name, member.password);
    assert.equal(await page.getByTestId('who').innerText(), 'dana member');
    await page.goto(`${t.platform.url}/apps/shop/environments/staging`);
    await page.locator('tr[data-user="svc_orders"]').waitFor();
    assert.ok((await page.locator('table.credentials tbody tr').count()) >= 8);
    assert.equal(await page.getByRole('button', { name: 'Reveal' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Rotate' }).count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Audit' }).count(), 0);
    // As a developer: still none on staging, which is production (protected).
    assert.equal((await t.call('PUT', '/apps/shop/members/dana', { role: 'developer' })).status, 200);
    await page.reload();
    await page.getByText(/Only app admins can reveal or rotate the passwords of a protected environment/).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Reveal' }).count(), 0);
    // The app page lists the members; only app admins get the form to change them.
    await page.goto(`${t.platform.url}/apps/shop`);
    assert.match(await page.locator('tr[data-member="dana"]').innerText(), /developer/);
    assert.equal(await page.getByRole('form', { name: 'Add a member' }).count(), 0);
    assert.match(await page.getByRole('row', { name: /staging/ }).innerText(), /production \(protected\)/);
  });
});
