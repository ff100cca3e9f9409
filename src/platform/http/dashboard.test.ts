/**
 * Serving the dashboard's files, through Hono's `app.request` (no port): assets, index.html for the
 * app's own routes, API paths left alone, and a clear message when the build is missing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { dashboardRoutes } from './dashboard.ts';

const dir = mkdtempSync(join(tmpdir(), 'arbor-dashboard-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('without a build, / says to run npm run build:web', async () => {
  const r = await dashboardRoutes(join(dir, 'missing')).request('/');
  assert.equal(r.status, 503);
  assert.match(await r.text(), /npm run build:web/);
});

test('assets as they are, index.html for app routes, API paths passed on', async () => {
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Arbor</title>');
  writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
  const app = dashboardRoutes(dir);
  const asset = await app.request('/assets/index-abc.js');
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('content-type')!, /javascript/);
  assert.match(asset.headers.get('cache-control')!, /immutable/);
  for (const path of ['/', '/apps/shop/environments/pr%3A42', '/accounts']) {
    const page = await app.request(path);
    assert.equal(page.status, 200, path);
    assert.equal(await page.text(), '<!doctype html><title>Arbor</title>');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
  }
  assert.equal((await app.request('/assets/index-old.js')).status, 404);
  assert.equal((await app.request('/api/v1/nope')).status, 404);
  assert.equal((await app.request('/api/v1/nope')).headers.get('content-type')?.includes('html'), false);
});
