/**
 * @module What stands between `POST /auth/login` and password guessing: failed attempts are
 * limited per user name and per client address (10 in 15 minutes, then 429 with Retry-After),
 * and the password check costs the same whether the user exists or not (an unknown name is
 * checked against a dummy scrypt hash), so answers do not tell which names exist.
 *
 * The counts live in the platform process (per store), not in the metadata database: several
 * platform processes on one database each allow the limit. An attempt counts as a failure from
 * the moment it starts (and is taken back when it succeeds), so parallel guesses cannot slip in
 * between the check and the count.
 */
import crypto, { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from '../context.ts';
import { RateLimited } from '../errors.ts';

export const LOGIN_FAILURES_ALLOWED = 10;
export const LOGIN_WINDOW_MS = 15 * 60_000;
/** Keys remembered at most (names or addresses); the oldest are forgotten first. */
const MAX_KEYS = 50_000;

class Window {
  /** Per key: start times of failed (or still running) attempts within the window, oldest first. */
  private readonly attempts = new Map<string, number[]>();

  private live(key: string, now: number): number[] {
    const list = (this.attempts.get(key) ?? []).filter((t) => t > now - LOGIN_WINDOW_MS);
    if (list.length) this.attempts.set(key, list);
    else this.attempts.delete(key);
    return list;
  }

  /** Seconds until the key may try again, or 0. */
  blockedFor(key: string, now: number): number {
    const list = this.live(key, now);
    if (list.length < LOGIN_FAILURES_ALLOWED) return 0;
    return Math.max(1, Math.ceil((list[list.length - LOGIN_FAILURES_ALLOWED] + LOGIN_WINDOW_MS - now) / 1000));
  }

  add(key: string, at: number): void {
    const list = this.live(key, at);
    list.push(at);
    this.attempts.delete(key); // re-inserted last: the map stays ordered by latest use
    this.attempts.set(key, list);
    while (this.attempts.size > MAX_KEYS) this.attempts.delete(this.attempts.keys().next().value as string);
  }

  remove(key: string, at: number): void {
    const list = this.attempts.get(key);
    const i = list?.lastIndexOf(at) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
  }
}

interface Limits {
  names: Window;
  addresses: Window;
}

const limitsByStore = new WeakMap<object, Limits>();

function limitsOf(ctx: Context): Limits {
  let limits = limitsByStore.get(ctx.db);
  if (!limits) limitsByStore.set(ctx.db, (limits = { names: new Window(), addresses: new Window() }));
  return limits;
}

/** A bounded key for any name (names can be as long as a request body). */
const keyOf = (value: string) => (value.length <= 128 ? value : `sha256:${createHash('sha256').update(value).digest('base64')}`);

/** One login attempt: refused with 429 if the name or the address is over the limit; else counted until `succeeded()`. */
export function startLoginAttempt(ctx: Context, rawName: string, rawAddress: string): { succeeded(): void } {
  const { names, addresses } = limitsOf(ctx);
  const name = keyOf(rawName);
  const address = keyOf(rawAddress);
  const now = Date.now();
  const wait = Math.max(names.blockedFor(name, now), addresses.blockedFor(address, now));
  if (wait > 0) throw new RateLimited(`too many failed logins for this user name or from this address; try again in ${wait} s`, wait);
  names.add(name, now);
  addresses.add(address, now);
  return {
    succeeded() {
      names.remove(name, now);
      addresses.remove(address, now);
    },
  };
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
