/**
 * @module Deleting a project: once what runs has finished (Engine.projectSettled, no 423), each of
 * its branches goes as DELETE of a branch removes one (branch-deletion.ts), its history included,
 * then the project's records and operations.
 */
import type { ProjectRecord } from '../catalog/types.ts';
import type { Engine } from '../engine.ts';
import { deleteBranchNow } from './branch-deletion.ts';

/** Deletes the project (nothing when a concurrent delete already removed it). */
export async function deleteProject(engine: Engine, project: ProjectRecord): Promise<void> {
  await engine.projectSettled(project.id);
  if (!engine.data.projects.includes(project)) return;
  const branches = engine.branchesOf(project.id);
  // Each as DELETE of the branch does it, its history included.
  for (const branch of branches) await deleteBranchNow(engine, branch);
  engine.data.projects = engine.data.projects.filter((p) => p.id !== project.id);
  engine.data.operations = engine.data.operations.filter((o) => o.project_id !== project.id);
  await engine.save();
}
