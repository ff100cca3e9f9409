/**
 * @module `arbor roles check`: every way the live branch deviates from the model's hierarchy.
 * Read-only; `applyRoles` repairs what it finds.
 */
import type { AppModel } from './app-model.ts';
import { newRoundTrips, openSession, type RoundTrips } from './connection.ts';
import { observeRoles } from './roles-observe.ts';
import { planRoles, type AppRole, type DeviationKind } from './roles-plan.ts';

export interface CheckResult {
  ok: boolean;
  deviations: { kind: DeviationKind; message: string; repair: string[] }[];
  /** Roles the app's migrations made as `db_<db>_admin` (Encore's CREATEROLE pattern): listed, not deviations. */
  appRoles: AppRole[];
  roundTrips: RoundTrips;
}

export async function checkRoles(url: string, model: AppModel): Promise<CheckResult> {
  const roundTrips = newRoundTrips();
  const session = await openSession(url, roundTrips);
  try {
    const observed = await observeRoles(session, url, model, roundTrips);
    // Passwords are never used by a check; a constant keeps it from drawing randomness.
    const plan = planRoles(model, observed, { generatePassword: () => 'unused' });
    const deviations = plan.deviations.map((d) => ({ kind: d.kind, message: d.message, repair: d.operations.map((o) => o.comment) }));
    return { ok: deviations.length === 0, deviations, appRoles: plan.appRoles, roundTrips };
  } finally {
    await session.end();
  }
}
