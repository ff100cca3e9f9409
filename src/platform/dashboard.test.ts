/**
 * The dashboard in a real Chromium against a real engine and platform, walked as a new user would
 * (issue 17): log in; Integrations › Neon (connect, a refused key at its field, check); create an
 * app by pasting arbor.yaml and uploading its migrations, and one from an Encore app's folder
 * (test/fixtures/encore/ts-shop, picked as a directory); Create Environment with the account's
 * Postgres versions, watched to ready; Infrastructure (project name, region, version, retention
 * in days with the plan's limit, compute in CU with memory, USERS reveal/copy/rotate); a branch
 * environment with a point in time refused at its field; Preview Environments settings; a preview
 * opened by the CLI (with a token made on the API tokens screen) appearing live, its page, Close;
 * Members (add, change, remove); a developer's model change approved; restore to a point in time
 * (typed name, protected); delete with the name typed; an imported Neon branch (made with the
 * api-client's defaults) whose listed changes a viewer cannot confirm and an app admin does; a viewer who sees only their app and no
 * credentials. On every screen axe-core finds no serious or critical violation; a 375 px run
 * checks nothing spills sideways. With ARBOR_SCREENSHOTS=<dir> (`npm run screenshots`) each main
 * screen is written there as PNG.
 *
 * Needs the built dashboard (`npm run build:web`; `npm test` runs it first) and Debian's Chromium at
 * /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it). Run alone with
 * `npm run build:web && node scripts/test.mjs src/platform/dashboard.test.ts`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiClient } from '@neondatabase/api-client';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DASHBOARD_DIR } from './http/dashboard.ts';
import { SHOP_MIGRATIONS, SHOP_MODEL, startTestPlatform, type TestPlatform } from './test-support.ts';

const CHROMIUM = '/usr/bin/chromium';
const AXE = resolve('node_modules/axe-core/axe.min.js');
const ENCORE_SHOP = resolve('test/fixtures/encore/ts-shop');
const SHOTS = process.env.ARBOR_SCREENSHOTS ? resolve(process.env.ARBOR_SCREENSHOTS) : undefined;

let t: TestPlatform;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** The token made on the API tokens screen (the CLI opens a preview with it). */
let ciToken = '';

before(async () => {
  assert.ok(existsSync(join(DASHBOARD_DIR, 'index.html')), `the dashboard is not built in ${DASHBOARD_DIR}: run npm run build:web`);
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: apt-get install chromium`);
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  t = await startTestPlatform();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'], viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
});
after(async () => {
  await browser?.close();
  await t?.close();
});

const url = (path: string) => `${t.platform.url}${path}`;
const api = async (path: string) => (await t.call('GET', path)).body;

/** axe-core on the page as it is: no violation of serious or critical impact. */
async function accessible(screen: string) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  const violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] = await page.evaluate(async () => (await (window as any).axe.run(document, { resultTypes: ['violations'] })).violations);
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(bad, [], `accessibility of ${screen}`);
}

/** Checks the screen (axe) and, for `npm run screenshots`, writes it as `<name>.png`. */
async function screen(name: string) {
  await accessible(name);
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function logIn(name: string, password: string) {
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function logOutAndIn(name: string, password: string) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await logIn(name, password);
  await page.getByTestId('who').waitFor();
}

/** The text of the error shown under the named field. */
async function fieldError(field: string): Promise<string> {
  const error = page.locator(`.field-error[data-field="${field}"]`);
  await error.waitFor();
  return error.innerText();
}

/** Runs the arbor CLI against the platform; resolves with its exit code and output. */
function cli(args: string[], token: string): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['bin/arbor.js', ...args], { env: { ...process.env, ARBOR_URL: t.platform.url, ARBOR_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => done({ code, out }));
  });
}

async function gone(path: string) {
  for (;;) {
    if ((await t.call('GET', path)).status === 404) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('dashboard: the seed walked as a new user', () => {
  test('the login page is accessible; a wrong password is refused; the header says who and which role', async () => {
    const admin = t.platform.firstAdmin!;
    await page.goto(url('/'));
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    await screen('login');
    await logIn(admin.name, 'wrong');
    await page.getByRole('alert').filter({ hasText: /password/i }).waitFor();
    await logIn(admin.name, admin.password);
    assert.equal(await page.getByTestId('who').innerText(), 'admin admin');
    assert.ok(await page.getByRole('link', { name: 'Audit' }).isVisible(), 'admins see the audit log');
    await page.getByText('No apps yet').waitFor();
    await accessible('apps (empty)');
  });

  test('Integrations › Neon: connect the engine (a refused key at its field), check it, plan shown', async () => {
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
    await row.getByRole('button', { name: 'Check engine' }).click();
    const { account } = await api('/accounts/engine');
    assert.match(await row.getByTestId('account-check').innerText(), new RegExp(`works: Postgres ${account.pgVersions.join(', ')}`));
    await screen('integrations-neon');
  });

  test('creates an app by pasting arbor.yaml and uploading its migration files', async () => {
    await page.getByRole('link', { name: 'Apps' }).click();
    await page.getByRole('link', { name: 'Create app' }).click();
    const form = page.getByRole('form', { name: 'Create app' });
    await form.getByLabel('arbor.yaml', { exact: true }).fill(SHOP_MODEL);
    for (const [db, files] of Object.entries(SHOP_MIGRATIONS)) {
      await form.getByLabel(`Migrations of ${db}`).setInputFiles(files.map((f) => ({ name: f.file, mimeType: 'application/sql', buffer: Buffer.from(f.sql) })));
    }
    assert.match(await form.innerText(), /2 file\(s\): 1_orders\.up\.sql, 2_seed\.up\.sql/);
    await screen('create-app');
    await form.getByRole('button', { name: 'Create app' }).click();
    await page.waitForURL('**/apps/shop');
    await page.getByText('No environments yet').waitFor();
    const { app } = await api('/apps/shop');
    assert.deepEqual(app.migrations, { main: ['1_orders.up.sql', '2_seed.up.sql'], billing: ['1_invoices.up.sql'] });
    assert.equal(app.role, 'admin', 'its creator is its admin');
  });

  test("creates an app from an Encore app's folder: only its sources and migrations sent, the derived model shown, then created", async () => {
    await page.goto(url('/apps/new'));
    const form = page.getByRole('form', { name: 'From an Encore app folder' });
    // A folder inside the app (no encore.app in it) is refused at the field, before anything is sent.
    await form.getByLabel('Encore app folder', { exact: true }).setInputFiles(join(ENCORE_SHOP, 'orders'));
    assert.match(await fieldError('files'), /the folder holds no encore\.app: pick the folder of the Encore app/);
    const derive = page.waitForRequest((r) => r.url().endsWith('/api/v1/encore-apps/derive'));
    await form.getByLabel('Encore app folder', { exact: true }).setInputFiles(ENCORE_SHOP);
    const sent = (await derive).postDataJSON() as { folder: string; files: { path: string }[] };
    assert.equal(sent.folder, 'ts-shop');
    const paths = sent.files.map((f) => f.path).sort();
    assert.ok(paths.includes('encore.app') && paths.includes('orders/db.ts') && paths.includes('posts/migrations/meta/_journal.json') && paths.includes('users/prisma/migrations/migration_lock.toml'), paths.join(', '));
    assert.deepEqual(paths.filter((p) => /tsconfig|snapshot|schema\.prisma/.test(p)), [], 'files the reader does not use stay in the browser');
    const derived = form.getByTestId('encore-derived');
    await derived.waitFor();
    const services = await derived.locator('tr[data-service]').evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-service')}: ${(r as HTMLElement).innerText.split('\t')[1]}`));
    assert.deepEqual(services, ['notifier: —', 'orders: orders, users', 'posts: posts', 'reports: orders', 'users: users']);
    assert.deepEqual(await derived.locator('li[data-database]').allInnerTexts(), ['database orders: 3 migration file(s)', 'database posts: 2 migration file(s) (drizzle)', 'database users: 2 migration file(s) (prisma)'].map((x) => x));
    assert.match(await derived.getByTestId('encore-yaml').innerText(), /^app: ts-shop\n/);
    assert.equal(await derived.getByTestId('encore-notes').innerText(), 'Everything was resolved.');
    await screen('create-app-encore');
    await form.getByRole('button', { name: 'Create app' }).click();
    await page.waitForURL('**/apps/ts-shop');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Apps' }).click();
    assert.match(await page.locator('tr[data-app="ts-shop"]').innerText(), /ts-shop\s+admin\s+orders \(3\), posts \(2\), users \(2\)/);
    await page.getByRole('link', { name: 'shop', exact: true }).click();
    await page.getByText('No environments yet').waitFor();
  });

  test("Create Environment: the account's Postgres versions and regions; the steps reach ready live", async () => {
    await page.getByRole('link', { name: 'Create Environment' }).click();
    const form = page.getByRole('form', { name: 'New environment' });
    assert.ok(await form.getByRole('radio', { name: /Branch of an environment/ }).isDisabled(), 'nothing to branch from yet');
    assert.match(await form.innerText(), /no environment to branch from/);
    const { account } = await api('/accounts/engine');
    const versions = form.getByLabel('Postgres version', { exact: true });
    await versions.locator('option').first().waitFor({ state: 'attached' });
    assert.deepEqual(await versions.locator('option').allInnerTexts(), account.pgVersions.map(String), "the account's versions, not a fixed list");
    assert.equal(await versions.inputValue(), String(account.defaultPgVersion));
    await form.getByLabel('Name', { exact: true }).fill('staging');
    await form.getByLabel('Type', { exact: true }).selectOption('production');
    assert.equal(await form.getByLabel('Project name', { exact: true }).inputValue(), 'shop-staging');
    assert.equal(await form.getByLabel('Branch name', { exact: true }).inputValue(), 'main');
    await form.getByLabel('Region', { exact: true }).selectOption('aws-eu-central-1');
    await screen('create-environment');
    await form.getByRole('button', { name: 'Create environment' }).click();

    await page.waitForURL('**/apps/shop/environments/staging');
    await page.locator('h1 .status-ready').waitFor({ timeout: 90_000 });
    const steps = await page.locator('table.steps').first().locator('tbody tr').allInnerTexts();
    assert.deepEqual(steps.map((s) => s.split('\t')[0]), ['neon-resources', 'operations', 'superuser', 'roles', 'settings', 'migrations']);
    assert.ok(steps.every((s) => s.includes('done')), steps.join('\n'));
    assert.match(await page.getByTestId('source').innerText(), /new Neon project/);
    await screen('environment-overview');
    const env = (await api('/apps/shop/environments/staging')).environment;
    assert.equal(env.type, 'production');
    assert.equal(t.engine.engine.project(env.neon.projectId).region_id, 'aws-eu-central-1');
  });

  test('Infrastructure: project name, region, version; retention in days with the plan limit; compute as CU with memory', async () => {
    await page.getByRole('link', { name: 'Infrastructure' }).click();
    const env = (await api('/apps/shop/environments/staging')).environment;
    const project = page.getByRole('region', { name: 'Neon project' });
    const facts = await project.locator('dl').innerText();
    assert.match(facts, /Project\s+shop-staging/);
    assert.match(facts, /Region\s+aws-eu-central-1/);
    assert.match(facts, new RegExp(`Postgres version\\s+${env.source.pgVersion}`));
    assert.match(facts, /Branch\s+main/);
    const retention = project.getByLabel('History retention', { exact: true });
    assert.equal(await project.getByLabel('Retention unit').inputValue(), '86400', 'a whole number of days is shown in days');
    assert.equal(Number(await retention.inputValue()) * 86400, env.settings.historyRetentionSeconds);
    assert.match(await project.innerText(), /at most 30 days on the engine account's plan/);
    await retention.fill('31');
    await project.getByRole('button', { name: 'Save retention' }).click();
    assert.match(await fieldError('historyRetentionSeconds'), /History retention of 31 days is more than the engine account's plan allows \(30 days\)/);
    await retention.fill('2');
    await project.getByRole('button', { name: 'Save retention' }).click();
    await page.getByText('Saved and applied on Neon.').waitFor({ timeout: 60_000 });
    assert.equal((await api('/apps/shop/environments/staging')).environment.settings.historyRetentionSeconds, 2 * 86400);

    const endpoint = page.getByRole('region', { name: 'Neon endpoint' });
    const max = endpoint.getByLabel('Maximum compute', { exact: true });
    assert.ok((await max.locator('option').allInnerTexts()).includes('2 CU (8 GB RAM)'));
    await max.selectOption('2');
    await endpoint.getByLabel('Suspend after', { exact: true }).fill('10');
    assert.match(await endpoint.innerText(), /10 minutes/);
    await endpoint.getByRole('button', { name: 'Save compute' }).click();
    await endpoint.getByText('Saved and applied on Neon.').waitFor({ timeout: 60_000 });
    const after = (await api('/apps/shop/environments/staging')).environment;
    assert.equal(after.settings.maxCu, 2);
    assert.equal(after.settings.suspendTimeoutSeconds, 600);
    assert.equal((await page.getByTestId('databases').innerText()).replace(/\s+/g, ' ').trim(), 'main billing');
    await screen('environment-infrastructure');
  });

  test('USERS: an admin reveals (audited), copies a connection string per database, and rotates after confirming', async () => {
    const user = page.locator('li[data-user="svc_invoices"]');
    await user.getByRole('button', { name: 'Reveal' }).click();
    const revealed = user.locator('[data-revealed="svc_invoices"]');
    await revealed.waitFor();
    const { password } = (await t.call('POST', '/apps/shop/environments/staging/users/svc_invoices/reveal')).body.user;
    const text = await revealed.innerText();
    assert.ok(text.includes(password), 'the password is shown');
    assert.match(text, /Connection string \(main\): postgres(ql)?:\/\/svc_invoices:[^\s]+\/main/);
    assert.match(text, /Connection string \(billing\): postgres(ql)?:\/\/svc_invoices:[^\s]+\/billing/);
    await revealed.getByRole('button', { name: 'Copy the connection string of svc_invoices for billing' }).click();
    assert.match(await page.evaluate(() => navigator.clipboard.readText()), /\/billing/);
    const audit = (await api('/audit')).entries.filter((e: { action: string }) => e.action === 'credentials.reveal');
    assert.equal(audit.length, 2, 'the dashboard reveal and ours are both audited');
    await screen('environment-users');

    await user.getByRole('button', { name: 'Rotate' }).click();
    await user.getByRole('button', { name: 'Yes, rotate' }).click();
    await user.getByText('password rotated').waitFor();
    const after = (await t.call('POST', '/apps/shop/environments/staging/users/svc_invoices/reveal')).body.user.password;
    assert.notEqual(after, password);
  });

  test("a branch environment: a point in time outside the source's window is refused at its field, then made as of now", async () => {
    await page.getByRole('link', { name: 'Environments', exact: true }).click();
    await page.getByRole('link', { name: 'Create Environment' }).click();
    const form = page.getByRole('form', { name: 'New environment' });
    await form.getByLabel('Name', { exact: true }).fill('dev');
    await form.getByRole('radio', { name: /Branch of an environment/ }).check();
    assert.equal(await form.getByLabel('Parent environment', { exact: true }).inputValue(), 'staging');
    await form.getByTestId('history-window').waitFor();
    assert.match(await form.getByTestId('history-window').innerText(), /^from .+ to now \(.+\)$/);
    await form.getByLabel('Point in time', { exact: true }).fill('2001-01-01T00:00:00Z');
    await form.getByRole('button', { name: 'Create environment' }).click();
    assert.match(await fieldError('at'), /“Point in time”|2001-01-01/);
    await form.getByLabel('Point in time', { exact: true }).fill('');
    await form.getByRole('button', { name: 'Create environment' }).click();
    await page.waitForURL('**/apps/shop/environments/dev');
    await page.locator('h1 .status-ready').waitFor({ timeout: 90_000 });
    assert.match(await page.getByTestId('source').innerText(), /branch of staging as of/);
    await page.getByRole('link', { name: 'Environments', exact: true }).click();
    // The list may first show what it read while dev was provisioning; it reads again by itself.
    const row = page.locator('tr[data-environment="dev"]');
    await row.locator('.status-ready').waitFor();
    assert.match(await row.innerText(), /branch of staging[\s\S]*shared with staging/);
    await screen('environments');
  });

  test('API tokens: created with scope and expiry, shown once, listed, revoked', async () => {
    await page.getByRole('link', { name: 'App Settings' }).click();
    await page.getByRole('link', { name: 'API tokens' }).click();
    const form = page.getByRole('form', { name: 'Create a token' });
    await form.getByLabel('Token name', { exact: true }).fill('github-ci');
    await form.getByLabel('Role', { exact: true }).selectOption('developer');
    await form.getByLabel('Expires after', { exact: true }).selectOption('30');
    await form.getByRole('button', { name: 'Create token' }).click();
    ciToken = (await page.getByTestId('new-token').locator('code').innerText()).trim();
    const listed = (await api('/tokens')).tokens.find((x: { name: string }) => x.name === 'github-ci');
    assert.equal(listed.scope, 'shop');
    assert.equal(listed.role, 'developer');
    const days = (Date.parse(listed.expiresAt) - Date.now()) / 86400_000;
    assert.ok(days > 29 && days <= 30, `expires in 30 days (${days})`);
    assert.equal((await t.call('GET', '/me', undefined, { token: ciToken })).body.user.token.scope, 'shop', 'the shown secret works');
    await screen('settings-tokens');
    await page.getByRole('button', { name: 'Done' }).click();
    assert.equal(await page.getByTestId('new-token').count(), 0, 'shown once');
    assert.ok(!(await page.content()).includes(ciToken), 'not in the list');

    // A second one is revoked from the list.
    await form.getByLabel('Token name', { exact: true }).fill('old-script');
    await form.getByRole('button', { name: 'Create token' }).click();
    const old = (await page.getByTestId('new-token').locator('code').innerText()).trim();
    await page.getByRole('button', { name: 'Revoke old-script' }).click();
    await page.locator('tr[data-token="old-script"]').waitFor({ state: 'detached' });
    assert.equal((await t.call('GET', '/me', undefined, { token: old })).status, 401, 'a revoked token is refused');
  });

  test('Preview Environments: only environments on Neon are offered; source and time to live saved', async () => {
    await page.getByRole('link', { name: 'Preview Environments' }).click();
    const form = page.getByRole('form', { name: 'Preview Environments' });
    const source = form.getByLabel('Source environment', { exact: true });
    assert.deepEqual(await source.locator('option').allInnerTexts(), ['none (previews off)', 'staging (production)', 'dev (development)']);
    await source.selectOption('staging');
    await form.getByLabel('Time to live', { exact: true }).fill('2');
    await form.getByLabel('Time to live unit', { exact: true }).selectOption('86400');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.getByText('Saved.').waitFor();
    const { app } = await api('/apps/shop');
    assert.deepEqual(app.previews, { parentEnvironment: 'staging', ttlSeconds: 2 * 86400 });
    await form.getByLabel('Time to live', { exact: true }).fill('0.5');
    await form.getByLabel('Time to live unit', { exact: true }).selectOption('3600');
    await form.getByRole('button', { name: 'Save' }).click();
    assert.match(await fieldError('ttlSeconds'), /“Time to live” must be between 3600 \(1 hour\) and/);
    await screen('settings-previews');
  });

  test('a preview opened by the CLI appears live; its page says what it branched from and when; Close', async () => {
    await page.getByRole('link', { name: 'Previews', exact: true }).click();
    await page.getByText('No open pull request has a preview.').waitFor();
    const dir = join(t.home, 'pr');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'arbor.yaml'), SHOP_MODEL);
    const opened = await cli(['previews', 'open', '--pr', '7', '--file', join(dir, 'arbor.yaml'), '--no-wait'], ciToken);
    assert.equal(opened.code, 0, opened.out);
    const row = page.locator('tr[data-preview="7"]');
    await row.waitFor();
    await row.locator('.status-ready').waitFor({ timeout: 90_000 });
    const text = await row.innerText();
    assert.match(text, /#7[\s\S]*preview\/shop\/pr-7[\s\S]*ready[\s\S]*(now|s ago)[\s\S]*in 2 days/);
    await screen('previews');
    await row.getByRole('link', { name: '#7' }).click();
    await page.waitForURL('**/environments/pr%3A7');
    assert.match(await page.getByTestId('source').innerText(), /^branch of staging as of /);
    assert.match(await page.locator('dl.facts').innerText(), /Pull request\s+#7[\s\S]*Expires/);
    await page.getByRole('link', { name: 'Previews', exact: true }).click();
    await row.getByRole('button', { name: 'Close preview of pull request 7' }).click();
    await row.getByRole('button', { name: 'Yes, delete its branch' }).click();
    await row.waitFor({ state: 'detached', timeout: 90_000 });
    await gone('/apps/shop/environments/pr:7');
  });

  test('Members: added with a role, changed, removed', async () => {
    await t.call('POST', '/team', { name: 'erin', role: 'member' });
    await page.getByRole('link', { name: 'App Settings' }).click();
    await page.getByRole('link', { name: 'Members' }).click();
    const form = page.getByRole('form', { name: 'Add a member' });
    await form.getByLabel('User', { exact: true }).fill('nobody');
    await form.getByRole('button', { name: 'Add member' }).click();
    await page.getByRole('alert').filter({ hasText: /nobody/ }).waitFor();
    await form.getByLabel('User', { exact: true }).fill('erin');
    await form.getByLabel('Role', { exact: true }).selectOption('viewer');
    await form.getByRole('button', { name: 'Add member' }).click();
    const row = page.locator('tr[data-member="erin"]');
    await row.waitFor();
    await row.getByLabel('Role of erin').selectOption('developer');
    await page.getByText('erin is developer.').waitFor();
    assert.equal((await api('/apps/shop/members')).members.find((m: { name: string }) => m.name === 'erin').role, 'developer');
    await screen('settings-members');
    await row.getByRole('button', { name: 'Remove erin' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await api('/apps/shop/members')).members.some((m: { name: string }) => m.name === 'erin'), false);
  });

  test("a developer's model change waits for approval for the protected environment; the admin approves it", async () => {
    const dana = (await t.call('POST', '/team', { name: 'dana', role: 'member' })).body.user;
    assert.equal((await t.call('PUT', '/apps/shop/members/dana', { role: 'developer' })).status, 200);
    await logOutAndIn(dana.name, dana.password);
    await page.goto(url('/apps/shop/settings'));
    const form = page.getByRole('form', { name: 'Model' });
    const migrations = [...SHOP_MIGRATIONS.main, { file: '3_notes.up.sql', sql: 'CREATE TABLE notes (id int);' }];
    await form.getByLabel('Migrations of main').setInputFiles(migrations.map((f) => ({ name: f.file, mimeType: 'application/sql', buffer: Buffer.from(f.sql) })));
    await form.getByLabel('Migrations of billing').setInputFiles(SHOP_MIGRATIONS.billing.map((f) => ({ name: f.file, mimeType: 'application/sql', buffer: Buffer.from(f.sql) })));
    await form.getByRole('button', { name: 'Propose model change' }).click();
    await form.getByText(/waits for an app admin for the protected ones/).waitFor();
    const pending = page.getByRole('region', { name: 'Pending changes' });
    await pending.locator('tr[data-change]').waitFor();
    assert.match(await pending.innerText(), /dana[\s\S]*3_notes\.up\.sql/);
    assert.equal(await pending.getByRole('button', { name: 'Approve' }).count(), 0, 'developers do not approve');

    await logOutAndIn(t.platform.firstAdmin!.name, t.platform.firstAdmin!.password);
    await page.goto(url('/apps/shop/settings'));
    await screen('settings-general');
    await pending.getByRole('button', { name: 'Approve' }).click();
    await pending.getByText('No change is waiting.').waitFor();
    const changes = (await api('/apps/shop/changes')).changes;
    assert.equal(changes[0].status, 'approved');
    await t.waitFor('shop', 'staging', 'ready');
  });

  test('restore to a point in time: the window shown, the protected environment asks for its name', async () => {
    await page.goto(url('/apps/shop/environments/staging'));
    const restore = page.getByRole('region', { name: 'Restore to a point in time' });
    await restore.getByRole('button', { name: 'Restore to a point in time…' }).click();
    await restore.getByTestId('restore-window').waitFor();
    const { history } = await api('/apps/shop/environments/staging/history');
    await restore.getByLabel('Restore to', { exact: true }).fill(history.to);
    const go = restore.getByRole('button', { name: 'Restore', exact: true });
    assert.ok(await go.isDisabled(), 'not before the name is typed');
    await restore.getByLabel('Type staging to confirm', { exact: true }).fill('staging');
    await screen('environment-restore');
    await go.click();
    await page.getByText(/Restored\s*to/).waitFor();
    await page.locator('h1 .status-ready').waitFor({ timeout: 90_000 });
    const env = (await api('/apps/shop/environments/staging')).environment;
    assert.equal(env.restore.at, history.to);
  });

  test('delete an environment: its name typed, saying what goes on Neon and what stays', async () => {
    await page.goto(url('/apps/shop/environments/dev'));
    const zone = page.getByRole('region', { name: 'Delete environment' });
    const env = (await api('/apps/shop/environments/dev')).environment;
    assert.match(await zone.getByTestId('deletes').innerText(), new RegExp(`Deleted on Neon: branch ${env.neon.branchId} and its compute endpoint\\. The project ${env.neon.projectId} and its other branches stay\\.`));
    await zone.getByRole('button', { name: 'Delete…' }).click();
    const confirm = zone.getByRole('button', { name: 'Delete environment' });
    assert.ok(await confirm.isDisabled());
    await zone.getByLabel('Type dev to confirm').fill('dev');
    await accessible('delete confirmation');
    await confirm.click();
    await page.waitForURL('**/apps/shop');
    await gone('/apps/shop/environments/dev');
    await page.locator('tr[data-environment="dev"]').waitFor({ state: 'detached' });
    assert.equal(t.engine.engine.project(env.neon.projectId).id, env.neon.projectId, 'the project stays');
  });

  test("an imported Neon branch: its changes listed, no Confirm for a viewer, an app admin confirms, ready", async () => {
    const neon = createApiClient({ apiKey: t.engine.apiKey, baseURL: t.engine.url });
    const { data } = await neon.createProject({ project: { name: 'made-by-hand' } });
    await page.goto(url('/apps/shop/environments/new'));
    const form = page.getByRole('form', { name: 'New environment' });
    await form.getByLabel('Name', { exact: true }).fill('legacy');
    await form.getByRole('radio', { name: /Import a Neon branch/ }).check();
    await form.getByLabel('Neon project', { exact: true }).selectOption(data.project.id);
    assert.equal(await form.getByLabel('Branch to import', { exact: true }).inputValue(), data.branch.id);
    await form.getByRole('button', { name: 'Create environment' }).click();
    await page.waitForURL('**/apps/shop/environments/legacy');
    await page.locator('h1 .status-awaiting_confirmation').waitFor({ timeout: 90_000 });
    const { pendingChanges } = (await api('/apps/shop/environments/legacy')).environment;
    assert.ok(pendingChanges.length > 0);
    const changes = page.getByRole('region', { name: 'Changes to confirm' });
    assert.deepEqual(await changes.locator('li').allInnerTexts(), pendingChanges, 'every change the API lists, in its words');
    await screen('environment-import-confirm');

    const walt = (await t.call('POST', '/team', { name: 'walt', role: 'member' })).body.user;
    assert.equal((await t.call('PUT', '/apps/shop/members/walt', { role: 'viewer' })).status, 200);
    await logOutAndIn(walt.name, walt.password);
    await page.goto(url('/apps/shop/environments/legacy'));
    await changes.getByText('An app admin confirms these changes.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Confirm changes' }).count(), 0, 'a viewer cannot confirm');
    await accessible('import confirmation as a viewer');
    await logOutAndIn(t.platform.firstAdmin!.name, t.platform.firstAdmin!.password);

    await page.goto(url('/apps/shop/environments/legacy'));
    await changes.getByRole('button', { name: 'Confirm changes' }).click();
    await page.locator('h1 .status-ready').waitFor({ timeout: 90_000 });
    await changes.waitFor({ state: 'detached' });
    const env = (await api('/apps/shop/environments/legacy')).environment;
    assert.equal(env.importConfirmed, true);
    assert.deepEqual(env.pendingChanges, []);
  });

  test('a viewer sees only their app and no credentials or admin pages', async () => {
    assert.equal((await t.call('POST', '/apps', { model: SHOP_MODEL.replace('app: shop', 'app: other') })).status, 201);
    const vera = (await t.call('POST', '/team', { name: 'vera', role: 'member' })).body.user;
    assert.equal((await t.call('PUT', '/apps/shop/members/vera', { role: 'viewer' })).status, 200);
    await logOutAndIn(vera.name, vera.password);
    await page.getByRole('link', { name: 'shop' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'other' }).count(), 0, 'only the apps she belongs to');
    assert.equal(await page.getByRole('link', { name: 'Audit' }).count(), 0);
    await page.goto(url('/apps/shop/environments/staging/infrastructure'));
    await page.locator('li[data-user="svc_orders"]').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Reveal' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Rotate' }).count(), 0);
    await page.getByText(/Only app admins can reveal or rotate the passwords of a protected environment/).waitFor();
    await accessible('infrastructure as a viewer');
    await page.goto(url('/apps/other'));
    await page.getByRole('alert').filter({ hasText: /not found|no app/i }).waitFor();
    await logOutAndIn(t.platform.firstAdmin!.name, t.platform.firstAdmin!.password);
  });

  test('at 375 px every main screen fits the width and stays accessible', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    for (const path of ['/', '/apps/new', '/apps/shop', '/apps/shop/environments/new', '/apps/shop/environments/staging', '/apps/shop/environments/staging/infrastructure', '/apps/shop/previews', '/apps/shop/settings', '/apps/shop/settings/integrations/neon', '/apps/shop/settings/previews', '/apps/shop/settings/members', '/apps/shop/settings/tokens']) {
      await page.goto(url(path));
      await page.locator('main h1').first().waitFor();
      await page.locator('.muted:text-matches("^Loading")').first().waitFor({ state: 'detached' });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0, `${path} spills ${overflow} px sideways at 375 px`);
      await accessible(`${path} at 375 px`);
    }
    if (SHOTS) {
      await page.goto(url('/apps/shop/environments/staging/infrastructure'));
      await page.locator('li[data-user="svc_orders"]').waitFor();
      await page.screenshot({ path: join(SHOTS, 'mobile-infrastructure.png'), fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
