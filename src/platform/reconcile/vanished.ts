/**
 * @module A Neon resource the environment holds is gone (deleted in Neon, or forgotten by an
 * engine that crashed after acknowledging it): a 404 on it is permanent, so retrying with the same
 * ids would fail forever. What Arbor made is made again; an imported branch cannot be, so that
 * failure says what to do.
 */
import { neonStatus } from '../neon/client.ts';
import { eq } from 'drizzle-orm';
import { credentials, type EnvironmentNeon } from '../store/schema.ts';
import { Permanent } from './failure.ts';
import type { StepContext } from './steps.ts';

async function exists(call: Promise<unknown>): Promise<boolean> {
  try {
    await call;
    return true;
  } catch (error) {
    if (neonStatus(error) === 404) return false;
    throw error;
  }
}

/**
 * After a 404 from Neon: 'recreate' when the ids were cleared for the next run to make the
 * resources again, a Permanent error for an imported branch that is gone, or null when
 * everything the environment holds still exists (the 404 was about something else).
 */
export async function recoverVanished(s: StepContext): Promise<'recreate' | Permanent | null> {
  const { api, env } = s;
  const { projectId, branchId, endpointId } = env.neon;
  if (!projectId) return null;
  const projectGone = !(await exists(api.getProject(projectId)));
  const branchGone = projectGone || (branchId ? !(await exists(api.getProjectBranch(projectId, branchId))) : false);
  const endpointGone = branchGone || (endpointId ? !(await exists(api.getProjectEndpoint(projectId, endpointId))) : false);
  if (!endpointGone) return null;
  if (env.spec.mode === 'import') {
    if (!branchGone) {
      await s.saveNeon({ ...env.neon, endpointId: undefined, host: undefined });
      return 'recreate';
    }
    return new Permanent(
      `the imported Neon branch ${env.spec.neonBranchId} of project ${env.spec.neonProjectId} no longer exists (deleted in Neon, or lost by the engine); Arbor cannot make it again. ` +
        `Delete this environment, then import another branch (or create the environment with mode new-project or branch-neon).`,
    );
  }
  if (env.spec.mode === 'branch-neon' && projectGone) {
    return new Permanent(`the Neon project ${env.spec.neonProjectId} this environment branched from no longer exists; delete this environment and create it from another project`);
  }
  const neon: EnvironmentNeon = { ...env.neon, endpointId: undefined, host: undefined };
  if (branchGone) Object.assign(neon, { branchId: undefined, createdBranch: undefined });
  if (projectGone && env.spec.mode === 'new-project') Object.assign(neon, { projectId: undefined, createdProject: undefined });
  if (projectGone && env.spec.mode === 'branch-environment') Object.assign(neon, { projectId: undefined });
  s.ctx.log.warn(`environment ${s.app.name}/${env.name}: Neon has no ${projectGone ? `project ${projectId}` : branchGone ? `branch ${branchId}` : `endpoint ${endpointId}`} any more; making it again`);
  // The passwords were the vanished branch's: the new one gets its own.
  if (branchGone) await s.ctx.db.delete(credentials).where(eq(credentials.environmentId, env.id));
  await s.saveNeon(neon);
  return 'recreate';
}
