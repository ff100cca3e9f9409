/**
 * @module The audit log: who did what to which target. Never holds a secret.
 */
import { desc } from 'drizzle-orm';
import type { Actor, Context } from './context.ts';
import { auditLog } from './store/schema.ts';

export async function audit(ctx: Context, actor: Actor, action: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
  await ctx.db.insert(auditLog).values({ actor: actor.name, action, target, detail });
}

export async function listAudit(ctx: Context, limit = 200) {
  return ctx.db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(limit);
}
