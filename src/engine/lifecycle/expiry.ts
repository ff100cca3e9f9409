/**
 * @module Branch expiry (`expires_at`): Neon's rules for setting it, its `ttl_interval_seconds`,
 * and the round that deletes expired branches through the same path as DELETE
 * (branch-deletion.ts). The rounds are timed by History (history/history.ts), which the engine
 * hands `expireBranches`.
 */
import type { Engine } from '../engine.ts';
import { scheduleBranchDeletion } from './branch-deletion.ts';
import { badRequest } from '../errors.ts';

const MAX_EXPIRY_MS = 30 * 86_400_000;

/** Neon's `ttl_interval_seconds`: from setting `expires_at` to it; a reset restarts it. */
export const ttlSeconds = (expiresAt: string) => Math.max(1, Math.round((Date.parse(expiresAt) - Date.now()) / 1000));

export function checkExpiry(expiresAt: string, branch: { default: boolean; protected: boolean }, hasChildren: boolean): void {
  const when = Date.parse(expiresAt);
  if (when <= Date.now()) throw badRequest('expires_at must be in the future');
  if (when - Date.now() > MAX_EXPIRY_MS) throw badRequest('expires_at must be at most 30 days from now');
  if (branch.default) throw badRequest('expires_at cannot be set on the default branch');
  if (branch.protected) throw badRequest('expires_at cannot be set on a protected branch');
  if (hasChildren) throw badRequest('expires_at cannot be set on a branch that has child branches');
}

/** Deletes branches whose `expires_at` has passed, through the same path as DELETE. */
export function expireBranches(engine: Engine): void {
  const now = Date.now();
  for (const branch of [...engine.data.branches]) {
    if (!branch.expires_at || Date.parse(branch.expires_at) > now || branch.current_state !== 'ready') continue;
    if (engine.data.branches.some((b) => b.parent_id === branch.id)) continue;
    try {
      engine.assertUnlocked(branch.project_id);
    } catch {
      continue; // the project is busy; next round
    }
    engine.log.info(`branch ${branch.id} expired at ${branch.expires_at}; deleting it`);
    scheduleBranchDeletion(engine, branch);
  }
}
