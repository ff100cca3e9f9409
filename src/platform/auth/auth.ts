/**
 * @module Users, sessions and API tokens. Passwords are scrypt-hashed; session cookies and tokens
 * are random and stored as sha256 only.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { and, eq, gt, isNull, lt, or, sql } from 'drizzle-orm';
import { audit } from '../audit.ts';
import type { Actor, Context } from '../context.ts';
import { PlatformError, conflict, invalid, notFound } from '../errors.ts';
import { last4, sha256 } from '../secrets.ts';
import { passwordMatches, startLoginAttempt } from './login-guard.ts';
import { apiTokens, apps, sessions, users, type ApiToken, type AppRole, type UserRole } from '../store/schema.ts';
import { APP_ROLES, appRoles, atLeast, authorizeApp, isInstanceAdmin } from './access.ts';

const SESSION_DAYS = 7;
export const TOKEN_PREFIX = 'arbor_pat_';

function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('base64')}$${scryptSync(password, salt, 32).toString('base64')}`;
}

function verifyPassword(password: string, stored: string): boolean {
  const [, salt, hash] = stored.split('$');
  const expected = Buffer.from(hash, 'base64');
  const actual = scryptSync(password, Buffer.from(salt, 'base64'), expected.length);
  return timingSafeEqual(actual, expected);
}

export function newSecret(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}

/** On first start: an `admin` user with a one-time password, returned to be printed once. */
export async function ensureFirstAdmin(ctx: Context): Promise<{ name: string; password: string } | null> {
  const [{ count }] = await ctx.db.select({ count: sql<number>`count(*)::int` }).from(users);
  if (count > 0) return null;
  const password = newSecret();
  // Two processes starting on one new database: only one of them creates (and prints) the admin.
  const inserted = await ctx.db.insert(users).values({ name: 'admin', role: 'admin', passwordHash: hashPassword(password) }).onConflictDoNothing().returning();
  return inserted.length ? { name: 'admin', password } : null;
}

export async function createUser(ctx: Context, name: string, role: UserRole): Promise<{ name: string; role: UserRole; password: string }> {
  if (!/^[a-z][a-z0-9_.-]{0,62}$/.test(name)) throw invalid('name', `user name "${name}" must start with a letter and use a-z, 0-9, _ . - (at most 63)`);
  const existing = await ctx.db.select().from(users).where(eq(users.name, name));
  if (existing.length) throw conflict(`user ${name} already exists`, 'name');
  const password = newSecret();
  await ctx.db.insert(users).values({ name, role, passwordHash: hashPassword(password) });
  return { name, role, password };
}

export async function listUsers(ctx: Context) {
  const rows = await ctx.db.select({ name: users.name, role: users.role, createdAt: users.createdAt }).from(users).orderBy(users.id);
  return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }));
}

/**
 * Removes a user (instance admins only): their sessions, app memberships and API tokens go with
 * them. The last instance admin stays.
 */
export async function removeUser(ctx: Context, actor: Actor, name: string): Promise<void> {
  requireAdmin(actor, 'removing a user');
  const [user] = await ctx.db.select().from(users).where(eq(users.name, name));
  if (!user) throw notFound(`user ${name}`);
  if (user.role === 'admin') {
    const [{ count }] = await ctx.db.select({ count: sql<number>`count(*)::int` }).from(users).where(eq(users.role, 'admin'));
    if (count <= 1) throw conflict(`${name} is the last instance admin; add another admin first`);
  }
  await ctx.db.delete(users).where(eq(users.id, user.id));
  await audit(ctx, actor, 'user.remove', name);
}

/** What GET /me and login answer: who, the instance role, and a token's scope and role. */
export async function actorView(ctx: Context, actor: Actor) {
  if (!actor.token) return { name: actor.name, role: actor.role };
  let scope = 'instance';
  if (actor.token.appId !== null) scope = (await ctx.db.select({ name: apps.name }).from(apps).where(eq(apps.id, actor.token.appId)))[0]?.name ?? 'instance';
  return { name: actor.name, role: actor.role, token: { scope, role: actor.token.role } };
}

/** Checks a login; returns a new session cookie value. */
export async function login(ctx: Context, name: string, password: string, address = 'unknown'): Promise<{ session: string; actor: Actor }> {
  // Rate-limited per name and per address (429 with Retry-After); see login-guard.ts.
  const attempt = await startLoginAttempt(ctx, name, address);
  const [user] = await ctx.db.select().from(users).where(eq(users.name, name));
  // An unknown name costs the same scrypt (against a dummy hash): timing does not tell which names exist.
  const matches = await passwordMatches(password, user?.passwordHash);
  if (!user || !matches) throw new PlatformError(401, 'unauthorized', 'wrong user name or password');
  await attempt.succeeded();
  const session = newSecret(24);
  await ctx.db.insert(sessions).values({ id: sha256(session), userId: user.id, expiresAt: new Date(Date.now() + SESSION_DAYS * 86_400_000) });
  return { session, actor: { name: user.name, role: user.role, userId: user.id, userRole: user.role } };
}

export async function logout(ctx: Context, session: string): Promise<void> {
  await ctx.db.delete(sessions).where(eq(sessions.id, sha256(session)));
}

export async function actorForSession(ctx: Context, session: string): Promise<Actor | null> {
  const rows = await ctx.db
    .select({ name: users.name, role: users.role, userId: users.id })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, sha256(session)), gt(sessions.expiresAt, new Date())));
  const row = rows[0];
  return row ? { name: row.name, role: row.role, userId: row.userId, userRole: row.role } : null;
}

export const DEFAULT_TOKEN_SECONDS = 90 * 86400;
export const MAX_TOKEN_SECONDS = 366 * 86400;
const MIN_TOKEN_SECONDS = 60;

export interface TokenInput {
  name: string;
  /** viewer, developer or admin (`member`: the old name, taken as developer). */
  role: AppRole | 'member';
  /** The one app the token reaches; absent: instance scope. */
  app?: string;
  /** Default 90 days, at most 366. */
  expiresInSeconds?: number;
}

export function tokenRole(role: string): AppRole {
  if (role === 'member') return 'developer';
  if (!(APP_ROLES as string[]).includes(role)) throw invalid('role', `role must be viewer, developer or admin (got ${role})`);
  return role as AppRole;
}

export function tokenExpiry(expiresInSeconds: number | undefined): Date {
  const seconds = expiresInSeconds ?? DEFAULT_TOKEN_SECONDS;
  if (!Number.isInteger(seconds) || seconds < MIN_TOKEN_SECONDS || seconds > MAX_TOKEN_SECONDS) throw invalid('expiresInSeconds', `expiresInSeconds must be a whole number from ${MIN_TOKEN_SECONDS} to ${MAX_TOKEN_SECONDS} (366 days)`);
  return new Date(Date.now() + seconds * 1000);
}

/**
 * A new API token (the secret is returned once, stored as sha256 only). It never reaches more than
 * its creator: an app-scoped token takes at least its role on that app; an instance-scoped admin
 * token, an instance admin. At use, it is still bounded by its creator's role at that moment.
 */
export async function createToken(ctx: Context, actor: Actor, input: TokenInput): Promise<{ token: string; view: ReturnType<typeof tokenView> }> {
  if (typeof input.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9 _.:@-]{0,62}$/.test(input.name)) throw invalid('name', 'token name must be 1 to 63 letters, digits, space or _ . : @ -');
  const role = tokenRole(input.role);
  const expiresAt = tokenExpiry(input.expiresInSeconds);
  if (actor.token && !isInstanceAdmin(actor)) throw new PlatformError(403, 'forbidden', 'API tokens are made by users (log in) or with an instance admin token');
  let appId: number | null = null;
  let appName = 'instance';
  if (input.app !== undefined) {
    const { app } = await authorizeApp(ctx, actor, input.app, role, `a ${role} token for app ${input.app}`);
    appId = app.id;
    appName = app.name;
  } else if (role === 'admin' && !isInstanceAdmin(actor)) {
    throw new PlatformError(403, 'forbidden', `an instance-scoped admin token needs an instance admin; ${actor.name} can make app-scoped tokens (field app)`);
  }
  const token = TOKEN_PREFIX + newSecret(24);
  const [row] = await ctx.db
    .insert(apiTokens)
    .values({ name: input.name, role, appId, userId: actor.userId ?? null, tokenHash: sha256(token), last4: last4(token), createdBy: actor.name, expiresAt })
    .returning();
  await audit(ctx, actor, 'token.create', input.name, { scope: appName, role, expiresAt: expiresAt.toISOString() });
  return { token, view: tokenView(row, appName) };
}

/** A token as lists show it: never the secret, nor its hash. */
export function tokenView(row: ApiToken, scope: string) {
  return {
    id: row.id,
    name: row.name,
    scope,
    role: row.role,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    expired: row.expiresAt.getTime() <= Date.now(),
  };
}

/** Tokens the actor may see and revoke: every token for an instance admin; else its user's own (in a session) and those of apps it is admin of. */
async function manageableTokens(ctx: Context, actor: Actor): Promise<{ row: ApiToken; scope: string }[]> {
  const rows = await ctx.db.select({ token: apiTokens, app: apps.name }).from(apiTokens).leftJoin(apps, eq(apps.id, apiTokens.appId)).orderBy(apiTokens.id);
  const all = rows.map((r) => ({ row: r.token, scope: r.app ?? 'instance' }));
  if (isInstanceAdmin(actor)) return all;
  const roles = await appRoles(ctx, actor);
  return all.filter(({ row }) => (!actor.token && actor.userId !== undefined && row.userId === actor.userId) || (row.appId !== null && atLeast(roles.get(row.appId) ?? null, 'admin')));
}

export async function listTokens(ctx: Context, actor: Actor) {
  return (await manageableTokens(ctx, actor)).map(({ row, scope }) => tokenView(row, scope));
}

export async function revokeToken(ctx: Context, actor: Actor, id: number): Promise<void> {
  const found = (await manageableTokens(ctx, actor)).find(({ row }) => row.id === id);
  if (!found) throw notFound(`API token ${id}`);
  // Two revocations at once both find it above; only the one whose delete took the row revoked it
  // (and is audited); the other is told it is gone.
  const deleted = await ctx.db.delete(apiTokens).where(eq(apiTokens.id, id)).returning({ id: apiTokens.id });
  if (!deleted.length) throw notFound(`API token ${id}`);
  await audit(ctx, actor, 'token.revoke', found.row.name, { id, scope: found.scope, role: found.row.role });
}

/** The token's actor; null for an unknown, revoked or expired token, or one whose user was removed. */
export async function actorForToken(ctx: Context, token: string): Promise<Actor | null> {
  const now = new Date();
  const [found] = await ctx.db
    .select({ token: apiTokens, userRole: users.role })
    .from(apiTokens)
    .leftJoin(users, eq(users.id, apiTokens.userId))
    .where(and(eq(apiTokens.tokenHash, sha256(token)), gt(apiTokens.expiresAt, now)));
  if (!found) return null;
  const row = found.token;
  if (row.userId !== null && !found.userRole) return null;
  // Last use, at most once a minute per token: the row just read says whether it is due (no
  // write, nor query, on the other requests); the condition stays for processes racing to it.
  const minuteAgo = new Date(now.getTime() - 60_000);
  if (!row.lastUsedAt || row.lastUsedAt < minuteAgo) {
    await ctx.db
      .update(apiTokens)
      .set({ lastUsedAt: now })
      .where(and(eq(apiTokens.id, row.id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, minuteAgo))));
  }
  const userRole = found.userRole ?? undefined;
  const instanceAdmin = row.appId === null && row.role === 'admin' && (row.userId === null || userRole === 'admin');
  return {
    name: `token:${row.name}`,
    role: instanceAdmin ? 'admin' : 'member',
    ...(row.userId !== null ? { userId: row.userId, userRole } : {}),
    token: { id: row.id, appId: row.appId, role: row.role },
  };
}

/** Instance admins only (accounts, users). */
export function requireAdmin(actor: Actor, what: string): void {
  if (actor.role !== 'admin') throw new PlatformError(403, 'forbidden', `${what} needs the admin role; ${actor.name} is a member`);
}
