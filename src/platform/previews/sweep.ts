/**
 * @module Nothing lingers: Neon branches named like previews (`preview/<app>/pr-<n>`, as
 * previews.ts names them) that no environment holds — a platform that crashed between creating a
 * branch and recording it, an environment row removed by hand, a store restored from an older
 * backup — are deleted once they are older than a grace period, each deletion in the audit log.
 * Only projects some environment of this platform uses are looked at, only branches with an
 * expiry (Arbor gives every preview branch one) or a masked preview's `-masking` branch (or
 * `-masking-<reset time>`, made by a reset; no expiry: it is the preview branch's parent), never a branch an environment holds by id or is about
 * to hold by name. The reconciler runs it periodically.
 */
import { eq } from 'drizzle-orm';
import { clientFor } from '../accounts/accounts.ts';
import { audit } from '../audit.ts';
import type { Actor, Context } from '../context.ts';
import { ignoreNotFound } from '../neon/client.ts';
import { accounts, environments } from '../store/schema.ts';
import { maskingBranchName, resetMaskingBranchName } from './masking.ts';

const SWEEP_ACTOR: Actor = { name: 'preview-sweep', role: 'member' };
/**
 * A preview's branch, or a branch a masked preview was masked on (`-masking`, or `-masking-<reset
 * time>` for a reset; no expiry: it is a parent).
 */
const PREVIEW_BRANCH = /^preview\/([a-z][a-z0-9-]*)\/pr-([0-9]{1,9})(-masking(?:-[0-9a-z]+)?)?$/;
/** A branch younger than this is left alone (its environment may be recording it right now). */
export const SWEEP_GRACE_MS = 3600_000;

export async function sweepPreviewBranches(ctx: Context, options: { graceMs?: number } = {}): Promise<{ deleted: { account: string; projectId: string; branchId: string; name: string }[] }> {
  const grace = options.graceMs ?? SWEEP_GRACE_MS;
  const deleted: { account: string; projectId: string; branchId: string; name: string }[] = [];
  for (const account of await ctx.db.select().from(accounts)) {
    const envs = await ctx.db.select({ neon: environments.neon, spec: environments.spec }).from(environments).where(eq(environments.accountId, account.id));
    const projects = new Set(envs.map((e) => e.neon.projectId).filter((p): p is string => !!p));
    if (!projects.size) continue;
    const heldIds = new Set(envs.flatMap((e) => [e.neon.branchId, e.neon.masking?.branchId, e.neon.resetMasking?.branchId]).filter(Boolean));
    const heldNames = new Set(
      envs.flatMap((e) => {
        if (!e.spec.branchName) return [];
        // A reset asked for may be making its masking branch right now.
        const resetAt = (e.spec as { resetRequestedAt?: string }).resetRequestedAt;
        return [e.spec.branchName, maskingBranchName(e.spec.branchName), ...(resetAt ? [resetMaskingBranchName(e.spec.branchName, resetAt)] : [])];
      }),
    );
    const api = clientFor(ctx, account);
    for (const projectId of projects) {
      let branches;
      try {
        branches = (await api.listProjectBranches({ projectId })).data.branches;
      } catch (error) {
        ctx.log.warn(`preview sweep: cannot list the branches of project ${projectId} (account ${account.name}): ${(error as Error).message}`);
        continue;
      }
      for (const branch of branches) {
        const match = PREVIEW_BRANCH.exec(branch.name);
        if (!match || (!branch.expires_at && !match[3]) || heldIds.has(branch.id) || heldNames.has(branch.name)) continue;
        if (Date.now() - Date.parse(branch.created_at) < grace) continue;
        try {
          await ignoreNotFound(api.deleteProjectBranch({ projectId, branchId: branch.id }));
        } catch (error) {
          // e.g. someone branched from it: Neon refuses; it stays, and is tried again next time.
          ctx.log.warn(`preview sweep: cannot delete branch ${branch.name} (${branch.id}) of project ${projectId}: ${(error as Error).message}`);
          continue;
        }
        deleted.push({ account: account.name, projectId, branchId: branch.id, name: branch.name });
        await audit(ctx, SWEEP_ACTOR, 'preview.sweep', `${match[1]}/pr:${match[2]}`, { account: account.name, projectId, branchId: branch.id, branch: branch.name, reason: 'no environment holds this preview branch' });
        ctx.log.info(`preview sweep: deleted branch ${branch.name} (${branch.id}) of project ${projectId}: no environment holds it`);
      }
    }
  }
  return { deleted };
}
