/**
 * @module The masking rules of `previews.mask` in arbor.yaml, as data and as SQL: which column,
 * which rule, the expression that replaces its values, and which column names look personal
 * (`previews.requireMasking`). Pure: no connection, no store (previews/masking.ts applies them).
 *
 * Built-in rules are deterministic, so joins on a masked column still match across tables and
 * across previews of one app: a value's replacement comes from SHA-256 of a per-app salt (bound as
 * $1, never in the SQL text) and the value.
 */
import { identifierProblem } from '../postgres/names.ts';
import { quoteIdent } from '../postgres/names.ts';

export const BUILT_IN_RULES = ['email', 'redact', 'fake-name', 'null', 'keep'] as const;
export type BuiltInRule = (typeof BUILT_IN_RULES)[number];

/**
 * The one list of name parts that make a column look personal (requireMasking). A part of the
 * column's name (split at `_`, `-`, digits and camelCase) matches when it starts with one of these
 * (`emails`, `birthdate`, `phone`), or ends with `name` (`firstname`, `username`).
 */
export const PERSONAL_NAME_PARTS = ['email', 'phone', 'name', 'address', 'birth', 'ssn', 'card', 'iban', 'password', 'token'] as const;

export interface MaskRule {
  /** As written in arbor.yaml. */
  key: string;
  database: string;
  schema: string;
  table: string;
  column: string;
  rule: BuiltInRule | 'sql';
  /** The SQL expression of a `sql` rule. */
  sql?: string;
}

/** Structural, so that app-model.ts can call it without an import circle. */
interface PreviewsLike {
  mask?: Record<string, string>;
}

/** A rule value that is one bare word must be a built-in rule (a typo is not a SQL expression). */
const BARE_WORD = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function parseMaskRules(previews: PreviewsLike | undefined): MaskRule[] {
  return Object.entries(previews?.mask ?? {}).map(([key, value]) => {
    const parts = key.split('.');
    const [database, schema, table, column] = parts.length === 3 ? [parts[0], 'public', parts[1], parts[2]] : parts;
    const text = value.trim();
    const rule = (BUILT_IN_RULES as readonly string[]).includes(text) ? (text as BuiltInRule) : 'sql';
    return { key, database, schema, table, column, rule, ...(rule === 'sql' ? { sql: text } : {}) };
  });
}

/** Problems of `previews.mask` for AppModelError (paths like `previews.mask.main.users.email`). */
export function maskRuleProblems(model: { previews?: PreviewsLike; databases: { name: string }[] }): { path: string; reason: string }[] {
  const problems: { path: string; reason: string }[] = [];
  const databases = new Set(model.databases.map((d) => d.name));
  for (const [key, value] of Object.entries(model.previews?.mask ?? {})) {
    const path = `previews.mask.${key}`;
    const parts = key.split('.');
    if (parts.length !== 3 && parts.length !== 4) {
      problems.push({ path, reason: `name a column as <database>.<table>.<column> or <database>.<schema>.<table>.<column>, e.g. main.customers.email` });
      continue;
    }
    const bad = parts.map((p) => [p, identifierProblem(p)] as const).find(([, problem]) => problem);
    if (bad) problems.push({ path, reason: `${JSON.stringify(bad[0])} ${bad[1]}` });
    else if (!databases.has(parts[0])) problems.push({ path, reason: `database ${JSON.stringify(parts[0])} is not under databases (known: ${[...databases].map((d) => JSON.stringify(d)).join(', ') || 'none'})` });
    const text = value.trim();
    if (!text) problems.push({ path, reason: `the rule is empty; use one of ${BUILT_IN_RULES.join(', ')} or a SQL expression` });
    else if (BARE_WORD.test(text) && !(BUILT_IN_RULES as readonly string[]).includes(text)) {
      problems.push({ path, reason: `${JSON.stringify(text)} is not a masking rule; use one of ${BUILT_IN_RULES.join(', ')}, or a SQL expression (to copy another column, write it in parentheses: (${text}))` });
    } else if (text.includes(';')) problems.push({ path, reason: 'a SQL expression is one expression, without ;' });
  }
  return problems;
}

/** Whether requireMasking would ask for a rule on a column of this name. */
export function looksPersonal(column: string): boolean {
  const parts = column
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean);
  return parts.some((part) => part.endsWith('name') || PERSONAL_NAME_PARTS.some((word) => part.startsWith(word)));
}

const FIRST_NAMES = ['Alex', 'Sam', 'Robin', 'Jamie', 'Taylor', 'Jordan', 'Casey', 'Morgan', 'Riley', 'Avery', 'Quinn', 'Charlie', 'Dana', 'Emery', 'Finley', 'Harper'];
const LAST_NAMES = ['Smith', 'Jones', 'Garcia', 'Miller', 'Davis', 'Lopez', 'Wilson', 'Moore', 'Clark', 'Lewis', 'Walker', 'Hall', 'Young', 'King', 'Wright', 'Green'];
const arrayLiteral = (xs: string[]) => `ARRAY[${xs.map((x) => `'${x}'`).join(', ')}]`;

/** Rules that need a text column. */
export const TEXT_RULES: ReadonlySet<MaskRule['rule']> = new Set(['email', 'redact', 'fake-name']);

/**
 * The expression that replaces the column's values (`$1` is the app's salt). NULL stays NULL for
 * the built-in rules; `keep` has none.
 */
export function maskExpression(rule: MaskRule): string | null {
  const c = quoteIdent(rule.column);
  const digest = `pg_catalog.sha256(pg_catalog.convert_to($1::text OPERATOR(pg_catalog.||) ${c}::text, 'UTF8'))`;
  switch (rule.rule) {
    case 'keep':
      return null;
    case 'null':
      return 'NULL';
    case 'email':
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE 'user-' OPERATOR(pg_catalog.||) pg_catalog.left(pg_catalog.encode(${digest}, 'hex'), 16) OPERATOR(pg_catalog.||) '@example.invalid' END`;
    case 'redact':
      // Letters and digits become x: the shape (length, separators) stays, so length checks hold.
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE pg_catalog.regexp_replace(${c}::text, '[[:alnum:]]', 'x', 'g') END`;
    case 'fake-name':
      // OPERATOR(...) binds all alike, left to right: the parentheses matter.
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE (${arrayLiteral(FIRST_NAMES)})[1 OPERATOR(pg_catalog.+) (pg_catalog.get_byte(${digest}, 0) OPERATOR(pg_catalog.%) ${FIRST_NAMES.length})] OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) (${arrayLiteral(LAST_NAMES)})[1 OPERATOR(pg_catalog.+) (pg_catalog.get_byte(${digest}, 1) OPERATOR(pg_catalog.%) ${LAST_NAMES.length})] END`;
    case 'sql':
      return `(${rule.sql})`;
  }
}
