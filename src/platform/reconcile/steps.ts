/**
 * @module The provisioning steps, in order. Each finds before it creates (by name on Neon, by
 * catalog on Postgres), so a run after a crash at any point continues without duplicates.
 *
 *   neon-resources → operations → superuser → roles (roles, databases, grants) → settings →
 *   migrations → ready
 *
 * Deleting runs one step, `delete-neon`, that removes what Arbor created (never an import).
 */
import { eq } from 'drizzle-orm';
import type { Context } from '../context.ts';
import { awaitOperations, ignoreNotFound, neonMessage, neonStatus, type NeonApi } from '../neon/client.ts';
import type { AppModel } from '../postgres/app-model.ts';
import { MigrationError, migrate, pendingMigrations } from '../postgres/migrate.ts';
import { describeHandover, handOver, lendAdmin, ownedElsewhere, type ManualHandover } from './handover.ts';
import { Permanent, withSource } from './failure.ts';
import { closeUndeclaredDatabases } from './isolation.ts';
import { quoteIdent, quoteLiteral, roleNames } from '../postgres/names.ts';
import { generatePassword } from '../postgres/roles-plan.ts';
import { applyRoles, RolesApplyError } from '../postgres/roles-apply.ts';
import { dropRemovedDatabases } from '../postgres/roles-drop.ts';
import { newRoundTrips, openSession } from '../postgres/connection.ts';
import { checkRoles } from '../postgres/roles-check.ts';
import { branchUri, loginRoles, rotateOnBranch, storedPassword, storeSecrets } from '../credentials/credentials.ts';
import { parentFields, parsePoint } from '../environments/point-in-time.ts';
import { noteBranchCreation } from './branch-creation.ts';
import { environments, type App, type Environment, type EnvironmentNeon } from '../store/schema.ts';

export interface StepContext {
  ctx: Context;
  api: NeonApi;
  app: App;
  model: AppModel;
  env: Environment;
  /** Persists what was learned about the Neon resources (before the next step can crash). */
  saveNeon(neon: EnvironmentNeon): Promise<void>;
  /** The branch's connection URI, looked up once per run. */
  uriCache: { base?: string };
  /** Set when this run created the endpoint with the spec's settings (no need to read them back). */
  freshEndpoint?: boolean;
  /** Test hook inside a step: SIGKILL this process at the named point (`ARBOR_FAILPOINT=<point>`). */
  crashPoint?(point: string): void;
}

/** The branch is not there yet (e.g. the parent environment is still provisioning): try later. */
export class NotYet extends Error {}

async function readWriteEndpoint(api: NeonApi, projectId: string, branchId: string) {
  const { data } = await api.listProjectBranchEndpoints(projectId, branchId);
  return data.endpoints.find((e) => e.type === 'read_write');
}

export async function findBranchByName(api: NeonApi, projectId: string, name: string) {
  const { data } = await api.listProjectBranches({ projectId, search: name });
  return data.branches.find((b) => b.name === name);
}

export const endpointSettings = (env: Environment) => ({
  autoscaling_limit_min_cu: env.spec.settings.minCu,
  autoscaling_limit_max_cu: env.spec.settings.maxCu,
  suspend_timeout_seconds: env.spec.settings.suspendTimeoutSeconds,
});

/**
 * A preview's branch also expires on Neon a day after Arbor's own expiry: nothing lingers even
 * if the platform is gone.
 */
export function neonExpiryOf(spec: Environment['spec']): string | undefined {
  return spec.expiresAt ? new Date(Math.min(Date.parse(spec.expiresAt) + 86_400_000, Date.now() + 29 * 86_400_000)).toISOString() : undefined;
}

/**
 * Creates the branch (with its endpoint); when Neon says the name is taken, it was made by a run
 * that crashed before recording it, and is found by name (one call on the usual path, not two).
 */
export async function createOrFindBranch(api: NeonApi, projectId: string, name: string, body: Parameters<NeonApi['createProjectBranch']>[1]): Promise<{ branchId: string; endpointId?: string; host?: string; created?: boolean }> {
  try {
    const { data } = await api.createProjectBranch(projectId, body);
    return { branchId: data.branch.id, endpointId: data.endpoints[0]?.id, host: data.endpoints[0]?.host, created: !!data.endpoints[0] };
  } catch (error) {
    if (neonStatus(error) !== 409) throw error;
    const found = await findBranchByName(api, projectId, name);
    if (!found) throw error;
    const endpoint = await readWriteEndpoint(api, projectId, found.id);
    return { branchId: found.id, endpointId: endpoint?.id, host: endpoint?.host };
  }
}

/** Finds or creates the project / branch / endpoint the environment's mode calls for. */
export async function ensureNeonResources(s: StepContext): Promise<void> {
  const { api, env } = s;
  const spec = env.spec;
  let neon: EnvironmentNeon = { ...env.neon };
  if (spec.mode === 'new-project') {
    if (!neon.projectId) {
      const found = (await api.listProjects({ search: spec.projectName, limit: 400 })).data.projects.find((p) => p.name === spec.projectName);
      if (found) neon = { ...neon, projectId: found.id, createdProject: true };
      else {
        const { data } = await api.createProject({
          project: {
            name: spec.projectName,
            region_id: spec.regionId,
            pg_version: spec.pgVersion as never,
            history_retention_seconds: spec.settings.historyRetentionSeconds,
            default_endpoint_settings: endpointSettings(env),
            branch: { name: spec.branchName },
          },
        });
        neon = { ...neon, projectId: data.project.id, branchId: data.branch.id, endpointId: data.endpoints[0]?.id, createdProject: true };
      }
      await s.saveNeon(neon);
    }
    if (!neon.branchId) {
      const branches = (await api.listProjectBranches({ projectId: neon.projectId! })).data.branches;
      neon.branchId = (branches.find((b) => b.default) ?? branches[0]).id;
    }
  } else if (spec.mode === 'import') {
    neon = { ...neon, projectId: spec.neonProjectId, branchId: spec.neonBranchId, createdProject: false, createdBranch: false };
  } else {
    let parentProject = spec.neonProjectId;
    let parentBranch = spec.neonBranchId;
    if (spec.mode === 'branch-environment') {
      const [parent] = await s.ctx.db.select().from(environments).where(eq(environments.name, spec.parentEnvironment!)).then((rows) => rows.filter((r) => r.appId === env.appId));
      if (!parent?.neon.branchId) throw new NotYet(`parent environment ${spec.parentEnvironment} has no Neon branch yet`);
      parentProject = parent.neon.projectId;
      parentBranch = parent.neon.branchId;
    }
    neon.projectId = parentProject;
    if (!neon.branchId) {
      const neonExpiry = neonExpiryOf(spec);
      const made = await createOrFindBranch(api, parentProject!, spec.branchName!, {
        branch: { parent_id: parentBranch, name: spec.branchName, ...(spec.at ? parentFields(parsePoint(spec.at)) : {}), ...(neonExpiry ? { expires_at: neonExpiry } : {}) },
        endpoints: [{ type: 'read_write' as never, ...endpointSettings(env) }],
      });
      neon = { ...neon, branchId: made.branchId, endpointId: made.endpointId, host: made.host, createdBranch: true };
      s.freshEndpoint = !!made.created;
      await s.saveNeon(neon);
    }
  }
  if (!neon.endpointId) {
    await awaitOperations(api, neon.projectId!);
    let endpoint = await readWriteEndpoint(api, neon.projectId!, neon.branchId!);
    if (!endpoint && spec.mode !== 'import') {
      endpoint = (await api.createProjectEndpoint(neon.projectId!, { endpoint: { branch_id: neon.branchId!, type: 'read_write' as never, ...endpointSettings(env) } })).data.endpoint;
    }
    if (!endpoint) throw new Error(`the imported branch ${neon.branchId} has no read_write endpoint; add a compute to it in Neon`);
    neon.endpointId = endpoint.id;
  }
  if (!neon.host) neon.host = (await api.getProjectEndpoint(neon.projectId!, neon.endpointId!)).data.endpoint.host;
  await s.saveNeon(neon);
}

export async function awaitNeon(s: StepContext): Promise<void> {
  await awaitOperations(s.api, s.env.neon.projectId!);
  // Once made: whether the engine promoted a spare or copied (the environment's page warns of a copy).
  await noteBranchCreation(s);
}

/** `encore_platform`: created through Neon's API (so it is a neon_superuser member); its password kept. */
export async function ensureSuperuser(s: StepContext): Promise<void> {
  const { api, env, ctx } = s;
  const name = roleNames(s.model.prefix).platform;
  const { projectId, branchId } = env.neon;
  let password: string | undefined;
  if (env.type === 'preview' && env.spec.mode === 'branch-environment') {
    // A preview's branch has the parent's encore_platform: a new password, in one call (else made).
    password = await api.resetProjectBranchRolePassword(projectId!, branchId!, name).then(
      ({ data }) => data.role.password,
      (error) => {
        if (neonStatus(error) !== 404) throw error;
        return undefined;
      },
    );
    password ??= (await api.createProjectBranchRole(projectId!, branchId!, { role: { name } })).data.role.password;
    await storeSecrets(ctx, env.id, [{ role: name, password: password! }]);
    await awaitOperations(api, projectId!);
    return;
  }
  const roles = (await api.listProjectBranchRoles(projectId!, branchId!)).data.roles;
  if (!roles.some((r) => r.name === name)) {
    password = (await api.createProjectBranchRole(projectId!, branchId!, { role: { name } })).data.role.password;
  } else if (env.spec.mode === 'import' && !(await storedPassword(ctx, env.id, name))) {
    // Someone else's role (another platform, or an environment this branch belonged to): its
    // password is not Arbor's to reset.
    throw new Permanent(
      `the imported branch already has a role ${name}, which Arbor did not create for this environment; Arbor does not reset passwords it did not create. ` +
        `If nothing uses ${name} any more, delete that role in Neon (console, or neonctl roles delete ${name} --project-id ${projectId} --branch ${branchId}) and retry; otherwise import a branch of it instead (mode branch-neon).`,
    );
  } else if (!(await storedPassword(ctx, env.id, name)) || env.type === 'preview') {
    password = (await api.resetProjectBranchRolePassword(projectId!, branchId!, name)).data.role.password;
  }
  if (password) await storeSecrets(ctx, env.id, [{ role: name, password }]);
  await awaitOperations(api, projectId!);
}

async function platformUri(s: StepContext, database = 'postgres'): Promise<string> {
  const name = roleNames(s.model.prefix).platform;
  const password = await storedPassword(s.ctx, s.env.id, name);
  if (!password) throw new Error(`no password known for ${name}`);
  return branchUri(s.api, s.env, name, name, password, database, s.uriCache);
}

/**
 * The hierarchy: roles, databases, grants, default privileges, and the database's objects handed
 * to db_<db>_admin (handover.ts). Login roles whose password Arbor does not know (made by a run
 * that crashed before saving it, or copied from a parent branch) get a new one, so every
 * credential Arbor shows works and none is shared with another branch.
 * An imported branch is only checked until an app admin confirms the listed changes.
 */
export async function applyHierarchy(s: StepContext): Promise<string> {
  const { ctx, env, model } = s;
  const uri = await platformUri(s);
  if (env.spec.mode === 'import' && !env.spec.fixRoles) return checkImport(s, uri);
  // A database the app removed from its model goes on branches Arbor owns (never an import), with its roles (roles-drop.ts).
  const dropped = (env.spec.mode === 'import' ? [] : await dropRemovedDatabases(uri, model)).map((d) => `dropped database ${d.database} (removed from the model) and its roles ${d.roles.join(', ')}`);
  let result;
  try {
    result = await applyRoles(uri, model);
  } catch (error) {
    if (!(error instanceof RolesApplyError)) throw error;
    // A database owned by another role (neondb_owner, a role made in the console or in SQL): only
    // Neon (as its superuser) can hand it to db_<db>_admin; then the hierarchy applies. On an
    // import this runs only after the user confirmed; a branch Arbor made is Arbor's.
    await storeSecrets(ctx, env.id, error.secrets);
    if (!(await reownImportedDatabases(s, uri))) throw error;
    result = await applyRoles(uri, model);
  }
  await storeSecrets(ctx, env.id, result.secrets);
  const names = roleNames(model.prefix);
  const platform = names.platform;
  const handed: string[] = [];
  const manual: ManualHandover[] = [];
  for (const database of model.databases) {
    const outcome = await handOver(s.api, s.env, model, database.name, (db) => platformUri(s, db), (role, password, db) => branchUri(s.api, s.env, platform, role, password, db, s.uriCache));
    handed.push(...outcome.handed);
    manual.push(...outcome.manual);
  }
  // The handed-over objects get the hierarchy's grants (now db_<db>_admin's to give).
  let last = result;
  if (handed.length) {
    last = await applyRoles(uri, model);
    await storeSecrets(ctx, env.id, last.secrets);
  }
  // What no SQL of Arbor's can repair (its message says who can), and the objects to hand over by hand.
  const remaining: Deviation[] = [...last.remaining.filter(needsSomeoneElse).map((d) => ({ kind: d.kind, message: d.message, manual: true })), ...(await lendAdmin(uri, manual))];
  const unknown: string[] = [];
  const fresh = new Set(result.secrets.map((x) => x.role));
  for (const r of loginRoles(model)) {
    if (r.role === platform || fresh.has(r.role)) continue;
    if (!(await storedPassword(ctx, env.id, r.role))) unknown.push(r.role);
  }
  // On a branch Arbor owns, the databases the app does not declare (neondb) are closed to its roles.
  const closed = env.spec.mode === 'import' ? [] : await closeUndeclaredDatabases(s, uri);
  if (env.spec.mode === 'import') {
    // Login roles that were on the branch before Arbor: their passwords are someone else's.
    // Left as they are, and listed; an admin takes one over by rotating it explicitly.
    const kept = unknown.map((role) => ({
      kind: 'existing-login-role',
      manual: true,
      message: `login role ${role} existed on the branch before the import; Arbor left its password as it is and knows none for it. Once nothing else uses it, take it over with POST …/users/rotate {"role": "${role}"}`,
    }));
    await s.saveNeon({ ...s.env.neon, deviations: [...kept, ...remaining], pendingChanges: [] });
  } else {
    if (unknown.length) await rotateOnBranch(ctx, s.api, env, platform, unknown, s.uriCache);
    if (remaining.length || s.env.neon.deviations?.length) await s.saveNeon({ ...s.env.neon, deviations: remaining });
  }
  const done = [result.changed ? `${result.operations.length} change(s)` : 'nothing to change', ...(handed.length ? [`handed to db_<db>_admin: ${handed.join(', ')}`] : []), ...dropped, ...closed];
  return done.join('; ');
}

type Deviation = NonNullable<EnvironmentNeon['deviations']>[number];

/**
 * A role of the hierarchy whose attributes only its creator (or a superuser) can change: no SQL
 * of Arbor's repairs it, the message says who can. (Memberships Arbor cannot revoke are not
 * listed: on PostgreSQL 16+ every role made in SQL has one, its creator's ADMIN OPTION.)
 */
const needsSomeoneElse = (d: { kind: string; operations: unknown[] }) => !d.operations.length && d.kind === 'role-attributes';

/**
 * An import before confirmation: what differs from the hierarchy, and what confirming will
 * change (the role plan's operations, the ownership moves, the migrations still to run), saved
 * for the environment's view. Nothing is changed on the branch.
 */
async function checkImport(s: StepContext, uri: string): Promise<string> {
  const { env, model, app } = s;
  const names = roleNames(model.prefix);
  const result = await checkRoles(uri, model);
  const deviations: Deviation[] = result.deviations.map((d) => ({ kind: d.kind, message: d.message, ...(needsSomeoneElse({ kind: d.kind, operations: d.repair }) ? { manual: true } : {}) }));
  const changes = result.deviations.flatMap((d) =>
    d.kind === 'wrong-owner' ? [`${d.message.replace(/^database (\S+) is owned by (\S+), not (\S+)$/, 'make $3 the owner of database $1 (now $2), through Neon\'s database API')}`] : d.repair,
  );
  const existing = new Set((await s.api.listProjectBranchDatabases(env.neon.projectId!, env.neon.branchId!)).data.databases.map((d) => d.name));
  for (const database of model.databases) {
    const files = app.migrations[database.name] ?? [];
    if (!existing.has(database.name)) {
      if (files.length) changes.push(`run ${files.length} migration(s) on the new database ${database.name} as ${names.dbAdmin(database.name)}`);
      continue;
    }
    const handover = describeHandover(database.name, names.dbAdmin(database.name), await ownedElsewhere(await platformUri(s, database.name), names.dbAdmin(database.name)));
    deviations.push(...handover.deviations);
    changes.push(...handover.changes);
    if (!files.length) continue;
    const { version, pending } = await pendingMigrations(await platformUri(s, database.name), { files }, { source: database.migrationsSource, naming: database.migrationsNaming });
    if (pending.length) changes.push(`run ${pending.length} migration(s) on ${database.name} as ${names.dbAdmin(database.name)} (${pending.join(', ')}; schema_migrations is at ${version === null ? 'no version yet' : `version ${version}`})`);
  }
  await s.saveNeon({ ...env.neon, deviations, pendingChanges: changes });
  return changes.length ? `${deviations.length} deviation(s), ${changes.length} change(s) waiting for confirmation (POST …/confirm-import)` : 'matches the hierarchy';
}

/**
 * The failed apply ran its role creations in the same transaction as the owner change, so
 * db_<db>_admin may not exist yet: made here (login, its password stored; the next apply aligns
 * its attributes and grants), so that Neon can hand it the database.
 */
async function ensureLoginRole(s: StepContext, uri: string, role: string): Promise<void> {
  const session = await openSession(uri, newRoundTrips());
  try {
    if ((await session.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [role])).rowCount) return;
    const password = generatePassword();
    await session.batch(
      `CREATE ROLE ${quoteIdent(role)} WITH NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS LOGIN PASSWORD ${quoteLiteral(password)};\n` +
        `GRANT ${quoteIdent(role)} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE;`,
    );
    await storeSecrets(s.ctx, s.env.id, [{ role, password }]);
  } finally {
    await session.end();
  }
}

/** Moves each model database not owned by its db_<db>_admin to it through Neon's API; true if any moved. */
async function reownImportedDatabases(s: StepContext, uri: string): Promise<boolean> {
  const names = roleNames(s.model.prefix);
  const session = await openSession(uri, newRoundTrips());
  let owners: { datname: string; owner: string }[];
  try {
    owners = (await session.query<{ datname: string; owner: string }>('SELECT datname, pg_catalog.pg_get_userbyid(datdba) AS owner FROM pg_catalog.pg_database')).rows;
  } finally {
    await session.end();
  }
  let moved = false;
  for (const database of s.model.databases) {
    const current = owners.find((o) => o.datname === database.name);
    const wanted = names.dbAdmin(database.name);
    if (!current || current.owner === wanted) continue;
    await ensureLoginRole(s, uri, wanted);
    try {
      await s.api.updateProjectBranchDatabase(s.env.neon.projectId!, s.env.neon.branchId!, database.name, { database: { owner_name: wanted } });
      await awaitOperations(s.api, s.env.neon.projectId!);
    } catch (error) {
      throw new Error(
        `could not make ${wanted} the owner of database ${database.name} (owned by ${current.owner}) through Neon's API: ${neonMessage(error)}. ` +
          `Change the owner yourself, then retry: in the Neon console (branch ${s.env.neon.branchId} → Roles & Databases → ${database.name} → owner ${wanted}), ` +
          `or with Neon's API: PATCH /projects/${s.env.neon.projectId}/branches/${s.env.neon.branchId}/databases/${database.name} {"database": {"owner_name": "${wanted}"}}`,
        { cause: error },
      );
    }
    moved = true;
  }
  return moved;
}

/** Retention, compute size and suspend timeout, when they differ from Neon's. */
export async function applySettings(s: StepContext): Promise<string> {
  const { api, env } = s;
  if (env.spec.mode === 'import') return 'imported: left as it is';
  const settings = env.spec.settings;
  const changes: string[] = [];
  // Retention is the project's: only the environment that created the project sets it (branches share it).
  const project = env.spec.mode === 'new-project' ? (await api.getProject(env.neon.projectId!)).data.project : undefined;
  if (project && settings.historyRetentionSeconds !== undefined && project.history_retention_seconds !== settings.historyRetentionSeconds) {
    await api.updateProject(env.neon.projectId!, { project: { history_retention_seconds: settings.historyRetentionSeconds } });
    changes.push('history retention');
  }
  // An endpoint this run created with the spec's settings is not read back.
  const want = endpointSettings(env);
  const endpoint = s.freshEndpoint ? want : (await api.getProjectEndpoint(env.neon.projectId!, env.neon.endpointId!)).data.endpoint;
  if (endpoint.autoscaling_limit_min_cu !== want.autoscaling_limit_min_cu || endpoint.autoscaling_limit_max_cu !== want.autoscaling_limit_max_cu || endpoint.suspend_timeout_seconds !== want.suspend_timeout_seconds) {
    await awaitOperations(api, env.neon.projectId!);
    await api.updateProjectEndpoint(env.neon.projectId!, env.neon.endpointId!, { endpoint: want });
    changes.push('compute');
  }
  if (changes.length) await awaitOperations(api, env.neon.projectId!);
  return changes.length ? `updated ${changes.join(', ')}` : 'up to date';
}

/** Each database's migrations, run as its `db_<db>_admin`. */
export async function runMigrations(s: StepContext): Promise<string> {
  const { ctx, env, app, model } = s;
  if (env.spec.mode === 'import' && !env.spec.fixRoles) return 'imported: migrations run once the listed changes are confirmed';
  const names = roleNames(model.prefix);
  const applied: string[] = [];
  for (const database of model.databases) {
    // A preview runs its pull request's migrations; every other environment the app's.
    const files = (env.spec.migrations ?? app.migrations)[database.name] ?? [];
    if (!files.length) continue;
    // Objects db_<db>_admin does not own yet (schema_migrations among them, often) would fail the
    // migrations half way: the deviation says what to run first.
    const blocked = (env.neon.deviations ?? []).find((d) => d.kind === 'foreign-owned-objects' && d.database === database.name);
    if (blocked) throw new Permanent(`migrations of ${database.name} wait: ${blocked.message}`);
    const role = names.dbAdmin(database.name);
    const password = await storedPassword(ctx, env.id, role);
    if (!password) throw new Error(`no password known for ${role}`);
    const uri = await branchUri(s.api, env, names.platform, role, password, database.name, s.uriCache);
    const result = await migrate(uri, { files }, { source: database.migrationsSource, naming: database.migrationsNaming }).catch((error) => {
      throw error instanceof MigrationError ? withSource(error, files.find((f) => f.file === error.file)?.sql ?? '') : error;
    });
    if (result.applied.length) applied.push(`${database.name}: ${result.applied.map((a) => a.file).join(', ')}`);
  }
  return applied.length ? applied.join('; ') : 'nothing to apply';
}

/** Removes what Arbor created: the project it made, or the branch it made; never an import. */
export async function deleteNeonResources(s: StepContext): Promise<string> {
  const { api, env } = s;
  if (env.neon.createdProject && env.neon.projectId) {
    await ignoreNotFound(api.deleteProject(env.neon.projectId));
    return `deleted project ${env.neon.projectId}`;
  }
  if ((env.neon.createdBranch && env.neon.branchId) || env.neon.masking || env.neon.resetMasking) {
    await awaitOperations(api, env.neon.projectId!).catch(() => {});
    if (env.neon.createdBranch && env.neon.branchId) {
      await ignoreNotFound(api.deleteProjectBranch({ projectId: env.neon.projectId!, branchId: env.neon.branchId }));
      // Neon's DELETE only starts the deletion: its operations can still fail (one raced it, e.g. a
      // password reset of a rotation the deletion overtook), leaving the branch. The row (and with
      // it the record of the branch) goes only once the branch is gone; until then this step fails
      // and is retried, the environment still 'deleting'.
      await awaitOperations(api, env.neon.projectId!);
      if (await branchExists(api, env.neon.projectId!, env.neon.branchId)) {
        throw new Error(`Neon still has branch ${env.neon.branchId} after deleting it (the deletion's operations did not remove it); deleting it again`);
      }
    }
    // The states restores preserved (the branch's parents since), then the branch a masked
    // preview's reset under way masks on, then the branch a masked preview's data was masked on
    // (its parent): deleted after it.
    const left: string[] = [];
    const after = [...(env.neon.preserved ?? [])]
      .reverse()
      .concat(env.neon.resetMasking ? [env.neon.resetMasking.branchId] : [])
      .concat(env.neon.masking ? [env.neon.masking.branchId] : []);
    for (const id of after) {
      await awaitOperations(api, env.neon.projectId!).catch(() => {});
      try {
        await ignoreNotFound(api.deleteProjectBranch({ projectId: env.neon.projectId!, branchId: id }));
      } catch (error) {
        left.push(`${id} (${neonMessage(error)})`);
      }
    }
    return `deleted branch ${env.neon.branchId}${after.length ? ` and ${after.length - left.length} branch(es) restores preserved or masking used` : ''}${left.length ? `; left ${left.join(', ')}` : ''}`;
  }
  return 'nothing Arbor created';
}

async function branchExists(api: NeonApi, projectId: string, branchId: string): Promise<boolean> {
  try {
    await api.getProjectBranch(projectId, branchId);
    return true;
  } catch (error) {
    if (neonStatus(error) === 404) return false;
    throw error;
  }
}
