/**
 * @module Preview environments: one per pull request, `pr:<n>`, branched from the environment the
 * app names. Opening (or pushing to) a pull request creates or updates it with the pull request's
 * migrations — new passwords on the branch, migrations applied — and closing deletes it and its
 * branch. Every preview expires (the app's TTL after its last update) so that nothing lingers.
 */
import { and, eq, lt, sql } from 'drizzle-orm';
import { audit } from '../audit.ts';
import { checkMigrations, findApp, modelOf } from '../apps/apps.ts';
import type { Actor, Context } from '../context.ts';
import { createEnvironment, deleteEnvironment, isPreview } from '../environments/environments.ts';
import { PlatformError, invalid } from '../errors.ts';
import { apps, changed, environments, mergeSpec, type Environment, type StoredMigration } from '../store/schema.ts';

const MIN_TTL = 3600;
const MAX_TTL = 30 * 86400;

export function previewName(number: number): string {
  if (!Number.isInteger(number) || number < 1 || number > 999_999_999) throw invalid('number', `pull request number ${number} must be a whole number from 1`);
  return `pr:${number}`;
}

export async function setPreviewSettings(ctx: Context, actor: Actor, appName: string, input: { parentEnvironment: string | null; ttlSeconds?: number }): Promise<void> {
  const app = await findApp(ctx, appName);
  if (input.parentEnvironment) {
    const [parent] = await ctx.db.select().from(environments).where(and(eq(environments.appId, app.id), eq(environments.name, input.parentEnvironment)));
    if (!parent) throw invalid('parentEnvironment', `app ${app.name} has no environment ${input.parentEnvironment} to branch previews from`);
    if (parent.type === 'preview') throw invalid('parentEnvironment', 'previews cannot branch from another preview');
  }
  const ttl = input.ttlSeconds ?? app.previewTtlSeconds;
  if (!Number.isInteger(ttl) || ttl < MIN_TTL || ttl > MAX_TTL) throw invalid('ttlSeconds', `ttlSeconds must be between ${MIN_TTL} (1 hour) and ${MAX_TTL} (30 days)`);
  await ctx.db.update(apps).set({ previewParent: input.parentEnvironment, previewTtlSeconds: ttl, updatedAt: new Date() }).where(eq(apps.id, app.id));
  await audit(ctx, actor, 'app.previews', app.name, { parentEnvironment: input.parentEnvironment, ttlSeconds: ttl });
}

/** Opens or updates the preview of pull request `number`; returns it and whether it is new. */
export async function openPreview(ctx: Context, actor: Actor, appName: string, number: number, input: { migrations?: Record<string, StoredMigration[]> }, retried = false): Promise<{ environment: Environment; created: boolean }> {
  const app = await findApp(ctx, appName);
  const name = previewName(number);
  if (!app.previewParent) {
    throw new PlatformError(422, 'previews_off', `app ${app.name} names no environment to branch previews from; set one with PATCH /apps/${app.name}/previews {"parentEnvironment": "..."}`);
  }
  if (input.migrations) checkMigrations(modelOf(app), input.migrations);
  const pushedAt = new Date().toISOString();
  const expiresAt = new Date(Date.parse(pushedAt) + app.previewTtlSeconds * 1000).toISOString();
  const [existing] = await ctx.db.select().from(environments).where(and(eq(environments.appId, app.id), eq(environments.name, name)));
  if (existing && !isPreview(existing)) throw notPreview(app.name, existing);
  if (existing && existing.status !== 'deleting') {
    const [environment] = await ctx.db
      .update(environments)
      // Only what a push changes: a settings PATCH (or another push) at the same time keeps its part.
      .set({ spec: mergeSpec({ migrations: input.migrations, expiresAt, pushedAt }), ...changed() })
      .where(eq(environments.id, existing.id))
      .returning();
    await audit(ctx, actor, 'preview.update', `${app.name}/${name}`);
    return { environment, created: false };
  }
  if (existing) throw new PlatformError(409, 'deleting', `the previous preview ${name} is still being deleted; try again in a moment`);
  const environment = await createEnvironment(ctx, actor, app.name, {
    name,
    type: 'preview',
    mode: 'branch-environment',
    parentEnvironment: app.previewParent,
    branchName: `preview/${app.name}/pr-${number}`,
    migrations: input.migrations,
    expiresAt,
    pushedAt,
  }, { preview: true }).catch((error: unknown) => {
    // Another open of this pull request (CI's events come in bursts) created it since the read
    // above: this one is a push to that preview, not a failure.
    if (retried || !(error instanceof PlatformError && error.status === 409 && error.field === 'name')) throw error;
    return undefined;
  });
  if (!environment) return openPreview(ctx, actor, appName, number, input, true);
  return { environment, created: true };
}

/** Closes a pull request's preview: the environment and its branch go. Already gone is done. */
export async function closePreview(ctx: Context, actor: Actor, appName: string, number: number): Promise<boolean> {
  const app = await findApp(ctx, appName);
  const name = previewName(number);
  const [existing] = await ctx.db.select().from(environments).where(and(eq(environments.appId, app.id), eq(environments.name, name)));
  if (!existing) return false;
  if (!isPreview(existing)) throw notPreview(app.name, existing);
  await deleteEnvironment(ctx, actor, app.name, name, undefined, { preview: true });
  return true;
}

/** The previews routes act on previews only: an environment named like one but made otherwise is refused. */
const notPreview = (app: string, env: Environment) =>
  new PlatformError(409, 'not_a_preview', `environment ${app}/${env.name} was not created as a preview; the previews routes only open, update and close previews (delete it with DELETE /apps/${app}/environments/${env.name})`);

export async function listPreviews(ctx: Context, appName: string): Promise<Environment[]> {
  const app = await findApp(ctx, appName);
  return (await ctx.db.select().from(environments).where(and(eq(environments.appId, app.id), eq(environments.type, 'preview')))).filter(isPreview);
}

/** Marks every preview past its expiry for deletion (the reconciler then deletes it). */
export async function expirePreviews(ctx: Context): Promise<number> {
  const expired = await ctx.db
    .update(environments)
    .set({ status: 'deleting', ...changed() })
    .where(and(eq(environments.type, 'preview'), sql`${environments.status} <> 'deleting'`, lt(sql`(${environments.spec}->>'expiresAt')`, new Date().toISOString())))
    .returning();
  for (const env of expired) ctx.log.info(`preview ${env.name} expired; deleting it`);
  return expired.length;
}
