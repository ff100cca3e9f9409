/**
 * @module Token requests through ARBOR_HOME: `arbor tokens create` while the platform runs on the
 * embedded store (one process only) leaves the token's hash in `token-requests/`; the platform
 * picks it up. Anyone who can write ARBOR_HOME can already read the master key, so this grants
 * nothing new; the token itself never touches the disk.
 */
import { mkdirSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { Context } from '../context.ts';
import { apiTokens, apps, type AppRole } from '../store/schema.ts';

export interface TokenRequest {
  name: string;
  role: AppRole;
  /** The app it is scoped to (by name); absent: instance scope. */
  app?: string;
  /** ISO time. */
  expiresAt: string;
  tokenHash: string;
  last4: string;
}

/** Stores a token made through ARBOR_HOME (no user: it is bounded by its scope and role only). */
export async function insertHomeToken(ctx: Pick<Context, 'db'>, request: TokenRequest): Promise<void> {
  let appId: number | null = null;
  if (request.app !== undefined) {
    const [app] = await ctx.db.select({ id: apps.id }).from(apps).where(eq(apps.name, request.app));
    if (!app) throw new Error(`app ${request.app} not found; the token was not made`);
    appId = app.id;
  }
  await ctx.db
    .insert(apiTokens)
    .values({ name: request.name, role: request.role, appId, tokenHash: request.tokenHash, last4: request.last4, createdBy: 'cli', expiresAt: new Date(request.expiresAt) })
    .onConflictDoNothing();
}

export function inboxDir(home: string): string {
  return join(home, 'token-requests');
}

/** Inserts pending requests and removes their files; returns how many. */
export async function drainTokenInbox(ctx: Context, home: string): Promise<number> {
  const dir = inboxDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let count = 0;
  for (const file of await fs.readdir(dir)) {
    if (!file.endsWith('.json')) continue;
    const path = join(dir, file);
    const request = JSON.parse(await fs.readFile(path, 'utf8')) as TokenRequest;
    try {
      await insertHomeToken(ctx, request);
    } catch (error) {
      // The CLI waits for its file to go and then reads the answer file, if any.
      await fs.writeFile(`${path}.error`, (error as Error).message, { mode: 0o600 });
    }
    await fs.rm(path);
    count++;
  }
  return count;
}
