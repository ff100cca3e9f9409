/**
 * @module Restore of an environment to a point in its history, keeping its credentials: Neon's
 * restore of the branch from its own history (`POST …/branches/{id}/restore` with
 * `source_branch_id` = the branch itself, `source_timestamp` or `source_lsn`, and
 * `preserve_under_name`, which Neon requires for a restore from a branch's own history) keeps the
 * branch, its endpoint and so its host. The state before the restore stays on Neon under the
 * preserved name (the branch's parent from then on) and is deleted with the environment. The
 * data is the point's, and so are the passwords in it: the stored ones are set again
 * (previews/reset.ts's `restorePasswords`), then the rest of the run applies the app's model.
 *
 * App admins only; a protected environment also takes its name as typed confirmation. Audited
 * (`environment.restore`). The API records the request on the spec (`restore`); the reconciler
 * runs the step `restore-to-point` once per request (after `operations`) and remembers the
 * request it carried out (`restoreDone`); a crash after Neon's restore is recognised by the
 * preserved branch's name, so the restore is not done twice.
 */
import { eq } from 'drizzle-orm';
import { audit } from '../audit.ts';
import { clientFor, findAccount } from '../accounts/accounts.ts';
import { findApp } from '../apps/apps.ts';
import type { Actor, Context } from '../context.ts';
import { PlatformError, conflict } from '../errors.ts';
import { awaitOperations } from '../neon/client.ts';
import { restorePasswords } from '../previews/reset.ts';
import type { StepContext } from '../reconcile/steps.ts';
import { accounts, changed, environments, mergeSpec, type Environment, type EnvironmentNeon, type EnvironmentSpec } from '../store/schema.ts';
import { findEnvironment } from './environments.ts';
import { checkAt, historyWindow, parsePoint, sourceFields } from './point-in-time.ts';

type RestoreSpec = EnvironmentSpec & { restore?: { at: string; requestedAt: string } };
type RestoreNeon = EnvironmentNeon & { restoreDone?: string };

/** The restore asked for and not carried out yet, if any. */
export function pendingRestore(env: Environment): { at: string; requestedAt: string } | undefined {
  const wanted = (env.spec as RestoreSpec).restore;
  return wanted && wanted.requestedAt !== (env.neon as RestoreNeon).restoreDone ? wanted : undefined;
}

/** The steps of a run: with `restore-to-point` after `operations` when a restore is pending. */
export function withRestore<T extends { name: string }>(env: Environment, steps: T[], restore: T): T[] {
  if (!pendingRestore(env)) return steps;
  const at = steps.findIndex((s) => s.name === 'operations') + 1;
  return [...steps.slice(0, at), restore, ...steps.slice(at)];
}

/** The name the state before a restore is kept under on Neon. */
const preservedName = (env: Environment, requestedAt: string) => `${env.spec.branchName ?? env.name}-before-restore-${requestedAt.replace(/[-:.]/g, '').replace('T', '-')}`;

/**
 * Asks for a restore of the environment to `at` (checked against its branch's history window).
 * Who may (app admins) is checked by the route; the confirmation here.
 */
export async function requestRestore(ctx: Context, actor: Actor, appName: string, envName: string, at: string, confirm: string | undefined): Promise<Environment> {
  const app = await findApp(ctx, appName);
  const env = await findEnvironment(ctx, app, envName);
  // Required for protected environments; a confirmation given for another name is refused on any.
  if ((env.protected || confirm !== undefined) && confirm !== env.name) {
    throw new PlatformError(400, 'confirmation_required', `${env.protected ? `environment ${env.name} is protected: ` : ''}to restore ${env.name} to ${at}, confirm with its name ("confirm": "${env.name}")`, 'confirm');
  }
  if (env.spec.mode === 'import') throw conflict(`environment ${env.name} is an imported branch, shared with whatever else uses it; Arbor does not restore it. Restore it in Neon, or branch from it at a point in time (mode branch-neon with at)`);
  if (env.status === 'deleting') throw conflict(`environment ${env.name} is being deleted`);
  if (!env.neon.projectId || !env.neon.branchId) throw conflict(`environment ${env.name} has no Neon branch yet; wait until it is ready, then restore it`);
  if (pendingRestore(env)) throw conflict(`environment ${env.name} is already being restored to ${pendingRestore(env)!.at}; wait until it is ready`);
  const [account] = await ctx.db.select().from(accounts).where(eq(accounts.id, env.accountId));
  const point = await checkAt(clientFor(ctx, account), env.neon.projectId, env.neon.branchId, at);
  const restore = { at: point.lsn ?? point.timestamp!, requestedAt: new Date().toISOString() };
  const [updated] = await ctx.db
    .update(environments)
    // Only its own field: a settings PATCH at the same time keeps its part (store/schema.ts mergeSpec).
    .set({ spec: mergeSpec({ restore }), ...changed() })
    .where(eq(environments.id, env.id))
    .returning();
  await audit(ctx, actor, 'environment.restore', `${app.name}/${env.name}`, { at: restore.at });
  return updated;
}

/** The window `at` must fall in for this environment's branch (restore, or a branch of it), as ISO times. */
export async function environmentHistory(ctx: Context, env: Environment) {
  if (!env.neon.projectId || !env.neon.branchId) throw conflict(`environment ${env.name} has no Neon branch yet, so no history`);
  const [account] = await ctx.db.select().from(accounts).where(eq(accounts.id, env.accountId));
  const w = await historyWindow(clientFor(ctx, account), env.neon.projectId, env.neon.branchId);
  return { from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString(), why: w.why, historyRetentionSeconds: w.retention };
}

/** The window a branch of a Neon branch (branch-neon's `at`) may start in. */
export async function neonBranchHistory(ctx: Context, accountName: string, projectId: string, branchId: string) {
  const w = await historyWindow(clientFor(ctx, await findAccount(ctx, accountName)), projectId, branchId);
  return { from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString(), why: w.why, historyRetentionSeconds: w.retention };
}

/** The reconciler step: Neon's restore from the branch's own past, then the stored passwords again. */
export async function restoreToPoint(s: StepContext): Promise<string> {
  const { api, env } = s;
  const wanted = pendingRestore(env);
  if (!wanted) return 'nothing to restore';
  const projectId = env.neon.projectId!;
  const branchId = env.neon.branchId!;
  const name = preservedName(env, wanted.requestedAt);
  await awaitOperations(api, projectId);
  // Done already (a crash after Neon's restore, before it was recorded): the preserved branch is there.
  let preserved = (await api.listProjectBranches({ projectId, search: name })).data.branches.find((b) => b.name === name);
  if (!preserved) {
    await api.restoreProjectBranch(projectId, branchId, { source_branch_id: branchId, ...sourceFields(parsePoint(wanted.at)), preserve_under_name: name });
    await awaitOperations(api, projectId);
    preserved = (await api.listProjectBranches({ projectId, search: name })).data.branches.find((b) => b.name === name);
  }
  const ids = [...(s.env.neon.preserved ?? [])];
  if (preserved && !ids.includes(preserved.id)) ids.push(preserved.id);
  await s.saveNeon({ ...s.env.neon, preserved: ids });
  const kept = await restorePasswords(s);
  await s.saveNeon({ ...s.env.neon, restoreDone: wanted.requestedAt } as RestoreNeon);
  return `restored to ${wanted.at}; the state before is kept on Neon as branch ${name}; ${kept.length} password(s) kept`;
}
