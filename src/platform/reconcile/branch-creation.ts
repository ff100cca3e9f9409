/**
 * @module How an environment's branch was made, as an Arbor engine tells it (its extension route
 * `GET …/x-arbor/projects/{id}/branches/{id}/creation`, engine/http/branch-creation.ts). A branch
 * the engine copied in full instead of promoting a spare took seconds instead of well under one;
 * the environment's page says so and why (a resized parent whose spare could not be made, spares
 * turned off, …). Neon's cloud has no such route (404): nothing is said there.
 */
import { neonStatus, type NeonApi } from '../neon/client.ts';
import type { Environment, EnvironmentNeon } from '../store/schema.ts';

type BranchCreation = NonNullable<EnvironmentNeon['branchCreation']>;

/** Asks once per branch Arbor created (after its operations finished); never fails the step. */
export async function noteBranchCreation(s: { api: NeonApi; env: Environment; saveNeon(neon: EnvironmentNeon): Promise<void> }): Promise<void> {
  const { projectId, branchId, createdBranch, branchCreation } = s.env.neon;
  if (!createdBranch || !projectId || !branchId || branchCreation?.branchId === branchId) return;
  let note: BranchCreation = { branchId };
  try {
    const { data } = await s.api.instance.get(`/x-arbor/projects/${encodeURIComponent(projectId)}/branches/${encodeURIComponent(branchId)}/creation`);
    const told = data?.creation;
    if (told?.strategy === 'spare' || told?.strategy === 'copy') {
      note = {
        branchId,
        strategy: told.strategy,
        ...(typeof told.reason === 'string' ? { reason: told.reason.slice(0, 500) } : {}),
        ...(Number.isFinite(told.duration_ms) ? { durationMs: told.duration_ms } : {}),
      };
    }
  } catch (error) {
    // 404: the account does not tell (Neon's cloud). Anything else is asked again on the next run.
    if (neonStatus(error) !== 404) return;
  }
  await s.saveNeon({ ...s.env.neon, branchCreation: note });
}

/** The environment page's warning about a branch made by a full copy, if it was. */
export function branchCreationWarning(env: Environment): string | undefined {
  const made = env.neon.branchCreation;
  if (made?.strategy !== 'copy' || made.branchId !== env.neon.branchId) return undefined;
  const parent = env.spec.parentEnvironment ?? (env.spec.neonBranchId ? `Neon branch ${env.spec.neonBranchId}` : 'its parent');
  const took = made.durationMs !== undefined ? ` (${(made.durationMs / 1000).toFixed(1)} s)` : '';
  return `branched by a full copy of ${parent}${took} because ${made.reason ?? 'no spare of it was used'}; spares make branches in well under a second`;
}
