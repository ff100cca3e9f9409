/**
 * @module Apps: an app model (arbor.yaml as data) plus its migration files, and who belongs to
 * the app. Changing the model re-reconciles the app's environments: an app admin's change reaches
 * every environment; a developer's reaches the unprotected ones at once and the protected ones
 * when an app admin approves it (Encore's infrastructure approval).
 */
import { and, desc, eq, inArray } from 'drizzle-orm';
import { parse as parseYaml } from 'yaml';
import { audit } from '../audit.ts';
import { APP_ROLES } from '../auth/access.ts';
import type { Actor, Context } from '../context.ts';
import { PlatformError, conflict, invalid, notFound } from '../errors.ts';
import { AppModelError, validateAppModel, type AppModel } from '../postgres/app-model.ts';
import { migrationNameProblems } from '../postgres/migrate.ts';
import { appChanges, appMembers, apps, changed, environments, users, type App, type AppChange, type AppRole, type Environment, type StoredMigration } from '../store/schema.ts';

export interface AppInput {
  /** The model as data, or arbor.yaml's text. */
  model: unknown;
  migrations?: Record<string, StoredMigration[]>;
}


/** App names follow the environment-name rules (no pr:<n>): they go into URLs, Neon project and branch names. */
const APP_NAME = /^[a-z][a-z0-9-]{0,39}$/;

function checkAppName(name: string): void {
  if (APP_NAME.test(name)) return;
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
  throw invalid(
    'model.app',
    `app name ${shown} must start with a letter and use a-z, 0-9 and - (at most 40 characters, like environment names). ` +
      'It names Neon projects and branches (<app>-<environment>); the role names PostgreSQL limits to 63 bytes come from the database and service names ' +
      '(db_<database>_admin, svc_<service>), checked on their own',
  );
}

function readModel(input: unknown): AppModel {
  let data = input;
  if (typeof input === 'string') {
    try {
      data = parseYaml(input);
    } catch (error) {
      throw invalid('model', `model is not valid YAML: ${(error as Error).message}`);
    }
  }
  try {
    return validateAppModel(data, 'model');
  } catch (error) {
    if (error instanceof AppModelError) {
      const first = error.problems[0];
      throw new PlatformError(400, 'invalid_input', error.message, first ? `model.${first.path}` : 'model');
    }
    throw error;
  }
}

export function checkMigrations(model: AppModel, migrations: Record<string, StoredMigration[]>): void {
  for (const [database, files] of Object.entries(migrations)) {
    const db = model.databases.find((d) => d.name === database);
    if (!db) throw invalid(`migrations.${database}`, `migrations are given for database ${database}, which the model does not declare`);
    for (const [i, f] of files.entries()) {
      if (typeof f.sql !== 'string') throw invalid(`migrations.${database}[${i}].sql`, 'sql must be a string');
      if (f.file.split('/').some((part) => part === '..' || part === '' || part === '.')) throw invalid(`migrations.${database}[${i}].file`, `migration file "${f.file}" must be a relative path inside the migrations folder`);
    }
    const problems = migrationNameProblems(db, files.map((f) => f.file));
    if (problems.length) throw invalid(`migrations.${database}`, `migrations of database ${database}: ${problems.join('; ')}`);
  }
}

export function modelOf(app: App): AppModel {
  return validateAppModel(app.model, `app ${app.name}`);
}

/** The app as `env` runs it: a protected environment runs the approved model and migrations. */
export function appFor(app: App, env: Pick<Environment, 'protected'>): App {
  return env.protected ? { ...app, model: app.approvedModel, migrations: app.approvedMigrations } : app;
}

const fileNames = (migrations: Record<string, StoredMigration[]>) => Object.fromEntries(Object.entries(migrations).map(([db, files]) => [db, files.map((f) => f.file)]));

/** `role`: the caller's role on the app, when known. */
export function appView(app: App, role?: AppRole) {
  return { name: app.name, ...(role ? { role } : {}), previews: { parentEnvironment: app.previewParent ?? undefined, ttlSeconds: app.previewTtlSeconds }, model: app.model, migrations: fileNames(app.migrations), createdAt: app.createdAt.toISOString(), updatedAt: app.updatedAt.toISOString() };
}

export async function findApp(ctx: Context, name: string): Promise<App> {
  const [app] = await ctx.db.select().from(apps).where(eq(apps.name, name));
  if (!app) throw notFound(`app ${name}`);
  return app;
}

export async function createApp(ctx: Context, actor: Actor, input: AppInput): Promise<App> {
  const model = readModel(input.model);
  checkAppName(model.app);
  const migrations = input.migrations ?? {};
  checkMigrations(model, migrations);
  const [existing] = await ctx.db.select().from(apps).where(eq(apps.name, model.app));
  if (existing) throw conflict(`the app name ${model.app} is taken; choose another (model.app)`, 'model.app');
  const [app] = await ctx.db.insert(apps).values({ name: model.app, model, migrations, approvedModel: model, approvedMigrations: migrations }).returning();
  // Its creator is its admin.
  if (actor.userId !== undefined) await ctx.db.insert(appMembers).values({ appId: app.id, userId: actor.userId, role: 'admin' }).onConflictDoNothing();
  await audit(ctx, actor, 'app.create', app.name);
  return app;
}

/**
 * A new model (and migrations). `approve`: an app admin's change, for every environment. Else a
 * developer's: unprotected environments get it now; for the protected ones it is recorded as the
 * app's pending change (replacing an earlier pending one) until an app admin approves it.
 */
export async function updateApp(ctx: Context, actor: Actor, name: string, input: AppInput, options: { approve: boolean } = { approve: true }): Promise<{ app: App; pending?: AppChange }> {
  const app = await findApp(ctx, name);
  const model = readModel(input.model);
  if (model.app !== name) throw invalid('model.app', `the model names app ${model.app}, but this is app ${name}; apps cannot be renamed`);
  const migrations = input.migrations ?? app.migrations;
  checkMigrations(model, migrations);
  return ctx.db.transaction(async (tx) => {
    const approved = options.approve ? { approvedModel: model, approvedMigrations: migrations } : {};
    const [updated] = await tx.update(apps).set({ model, migrations, ...approved, updatedAt: new Date() }).where(eq(apps.id, app.id)).returning();
    await tx
      .update(appChanges)
      .set({ status: 'superseded', decidedBy: actor.name, decidedAt: new Date() })
      .where(and(eq(appChanges.appId, app.id), eq(appChanges.status, 'pending')));
    let pending: AppChange | undefined;
    if (options.approve) {
      await tx.update(environments).set(changed()).where(eq(environments.appId, app.id));
    } else {
      await tx.update(environments).set(changed()).where(and(eq(environments.appId, app.id), eq(environments.protected, false)));
      const differs = JSON.stringify([model, migrations]) !== JSON.stringify([app.approvedModel, app.approvedMigrations]);
      if (differs) [pending] = await tx.insert(appChanges).values({ appId: app.id, model, migrations, requestedBy: actor.name }).returning();
    }
    return { app: updated, pending };
  }).then(async (result) => {
    await audit(ctx, actor, result.pending ? 'app.update.pending' : 'app.update', name, result.pending ? { change: result.pending.id } : {});
    return result;
  });
}

export function changeView(change: AppChange) {
  return {
    id: change.id,
    status: change.status,
    requestedBy: change.requestedBy,
    decidedBy: change.decidedBy ?? undefined,
    createdAt: change.createdAt.toISOString(),
    decidedAt: change.decidedAt?.toISOString(),
    model: change.model,
    migrations: fileNames(change.migrations),
  };
}

export async function listChanges(ctx: Context, app: App): Promise<AppChange[]> {
  return ctx.db.select().from(appChanges).where(eq(appChanges.appId, app.id)).orderBy(desc(appChanges.id)).limit(100);
}

/**
 * An app admin decides a pending change. Approving makes it what protected environments run (they
 * are reconciled); rejecting leaves them on the model approved before. Both audited.
 */
export async function decideChange(ctx: Context, actor: Actor, app: App, id: number, decision: 'approve' | 'reject'): Promise<AppChange> {
  const [change] = await ctx.db.select().from(appChanges).where(and(eq(appChanges.appId, app.id), eq(appChanges.id, id)));
  if (!change) throw notFound(`change ${id} of app ${app.name}`);
  if (change.status !== 'pending') throw conflict(`change ${id} of app ${app.name} is ${change.status}, not pending`);
  const decided = await ctx.db.transaction(async (tx) => {
    const [row] = await tx
      .update(appChanges)
      .set({ status: decision === 'approve' ? 'approved' : 'rejected', decidedBy: actor.name, decidedAt: new Date() })
      .where(and(eq(appChanges.id, id), eq(appChanges.status, 'pending')))
      .returning();
    if (!row) throw conflict(`change ${id} of app ${app.name} was decided meanwhile`);
    if (decision === 'approve') {
      await tx.update(apps).set({ approvedModel: row.model, approvedMigrations: row.migrations, updatedAt: new Date() }).where(eq(apps.id, app.id));
      await tx.update(environments).set(changed()).where(and(eq(environments.appId, app.id), eq(environments.protected, true)));
    }
    return row;
  });
  await audit(ctx, actor, decision === 'approve' ? 'app.change.approve' : 'app.change.reject', app.name, { change: id, requestedBy: change.requestedBy });
  return decided;
}

export async function listMembers(ctx: Context, app: App) {
  return ctx.db
    .select({ name: users.name, role: appMembers.role, since: appMembers.createdAt })
    .from(appMembers)
    .innerJoin(users, eq(users.id, appMembers.userId))
    .where(eq(appMembers.appId, app.id))
    .orderBy(users.name)
    .then((rows) => rows.map((r) => ({ name: r.name, role: r.role, since: r.since.toISOString() })));
}

/** Adds a user to the app or changes their role (app admins and instance admins). */
export async function setMember(ctx: Context, actor: Actor, app: App, userName: string, role: AppRole) {
  if (!APP_ROLES.includes(role)) throw invalid('role', 'role must be viewer, developer or admin');
  const [user] = await ctx.db.select().from(users).where(eq(users.name, userName));
  if (!user) throw notFound(`user ${userName}`);
  await ctx.db
    .insert(appMembers)
    .values({ appId: app.id, userId: user.id, role })
    .onConflictDoUpdate({ target: [appMembers.appId, appMembers.userId], set: { role } });
  await audit(ctx, actor, 'app.member.set', app.name, { user: userName, role });
  return { name: userName, role };
}

export async function removeMember(ctx: Context, actor: Actor, app: App, userName: string): Promise<void> {
  const [user] = await ctx.db.select().from(users).where(eq(users.name, userName));
  const removed = user ? await ctx.db.delete(appMembers).where(and(eq(appMembers.appId, app.id), eq(appMembers.userId, user.id))).returning() : [];
  if (!removed.length) throw notFound(`member ${userName} of app ${app.name}`);
  await audit(ctx, actor, 'app.member.remove', app.name, { user: userName });
}

/** Protection on or off (app admins): the environment then runs the approved, or the current, model. */
export async function setProtection(ctx: Context, actor: Actor, app: App, env: Environment, value: boolean): Promise<Environment> {
  const [updated] = await ctx.db
    .update(environments)
    .set({ protected: value, ...changed() })
    .where(eq(environments.id, env.id))
    .returning();
  await audit(ctx, actor, value ? 'environment.protect' : 'environment.unprotect', `${app.name}/${env.name}`);
  return updated;
}

export async function listApps(ctx: Context, ids?: number[]): Promise<App[]> {
  return ctx.db.select().from(apps).where(ids ? inArray(apps.id, ids) : undefined).orderBy(apps.id);
}
