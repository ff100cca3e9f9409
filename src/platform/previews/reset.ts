/**
 * @module Reset of a preview to its parent's current data, keeping its credentials: Neon's
 * restore from the parent (`POST …/branches/{id}/restore` with `source_branch_id` = the parent's
 * branch) keeps the branch, its endpoint and so its host; the branch then has the parent's roles
 * and passwords, so the preview's own passwords are set again before anything else runs, and the
 * pull request's migrations are re-applied by the rest of the run. Audited.
 *
 * The API records the request on the spec (`resetRequestedAt`); the reconciler runs the step
 * `reset-from-parent` once per request (after `operations`), and remembers the request it carried
 * out on the environment's Neon record (`resetDone`), so a crash after the restore but before
 * that record only restores again.
 *
 * A masked preview (previews/masking.ts) is never restored from the parent itself, which would
 * bring the parent's data (and its history) onto the preview unmasked: the reset makes a new
 * masking branch from the parent (`<name>-masking-<reset time>`, recorded as `resetMasking`
 * before it is masked), masks it as the open does (the current rules, one transaction per
 * database, VACUUM FULL + ANALYZE), drops its endpoint, then restores the preview's branch from
 * it (its history starts at the restore, so no point before it shows the new data unmasked or
 * otherwise), sets the passwords again, deletes the old masking branch (Neon deletes no branch
 * with children: the restore made the new masking branch the preview's parent), and records the
 * new one as `masking`. Every step can run again after a crash: the branch is found by its name,
 * a recorded endpoint means masking again, the restore repeats from the same masked state. A
 * failing rule deletes the new masking branch and fails the run naming the rule: the preview
 * keeps its earlier masked data and its passwords.
 */
import { and, eq } from 'drizzle-orm';
import { audit } from '../audit.ts';
import { findApp } from '../apps/apps.ts';
import type { Actor, Context } from '../context.ts';
import { branchUri, loginRoles, storedPassword, storeSecrets } from '../credentials/credentials.ts';
import { findEnvironment, isPreview } from '../environments/environments.ts';
import { PlatformError } from '../errors.ts';
import { awaitOperations, ignoreNotFound, neonMessage } from '../neon/client.ts';
import { newRoundTrips, openSession } from '../postgres/connection.ts';
import { quoteIdent, quoteLiteral, roleNames } from '../postgres/names.ts';
import { Permanent } from '../reconcile/failure.ts';
import { createOrFindBranch, NotYet, type StepContext } from '../reconcile/steps.ts';
import { changed, environments, mergeSpec, type Environment, type EnvironmentNeon, type EnvironmentSpec } from '../store/schema.ts';
import { maskingPolicy, maskOnBranch, masks, resetMaskingBranchName } from './masking.ts';
import { previewName } from './previews.ts';

type ResetSpec = EnvironmentSpec & { resetRequestedAt?: string };
type ResetNeon = EnvironmentNeon & { resetDone?: string };

/** The reset asked for and not carried out yet, if any. */
export function pendingReset(env: Environment): string | undefined {
  const wanted = (env.spec as ResetSpec).resetRequestedAt;
  return wanted && wanted !== (env.neon as ResetNeon).resetDone ? wanted : undefined;
}

/** The steps of a run: with `reset-from-parent` after `operations` when a reset is pending. */
export function withReset<T extends { name: string }>(env: Environment, steps: T[], reset: T): T[] {
  if (!pendingReset(env)) return steps;
  const at = steps.findIndex((s) => s.name === 'operations') + 1;
  return [...steps.slice(0, at), reset, ...steps.slice(at)];
}

/** Asks for a reset of pull request `number`'s preview (the reconciler carries it out). */
export async function resetPreview(ctx: Context, actor: Actor, appName: string, number: number): Promise<Environment> {
  const app = await findApp(ctx, appName);
  const env = await findEnvironment(ctx, app, previewName(number));
  if (!isPreview(env)) throw new PlatformError(409, 'not_a_preview', `environment ${app.name}/${env.name} was not created as a preview; only previews are reset from their parent`);
  if (env.status === 'deleting') throw new PlatformError(409, 'deleting', `preview ${env.name} is being deleted`);
  if (!env.neon.branchId) throw new PlatformError(409, 'not_ready', `preview ${env.name} has no branch yet; wait until it is ready, then reset it`);
  if (env.neon.masking && !env.neon.masking.done) throw new PlatformError(409, 'not_ready', `preview ${env.name} is still being masked; wait until it is ready, then reset it`);
  const requestedAt = new Date().toISOString();
  const [updated] = await ctx.db
    .update(environments)
    // Only its own field: a push or a settings PATCH at the same time keeps its part (store/schema.ts mergeSpec).
    .set({ spec: mergeSpec({ resetRequestedAt: requestedAt }), ...changed() })
    .where(eq(environments.id, env.id))
    .returning();
  await audit(ctx, actor, 'preview.reset', `${app.name}/${env.name}`, { parentEnvironment: env.spec.parentEnvironment });
  return updated;
}

/**
 * After a Neon restore (from the parent, or from the branch's own past), the branch has the
 * source's roles and passwords: the platform's role gets a new one through Neon (as on every run
 * of a preview); every other login role its stored one again. Returns the roles whose passwords
 * were put back (environments/restore.ts uses it too).
 */
export async function restorePasswords(s: StepContext): Promise<string[]> {
  const { ctx, api, env } = s;
  const projectId = env.neon.projectId!;
  const branchId = env.neon.branchId!;
  const platform = roleNames(s.model.prefix).platform;
  const { data } = await api.resetProjectBranchRolePassword(projectId, branchId, platform);
  await awaitOperations(api, projectId);
  await storeSecrets(ctx, env.id, [{ role: platform, password: data.role.password! }]);
  const uri = await branchUri(api, env, platform, platform, data.role.password!, 'postgres');
  const session = await openSession(uri, newRoundTrips());
  const kept: string[] = [];
  try {
    const present = new Set((await session.query<{ rolname: string }>('SELECT rolname FROM pg_catalog.pg_roles')).rows.map((r) => r.rolname));
    const statements: string[] = [];
    for (const { role } of loginRoles(s.model)) {
      if (role === platform || !present.has(role)) continue;
      const password = await storedPassword(ctx, env.id, role);
      if (!password) continue; // the roles step gives it one
      statements.push(`ALTER ROLE ${quoteIdent(role)} WITH PASSWORD ${quoteLiteral(password)};`);
      kept.push(role);
    }
    if (statements.length) await session.batch(statements.join('\n'));
  } finally {
    await session.end();
  }
  return kept;
}

/** The reconciler step: restore from the parent, then the preview's passwords again. */
export async function resetFromParent(s: StepContext): Promise<string> {
  const { ctx, api, env } = s;
  const wanted = pendingReset(env);
  if (!wanted) return 'nothing to reset';
  const [parent] = await ctx.db.select().from(environments).where(and(eq(environments.appId, env.appId), eq(environments.name, env.spec.parentEnvironment ?? '')));
  if (!parent?.neon.branchId) throw new NotYet(`parent environment ${env.spec.parentEnvironment} has no Neon branch`);
  if (env.neon.masking) return resetMasked(s, parent, wanted);
  const projectId = env.neon.projectId!;
  const branchId = env.neon.branchId!;
  await awaitOperations(api, projectId);
  await api.restoreProjectBranch(projectId, branchId, { source_branch_id: parent.neon.branchId });
  await awaitOperations(api, projectId);

  const kept = await restorePasswords(s);
  await s.saveNeon({ ...s.env.neon, resetDone: wanted } as ResetNeon);
  return `restored from ${parent.name}'s current data; ${kept.length} password(s) kept`;
}

type ResetMasking = NonNullable<EnvironmentNeon['resetMasking']>;

/** The reset of a masked preview (see the module comment); `masked-reset:*` are the crash test's points (masked-reset-crash.test.ts). */
async function resetMasked(s: StepContext, parent: Environment, wanted: string): Promise<string> {
  const { api } = s;
  const env = s.env;
  const projectId = env.neon.projectId!;
  const branchId = env.neon.branchId!;
  const policy = maskingPolicy(s.app, parent);
  if (!masks(policy)) {
    throw new Permanent(
      `preview ${env.name} is masked, and previews of ${parent.name} have no masking rules any more (previews.mask): a reset would copy its data unmasked, so it was not reset. ` +
        `Put the rules back, or close the preview and open it again`,
    );
  }
  await awaitOperations(api, projectId);
  let next = s.env.neon.resetMasking;
  if (next && next.for !== wanted) next = await settleEarlierReset(s, next);

  if (!next) {
    const name = resetMaskingBranchName(env.spec.branchName!, wanted);
    const made = await createOrFindBranch(api, projectId, name, { branch: { parent_id: parent.neon.branchId, name }, endpoints: [{ type: 'read_write' as never }] });
    next = { for: wanted, branchId: made.branchId, endpointId: made.endpointId };
    s.crashPoint?.('masked-reset:branch-made');
    await s.saveNeon({ ...s.env.neon, resetMasking: next });
  }
  let detail = 'masked by an earlier run';
  if (next.endpointId) {
    try {
      detail = await maskOnBranch(s, parent, policy, next);
    } catch (error) {
      if (!(error instanceof Permanent)) throw error;
      // The new masking branch holds the parent's data, partly masked at most: it goes; the preview was not touched.
      await awaitOperations(api, projectId).catch(() => {});
      await ignoreNotFound(api.deleteProjectBranch({ projectId, branchId: next.branchId }));
      await s.saveNeon({ ...s.env.neon, resetMasking: undefined });
      throw new Permanent(`the reset was not carried out, and the preview keeps its earlier masked data and passwords: ${error.message}`);
    }
    s.crashPoint?.('masked-reset:masked');
    // Recorded first: without an endpoint on record the masking is done (an endpoint left by a crash goes with the branch).
    const endpointId = next.endpointId;
    next = { for: next.for, branchId: next.branchId };
    await s.saveNeon({ ...s.env.neon, resetMasking: next });
    s.crashPoint?.('masked-reset:endpoint-recorded');
    await ignoreNotFound(api.deleteProjectEndpoint(projectId, endpointId));
    await awaitOperations(api, projectId);
  } else {
    // Masked by an earlier run that may have crashed between recording and deleting the endpoint.
    const { data } = await api.listProjectBranchEndpoints(projectId, next.branchId);
    for (const e of data.endpoints) await ignoreNotFound(api.deleteProjectEndpoint(projectId, e.id));
    if (data.endpoints.length) await awaitOperations(api, projectId);
  }

  await api.restoreProjectBranch(projectId, branchId, { source_branch_id: next.branchId });
  await awaitOperations(api, projectId);
  s.crashPoint?.('masked-reset:restored');
  const kept = await restorePasswords(s);
  s.crashPoint?.('masked-reset:passwords');
  const left = await retireMasking(s, s.env.neon.masking!.branchId, next.branchId);
  s.crashPoint?.('masked-reset:retired');
  await s.saveNeon({ ...s.env.neon, masking: { branchId: next.branchId, done: true }, resetMasking: undefined, resetDone: wanted, ...left } as ResetNeon);
  return `restored from ${parent.name}'s current data, masked on a new branch: ${detail}; ${kept.length} password(s) kept`;
}

/**
 * A reset's masking branch recorded for an earlier request (a crash, then a newer reset asked
 * for): if the preview was restored from it, it is the masking branch now (the old one goes);
 * else it goes.
 */
async function settleEarlierReset(s: StepContext, earlier: ResetMasking): Promise<undefined> {
  const { api } = s;
  const projectId = s.env.neon.projectId!;
  const { data } = await api.getProjectBranch(projectId, s.env.neon.branchId!);
  if (data.branch.parent_id === earlier.branchId) {
    const left = await retireMasking(s, s.env.neon.masking!.branchId, earlier.branchId);
    await s.saveNeon({ ...s.env.neon, masking: { branchId: earlier.branchId, done: true }, resetMasking: undefined, ...left });
  } else {
    await ignoreNotFound(api.deleteProjectBranch({ projectId, branchId: earlier.branchId }));
    await awaitOperations(api, projectId);
    await s.saveNeon({ ...s.env.neon, resetMasking: undefined });
  }
  return undefined;
}

/**
 * Deletes the masking branch the preview no longer descends from. One Neon will not delete
 * (someone branched from it) is kept in `preserved`, deleted with the environment.
 */
async function retireMasking(s: StepContext, old: string, current: string): Promise<Pick<EnvironmentNeon, 'preserved'>> {
  if (old === current) return {};
  const projectId = s.env.neon.projectId!;
  await awaitOperations(s.api, projectId);
  try {
    await ignoreNotFound(s.api.deleteProjectBranch({ projectId, branchId: old }));
    await awaitOperations(s.api, projectId);
    return {};
  } catch (error) {
    s.ctx.log.warn(`environment ${s.app.name}/${s.env.name}: the earlier masking branch ${old} stays until the preview is closed: ${neonMessage(error)}`);
    return { preserved: [...(s.env.neon.preserved ?? []).filter((id) => id !== old), old] };
  }
}
