/**
 * @module The app model (`arbor.yaml`): its databases and services, parsed and validated so
 * every role name it implies is a valid PostgreSQL name. All problems are reported at once.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { maskRuleProblems } from '../previews/mask-rules.ts';
import { DEFAULT_PREFIX, identifierProblem, roleNameProblem, roleNames } from './names.ts';

/** Where migration files come from, as Encore's `migrations: { path, source }` names them (`sql` is the default). */
export type MigrationSource = 'sql' | 'prisma' | 'drizzle' | 'drizzle/v1';
export const MIGRATION_SOURCES = ['sql', 'prisma', 'drizzle', 'drizzle/v1'] as const satisfies readonly MigrationSource[];

/**
 * Whose filename rules a `sql` folder follows: Encore's TypeScript parser (`ts`: `N_name.up.sql`,
 * version 0 allowed), its Go parser (`go`: the description is optional, `1.up.sql`; version above
 * 0), or either (`any`, the default for arbor.yaml).
 */
export type FileNaming = 'ts' | 'go' | 'any';
export const FILE_NAMINGS = ['ts', 'go', 'any'] as const satisfies readonly FileNaming[];

/**
 * A database. In arbor.yaml `migrations` is a folder (`migrations: migrations/main`) or
 * `{ path, source, naming }` (`migrations: { path: prisma/migrations, source: prisma }`); the model
 * keeps the folder in `migrations` and the rest beside it, so it reads back the same way.
 */
export interface DatabaseModel {
  name: string;
  /** Folder of the migrations, relative to arbor.yaml's folder (or the Encore app's root). */
  migrations?: string;
  /** Set when not `sql`. */
  migrationsSource?: MigrationSource;
  /** Set when not `any`. */
  migrationsNaming?: FileNaming;
}

/** A database's migrations, with the defaults filled in; null when it has none. */
export function migrationsOf(db: DatabaseModel): { path: string; source: MigrationSource; naming: FileNaming } | null {
  return db.migrations ? { path: db.migrations, source: db.migrationsSource ?? 'sql', naming: db.migrationsNaming ?? 'any' } : null;
}

export interface ServiceModel {
  name: string;
  databases: string[];
}

export interface AppModel {
  app: string;
  /** Prefix of the global roles (`<prefix>_reader`, ...); default `encore`. */
  prefix: string;
  databases: DatabaseModel[];
  services: ServiceModel[];
  /** How previews copy the parent's data (previews/mask-rules.ts); absent: as it is. */
  previews?: PreviewsModel;
}

/**
 * `previews:` in arbor.yaml. `mask` maps a column, `<database>.<table>.<column>` or
 * `<database>.<schema>.<table>.<column>`, to a rule: `email`, `redact`, `fake-name`, `null`,
 * `keep`, or a SQL expression (anything that is not one bare word). `requireMasking`: a column
 * whose name looks personal and has no rule (or `keep`) blocks the preview.
 */
export interface PreviewsModel {
  mask?: Record<string, string>;
  requireMasking?: boolean;
}

export interface ModelProblem {
  /** Where in the file, e.g. `services[1].databases[0]`. */
  path: string;
  reason: string;
}

/** The model is invalid; `problems` lists every bad field. */
export class AppModelError extends Error {
  constructor(
    readonly source: string,
    readonly problems: ModelProblem[],
  ) {
    super(`${source} is not a valid app model:\n${problems.map((p) => `  - ${p.path || '(top)'}: ${p.reason}`).join('\n')}`);
    this.name = 'AppModelError';
  }
}

const MIGRATIONS = z.union(
  [
    z.string().min(1),
    z.strictObject({ path: z.string().min(1), source: z.enum(MIGRATION_SOURCES).optional(), naming: z.enum(FILE_NAMINGS).optional() }),
  ],
  { error: `migrations is a folder, or { path, source, naming } with source one of ${MIGRATION_SOURCES.join(', ')} and naming one of ${FILE_NAMINGS.join(', ')}` },
);

const DATABASE = z
  .strictObject({
    name: z.string(),
    migrations: MIGRATIONS.optional(),
    // The model's own form of `migrations: { source, naming }` (see DatabaseModel).
    migrationsSource: z.enum(MIGRATION_SOURCES).optional(),
    migrationsNaming: z.enum(FILE_NAMINGS).optional(),
  })
  .superRefine((db, ctx) => {
    if (typeof db.migrations === 'object' && (db.migrationsSource || db.migrationsNaming)) {
      ctx.addIssue({ code: 'custom', path: ['migrations'], message: 'give source and naming inside migrations: { path, source, naming }, not beside it' });
    }
    if (!db.migrations && (db.migrationsSource || db.migrationsNaming)) ctx.addIssue({ code: 'custom', path: ['migrations'], message: 'a migrations source needs a migrations path' });
  })
  .transform((db): DatabaseModel => {
    const m = db.migrations;
    const path = typeof m === 'object' ? m.path : m;
    const source = typeof m === 'object' ? m.source : db.migrationsSource;
    const naming = typeof m === 'object' ? m.naming : db.migrationsNaming;
    return {
      name: db.name,
      ...(path !== undefined && { migrations: path }),
      ...(source && source !== 'sql' && { migrationsSource: source }),
      ...(naming && naming !== 'any' && { migrationsNaming: naming }),
    };
  });

const PREVIEWS = z.strictObject({
  mask: z.record(z.string(), z.string({ error: 'a masking rule is email, redact, fake-name, null, keep or a SQL expression (text)' })).optional(),
  requireMasking: z.boolean().optional(),
});

const SCHEMA = z.strictObject({
  app: z.string().min(1),
  prefix: z.string().optional(),
  databases: z.array(DATABASE).default([]),
  services: z.array(z.strictObject({ name: z.string(), databases: z.array(z.string()).default([]) })).default([]),
  previews: PREVIEWS.optional(),
});

/** Validates a model given as data (from YAML, JSON or code). */
export function validateAppModel(input: unknown, source = 'arbor.yaml'): AppModel {
  const parsed = SCHEMA.safeParse(input ?? {});
  if (!parsed.success) {
    throw new AppModelError(
      source,
      parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), reason: issue.message })),
    );
  }
  const { previews, ...rest } = parsed.data;
  const model: AppModel = { ...rest, prefix: parsed.data.prefix ?? DEFAULT_PREFIX, ...(previews && { previews }) };
  const problems = [...checkNames(model), ...maskRuleProblems(model)];
  if (problems.length) throw new AppModelError(source, problems);
  return model;
}

/** The model as arbor.yaml text (e.g. one derived from an Encore app), in the form people write. */
export function appModelToYaml(model: AppModel): string {
  const data = {
    app: model.app,
    ...(model.prefix !== DEFAULT_PREFIX && { prefix: model.prefix }),
    databases: model.databases.map((db) => {
      const m = migrationsOf(db);
      if (!m) return { name: db.name };
      const plain = m.source === 'sql' && m.naming === 'any';
      return { name: db.name, migrations: plain ? m.path : { path: m.path, ...(m.source !== 'sql' && { source: m.source }), ...(m.naming !== 'any' && { naming: m.naming }) } };
    }),
    // A service without databases is written without the key (`databases: []` in block style reads badly).
    services: model.services.map((s) => ({ name: s.name, ...(s.databases.length && { databases: s.databases }) })),
    ...(model.previews && { previews: model.previews }),
  };
  return stringifyYaml(data, { flowCollectionPadding: false, collectionStyle: 'block' });
}

/** Parses and validates the text of an `arbor.yaml`. */
export function parseAppModel(text: string, source = 'arbor.yaml'): AppModel {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new AppModelError(source, [{ path: '', reason: `not valid YAML: ${(error as Error).message}` }]);
  }
  return validateAppModel(data, source);
}

export async function loadAppModel(path: string): Promise<AppModel> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the app model ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseAppModel(text, path);
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i ? '.' : ''}${String(part)}`)).join('');
}

/** Names, uniqueness, references, and that no two roles end up with one name. */
function checkNames(model: AppModel): ModelProblem[] {
  const problems: ModelProblem[] = [];
  const names = roleNames(model.prefix);
  const add = (path: string, reason: string) => problems.push({ path, reason });
  const role = (path: string, subject: string, roleName: string) => {
    const problem = roleNameProblem(roleName);
    if (problem) add(path, `${subject} would need the role ${JSON.stringify(roleName)}, which ${problem}; choose a shorter name`);
  };

  const prefixProblem = identifierProblem(model.prefix);
  if (prefixProblem) add('prefix', `${JSON.stringify(model.prefix)} ${prefixProblem}`);
  else for (const global of [names.platform, names.reader, names.writer, names.admin, names.services]) role('prefix', `prefix ${JSON.stringify(model.prefix)}`, global);

  const databases = new Set<string>();
  model.databases.forEach((db, i) => {
    const path = `databases[${i}].name`;
    const problem = identifierProblem(db.name);
    if (problem) add(path, `database name ${JSON.stringify(db.name)} ${problem}`);
    else for (const r of [names.dbReader(db.name), names.dbWriter(db.name), names.dbAdmin(db.name)]) role(path, `database ${JSON.stringify(db.name)}`, r);
    if (databases.has(db.name)) add(path, `database ${JSON.stringify(db.name)} is listed twice`);
    databases.add(db.name);
  });

  const services = new Set<string>();
  model.services.forEach((service, i) => {
    const path = `services[${i}].name`;
    const problem = identifierProblem(service.name);
    if (problem) add(path, `service name ${JSON.stringify(service.name)} ${problem}`);
    else role(path, `service ${JSON.stringify(service.name)}`, names.service(service.name));
    if (services.has(service.name)) add(path, `service ${JSON.stringify(service.name)} is listed twice`);
    services.add(service.name);
    service.databases.forEach((db, j) => {
      if (!databases.has(db)) {
        const known = [...databases].map((d) => JSON.stringify(d)).join(', ') || 'none';
        add(`services[${i}].databases[${j}]`, `service ${JSON.stringify(service.name)} uses database ${JSON.stringify(db)}, which is not under databases (known: ${known})`);
      }
    });
    if (new Set(service.databases).size !== service.databases.length) add(`services[${i}].databases`, 'a database is listed twice');
  });

  if (!problems.length) {
    const seen = new Map<string, string>();
    for (const [owner, r] of allRoles(model)) {
      const before = seen.get(r);
      if (before) add('', `${owner} and ${before} would both use the role ${JSON.stringify(r)}; rename one of them`);
      else seen.set(r, owner);
    }
  }
  return problems;
}

function* allRoles(model: AppModel): Generator<[string, string]> {
  const names = roleNames(model.prefix);
  for (const r of [names.platform, names.reader, names.writer, names.admin, names.services]) yield [`prefix ${JSON.stringify(model.prefix)}`, r];
  for (const db of model.databases) {
    for (const r of [names.dbReader(db.name), names.dbWriter(db.name), names.dbAdmin(db.name)]) yield [`database ${JSON.stringify(db.name)}`, r];
  }
  for (const s of model.services) yield [`service ${JSON.stringify(s.name)}`, names.service(s.name)];
}
