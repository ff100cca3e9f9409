/**
 * @module A new endpoint's record, with the project's defaults and Neon's rules for its settings
 * (compute size range, suspend timeout, pg_settings for the project's version). Used by a branch
 * creation's `endpoints` (branch-creation.ts) and by POST of an endpoint (http/endpoints.ts).
 */
import type { BranchRecord, EndpointRecord } from '../catalog/types.ts';
import { endpointId } from '../catalog/ids.ts';
import { nowIso } from '../catalog/time.ts';
import { pgSettingsVersionProblem } from '../compute/pg-settings.ts';
import type { Engine } from '../engine.ts';
import { badRequest, conflict, unprocessable } from '../errors.ts';

/** An endpoint as a request asks for it (validated by http/branches.ts's `endpointCreateFields`). */
export interface EndpointSpec {
  type: string;
  autoscaling_limit_min_cu?: number;
  autoscaling_limit_max_cu?: number;
  suspend_timeout_seconds?: number;
  settings?: { pg_settings?: Record<string, string> };
}

/**
 * Neon's range for a suspend timeout: -1 (never), 0 (the default) or `min`…604800 s. `min` is
 * Neon's 60 unless the engine was started with a shorter one (tests: Engine `minSuspendSeconds`).
 */
export function checkSuspendTimeout(value: number | undefined, min: number, field = 'suspend_timeout_seconds'): void {
  if (value === undefined || value === -1 || value === 0) return;
  if (value < min || value > 604800) throw badRequest(`${field} must be -1 (never), 0 (default) or between ${min} and 604800`);
}

/** Neon's rules for an autoscaling range: both ≥ 0.25, max ≥ min, max − min ≤ 8. */
export function checkCuRange(min: number, max: number, where = ''): void {
  if (max < min) throw badRequest(`${where}autoscaling_limit_max_cu (${max}) must be greater than or equal to autoscaling_limit_min_cu (${min})`);
  if (max - min > 8) throw badRequest(`${where}autoscaling_limit_max_cu - autoscaling_limit_min_cu must be at most 8 (got ${max} - ${min})`);
}

/** A new endpoint record from a request, with the project's defaults and Neon's range checks. */
export async function newEndpoint(
  engine: Engine,
  projectId: string,
  branch: BranchRecord,
  spec: EndpointSpec,
  /** A read_write endpoint comes in the same request (a branch creation's `endpoints`). */
  primaryToo = false,
): Promise<EndpointRecord> {
  const project = engine.project(projectId);
  // A read_only endpoint is a hot standby of the branch's read_write compute (compute/replicas.ts).
  if (spec.type === 'read_only' && !primaryToo && !engine.readWriteEndpoint(branch.id)) {
    throw unprocessable(`branch ${branch.id} has no read_write endpoint; a read_only endpoint replicates it, so create a read_write endpoint on the branch first`);
  }
  const defaults = project.default_endpoint_settings;
  const minCu = spec.autoscaling_limit_min_cu ?? defaults.autoscaling_limit_min_cu;
  const maxCu = spec.autoscaling_limit_max_cu ?? Math.max(minCu, defaults.autoscaling_limit_max_cu);
  checkCuRange(minCu, maxCu);
  checkSuspendTimeout(spec.suspend_timeout_seconds, engine.minSuspendSeconds);
  const versionProblem = pgSettingsVersionProblem(spec.settings?.pg_settings, project.pg_version);
  if (versionProblem) throw badRequest(`settings.pg_settings: ${versionProblem}`);
  if (spec.type === 'read_write' && engine.readWriteEndpoint(branch.id)) throw conflict(`branch ${branch.id} already has a read_write endpoint`);
  return endpointRecord(engine, {
    projectId,
    branchId: branch.id,
    type: spec.type === 'read_only' ? 'read_only' : 'read_write',
    minCu,
    maxCu,
    suspendTimeoutSeconds: spec.suspend_timeout_seconds ?? defaults.suspend_timeout_seconds,
    pgSettings: spec.settings?.pg_settings,
  });
}

/** The record of a new endpoint (checked by the caller), its port allocated and, with PgBouncer, its pooler's. */
export async function endpointRecord(
  engine: Engine,
  e: { projectId: string; branchId: string; type: EndpointRecord['type']; minCu: number; maxCu: number; suspendTimeoutSeconds: number; pgSettings?: Record<string, string> },
): Promise<EndpointRecord> {
  const at = nowIso();
  const endpoint: EndpointRecord = {
    id: endpointId(),
    project_id: e.projectId,
    branch_id: e.branchId,
    type: e.type,
    port: await engine.allocatePort(),
    autoscaling_limit_min_cu: e.minCu,
    autoscaling_limit_max_cu: e.maxCu,
    suspend_timeout_seconds: e.suspendTimeoutSeconds,
    settings: e.pgSettings ? { pg_settings: e.pgSettings } : {},
    disabled: false,
    current_state: 'init',
    pending_state: 'active',
    created_at: at,
    updated_at: at,
  };
  await engine.poolers.ensurePort(endpoint);
  return endpoint;
}
