/**
 * @module Neon plan limits, enforced before calling Neon (neon-api.md §3).
 */
import type { NeonSettings, Plan } from '../store/schema.ts';
import { invalid } from '../errors.ts';

export interface PlanLimits {
  maxHistoryRetentionSeconds: number;
  maxCu: number;
  /** Whether the suspend timeout may be changed at all, and to what. */
  suspend: 'fixed' | 'default-or-never' | 'configurable';
}

const HOUR = 3600;
const DAY = 24 * HOUR;

export const PLANS: Record<Plan, PlanLimits> = {
  free: { maxHistoryRetentionSeconds: 6 * HOUR, maxCu: 2, suspend: 'fixed' },
  launch: { maxHistoryRetentionSeconds: 7 * DAY, maxCu: 16, suspend: 'default-or-never' },
  scale: { maxHistoryRetentionSeconds: 30 * DAY, maxCu: 16, suspend: 'configurable' },
};

export const DEFAULT_SUSPEND_SECONDS = 300;
export const DEFAULT_RETENTION_SECONDS = DAY;

export function defaultSettings(plan: Plan): Required<NeonSettings> {
  return {
    historyRetentionSeconds: Math.min(DEFAULT_RETENTION_SECONDS, PLANS[plan].maxHistoryRetentionSeconds),
    minCu: 0.25,
    maxCu: 0.25,
    suspendTimeoutSeconds: DEFAULT_SUSPEND_SECONDS,
  };
}

/** Checks settings against Neon's ranges and the plan; throws naming the field and the limit. */
export function checkSettings(plan: Plan, s: Required<NeonSettings>): void {
  const limits = PLANS[plan];
  if (!Number.isInteger(s.historyRetentionSeconds) || s.historyRetentionSeconds < 0)
    throw invalid('historyRetentionSeconds', 'historyRetentionSeconds must be a whole number of seconds, 0 or more');
  if (s.historyRetentionSeconds > limits.maxHistoryRetentionSeconds)
    throw invalid('historyRetentionSeconds', `historyRetentionSeconds ${s.historyRetentionSeconds} exceeds the ${plan} plan's maximum of ${limits.maxHistoryRetentionSeconds} s (${limits.maxHistoryRetentionSeconds / 3600} h)`);
  if (s.minCu < 0.25) throw invalid('minCu', `minCu must be at least 0.25 (got ${s.minCu})`);
  if (s.maxCu < s.minCu) throw invalid('maxCu', `maxCu (${s.maxCu}) must be at least minCu (${s.minCu})`);
  if (s.maxCu - s.minCu > 8) throw invalid('maxCu', `maxCu − minCu must be at most 8 (got ${s.maxCu} − ${s.minCu})`);
  if (s.maxCu > limits.maxCu) throw invalid('maxCu', `maxCu ${s.maxCu} exceeds the ${plan} plan's maximum of ${limits.maxCu} CU`);
  const t = s.suspendTimeoutSeconds;
  if (t !== -1 && (t < 60 || t > 604800)) throw invalid('suspendTimeoutSeconds', 'suspendTimeoutSeconds must be -1 (never) or between 60 and 604800 (7 days)');
  if (limits.suspend === 'fixed' && t !== DEFAULT_SUSPEND_SECONDS)
    throw invalid('suspendTimeoutSeconds', `the ${plan} plan suspends after ${DEFAULT_SUSPEND_SECONDS} s and does not allow changing it`);
  if (limits.suspend === 'default-or-never' && t !== DEFAULT_SUSPEND_SECONDS && t !== -1)
    throw invalid('suspendTimeoutSeconds', `the ${plan} plan allows only ${DEFAULT_SUSPEND_SECONDS} s or -1 (never)`);
}
