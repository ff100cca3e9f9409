/**
 * @module The audit log: who did what to which target. Never holds a secret.
 */
import { desc, inArray } from 'drizzle-orm';
import type { Actor, Context } from './context.ts';
import { auditLog } from './store/schema.ts';

/** Actions about an app (their target is `<app>` or `<app>/<environment>…`); the rest are instance-level. */
const APP_ACTIONS = new Set(['app', 'environment', 'credentials', 'preview', 'migration', 'change']);

export async function audit(ctx: Context, actor: Actor, action: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
  const app = APP_ACTIONS.has(action.split('.')[0]) ? target.split('/')[0] : null;
  await ctx.db.insert(auditLog).values({ actor: actor.name, action, target, detail, app });
}

/** Newest first; `apps`: only entries about these apps (none: every entry). */
export async function listAudit(ctx: Context, limit = 200, apps?: string[]) {
  if (apps && !apps.length) return [];
  return ctx.db.select().from(auditLog).where(apps ? inArray(auditLog.app, apps) : undefined).orderBy(desc(auditLog.id)).limit(limit);
}
