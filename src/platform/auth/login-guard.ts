/**
 * @module What stands between `POST /auth/login` and password guessing: failed attempts are
 * limited per user name and per client address (10 in 15 minutes, then 429 with Retry-After),
 * and the password check costs the same whether the user exists or not (an unknown name is
 * checked against a dummy scrypt hash), so answers do not tell which names exist.
 *
 * The counts live in the metadata store (table `login_attempts`), so every platform process on
 * one database counts the same failures: guesses spread over several processes meet one limit.
 * An attempt counts as a failure from the moment it starts (its rows are written before the
 * count is read, and taken back when it succeeds), so parallel guesses, in one process or many,
 * cannot slip in between the check and the count: when they race, they are refused, not let in.
 * Keys are hashed: the store keeps no user name or password typed at the login form.
 */
import crypto, { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, desc, eq, gt, inArray, lt, ne, sql } from 'drizzle-orm';
import type { Context } from '../context.ts';
import { RateLimited } from '../errors.ts';
import { loginAttempts } from '../store/schema.ts';

export const LOGIN_FAILURES_ALLOWED = 10;
export const LOGIN_WINDOW_MS = 15 * 60_000;
const WINDOW = sql.raw(`interval '${LOGIN_WINDOW_MS / 1000} seconds'`);

const keyOf = (kind: 'name' | 'address', value: string) => createHash('sha256').update(`${kind}:${value}`).digest('base64');

/** Seconds until `key` may try again (its 10th latest failure but `mine` leaves the window), or 0. */
async function blockedFor(ctx: Context, key: string, mine: number): Promise<number> {
  const [tenth] = await ctx.db
    .select({ wait: sql<number>`ceil(extract(epoch from (${loginAttempts.at} + ${WINDOW} - now())))::int` })
    .from(loginAttempts)
    .where(and(eq(loginAttempts.key, key), ne(loginAttempts.id, mine), gt(loginAttempts.at, sql`now() - ${WINDOW}`)))
    .orderBy(desc(loginAttempts.at), desc(loginAttempts.id))
    .offset(LOGIN_FAILURES_ALLOWED - 1)
    .limit(1);
  return tenth ? Math.max(1, tenth.wait) : 0;
}

/** One login attempt: refused with 429 if the name or the address is over the limit; else counted until `succeeded()`. */
export async function startLoginAttempt(ctx: Context, name: string, address: string): Promise<{ succeeded(): Promise<void> }> {
  const keys = [keyOf('name', name), keyOf('address', address)];
  // What has left the window is of no use to anyone (the index on `at` keeps this cheap).
  await ctx.db.delete(loginAttempts).where(lt(loginAttempts.at, sql`now() - ${WINDOW}`));
  const rows = await ctx.db.insert(loginAttempts).values(keys.map((key) => ({ key }))).returning({ id: loginAttempts.id });
  const ids = rows.map((r) => r.id);
  const wait = Math.max(...(await Promise.all(keys.map((key, i) => blockedFor(ctx, key, ids[i])))));
  const takeBack = async () => {
    await ctx.db.delete(loginAttempts).where(inArray(loginAttempts.id, ids));
  };
  if (wait > 0) {
    await takeBack(); // a refused attempt is not a failure: it does not push the wait further
    throw new RateLimited(`too many failed logins for this user name or from this address; try again in ${wait} s`, wait);
  }
  return { succeeded: takeBack };
}

function scrypt(password: string, salt: Buffer, length: number): Promise<Buffer> {
  // Through the module object (not a binding taken at import): tests count the calls.
  return new Promise((resolve, reject) => crypto.scrypt(password, salt, length, (error, key) => (error ? reject(error) : resolve(key))));
}

let dummyHash: string | undefined;

/** A hash in auth.ts's format (`scrypt$salt$hash`, 32 bytes, Node's default cost) that no password matches. */
function dummy(): string {
  dummyHash ??= `scrypt$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`;
  return dummyHash;
}

/**
 * Whether `password` matches the stored `scrypt$salt$hash`; with no stored hash (no such user)
 * the same scrypt work is done against a dummy hash, and the answer is false.
 */
export async function passwordMatches(password: string, stored: string | undefined): Promise<boolean> {
  const [kind, salt, hash] = (stored ?? dummy()).split('$');
  const expected = Buffer.from(hash ?? '', 'base64');
  const usable = kind === 'scrypt' && salt && expected.length >= 16;
  const actual = await scrypt(password, Buffer.from(usable ? salt : dummy().split('$')[1], 'base64'), usable ? expected.length : 32);
  return stored !== undefined && Boolean(usable) && timingSafeEqual(actual, expected);
}
