/**
 * @module Masked previews, failing closed. When the app's `previews.mask` has rules (or
 * `previews.requireMasking` is on), a preview is made in two branches, so that no point of the
 * preview's own history holds an unmasked value:
 *
 *   parent ──► masking branch (`<name>-masking`): the parent's data, its roles and passwords only;
 *              masked there in one transaction per database (as the parent's db_<db>_admin),
 *              then VACUUM FULL + ANALYZE (no old tuple versions in the heap, no statistics of the
 *              old values), materialized views refreshed; its endpoint is deleted afterwards.
 *          └─► preview branch (`<name>`): a child of the masking branch made after the masking,
 *              so its history starts masked; it alone gets the preview's endpoint and passwords.
 *              (The masking branch's endpoint is deleted before: a stopped branch copies faster.)
 *
 * The step runs before `superuser`, so until masking succeeded no preview password exists
 * (nothing to reveal, nothing rotated) and the preview is not ready. A failing rule, or a
 * personal-looking column without a rule under requireMasking, is a Permanent failure whose
 * message names the rule or columns and never a value. The masking branch stays (the preview
 * branch is its child) and is deleted with the environment.
 *
 * A reset (previews/reset.ts) masks again the same way: a new masking branch from the parent's
 * current data (`<name>-masking-<reset time>`), masked by the current rules, its endpoint
 * dropped; the preview's branch is restored from it (Neon's restore keeps the branch, its
 * endpoint and host; its parent becomes the new masking branch), and the old masking branch,
 * childless now, is deleted. A failing rule leaves the preview on its earlier masked data.
 *
 * Which rules: those the parent environment runs (for a protected parent, the approved model):
 * the masking protects the parent's data, so its rules change as the parent's model does.
 */
import { and, eq } from 'drizzle-orm';
import type { Context } from '../context.ts';
import { branchUri, storedPassword } from '../credentials/credentials.ts';
import { isPreview } from '../environments/environments.ts';
import { awaitOperations, ignoreNotFound } from '../neon/client.ts';
import type { AppModel, PreviewsModel } from '../postgres/app-model.ts';
import { newRoundTrips, openSession, type Session } from '../postgres/connection.ts';
import { quoteIdent, roleNames } from '../postgres/names.ts';
import { Permanent } from '../reconcile/failure.ts';
import { createOrFindBranch, endpointSettings, neonExpiryOf, NotYet, type StepContext } from '../reconcile/steps.ts';
import { environments, type App, type Environment } from '../store/schema.ts';
import { looksPersonal, maskExpression, parseMaskRules, TEXT_RULES, type MaskRule } from './mask-rules.ts';

/** The masking rules that apply to previews of `parent`. */
export function maskingPolicy(app: App, parent: Environment): PreviewsModel | undefined {
  return parentModel(app, parent).previews;
}

/** The model the parent runs: its databases are what the masking branch has. */
const parentModel = (app: App, parent: Environment) => (parent.protected ? app.approvedModel : app.model) as AppModel;

export function masks(policy: PreviewsModel | undefined): boolean {
  return !!policy && (policy.requireMasking === true || Object.keys(policy.mask ?? {}).length > 0);
}

/** The steps of a run: `masking` first for a preview that masks (or did). */
export async function withMasking<T extends { name: string }>(ctx: Context, app: App, env: Environment, steps: T[], step: T): Promise<T[]> {
  if (!isPreview(env) || env.spec.mode !== 'branch-environment') return steps;
  if (!env.neon.masking) {
    const [parent] = await ctx.db.select().from(environments).where(and(eq(environments.appId, env.appId), eq(environments.name, env.spec.parentEnvironment!)));
    if (!parent || !masks(maskingPolicy(app, parent))) return steps;
  }
  return [step, ...steps];
}

export const maskingBranchName = (branchName: string) => `${branchName}-masking`;

/**
 * The masking branch of the reset asked at `requestedAt` (an ISO time): a name of its own (the
 * old masking branch lives until the preview is restored from the new one), the same on every
 * run of that reset, so a run after a crash finds the branch an earlier one made.
 */
export const resetMaskingBranchName = (branchName: string, requestedAt: string) => `${maskingBranchName(branchName)}-${Date.parse(requestedAt).toString(36)}`;

interface Column {
  schema: string;
  table: string;
  column: string;
  category: string;
  type: string;
  generated: boolean;
}

const key = (schema: string, table: string, column?: string) => [schema, table, ...(column ? [column] : [])].map((p) => JSON.stringify(p)).join('.');

async function userColumns(session: Session): Promise<Column[]> {
  const { rows } = await session.query<Column>(
    `SELECT n.nspname AS schema, c.relname AS "table", a.attname AS "column", t.typcategory AS category,
            pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attgenerated OPERATOR(pg_catalog.<>) '' AS generated
     FROM pg_catalog.pg_attribute a
     JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid
     JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
       AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid OPERATOR(pg_catalog.=) c.oid AND d.deptype OPERATOR(pg_catalog.=) 'e')
     ORDER BY 1, 2, a.attnum`,
  );
  return rows;
}

/** Personal-looking columns with no rule, or `keep` (requireMasking), as `db.schema.table.column`. */
export function unmaskedPersonal(database: string, columns: Column[], rules: MaskRule[]): string[] {
  return columns
    .filter((c) => !c.generated && looksPersonal(c.column))
    .filter((c) => {
      const rule = rules.find((r) => r.database === database && r.schema === c.schema && r.table === c.table && r.column === c.column);
      return !rule || rule.rule === 'keep';
    })
    .map((c) => `${database}.${c.schema === 'public' ? '' : `${c.schema}.`}${c.table}.${c.column}`);
}

/** A PostgreSQL failure in words without row data: integrity and name errors carry none in their message; data errors may. */
function safeReason(error: unknown): string {
  const e = error as { code?: string; message?: string };
  if (typeof e?.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code)) return 'it failed (see the platform log)';
  if (['23', '42'].includes(e.code.slice(0, 2))) return `${e.message} (SQLSTATE ${e.code})`;
  return `PostgreSQL refused it with SQLSTATE ${e.code} (its message is not shown: it may carry a value)`;
}

const ruleText = (r: MaskRule) => `${r.key}: ${r.rule === 'sql' ? r.sql : r.rule}`;

/**
 * Masks one database in one transaction, then rewrites the masked tables. Returns what was masked
 * and the rules whose table or column the parent does not have (nothing to mask there yet).
 */
async function maskDatabase(session: Session, database: string, columns: Column[], rules: MaskRule[], salt: string): Promise<{ masked: string[]; absent: string[] }> {
  const byTable = new Map<string, { schema: string; table: string; rules: MaskRule[] }>();
  const absent: string[] = [];
  for (const rule of rules.filter((r) => r.database === database && r.rule !== 'keep')) {
    const column = columns.find((c) => c.schema === rule.schema && c.table === rule.table && c.column === rule.column);
    if (!column) {
      absent.push(rule.key);
      continue;
    }
    if (column.generated) throw new Permanent(`masking rule ${ruleText(rule)}: the column is generated from other columns; mask those instead`);
    if (TEXT_RULES.has(rule.rule) && column.category !== 'S') throw new Permanent(`masking rule ${ruleText(rule)}: ${rule.rule} works on text columns, and this one is ${column.type}; use null or a SQL expression`);
    const k = key(rule.schema, rule.table);
    byTable.set(k, { schema: rule.schema, table: rule.table, rules: [...(byTable.get(k)?.rules ?? []), rule] });
  }
  const { rows: matviews } = await session.query<{ name: string }>(
    `SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE c.relkind = 'm' AND n.nspname !~ '^pg_' ORDER BY 1`,
  );
  if (!byTable.size) return { masked: [], absent };
  const tables = [...byTable.values()];
  await session.query('BEGIN');
  try {
    for (const t of tables) {
      const target = `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
      const sets = t.rules.map((r) => `${quoteIdent(r.column)} = ${maskExpression(r)}`);
      const salted = t.rules.some((r) => r.rule !== 'sql' && r.rule !== 'null');
      try {
        // The table's own triggers would see (and could copy) the old values: off for the masking only.
        await session.query(`ALTER TABLE ${target} DISABLE TRIGGER USER`);
        await session.query(`UPDATE ${target} SET ${sets.join(', ')}`, salted ? [salt] : undefined);
        await session.query(`ALTER TABLE ${target} ENABLE TRIGGER USER`);
      } catch (error) {
        const column = (error as { column?: string }).column;
        const culprits = t.rules.filter((r) => !column || r.column === column);
        throw new Permanent(`masking rule ${culprits.map(ruleText).join(', ')} failed in database ${database}: ${safeReason(error)}. The preview stays not ready; fix the rule in arbor.yaml (previews.mask) and push`);
      }
    }
    for (const m of matviews) {
      await session.query(`REFRESH MATERIALIZED VIEW ${m.name}`).catch((error) => {
        throw new Permanent(`after masking database ${database}, materialized view ${m.name} could not be refreshed: ${safeReason(error)}`);
      });
    }
    await session.query('COMMIT');
  } catch (error) {
    await session.query('ROLLBACK').catch(() => {});
    throw error;
  }
  // Old tuple versions would stay in the heap (and its TOAST and indexes) until vacuumed; FULL
  // rewrites them away, ANALYZE replaces statistics (pg_stats shows most common values).
  for (const t of tables) await session.query(`VACUUM (FULL, ANALYZE) ${quoteIdent(t.schema)}.${quoteIdent(t.table)}`);
  for (const m of matviews) await session.query(`VACUUM (FULL, ANALYZE) ${m.name}`);
  return { masked: tables.map((t) => `${t.table} (${t.rules.map((r) => r.column).join(', ')})`), absent };
}

/** The reconciler step `masking` (before `superuser`). */
export async function maskPreview(s: StepContext): Promise<string> {
  const { ctx, api } = s;
  const env = s.env;
  if (!isPreview(env) || env.spec.mode !== 'branch-environment') return 'not a preview';
  // Done, unless the preview's branch vanished (vanished.ts forgot it): it is made again below as
  // a child of the masking branch, never by `neon-resources` from the parent (unmasked).
  if (env.neon.masking?.done && env.neon.branchId) return 'masked when opened';
  const [parent] = await ctx.db.select().from(environments).where(and(eq(environments.appId, env.appId), eq(environments.name, env.spec.parentEnvironment!)));
  if (!parent?.neon.branchId) throw new NotYet(`parent environment ${env.spec.parentEnvironment} has no Neon branch yet`);
  const policy = maskingPolicy(s.app, parent);
  if (!masks(policy) && !env.neon.masking) return 'no masking rules';
  if (env.neon.branchId && !env.neon.masking) {
    throw new Permanent(`preview ${env.name} was opened before the app's previews were masked, so its data is not masked; close it and open it again`);
  }
  const projectId = parent.neon.projectId!;
  let masking = env.neon.masking;
  if (!masking) {
    const name = maskingBranchName(env.spec.branchName!);
    const made = await createOrFindBranch(api, projectId, name, { branch: { parent_id: parent.neon.branchId, name }, endpoints: [{ type: 'read_write' as never }] });
    masking = { branchId: made.branchId, endpointId: made.endpointId };
    await s.saveNeon({ ...s.env.neon, projectId, masking });
  }
  // Its endpoint is dropped only after the masking succeeded: without one, the masking is done.
  const detail = masking.endpointId ? await maskOnBranch(s, parent, policy, masking) : 'masked by an earlier run';
  // The masking branch's compute stops before it is branched from: a stopped cluster is copied
  // as plain files (the engine has no copy-on-write here), with no WAL to replay on the child.
  await dropMaskingEndpoint(s);
  await awaitOperations(api, projectId);
  // The preview's own branch: a child of the masked state, so its history begins masked.
  const made = await createOrFindBranch(api, projectId, env.spec.branchName!, {
    branch: { parent_id: masking.branchId, name: env.spec.branchName, ...(neonExpiryOf(env.spec) ? { expires_at: neonExpiryOf(env.spec) } : {}) },
    endpoints: [{ type: 'read_write' as never, ...endpointSettings(env) }],
  });
  await s.saveNeon({ ...s.env.neon, projectId, branchId: made.branchId, endpointId: made.endpointId, host: made.host, createdBranch: true, masking: { branchId: masking.branchId, done: true } });
  s.uriCache.base = undefined;
  s.freshEndpoint = !!made.created;
  return detail;
}

/** Checks requireMasking and masks every database on the masking branch, as the parent's db_<db>_admin. */
export async function maskOnBranch(s: StepContext, parent: Environment, policy: PreviewsModel | undefined, masking: { branchId: string; endpointId?: string }): Promise<string> {
  const { ctx, api } = s;
  // No wait for the branch's operations: a connection to its endpoint waits for its compute.
  const names = roleNames(s.model.prefix);
  const rules = parseMaskRules(policy);
  const salt = ctx.secrets.derive(`preview-masking:${s.app.name}`);
  const onMasking = { ...parent, neon: { ...parent.neon, branchId: masking.branchId, endpointId: masking.endpointId } } as Environment;
  const cache: { base?: string } = {};
  const sessions: { database: string; session: Session; columns: Column[] }[] = [];
  try {
    for (const database of parentModel(s.app, parent).databases) {
      const role = names.dbAdmin(database.name);
      const password = await storedPassword(ctx, parent.id, role);
      if (!password) throw new NotYet(`no password known for ${role} on the parent environment ${parent.name} yet`);
      const session = await openSession(await branchUri(api, onMasking, names.platform, role, password, database.name, cache), newRoundTrips());
      sessions.push({ database: database.name, session, columns: await userColumns(session) });
    }
    if (policy?.requireMasking) {
      const missing = sessions.flatMap((x) => unmaskedPersonal(x.database, x.columns, rules));
      if (missing.length) {
        throw new Permanent(
          `previews.requireMasking: ${missing.length} column(s) look personal and have no masking rule (or keep): ${missing.join(', ')}. ` +
            `Give each a rule under previews.mask in arbor.yaml (email, redact, fake-name, null or a SQL expression); the preview stays not ready until then`,
        );
      }
    }
    const done: string[] = [];
    const absent: string[] = [];
    for (const x of sessions) {
      const result = await maskDatabase(x.session, x.database, x.columns, rules, salt);
      if (result.masked.length) done.push(`${x.database}: ${result.masked.join(', ')}`);
      absent.push(...result.absent);
    }
    return `masked ${done.join('; ') || 'nothing (no rule matched a column)'}${absent.length ? `; not in ${parent.name} (nothing to mask): ${absent.join(', ')}` : ''}`;
  } finally {
    for (const x of sessions) await x.session.end();
  }
}

/**
 * The masking branch's endpoint goes once the masking succeeded (nobody connects there again).
 * Recorded first: a masking record without an endpoint means the masking is done, and an endpoint
 * left by a crash in between goes with the branch.
 */
async function dropMaskingEndpoint(s: StepContext): Promise<void> {
  const masking = s.env.neon.masking;
  if (!masking?.endpointId) return;
  await s.saveNeon({ ...s.env.neon, masking: { branchId: masking.branchId, done: masking.done } });
  await ignoreNotFound(s.api.deleteProjectEndpoint(s.env.neon.projectId!, masking.endpointId));
}
