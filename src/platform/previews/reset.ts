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
 */
import { and, eq } from 'drizzle-orm';
import { audit } from '../audit.ts';
import { findApp } from '../apps/apps.ts';
import type { Actor, Context } from '../context.ts';
import { branchUri, loginRoles, storedPassword, storeSecrets } from '../credentials/credentials.ts';
import { findEnvironment, isPreview } from '../environments/environments.ts';
import { PlatformError } from '../errors.ts';
import { awaitOperations } from '../neon/client.ts';
import { newRoundTrips, openSession } from '../postgres/connection.ts';
import { quoteIdent, quoteLiteral, roleNames } from '../postgres/names.ts';
import { NotYet, type StepContext } from '../reconcile/steps.ts';
import { changed, environments, mergeSpec, type Environment, type EnvironmentNeon, type EnvironmentSpec } from '../store/schema.ts';
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
  // Neon's restore would bring the parent's unmasked data (and history) onto the preview's branch.
  if (env.neon.masking) throw new PlatformError(409, 'masked_preview', `preview ${env.name} is masked; a reset would copy ${env.spec.parentEnvironment}'s data unmasked. Close it and open it again for the parent's current data, masked`);
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
  const projectId = env.neon.projectId!;
  const branchId = env.neon.branchId!;
  await awaitOperations(api, projectId);
  await api.restoreProjectBranch(projectId, branchId, { source_branch_id: parent.neon.branchId });
  await awaitOperations(api, projectId);

  const kept = await restorePasswords(s);
  await s.saveNeon({ ...s.env.neon, resetDone: wanted } as ResetNeon);
  return `restored from ${parent.name}'s current data; ${kept.length} password(s) kept`;
}
