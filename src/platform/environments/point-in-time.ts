/**
 * @module Points in time (`at`): an ISO timestamp or an LSN (`0/1A2B3C8`) in a Neon branch's
 * history. A branch environment starts at such a point (Neon's `parent_timestamp` /
 * `parent_lsn`), and an environment is restored to one (environments/restore.ts).
 *
 * The window a timestamp must fall in is what Neon keeps: the project's history retention back
 * from now, and nothing before the project (or the branch) was created. Outside it the request is
 * refused here, on field `at`, with the window's bounds. An LSN cannot be placed in time without
 * Neon, so only its form is checked here; Neon refuses one it does not have, and that refusal is
 * the environment's failure.
 */
import type { NeonApi } from '../neon/client.ts';
import { invalid } from '../errors.ts';

export type Point = { lsn: string; timestamp?: undefined } | { timestamp: string; lsn?: undefined };

const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;
/** An ISO 8601 date and time with a zone (Z or ±hh:mm). */
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** `at` as Neon takes it, or a 400 on `at` saying which forms are accepted. */
export function parsePoint(at: string): Point {
  if (LSN.test(at)) return { lsn: at.toUpperCase() };
  if (ISO.test(at) && !Number.isNaN(Date.parse(at))) return { timestamp: new Date(Date.parse(at)).toISOString() };
  throw invalid('at', `at "${at}" is neither an ISO timestamp (2026-05-01T12:00:00Z) nor an LSN (0/1A2B3C8)`);
}

const shown = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The history a branch of a project has now: from, to (ms), and why it begins where it does. */
export async function historyWindow(api: NeonApi, projectId: string, branchId: string, now = Date.now()) {
  const project = (await api.getProject(projectId)).data.project;
  const branch = (await api.getProjectBranch(projectId, branchId)).data.branch;
  const retention = project.history_retention_seconds ?? 0;
  const candidates = [
    { from: now - retention * 1000, why: `Neon project ${project.id} keeps ${retention} s of history` },
    { from: Date.parse(project.created_at), why: `project ${project.id} was created then` },
    { from: Date.parse(branch.created_at), why: `branch ${branch.name} was created then` },
  ];
  const start = candidates.reduce((a, b) => (b.from > a.from ? b : a));
  return { from: start.from, to: now, why: start.why, retention, projectId: project.id, branchName: branch.name };
}

/**
 * Checks `at` against the branch's window; returns the point for Neon. A timestamp outside the
 * window (or a project keeping no history) is a 400 on `at` naming the bounds.
 */
export async function checkAt(api: NeonApi, projectId: string, branchId: string, at: string): Promise<Point> {
  const point = parsePoint(at);
  const window = await historyWindow(api, projectId, branchId);
  if (window.retention === 0) throw invalid('at', `Neon project ${window.projectId} keeps no history (its retention is 0 s), so there is no point in time to use; raise historyRetentionSeconds first`);
  if (point.timestamp) {
    const ms = Date.parse(point.timestamp);
    if (ms < window.from || ms > window.to) {
      throw invalid('at', `at ${point.timestamp} is outside the history of branch ${window.branchName}: it goes from ${shown(window.from)} (${window.why}) to now, ${shown(window.to)}`);
    }
  }
  return point;
}

/** The point as Neon's branch-creation fields. */
export const parentFields = (point: Point) => (point.lsn ? { parent_lsn: point.lsn } : { parent_timestamp: point.timestamp });

/** The point as Neon's restore fields. */
export const sourceFields = (point: Point) => (point.lsn ? { source_lsn: point.lsn } : { source_timestamp: point.timestamp });
