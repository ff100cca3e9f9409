/**
 * @module Who may do what to which app (docs/security.md). A user's role on an app is its
 * membership (`app_members`), or `admin` for an instance admin; a token's is its own role, within
 * its scope (one app or the instance), never more than its creator's role on that app today. An
 * app the caller has no role on answers exactly as an app that does not exist: 404.
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { Actor, Context } from '../context.ts';
import { PlatformError, notFound } from '../errors.ts';
import { appMembers, apps, type App, type AppRole, type Environment } from '../store/schema.ts';

export const APP_ROLES: readonly AppRole[] = ['viewer', 'developer', 'admin'];
const RANK: Record<AppRole, number> = { viewer: 1, developer: 2, admin: 3 };

export function atLeast(role: AppRole | null, need: AppRole): boolean {
  return role !== null && RANK[role] >= RANK[need];
}

function lower(a: AppRole | null, b: AppRole | null): AppRole | null {
  if (a === null || b === null) return null;
  return RANK[a] <= RANK[b] ? a : b;
}

export const isInstanceAdmin = (actor: Actor) => actor.role === 'admin';

/** The user's own role on each app (instance admins: admin on every app, without a membership row). */
async function userRoles(ctx: Context, actor: Actor, appIds?: number[]): Promise<Map<number, AppRole>> {
  const roles = new Map<number, AppRole>();
  if (actor.userId === undefined) {
    // An actor without a user: a token made through ARBOR_HOME (bounded by its own scope and role
    // only), or code acting for an instance admin.
    if (actor.token || actor.role === 'admin') {
      const all = await ctx.db.select({ id: apps.id }).from(apps).where(appIds ? inArray(apps.id, appIds) : undefined);
      for (const a of all) roles.set(a.id, 'admin');
    }
    return roles;
  }
  if (actor.userRole === 'admin' || (actor.userRole === undefined && actor.role === 'admin')) {
    const all = await ctx.db.select({ id: apps.id }).from(apps).where(appIds ? inArray(apps.id, appIds) : undefined);
    for (const a of all) roles.set(a.id, 'admin');
    return roles;
  }
  const rows = await ctx.db
    .select({ appId: appMembers.appId, role: appMembers.role })
    .from(appMembers)
    .where(appIds ? and(eq(appMembers.userId, actor.userId), inArray(appMembers.appId, appIds)) : eq(appMembers.userId, actor.userId));
  for (const r of rows) roles.set(r.appId, r.role);
  return roles;
}

/** The actor's role on every app it may see (app id → role); apps it may not see are absent. */
export async function appRoles(ctx: Context, actor: Actor, appIds?: number[]): Promise<Map<number, AppRole>> {
  const own = await userRoles(ctx, actor, appIds);
  if (!actor.token) return own;
  const { appId, role } = actor.token;
  const result = new Map<number, AppRole>();
  for (const [id, r] of own) {
    if (appId !== null && id !== appId) continue;
    const effective = lower(r, role);
    if (effective) result.set(id, effective);
  }
  return result;
}

export async function appRoleOf(ctx: Context, actor: Actor, app: App): Promise<AppRole | null> {
  return (await appRoles(ctx, actor, [app.id])).get(app.id) ?? null;
}

const ROLE_WORDS: Record<AppRole, string> = { viewer: 'a viewer', developer: 'a developer', admin: 'an admin' };

/**
 * The app, if the actor has at least `need` on it. No role at all: 404, worded as for an app that
 * does not exist. A lower role: 403 saying which role it takes.
 */
export async function authorizeApp(ctx: Context, actor: Actor, appName: string, need: AppRole, what: string): Promise<{ app: App; role: AppRole }> {
  const [app] = await ctx.db.select().from(apps).where(eq(apps.name, appName));
  const role = app ? await appRoleOf(ctx, actor, app) : null;
  if (!app || !role) throw notFound(`app ${appName}`);
  if (!atLeast(role, need)) throw forbiddenRole(actor, app, role, need, what);
  return { app, role };
}

export function forbiddenRole(actor: Actor, app: App, role: AppRole, need: AppRole, what: string): PlatformError {
  return new PlatformError(403, 'forbidden', `${what} needs the ${need} role on app ${app.name}; ${actor.name} is ${ROLE_WORDS[role]} there${need === 'admin' ? ' (ask an app admin)' : ''}`);
}

/** Changing a protected environment takes an app admin; an unprotected one `need` (developer by default). */
export function requireForEnvironment(actor: Actor, app: App, role: AppRole, env: Environment, what: string, need: AppRole = 'developer'): void {
  const wanted: AppRole = env.protected ? 'admin' : need;
  if (!atLeast(role, wanted)) {
    const error = forbiddenRole(actor, app, role, wanted, what);
    if (env.protected) error.message = `environment ${app.name}/${env.name} is protected: ${error.message}`;
    throw error;
  }
}

/**
 * Revealing a password (or anything that carries one: a connection URI, an infra config's values)
 * takes the app's admin role on every environment, previews included (DESIGN.md §3, §7): a
 * developer's environments hold copies of data, and a password outlives the developer's role.
 * Rotating reveals nothing and follows `requireForEnvironment` instead.
 */
export function requireRevealer(actor: Actor, app: App, role: AppRole, what = 'revealing credentials'): void {
  if (!atLeast(role, 'admin')) {
    throw new PlatformError(403, 'forbidden', `${what} needs the app's admin role (app ${app.name}); ${actor.name} is ${ROLE_WORDS[role]} there (ask an app admin)`);
  }
}

/** Apps the actor may see, with its role on each. */
export async function visibleApps(ctx: Context, actor: Actor): Promise<{ app: App; role: AppRole }[]> {
  const roles = await appRoles(ctx, actor);
  if (!roles.size) return [];
  const rows = await ctx.db.select().from(apps).where(inArray(apps.id, [...roles.keys()])).orderBy(apps.id);
  return rows.map((app) => ({ app, role: roles.get(app.id)! }));
}
