/**
 * @module Apps: an app model (arbor.yaml as data) plus its migration files. Changing the model
 * re-reconciles every environment of the app.
 */
import { eq } from 'drizzle-orm';
import { parse as parseYaml } from 'yaml';
import { audit } from '../audit.ts';
import type { Actor, Context } from '../context.ts';
import { PlatformError, conflict, invalid, notFound } from '../errors.ts';
import { AppModelError, validateAppModel, type AppModel } from '../postgres/app-model.ts';
import { apps, changed, environments, type App, type StoredMigration } from '../store/schema.ts';

export interface AppInput {
  /** The model as data, or arbor.yaml's text. */
  model: unknown;
  migrations?: Record<string, StoredMigration[]>;
}

const MIGRATION_FILE = /^(\d+)_[A-Za-z0-9_.-]+\.up\.sql$/;

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
    if (!model.databases.some((d) => d.name === database)) throw invalid(`migrations.${database}`, `migrations are given for database ${database}, which the model does not declare`);
    for (const [i, f] of files.entries()) {
      if (!MIGRATION_FILE.test(f.file)) throw invalid(`migrations.${database}[${i}].file`, `migration file "${f.file}" must be named N_name.up.sql`);
      if (typeof f.sql !== 'string') throw invalid(`migrations.${database}[${i}].sql`, 'sql must be a string');
    }
  }
}

export function modelOf(app: App): AppModel {
  return validateAppModel(app.model, `app ${app.name}`);
}

export function appView(app: App) {
  return { name: app.name, previews: { parentEnvironment: app.previewParent ?? undefined, ttlSeconds: app.previewTtlSeconds }, model: app.model, migrations: Object.fromEntries(Object.entries(app.migrations).map(([db, files]) => [db, files.map((f) => f.file)])), createdAt: app.createdAt.toISOString(), updatedAt: app.updatedAt.toISOString() };
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
  if (existing) throw conflict(`app ${model.app} already exists; update it with PATCH /apps/${model.app}`, 'model.app');
  const [app] = await ctx.db.insert(apps).values({ name: model.app, model, migrations }).returning();
  await audit(ctx, actor, 'app.create', app.name);
  return app;
}

export async function updateApp(ctx: Context, actor: Actor, name: string, input: AppInput): Promise<App> {
  const app = await findApp(ctx, name);
  const model = readModel(input.model);
  if (model.app !== name) throw invalid('model.app', `the model names app ${model.app}, but this is app ${name}; apps cannot be renamed`);
  const migrations = input.migrations ?? app.migrations;
  checkMigrations(model, migrations);
  const [updated] = await ctx.db.update(apps).set({ model, migrations, updatedAt: new Date() }).where(eq(apps.id, app.id)).returning();
  await ctx.db
    .update(environments)
    .set(changed())
    .where(eq(environments.appId, app.id));
  await audit(ctx, actor, 'app.update', name);
  return updated;
}

export async function listApps(ctx: Context): Promise<App[]> {
  return ctx.db.select().from(apps).orderBy(apps.id);
}
