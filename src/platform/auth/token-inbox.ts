/**
 * @module Token requests through ARBOR_HOME: `arbor tokens create` while the platform runs on the
 * embedded store (one process only) leaves the token's hash in `token-requests/`; the platform
 * picks it up. Anyone who can write ARBOR_HOME can already read the master key, so this grants
 * nothing new; the token itself never touches the disk.
 */
import { mkdirSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../context.ts';
import { apiTokens, type UserRole } from '../store/schema.ts';

export interface TokenRequest {
  name: string;
  role: UserRole;
  tokenHash: string;
  last4: string;
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
    await ctx.db.insert(apiTokens).values({ name: request.name, role: request.role, tokenHash: request.tokenHash, last4: request.last4, createdBy: 'cli' }).onConflictDoNothing();
    await fs.rm(path);
    count++;
  }
  return count;
}
