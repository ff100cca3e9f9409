/**
 * @module Users, sessions and API tokens. Passwords are scrypt-hashed; session cookies and tokens
 * are random and stored as sha256 only.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { and, eq, gt, sql } from 'drizzle-orm';
import type { Actor, Context } from '../context.ts';
import { PlatformError, conflict, invalid } from '../errors.ts';
import { last4, sha256 } from '../secrets.ts';
import { passwordMatches, startLoginAttempt } from './login-guard.ts';
import { apiTokens, sessions, users, type UserRole } from '../store/schema.ts';

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
  return ctx.db.select({ name: users.name, role: users.role, createdAt: users.createdAt }).from(users).orderBy(users.id);
}

/** Checks a login; returns a new session cookie value. */
export async function login(ctx: Context, name: string, password: string, address = 'unknown'): Promise<{ session: string; actor: Actor }> {
  // Rate-limited per name and per address (429 with Retry-After); see login-guard.ts.
  const attempt = startLoginAttempt(ctx, name, address);
  const [user] = await ctx.db.select().from(users).where(eq(users.name, name));
  // An unknown name costs the same scrypt (against a dummy hash): timing does not tell which names exist.
  const matches = await passwordMatches(password, user?.passwordHash);
  if (!user || !matches) throw new PlatformError(401, 'unauthorized', 'wrong user name or password');
  attempt.succeeded();
  const session = newSecret(24);
  await ctx.db.insert(sessions).values({ id: sha256(session), userId: user.id, expiresAt: new Date(Date.now() + SESSION_DAYS * 86_400_000) });
  return { session, actor: { name: user.name, role: user.role } };
}

export async function logout(ctx: Context, session: string): Promise<void> {
  await ctx.db.delete(sessions).where(eq(sessions.id, sha256(session)));
}

export async function actorForSession(ctx: Context, session: string): Promise<Actor | null> {
  const rows = await ctx.db
    .select({ name: users.name, role: users.role })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, sha256(session)), gt(sessions.expiresAt, new Date())));
  return rows[0] ?? null;
}

export async function createToken(ctx: Context, name: string, role: UserRole, createdBy: string): Promise<string> {
  const token = TOKEN_PREFIX + newSecret(24);
  await ctx.db.insert(apiTokens).values({ name, role, tokenHash: sha256(token), last4: last4(token), createdBy });
  return token;
}

export async function actorForToken(ctx: Context, token: string): Promise<Actor | null> {
  const [row] = await ctx.db.select().from(apiTokens).where(eq(apiTokens.tokenHash, sha256(token)));
  return row ? { name: `token:${row.name}`, role: row.role } : null;
}

export function requireAdmin(actor: Actor, what: string): void {
  if (actor.role !== 'admin') throw new PlatformError(403, 'forbidden', `${what} needs the admin role; ${actor.name} is a member`);
}
