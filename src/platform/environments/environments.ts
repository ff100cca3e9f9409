/**
 * @module Environments: created in the seed's four ways (new project, branch from an
 * environment, branch from a Neon branch, import), with Neon settings checked against the plan.
 * These functions record the desired spec; the reconciler makes it so.
 */
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { audit } from '../audit.ts';
import { requireAdmin } from '../auth/auth.ts';
import { accountPgVersions, clientFor, findAccount } from '../accounts/accounts.ts';
import { checkSettings, defaultSettings } from '../accounts/plans.ts';
import { findApp } from '../apps/apps.ts';
import type { Actor, Context } from '../context.ts';
import { PlatformError, conflict, invalid, isUniqueViolation, notFound, unprocessable } from '../errors.ts';
import { neonStatus } from '../neon/client.ts';
import { checkAt } from './point-in-time.ts';
import { branchCreationWarning } from '../reconcile/branch-creation.ts';
import {
  accounts,
  apps,
  changed,
  mergeSpec,
  environments,
  environmentSteps,
  type Account,
  type App,
  type Environment,
  type EnvironmentSpec,
  type EnvironmentType,
  type NeonSettings,
} from '../store/schema.ts';

/**
 * A request for a new environment: the spec's fields (`migrations` and `expiresAt` are set by
 * previews.ts only; the environments API does not accept them) plus name, type and account.
 */
export type EnvironmentInput = Omit<EnvironmentSpec, 'settings' | 'fixRoles'> & {
  name: string;
  type?: EnvironmentType;
  account?: string;
  settings?: NeonSettings;
};

const NAME = /^[a-z][a-z0-9-]{0,39}$|^pr:[0-9]{1,9}$/;

export async function findEnvironment(ctx: Context, app: App, name: string): Promise<Environment> {
  const [env] = await ctx.db.select().from(environments).where(and(eq(environments.appId, app.id), eq(environments.name, name)));
  if (!env) {
    const names = (await ctx.db.select({ name: environments.name }).from(environments).where(eq(environments.appId, app.id))).map((e) => e.name);
    throw notFound(`environment ${name} of app ${app.name}${names.length ? ` (it has: ${names.join(', ')})` : ' (it has none yet)'}`);
  }
  return env;
}

export async function environmentView(ctx: Context, env: Environment) {
  return (await environmentViews(ctx, [env]))[0];
}

/**
 * Views of several environments (a list) in three queries whatever their number: their accounts,
 * their steps, and what shares their Neon projects (sharingRows), not three per environment.
 */
export async function environmentViews(ctx: Context, envs: Environment[]) {
  if (!envs.length) return [];
  const accountIds = [...new Set(envs.map((e) => e.accountId))];
  const sharedAccounts = [...new Set(envs.filter((e) => projectOf(e)).map((e) => e.accountId))];
  const [accountRows, stepRows, sharing] = await Promise.all([
    ctx.db.select({ id: accounts.id, name: accounts.name, plan: accounts.plan }).from(accounts).where(inArray(accounts.id, accountIds)),
    ctx.db
      .select()
      .from(environmentSteps)
      .where(inArray(environmentSteps.environmentId, envs.map((e) => e.id)))
      .orderBy(asc(environmentSteps.id)),
    sharedAccounts.length ? sharingRows(ctx, sharedAccounts) : Promise.resolve([]),
  ]);
  const stepsOf = new Map<number, typeof stepRows>();
  for (const step of stepRows) {
    const list = stepsOf.get(step.environmentId);
    if (list) list.push(step);
    else stepsOf.set(step.environmentId, [step]);
  }
  return envs.map((env) => viewOf(env, accountRows.find((a) => a.id === env.accountId), stepsOf.get(env.id) ?? [], sharing));
}

function viewOf(env: Environment, account: { name: string; plan: string } | undefined, steps: (typeof environmentSteps.$inferSelect)[], sharing: SharingRow[]) {
  const restoring = (env.spec as { restore?: { at: string; requestedAt: string } }).restore;
  return {
    name: env.name,
    type: env.type,
    protected: env.protected,
    mode: env.spec.mode,
    account: account?.name,
    status: env.status,
    error: env.error ?? undefined,
    // A failure is permanent (not retried until a change or POST …/retry) or retried at nextAttemptAt.
    ...(env.status === 'failed'
      ? { retry: env.observedGeneration === env.generation ? { permanent: true } : { permanent: false, nextAttemptAt: env.leaseUntil?.toISOString() } }
      : {}),
    imported: env.spec.mode === 'import',
    // Branched at a point in its source's history; restored to one (environments/restore.ts).
    ...(env.spec.at ? { at: env.spec.at } : {}),
    ...(restoring ? { restore: { at: restoring.at, requestedAt: restoring.requestedAt } } : {}),
    neon: { projectId: env.neon.projectId, branchId: env.neon.branchId, endpointId: env.neon.endpointId, host: env.neon.host },
    // Where it came from, for the dashboard's Infrastructure and preview pages (what the request asked for).
    source: {
      projectName: env.spec.projectName, regionId: env.spec.regionId, pgVersion: env.spec.pgVersion, branchName: env.spec.branchName,
      parentEnvironment: env.spec.parentEnvironment, neonProjectId: env.spec.neonProjectId, neonBranchId: env.spec.neonBranchId, expiresAt: env.spec.expiresAt, pushedAt: env.spec.pushedAt,
    },
    createdAt: env.createdAt.toISOString(),
    ...sharingOf(env, sharing),
    deviations: env.neon.deviations ?? [],
    // An import's changes waiting for an app admin (POST …/confirm-import); empty once confirmed.
    pendingChanges: env.spec.mode === 'import' && !env.spec.fixRoles ? (env.neon.pendingChanges ?? []) : [],
    ...(env.spec.mode === 'import' ? { importConfirmed: !!env.spec.fixRoles } : {}),
    warnings: [
      ...(env.spec.mode === 'import' ? ['imported: this branch is shared with whatever else uses it; Arbor does not change its Neon settings and never deletes it'] : []),
      ...[branchCreationWarning(env)].filter((w) => w !== undefined),
    ],
    generation: env.generation,
    observedGeneration: env.observedGeneration,
    steps: steps.map((s) => ({ generation: s.generation, step: s.step, status: s.status, detail: s.detail ?? undefined, startedAt: s.startedAt.toISOString(), finishedAt: s.finishedAt?.toISOString() })),
  };
}

/** An app's environments, by its name, or by the app already read (authorization did: no second read of it). */
export async function listEnvironments(ctx: Context, appOrName: string | App): Promise<Environment[]> {
  const app = typeof appOrName === 'string' ? await findApp(ctx, appOrName) : appOrName;
  return ctx.db.select().from(environments).where(eq(environments.appId, app.id)).orderBy(asc(environments.id));
}

/** Created by previews.ts as a pull request's preview (only those may be `pr:<n>`, only those do the previews routes touch). */
export function isPreview(env: Environment): boolean {
  return env.type === 'preview' && /^pr:[0-9]+$/.test(env.name) && !!env.spec.expiresAt;
}

export async function createEnvironment(ctx: Context, actor: Actor, appName: string, input: EnvironmentInput, options: { preview?: boolean } = {}): Promise<Environment> {
  const app = await findApp(ctx, appName);
  if (!NAME.test(input.name ?? '')) throw invalid('name', `environment name "${input.name}" must start with a letter and use a-z, 0-9 and - (at most 40), or be pr:<number>`);
  if (input.name.startsWith('pr:') && !options.preview) throw invalid('name', `pr:<number> names are reserved for preview environments (PUT /apps/${app.name}/previews/{number}); choose another name`);
  const [existing] = await ctx.db.select().from(environments).where(and(eq(environments.appId, app.id), eq(environments.name, input.name)));
  if (existing) throw conflict(`app ${app.name} already has an environment ${input.name}`, 'name');
  const type = input.type ?? 'development';
  if (!['production', 'development', 'preview'].includes(type)) throw invalid('type', 'type must be production, development or preview');

  if (input.at !== undefined && input.mode !== 'branch-environment' && input.mode !== 'branch-neon') {
    throw invalid('at', `at (a point in time) is for modes branch-environment and branch-neon; mode ${input.mode} has no source to branch from in the past`);
  }
  let accountName = input.account;
  const spec: EnvironmentSpec = { mode: input.mode, settings: {} };
  switch (input.mode) {
    case 'new-project': {
      if (!accountName) throw invalid('account', 'account is required: the Neon account to create the project in (GET /accounts lists them)');
      const account = await findAccount(ctx, accountName);
      const regions = (await clientFor(ctx, account).getActiveRegions({})).data.regions;
      const regionId = input.regionId ?? regions.find((r) => r.default)?.region_id ?? regions[0]?.region_id;
      if (!regions.some((r) => r.region_id === regionId)) throw invalid('regionId', `region ${regionId} is not offered by account ${account.name}; use one of ${regions.map((r) => r.region_id).join(', ')}`);
      // Only what the account can run: Neon's versions, or those an engine has binaries for.
      const offered = await accountPgVersions(ctx, account);
      if (!offered.pgVersions.length) throw unprocessable(`account ${account.name} offers no Postgres version${offered.hint ? `; ${offered.hint}` : ''}`, 'pgVersion');
      const pgVersion = input.pgVersion ?? offered.defaultPgVersion ?? offered.pgVersions[offered.pgVersions.length - 1];
      if (!offered.pgVersions.includes(pgVersion)) {
        throw invalid('pgVersion', `Postgres ${pgVersion} is not offered by account ${account.name}; it offers ${offered.pgVersions.join(', ')}${offered.hint ? ` (${offered.hint})` : ''}`);
      }
      Object.assign(spec, { regionId, pgVersion, projectName: input.projectName ?? `${app.name}-${input.name}`, branchName: input.branchName ?? 'main' });
      break;
    }
    case 'branch-environment': {
      const others = (await ctx.db.select().from(environments).where(eq(environments.appId, app.id))).filter((e) => e.spec.mode !== 'import' || e.neon.branchId);
      if (!others.length) throw unprocessable(`app ${app.name} has no environment on Neon to branch from; create one first (mode new-project, branch-neon or import)`, 'parentEnvironment');
      if (!input.parentEnvironment) throw invalid('parentEnvironment', `parentEnvironment is required; choose one of ${others.map((e) => e.name).join(', ')}`);
      const parent = others.find((e) => e.name === input.parentEnvironment);
      if (!parent) throw invalid('parentEnvironment', `app ${app.name} has no environment ${input.parentEnvironment}; choose one of ${others.map((e) => e.name).join(', ')}`);
      const [parentAccount] = await ctx.db.select().from(accounts).where(eq(accounts.id, parent.accountId));
      if (accountName && accountName !== parentAccount.name) throw invalid('account', `a branch lives in its parent's Neon account (${parentAccount.name})`);
      accountName = parentAccount.name;
      Object.assign(spec, { parentEnvironment: parent.name, branchName: input.branchName ?? `${app.name}-${input.name}` });
      if (input.at !== undefined) {
        if (!parent.neon.projectId || !parent.neon.branchId) throw unprocessable(`parent environment ${parent.name} has no Neon branch yet, so it has no history to branch from at ${input.at}; wait until it is ready`, 'at');
        const point = await checkAt(clientFor(ctx, parentAccount), parent.neon.projectId, parent.neon.branchId, input.at);
        spec.at = point.lsn ?? point.timestamp;
      }
      break;
    }
    case 'branch-neon':
    case 'import': {
      if (!accountName) throw invalid('account', 'account is required: the Neon account that holds the branch');
      if (!input.neonProjectId) throw invalid('neonProjectId', 'neonProjectId is required (GET /accounts/{account}/projects lists them)');
      if (!input.neonBranchId) throw invalid('neonBranchId', 'neonBranchId is required (GET /accounts/{account}/projects lists each project\'s branches)');
      const api = clientFor(ctx, await findAccount(ctx, accountName));
      try {
        await api.getProjectBranch(input.neonProjectId, input.neonBranchId);
      } catch (error) {
        if (neonStatus(error) === 404) throw invalid('neonBranchId', `Neon has no branch ${input.neonBranchId} in project ${input.neonProjectId} for account ${accountName}`);
        throw error;
      }
      if (input.mode === 'import') await refuseClaimed(ctx, actor, input.neonProjectId, input.neonBranchId);
      // A branch of another app's environment would copy that app's data to this one's roles.
      else if ((await holdersOf(ctx, input.neonProjectId, input.neonBranchId)).some((h) => h.appId !== app.id)) {
        throw conflict(`Neon branch ${input.neonBranchId} belongs to an environment of another app; branch only from branches this app holds (mode branch-environment) or from branches no environment uses`, 'neonBranchId');
      }
      Object.assign(spec, { neonProjectId: input.neonProjectId, neonBranchId: input.neonBranchId });
      if (input.mode === 'branch-neon') spec.branchName = input.branchName ?? `${app.name}-${input.name}`;
      if (input.mode === 'branch-neon' && input.at !== undefined) {
        const point = await checkAt(api, input.neonProjectId, input.neonBranchId, input.at);
        spec.at = point.lsn ?? point.timestamp;
      }
      break;
    }
    default:
      throw invalid('mode', 'mode must be new-project, branch-environment, branch-neon or import');
  }
  const account = await findAccount(ctx, accountName!);
  if (input.mode === 'import') {
    if (input.settings && Object.keys(input.settings).length) throw unprocessable('an imported branch keeps its Neon settings; Arbor does not change them', 'settings');
  } else {
    const settings = { ...defaultSettings(account.plan), ...(input.settings ?? {}) };
    checkSettings(account.plan, settings);
    if (input.mode === 'branch-environment' || input.mode === 'branch-neon') {
      // Retention is the Neon project's, shared with whatever else is on it: a branch takes it as it is.
      const shared = await projectRetention(ctx, account, input.mode === 'branch-neon' ? input.neonProjectId! : undefined, app.id, spec.parentEnvironment);
      const asked = input.settings?.historyRetentionSeconds;
      if (asked !== undefined && shared !== undefined && asked !== shared) {
        throw unprocessable(`history retention belongs to the Neon project, which this branch shares (it is ${shared} s there); a branch cannot change it. Leave historyRetentionSeconds out, or change it on the environment that created the project`, 'settings');
      }
      if (shared !== undefined) settings.historyRetentionSeconds = shared;
    }
    spec.settings = settings;
  }
  if (input.migrations) spec.migrations = input.migrations;
  if (input.expiresAt) spec.expiresAt = input.expiresAt;
  if (input.pushedAt) spec.pushedAt = input.pushedAt;
  // Two requests for one name at once both pass the check above; the unique index
  // (environments_app_name) lets one insert through, and the other gets the same 409 as if it had
  // come second, not a 500.
  const [env] = await ctx.db
    .insert(environments)
    .values({ appId: app.id, name: input.name, type, protected: type === 'production', accountId: account.id, spec })
    .returning()
    .catch((error: unknown) => {
      if (isUniqueViolation(error, 'environments_app_name')) throw conflict(`app ${app.name} already has an environment ${input.name}`, 'name');
      throw error;
    });
  if (spec.mode === 'import') {
    // Two imports of one branch at once: the earlier row holds it, the later one goes.
    const holder = (await holdersOf(ctx, spec.neonProjectId!, spec.neonBranchId!)).find((h) => h.id < env.id);
    if (holder) {
      await ctx.db.delete(environments).where(eq(environments.id, env.id));
      await refuseClaimed(ctx, actor, spec.neonProjectId!, spec.neonBranchId!);
    }
  }
  await audit(ctx, actor, 'environment.create', `${app.name}/${env.name}`, { mode: spec.mode, account: account.name });
  return env;
}

/** Environments (of any app) that use Neon branch `branchId` of `projectId`: imported, created or found. */
async function holdersOf(ctx: Context, projectId: string, branchId: string) {
  const rows = await ctx.db
    .select({ id: environments.id, appId: environments.appId, name: environments.name, app: apps.name, spec: environments.spec, neon: environments.neon })
    .from(environments)
    .innerJoin(apps, eq(apps.id, environments.appId));
  return rows.filter((r) => (r.neon.projectId === projectId && r.neon.branchId === branchId) || (r.spec.mode === 'import' && r.spec.neonProjectId === projectId && r.spec.neonBranchId === branchId));
}

/**
 * Import is a claim: a branch another environment already uses (any app's) cannot be imported
 * again, or its passwords would be Arbor's twice. Only an instance admin learns which one holds it.
 */
async function refuseClaimed(ctx: Context, actor: Actor, projectId: string, branchId: string): Promise<void> {
  const [holder] = await holdersOf(ctx, projectId, branchId);
  if (!holder) return;
  if (actor.role === 'admin') throw conflict(`Neon branch ${branchId} is already used by environment ${holder.app}/${holder.name}; a branch can belong to one environment only (branch from it with mode branch-neon instead)`, 'neonBranchId');
  throw conflict(`Neon branch ${branchId} is already used by an environment; a branch can belong to one environment only (branch from it with mode branch-neon instead)`, 'neonBranchId');
}

/**
 * The full text of the environment's last failure (PostgreSQL's DETAIL, RAISE text, constraint
 * details: it may carry row data), for app admins only (the route authorizes); every read is audited.
 */
export async function errorDetail(ctx: Context, actor: Actor, appName: string, envName: string) {
  const app = await findApp(ctx, appName);
  const env = await findEnvironment(ctx, app, envName);
  const failure = (env.neon as { failure?: { sealed: string; step: string; at: string } }).failure;
  await audit(ctx, actor, 'environment.error-detail', `${app.name}/${env.name}`);
  if (!failure) return { status: env.status, failure: null };
  return { status: env.status, failure: { step: failure.step, at: failure.at, message: ctx.secrets.open(failure.sealed) } };
}

/** Runs the environment's reconciliation again now (after a permanent failure, or to stop waiting out a backoff). */
export async function retryEnvironment(ctx: Context, actor: Actor, appName: string, envName: string): Promise<Environment> {
  const app = await findApp(ctx, appName);
  const env = await findEnvironment(ctx, app, envName);
  const [updated] = await ctx.db.update(environments).set(changed()).where(eq(environments.id, env.id)).returning();
  await audit(ctx, actor, 'environment.retry', `${app.name}/${env.name}`);
  return updated;
}

/** New Neon settings: checked against the plan here, applied to Neon by the reconciler. */
/** The retention of the project a new branch goes on: its parent environment's project's, or the Neon project's own. */
async function projectRetention(ctx: Context, account: Account, neonProjectId: string | undefined, appId: number, parentName: string | undefined): Promise<number | undefined> {
  if (neonProjectId) return (await clientFor(ctx, account).getProject(neonProjectId)).data.project.history_retention_seconds;
  const [parent] = await ctx.db.select().from(environments).where(and(eq(environments.appId, appId), eq(environments.name, parentName!)));
  return parent ? (await projectSharing(ctx, parent)).settings.historyRetentionSeconds : undefined;
}

/**
 * Retention is a setting of the Neon project, shared by every environment on it. The value shown
 * is the project's: set by the environment that created the project (new-project), taken as it
 * was by branches; `project` says which environments share it.
 */
export async function projectSharing(ctx: Context, env: Environment) {
  return sharingOf(env, projectOf(env) ? await sharingRows(ctx, [env.accountId]) : []);
}

/** An environment's Neon project: the one it has, or the one it is about to use. */
function projectOf(e: { neon: { projectId?: string }; spec: { neonProjectId?: string } }): string | undefined {
  return e.neon.projectId ?? e.spec.neonProjectId;
}

interface SharingRow {
  appId: number;
  accountId: number;
  name: string;
  mode: string;
  projectId: string | null;
  retention: number | null;
}

/** What projectSharing needs of every environment on these accounts: a few fields of spec and neon, not the documents. */
function sharingRows(ctx: Context, accountIds: number[]): Promise<SharingRow[]> {
  return ctx.db
    .select({
      appId: environments.appId,
      accountId: environments.accountId,
      name: environments.name,
      mode: sql<string>`${environments.spec}->>'mode'`,
      projectId: sql<string | null>`coalesce(${environments.neon}->>'projectId', ${environments.spec}->>'neonProjectId')`,
      retention: sql<number | null>`(${environments.spec}->'settings'->>'historyRetentionSeconds')::float8`,
    })
    .from(environments)
    .where(inArray(environments.accountId, accountIds));
}

function sharingOf(env: Environment, rows: SharingRow[]) {
  const projectId = projectOf(env);
  if (!projectId) return { settings: env.spec.settings, project: undefined };
  const all = rows.filter((e) => e.accountId === env.accountId && e.projectId === projectId);
  const owner = all.find((e) => e.mode === 'new-project');
  const retention = owner ? (owner.retention ?? undefined) : env.spec.settings.historyRetentionSeconds;
  const settings = { ...env.spec.settings, ...(retention !== undefined ? { historyRetentionSeconds: retention } : {}) };
  // Names only of this app's environments; others are counted.
  const sameApp = all.filter((e) => e.appId === env.appId && e.name !== env.name).map((e) => e.name);
  return {
    settings,
    project: {
      id: projectId,
      sharedWith: sameApp,
      sharedWithOtherApps: all.filter((e) => e.appId !== env.appId).length,
      retentionSetBy: owner && owner.appId === env.appId ? owner.name : null,
    },
  };
}

export async function updateSettings(ctx: Context, actor: Actor, appName: string, envName: string, patch: NeonSettings): Promise<Environment> {
  const app = await findApp(ctx, appName);
  const env = await findEnvironment(ctx, app, envName);
  if (env.spec.mode === 'import') throw unprocessable(`environment ${envName} is an imported branch: its Neon settings are read-only in Arbor`);
  if (patch.historyRetentionSeconds !== undefined && env.spec.mode !== 'new-project') {
    const { project, settings: shared } = await projectSharing(ctx, env);
    const current = shared.historyRetentionSeconds;
    if (patch.historyRetentionSeconds !== current) {
      throw unprocessable(
        `history retention is a setting of Neon project ${project?.id}, shared by ${[env.name, ...(project?.sharedWith ?? [])].join(', ')}${project?.sharedWithOtherApps ? ` and ${project.sharedWithOtherApps} environment(s) of other apps` : ''}; ` +
          (project?.retentionSetBy ? `change it on ${project.retentionSetBy}, which created the project` : 'Arbor did not create that project and leaves its retention as it is'),
        'historyRetentionSeconds',
      );
    }
  }
  const [account] = await ctx.db.select().from(accounts).where(eq(accounts.id, env.accountId));
  // The patch merges into the settings as they are when it is written, not as read above: two
  // PATCHes at once (of other fields) would otherwise each write the spec back over the other's.
  // The row lock holds the second until the first has committed; it then merges into that.
  const updated = await ctx.db.transaction(async (tx) => {
    const [current] = await tx.select().from(environments).where(eq(environments.id, env.id)).for('update');
    if (!current) throw notFound(`environment ${envName} of app ${app.name}`);
    // A deletion requested meanwhile (or before): no settings to change on what is going.
    if (current.status === 'deleting') throw new PlatformError(409, 'deleting', `environment ${app.name}/${envName} is being deleted; its Neon settings are no longer changed`);
    const settings = { ...defaultSettings(account.plan), ...current.spec.settings, ...patch };
    checkSettings(account.plan, settings);
    const [row] = await tx
      .update(environments)
      .set({ spec: { ...current.spec, settings }, ...changed() })
      .where(eq(environments.id, env.id))
      .returning();
    return row;
  });
  await audit(ctx, actor, 'environment.settings', `${app.name}/${env.name}`, { ...patch });
  return updated;
}

/**
 * An app admin confirms the changes listed for an imported branch (`pendingChanges`): from then
 * on Arbor manages its roles, ownership and migrations (a later model change applies as on any
 * environment). Audited with the changes as they were listed.
 */
export async function confirmImport(ctx: Context, actor: Actor, appName: string, envName: string): Promise<Environment> {
  const app = await findApp(ctx, appName);
  const env = await findEnvironment(ctx, app, envName);
  if (env.spec.mode !== 'import') throw conflict(`environment ${app.name}/${env.name} was not imported (mode ${env.spec.mode}); Arbor manages its branch without confirmation`);
  if (env.spec.fixRoles) throw conflict(`the import of ${app.name}/${env.name} is already confirmed; POST …/retry runs it again`);
  if (env.status !== 'awaiting_confirmation' && env.status !== 'ready') {
    throw conflict(`environment ${app.name}/${env.name} is ${env.status}; confirm once its branch has been checked and the changes are listed (status awaiting_confirmation)`);
  }
  const [updated] = await ctx.db
    .update(environments)
    // Only its own field: another change to the spec at the same time keeps its part (mergeSpec).
    .set({ spec: mergeSpec({ fixRoles: true }), ...changed() })
    .where(eq(environments.id, env.id))
    .returning();
  await audit(ctx, actor, 'environment.confirm-import', `${app.name}/${env.name}`, { changes: env.neon.pendingChanges ?? [] });
  return updated;
}

/** Deletion is admin-only and confirmed by typing the environment's name. */
export async function deleteEnvironment(ctx: Context, actor: Actor, appName: string, envName: string, confirm: string | undefined, options: { preview?: boolean } = {}): Promise<Environment> {
  // A preview is closed by its pull request (any CI token), so it needs neither admin nor confirmation.
  // Who may delete which environment (protected: app admins) is checked by the caller (routes.ts, auth/access.ts).
  const app = await findApp(ctx, appName);
  const env = await findEnvironment(ctx, app, envName);
  if (options.preview && !isPreview(env)) throw conflict(`environment ${app.name}/${env.name} was not created as a preview`);
  if (!options.preview && confirm !== env.name) throw new PlatformError(400, 'confirmation_required', `to delete environment ${env.name}, confirm with its name (?confirm=${env.name})`, 'confirm');
  const children = (await ctx.db.select().from(environments).where(eq(environments.appId, app.id))).filter((e) => e.spec.parentEnvironment === env.name);
  if (children.length) throw conflict(`environments ${children.map((c) => c.name).join(', ')} branch from ${env.name}; delete them first`);
  const [updated] = await ctx.db
    .update(environments)
    .set({ status: 'deleting', ...changed() })
    .where(eq(environments.id, env.id))
    .returning();
  await audit(ctx, actor, 'environment.delete', `${app.name}/${env.name}`);
  return updated;
}

