/**
 * The preview sweep on a real platform and engine: a Neon branch named like a preview that no
 * environment holds (as a platform that crashed between creating and recording it leaves) is
 * deleted once past the grace period, audited, and so is an orphaned masking branch of a reset
 * (`-masking-<reset time>`); a preview's own branch, a branch named otherwise, one without an
 * expiry, a young one and the masking branch a pending reset is making are left alone.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { awaitOperations, neonClient, type NeonApi } from '../neon/client.ts';
import { startTestPlatform, type TestPlatform } from '../test-support.ts';
import { eq } from 'drizzle-orm';
import { environments } from '../store/schema.ts';
import { resetMaskingBranchName } from './masking.ts';
import { sweepPreviewBranches } from './sweep.ts';

const MODEL = 'app: web\ndatabases:\n  - name: main\nservices:\n  - name: api\n    databases: [main]\n';

let t: TestPlatform;
let api: NeonApi;
let projectId: string;
let parentId: string;

async function branch(name: string, expires = true): Promise<string> {
  const { data } = await api.createProjectBranch(projectId, {
    branch: { parent_id: parentId, name, ...(expires ? { expires_at: new Date(Date.now() + 86_400_000).toISOString() } : {}) },
  });
  await awaitOperations(api, projectId);
  return data.branch.id;
}

const branchIds = async () => new Set((await api.listProjectBranches({ projectId })).data.branches.map((b) => b.id));

before(async () => {
  t = await startTestPlatform();
  await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  await t.call('POST', '/apps', { model: MODEL });
  await t.call('POST', '/apps/web/environments', { name: 'staging', account: 'engine', mode: 'new-project' });
  const staging = await t.waitFor('web', 'staging', 'ready');
  projectId = staging.neon.projectId;
  parentId = staging.neon.branchId;
  await t.call('PATCH', '/apps/web/previews', { parentEnvironment: 'staging' });
  api = neonClient(t.engine.url, t.engine.apiKey);
});
after(() => t.close());

test('a preview branch no environment holds goes after the grace period; everything else stays', async () => {
  await t.call('PUT', '/apps/web/previews/5', {});
  const preview = await t.waitFor('web', 'pr:5', 'ready');
  const orphan = await branch('preview/web/pr-77');
  const other = await branch('feature/pr-77');
  const noExpiry = await branch('preview/web/pr-78', false);
  // A masked preview's reset names its masking branch `-masking-<reset time>` (no expiry: it becomes a parent).
  const resetMasking = await branch('preview/web/pr-79-masking-mi9x2k3f', false);

  // Young: within the grace period nothing goes (its environment may be recording it now).
  assert.deepEqual((await sweepPreviewBranches(t.platform.ctx)).deleted, []);
  assert.ok((await branchIds()).has(orphan));

  const { deleted } = await sweepPreviewBranches(t.platform.ctx, { graceMs: 0 });
  assert.deepEqual(
    deleted.sort((a, b) => a.name.localeCompare(b.name)),
    [
      { account: 'engine', projectId, branchId: orphan, name: 'preview/web/pr-77' },
      { account: 'engine', projectId, branchId: resetMasking, name: 'preview/web/pr-79-masking-mi9x2k3f' },
    ],
  );
  await t.engine.engine.idle();
  const left = await branchIds();
  assert.ok(!left.has(orphan) && !left.has(resetMasking), 'the orphans are gone');
  for (const kept of [preview.neon.branchId, other, noExpiry, parentId]) assert.ok(left.has(kept), `${kept} stays`);
  assert.equal((await t.call('GET', '/apps/web/environments/pr:5')).body.environment.status, 'ready', 'the preview is untouched');
  const entry = (await t.call('GET', '/audit')).body.entries.find((e: { action: string; target: string }) => e.action === 'preview.sweep' && e.target === 'web/pr:77');
  assert.equal(entry.target, 'web/pr:77');
  assert.equal(entry.actor, 'preview-sweep');
  assert.equal(entry.detail.branchId, orphan);

  // Nothing more to sweep.
  assert.deepEqual((await sweepPreviewBranches(t.platform.ctx, { graceMs: 0 })).deleted, []);

  // A reset asked for holds the masking branch it may be making right now, by name.
  assert.equal((await t.call('POST', '/apps/web/previews/5/reset')).status, 202);
  await t.waitFor('web', 'pr:5', 'ready');
  const [row] = await t.platform.ctx.db.select().from(environments).where(eq(environments.name, 'pr:5'));
  const making = await branch(resetMaskingBranchName(row.spec.branchName!, (row.spec as { resetRequestedAt?: string }).resetRequestedAt!), false);
  assert.deepEqual((await sweepPreviewBranches(t.platform.ctx, { graceMs: 0 })).deleted, []);
  assert.ok((await branchIds()).has(making));
});
