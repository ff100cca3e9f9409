/**
 * @module `arbor migrate`: Encore's migration conventions on a database, run as its
 * `db_<db>_admin`, exactly as Encore's runner (golang-migrate plus `cli/daemon/sqldb/migrate.go`)
 * runs them:
 * - sources: `sql` (`N_name.up.sql`; Encore's TypeScript and Go filename rules), `drizzle`
 *   (`NNNN_name.sql`, beside drizzle-kit's `meta/`), `prisma` (`<N>_<name>/migration.sql`) and
 *   `drizzle/v1` (`<N>_<name>/migration.sql`);
 * - `sql` and `drizzle` are sequential: golang-migrate's `schema_migrations(version, dirty)` with
 *   one row, the current version; `prisma` and `drizzle/v1` are non-sequential (Encore's
 *   `NonSequentialMigrator`): one row per applied version, and a version below the highest
 *   applied one still runs;
 * - each file is sent as one multi-statement simple query with the version upsert appended (an
 *   implicit transaction unless the file has its own BEGIN/COMMIT); in sequential mode the version
 *   is marked dirty before and clean after, as golang-migrate does;
 * - the same advisory lock as golang-migrate, so no two runners (Arbor's or Encore's) interleave.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { FileNaming, MigrationSource } from './app-model.ts';
import { crc32 } from './crc32.ts';
import { newRoundTrips, openSession, type RoundTrips, type Session } from './connection.ts';
import { quoteIdent as q } from './names.ts';
import { splitStatements, type Statement } from './sql-split.ts';

export const MIGRATIONS_TABLE = 'schema_migrations';

export type { FileNaming, MigrationSource } from './app-model.ts';
export { FILE_NAMINGS, MIGRATION_SOURCES } from './app-model.ts';

/** Encore runs prisma and drizzle/v1 folders with `allow_non_sequential_migrations`. */
export function isNonSequential(source: MigrationSource = 'sql'): boolean {
  return source === 'prisma' || source === 'drizzle/v1';
}

/** The pattern a source's migrations must follow, for messages. */
export function expectedPattern(source: MigrationSource = 'sql', naming: FileNaming = 'any'): string {
  switch (source) {
    case 'sql':
      return naming === 'ts'
        ? 'N_description.up.sql (or .down.sql), e.g. 1_create_users.up.sql'
        : naming === 'go'
          ? 'N.up.sql or N_description.up.sql (or .down.sql) with N above 0, e.g. 1_create_users.up.sql'
          : 'N_description.up.sql or N.up.sql (or .down.sql), e.g. 1_create_users.up.sql';
    case 'drizzle':
      return 'NNNN_name.sql, as drizzle-kit generates it, e.g. 0000_superb_komodo.sql';
    case 'prisma':
      return '<N>_<name>/migration.sql, as prisma migrate generates it, e.g. 20240101120000_init/migration.sql';
    case 'drizzle/v1':
      return '<N>_<name>/migration.sql, as drizzle-kit v1 generates it, e.g. 0000_init/migration.sql';
  }
}

export interface MigrationFile {
  version: number;
  name: string;
  /** Path relative to the migrations folder: `1_init.up.sql`, `20240101120000_init/migration.sql`. */
  file: string;
  /** Where to read it, when it comes from a folder. */
  path?: string;
  /** Its text, when given in memory. */
  sql?: string;
}

export interface ListOptions {
  source?: MigrationSource;
  naming?: FileNaming;
}

/** What a failed file may have left behind, worked out from its own transaction statements. */
export interface Persisted {
  /** Whether the file has its own BEGIN/COMMIT/ROLLBACK (then parts of it may persist). */
  ownTransaction: boolean;
  /** 1-based statements of the file that were committed before the failure (by the file's own COMMIT). */
  statements: number[];
  /** A sentence for people. */
  summary: string;
}

/** A migration failed. `message` says what of it persisted; the fields keep the details. */
export class MigrationError extends Error {
  /** 1-based line in the file where the failure is (from PostgreSQL's error position, else the statement's first line). */
  readonly line: number | null;
  /** SQLSTATE, e.g. `42P07`. */
  readonly code: string | null;
  /** PostgreSQL's own message, without Arbor's context. */
  readonly serverMessage: string;
  constructor(
    message: string,
    readonly file: string,
    readonly statement: { index: number; line: number; text: string } | null,
    details: { line?: number | null; code?: string | null; serverMessage?: string; version?: number; persisted?: Persisted } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MigrationError';
    this.line = details.line ?? statement?.line ?? null;
    this.code = details.code ?? null;
    this.serverMessage = details.serverMessage ?? message;
    this.version = details.version ?? null;
    this.persisted = details.persisted ?? null;
  }
  readonly version: number | null;
  readonly persisted: Persisted | null;
}

const TS_FILE = /^(\d+)_([^.]+)\.(up|down)\.sql$/;
const GO_FILE = /^(\d+)(?:_([^.]+))?\.(up|down)\.sql$/;
const DRIZZLE_FILE = /^(\d+)_([^.]+)\.sql$/;
const PRISMA_DIR = /^(\d+)_(.*)$/;
const DRIZZLE_V1_DIR = /^(\d+)_(.+)$/;

/**
 * Reads migration names as Encore's parsers do. `paths` are relative to the migrations folder,
 * with `/` between a folder and its file (`20240101_init/migration.sql`); folders themselves are
 * not listed. Returns the migrations in numeric order and every problem (bad names, duplicate
 * numbers, a folder whose files hold no migration).
 */
export function parseMigrationNames(paths: string[], options: ListOptions = {}): { files: MigrationFile[]; problems: string[] } {
  const source = options.source ?? 'sql';
  const naming = options.naming ?? 'any';
  const pattern = expectedPattern(source, naming);
  const problems: string[] = [];
  const files: MigrationFile[] = [];
  const add = (file: string, number: string, name: string) => {
    const version = Number(number);
    if (!Number.isSafeInteger(version)) return problems.push(`${file}: the version ${number} is above ${Number.MAX_SAFE_INTEGER}`);
    if (version === 0 && source === 'sql' && naming === 'go') return problems.push(`${file}: Encore's Go parser needs a version above 0`);
    const twin = files.find((f) => f.version === version);
    if (twin) return problems.push(`${file}: version ${version} is also used by ${twin.file}; every migration needs its own number`);
    files.push({ version, name, file });
  };
  for (const path of [...paths].sort()) {
    const parts = path.split('/');
    if (source === 'sql' || source === 'drizzle') {
      // Flat folders: files in subfolders (drizzle-kit's meta/) are not migrations.
      if (parts.length !== 1) continue;
      const isSql = naming === 'go' && source === 'sql' ? path.toLowerCase().endsWith('.sql') : path.endsWith('.sql');
      if (!isSql) continue;
      if (source === 'drizzle') {
        const match = DRIZZLE_FILE.exec(path);
        if (!match) problems.push(`${path}: not a drizzle migration; expected ${pattern}`);
        else add(path, match[1], match[2]);
        continue;
      }
      const match = (naming === 'ts' ? TS_FILE : GO_FILE).exec(path);
      if (!match) {
        const hint = DRIZZLE_FILE.test(path) ? ' (a drizzle-kit file? then declare migrations: { path, source: drizzle })' : '';
        problems.push(`${path}: a migration file is named ${pattern}${hint}`);
      } else if (match[3] === 'up') add(path, match[1], match[2] ?? '');
      continue;
    }
    // prisma and drizzle/v1: one folder per migration holding migration.sql.
    if (parts.length !== 2 || parts[1] !== 'migration.sql') continue;
    if (source === 'drizzle/v1' && parts[0] === 'meta') continue;
    const match = (source === 'prisma' ? PRISMA_DIR : DRIZZLE_V1_DIR).exec(parts[0]);
    if (!match) problems.push(`${parts[0]}: not a ${source} migration folder; expected ${pattern}`);
    else add(path, match[1], match[2]);
  }
  const visible = paths.filter((p) => !p.split('/').some((part) => part.startsWith('.')));
  if (!files.length && !problems.length && visible.length) {
    const sample = visible.slice(0, 5).join(', ') + (visible.length > 5 ? `, ... (${visible.length} files)` : '');
    problems.push(`none of its files is a ${source} migration (found ${sample}); expected ${pattern}${sourceHint(paths, source)}`);
  }
  return { files: files.sort((a, b) => a.version - b.version), problems };
}

/** Which declaration a folder's layout suggests, when it is not the declared one. */
function sourceHint(paths: string[], declared: MigrationSource): string {
  const guess = paths.includes('migration_lock.toml') || paths.some((p) => PRISMA_DIR.test(p.split('/')[0]) && p.endsWith('/migration.sql'))
    ? paths.includes('migration_lock.toml') ? 'prisma' : 'drizzle/v1'
    : paths.some((p) => DRIZZLE_FILE.test(p)) || paths.includes('meta/_journal.json') ? 'drizzle' : null;
  return guess && guess !== declared ? ` — the folder looks like ${guess}'s; declare migrations: { path, source: ${guess} }` : '';
}

/** The migrations of `dir`, read as Encore reads its `source`; bad names and folders without migrations are errors. */
export async function listMigrations(dir: string, options: ListOptions = {}): Promise<(MigrationFile & { path: string })[]> {
  let paths: string[];
  try {
    paths = await listTree(dir);
  } catch (error) {
    throw new Error(`cannot read the migrations folder ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const { files, problems } = parseMigrationNames(paths, options);
  if (problems.length) throw new Error(`invalid migrations in ${dir}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return files.map((f) => ({ ...f, path: join(dir, ...f.file.split('/')) }));
}

/** Files of `dir` and of its direct subfolders (as relative paths with `/`); Encore looks no deeper. */
async function listTree(dir: string): Promise<string[]> {
  const info = await stat(dir);
  if (!info.isDirectory()) throw new Error('not a folder');
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      for (const inner of await readdir(join(dir, entry.name), { withFileTypes: true })) if (!inner.isDirectory()) out.push(`${entry.name}/${inner.name}`);
    } else out.push(entry.name);
  }
  return out;
}

/** golang-migrate's `GenerateAdvisoryLockId(database, schema, table)`, so its runners and ours exclude each other. */
export function advisoryLockId(database: string, schema: string, table = MIGRATIONS_TABLE): string {
  const SALT = 1486364155;
  const sum = crc32(Buffer.from([schema, table, database].join('\0'), 'utf8'));
  return String(Math.imul(sum, SALT) >>> 0);
}

export interface MigrateResult {
  applied: { version: number; file: string; ms: number }[];
  /** Sequential: the version the database is at afterwards. Non-sequential: the highest applied version. Null when none. */
  version: number | null;
  mode: 'sequential' | 'non-sequential';
  roundTrips: RoundTrips;
}

export interface MigrateOptions extends ListOptions {
  log?: (line: string) => void;
  /** How long to wait for another runner's lock; default 5 minutes. */
  lockTimeoutMs?: number;
}

/** Migrations given in memory (as the platform stores them): relative file names and their text. */
export interface MigrationTexts {
  files: { file: string; sql: string }[];
}

/**
 * Applies the pending migrations of `dir` (a folder, or files given in memory) to the database at `url`.
 *
 * @example
 * const { applied } = await migrate('postgresql://db_main_admin:...@host/main', 'prisma/migrations', { source: 'prisma' });
 */
export async function migrate(url: string, dir: string | MigrationTexts, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const files = typeof dir === 'string' ? await listMigrations(dir, options) : inMemory(dir, options);
  const nonSequential = isNonSequential(options.source);
  const roundTrips = newRoundTrips();
  const session = await openSession(url, roundTrips);
  try {
    const { rows } = await session.query<{ database: string; schema: string | null }>('SELECT current_database() AS database, current_schema() AS schema');
    const { database, schema } = rows[0];
    if (!schema) throw new Error(`database ${database} has no schema on the search_path to keep ${MIGRATIONS_TABLE} in; set search_path for the role`);
    const table = `${q(schema)}.${q(MIGRATIONS_TABLE)}`;
    const lockId = advisoryLockId(database, schema);
    await lock(session, lockId, options.lockTimeoutMs ?? 300_000, database);
    try {
      const rows = await readVersions(session, schema);
      const run = nonSequential ? planNonSequential(files, rows, log) : planSequential(files, rows, log);
      if (run.pending.length && rows === null) await createTable(session, table);
      const applied: MigrateResult['applied'] = [];
      for (const file of run.pending) {
        const started = performance.now();
        await applyFile(session, table, file, nonSequential);
        const ms = performance.now() - started;
        applied.push({ version: file.version, file: file.file, ms });
        log(`applied ${file.file} (${ms.toFixed(0)} ms)`);
      }
      if (!run.pending.length && run.reset !== undefined) await setVersion(session, table, run.reset);
      let version: number | null;
      if (nonSequential) {
        const all = [...(rows ?? []).filter((r) => !r.dirty).map((r) => r.version), ...applied.map((a) => a.version)];
        version = all.length ? Math.max(...all) : null;
      } else version = applied.at(-1)?.version ?? (run.reset !== undefined ? run.reset : (rows?.[0]?.version ?? null));
      return { applied, version, mode: nonSequential ? 'non-sequential' : 'sequential', roundTrips };
    } finally {
      await session.query('SELECT pg_advisory_unlock($1::bigint)', [lockId]).catch(() => {});
    }
  } finally {
    await session.end();
  }
}

/**
 * What `migrate` would apply, read without the lock and without writing (an import's preview of
 * the changes it waits to confirm): the recorded version and the pending files.
 */
export async function pendingMigrations(url: string, dir: MigrationTexts, options: ListOptions = {}): Promise<{ version: number | null; pending: string[] }> {
  const files = inMemory(dir, options);
  const session = await openSession(url, newRoundTrips());
  try {
    const { rows } = await session.query<{ schema: string | null }>('SELECT current_schema() AS schema');
    const versions = rows[0].schema ? await readVersions(session, rows[0].schema) : null;
    const plan = isNonSequential(options.source) ? planNonSequential(files, versions, () => {}) : planSequential(files, versions, () => {});
    const clean = (versions ?? []).filter((r) => !r.dirty).map((r) => r.version);
    return { version: clean.length ? Math.max(...clean) : null, pending: plan.pending.map((f) => f.file) };
  } finally {
    await session.end();
  }
}

function inMemory(given: MigrationTexts, options: ListOptions): MigrationFile[] {
  const { files, problems } = parseMigrationNames(given.files.map((f) => f.file), options);
  if (problems.length) throw new Error(`invalid migrations:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return files.map((f) => ({ ...f, sql: given.files.find((g) => g.file === f.file)!.sql }));
}

interface Plan {
  pending: MigrationFile[];
  /** Sequential recovery with nothing left to run: force this version (null: no row), as Encore's Force does. */
  reset?: number | null;
}

/** golang-migrate: one row; a dirty row is forced back to the version before it and re-applied (Encore's RunMigration). */
function planSequential(files: MigrationFile[], rows: VersionRow[] | null, log: (line: string) => void): Plan {
  const current = rows?.[0] ?? null;
  if (current?.dirty) {
    const previous = files.filter((f) => f.version < current.version).at(-1)?.version ?? null;
    log(`version ${current.version} is marked dirty (a run failed half way); re-applying from ${previous ?? 'the start'}, as Encore does`);
    return { pending: files.filter((f) => previous === null || f.version > previous), reset: previous };
  }
  return { pending: files.filter((f) => current === null || f.version > current.version) };
}

/** Encore's NonSequentialMigrator: every version without a row runs, in order, wherever it falls. */
function planNonSequential(files: MigrationFile[], rows: VersionRow[] | null, log: (line: string) => void): Plan {
  const applied = new Map((rows ?? []).map((r) => [r.version, r.dirty]));
  const dirty = files.filter((f) => applied.get(f.version) === true);
  // Encore never writes a dirty row in this mode; one left by a sequential runner is run again.
  for (const f of dirty) log(`version ${f.version} is marked dirty (left by a sequential runner); applying ${f.file} again`);
  return { pending: files.filter((f) => !applied.has(f.version) || applied.get(f.version) === true) };
}

async function lock(session: Session, lockId: string, timeoutMs: number, database: string): Promise<void> {
  await session.query(`SET lock_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
  try {
    await session.query('SELECT pg_advisory_lock($1::bigint)', [lockId]);
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') {
      throw new Error(`another migration runner has held the migration lock of database ${database} for ${timeoutMs} ms; wait for it to finish and run again`, { cause: error });
    }
    throw error;
  } finally {
    await session.query('RESET lock_timeout');
  }
}

interface VersionRow {
  version: number;
  dirty: boolean;
}

/** The table's rows, highest version first; null when there is no table (then nothing is created unless something runs). */
async function readVersions(session: Session, schema: string): Promise<VersionRow[] | null> {
  const { rows: found } = await session.query<{ exists: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2) AS exists',
    [schema, MIGRATIONS_TABLE],
  );
  if (!found[0].exists) return null;
  const { rows } = await session.query<{ version: string; dirty: boolean }>(`SELECT version::text, dirty FROM ${q(schema)}.${q(MIGRATIONS_TABLE)} ORDER BY version DESC`);
  return rows.map((r) => ({ version: Number(r.version), dirty: r.dirty }));
}

async function createTable(session: Session, table: string): Promise<void> {
  await session.query(`CREATE TABLE IF NOT EXISTS ${table} (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`);
}

/**
 * golang-migrate's postgres `SetVersion`: one transaction that empties the table and writes the
 * row (none for null), sent as one multi-statement query (one round trip; the values are numbers).
 */
async function setVersion(session: Session, table: string, version: number | null, dirty = false): Promise<void> {
  if (version !== null && !Number.isSafeInteger(version)) throw new Error(`invalid migration version ${version}`);
  const insert = version === null ? '' : ` INSERT INTO ${table} (version, dirty) VALUES (${version}, ${dirty});`;
  try {
    await session.batch(`BEGIN; DELETE FROM ${table};${insert} COMMIT;`);
  } catch (error) {
    await session.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/**
 * golang-migrate's order: (sequential) mark the version dirty; run the file and Encore's upsert
 * of the clean row as one simple query; (sequential) set the version clean; (non-sequential)
 * upsert the clean row.
 */
async function applyFile(session: Session, table: string, file: MigrationFile, nonSequential: boolean): Promise<void> {
  const text = file.sql ?? (await readFile(file.path!, 'utf8'));
  if (!nonSequential) await setVersion(session, table, file.version, true);
  const upsert = `;\nINSERT INTO ${table} (version, dirty) VALUES (${file.version}, false) ON CONFLICT (version) DO UPDATE SET dirty = false;`;
  try {
    await simpleQuery(session, text + upsert);
  } catch (error) {
    const done = (error as { completed?: number }).completed ?? 0;
    await session.query('ROLLBACK').catch(() => {});
    throw describeFailure(file, text, done, error, nonSequential);
  }
  // Both in a transaction of their own, as golang-migrate's SetVersion: a file that left its own
  // BEGIN open is committed by it, as Encore's runner commits it.
  if (nonSequential) {
    await session.batch(`BEGIN; INSERT INTO ${table} (version, dirty) VALUES (${file.version}, false) ON CONFLICT (version) DO UPDATE SET dirty = false; COMMIT;`);
  } else await setVersion(session, table, file.version, false);
}

/**
 * Sends `text` with the simple protocol (one round trip; PostgreSQL runs its statements in one
 * implicit transaction unless they control transactions themselves). Counts the statements that
 * completed, so a failure without an error position can still be placed; a failure carries
 * `completed`.
 */
async function simpleQuery(session: Session, text: string): Promise<void> {
  let completed = 0;
  class CountingQuery extends pg.Query {
    handleCommandComplete(msg: unknown, connection: unknown): void {
      completed++;
      (pg.Query.prototype as unknown as { handleCommandComplete(m: unknown, c: unknown): void }).handleCommandComplete.call(this, msg, connection);
    }
  }
  await new Promise<void>((resolve, reject) => {
    const query = new CountingQuery(text);
    (query as unknown as { callback: (error: Error | null) => void }).callback = (error) => (error ? reject(Object.assign(error, { completed })) : resolve());
    void session.query(query as unknown as string);
  });
}

const TXN_START = /^(BEGIN|START\s+TRANSACTION)\b(?!\s+ATOMIC)/i;
const TXN_COMMIT = /^(COMMIT|END)\b(?!\s+PREPARED)/i;
const TXN_ROLLBACK = /^(ROLLBACK|ABORT)\b(?!\s+(TO|PREPARED)\b)/i;

/** The statement's text without leading comments, for keyword checks. */
function head(statement: Statement): string {
  return statement.text.replace(/^(\s*(--[^\n]*\n?|\/\*[\s\S]*?\*\/))*\s*/, '');
}

/** Where a file failed and what of it persisted, from the statements PostgreSQL completed and its error position. */
function describeFailure(file: MigrationFile, text: string, completed: number, error: unknown, nonSequential: boolean): MigrationError {
  const pgError = error as { message: string; code?: string; position?: string; detail?: string; hint?: string };
  const statements = splitStatements(text);
  // The failing statement: by error position when PostgreSQL gives one, else the one after those that completed.
  let index = -1;
  let line: number | null = null;
  const position = pgError.position ? Number(pgError.position) : NaN;
  if (Number.isFinite(position) && position > 0) {
    const offset = charOffset(text, position - 1);
    if (offset <= text.length) {
      line = text.slice(0, offset).split('\n').length;
      index = statements.findIndex((s) => s.start <= offset && offset <= s.end);
    }
  }
  if (index < 0 && completed < statements.length) index = completed;
  const statement = index >= 0 ? statements[index] : null;
  const failedInUpsert = index < 0 && completed >= statements.length;
  line ??= statement?.line ?? null;

  // Replay the file's own transaction statements over the ones that completed.
  const ownTransaction = statements.some((s) => TXN_START.test(head(s)) || TXN_COMMIT.test(head(s)) || TXN_ROLLBACK.test(head(s)));
  const committed: number[] = [];
  let open: number[] = [];
  const ran = Math.min(completed, statements.length);
  for (let i = 0; i < ran; i++) {
    const h = head(statements[i]);
    if (TXN_COMMIT.test(h)) (committed.push(...open.filter((n) => !isTxn(statements[n - 1]))), (open = []));
    else if (TXN_ROLLBACK.test(h)) open = [];
    else open.push(i + 1);
  }
  const version = `version ${file.version}`;
  const bookkeeping = nonSequential ? `${version} is not recorded` : `${version} is marked dirty`;
  let summary: string;
  if (!ownTransaction) summary = `Nothing of ${file.file} was applied (it ran in one transaction, rolled back); ${nonSequential ? `${version} is not recorded` : `${version} stays dirty until the next run re-applies it`}.`;
  else if (!committed.length) summary = `${file.file} manages its own transaction; nothing of it was committed before the failure, so nothing of it persists; ${bookkeeping}.`;
  else {
    const lines = committed.map((n) => statements[n - 1].line);
    summary = `${file.file} manages its own transaction: statements ${ranges(committed)} (lines ${lines[0]}–${lines.at(-1)}) were committed by its own COMMIT and persist; the rest was rolled back; ${bookkeeping}, and the next run applies the whole file again, so make it safe to re-run or undo those statements by hand.`;
  }
  const where = statement
    ? `statement ${index + 1} (line ${line}):\n    ${excerpt(statement.text)}\n  `
    : failedInUpsert ? 'recording its version: ' : line ? `line ${line}: ` : '';
  const sqlstate = pgError.code ? ` (SQLSTATE ${pgError.code})` : '';
  // DETAIL may quote row data (a duplicate key's value); it stays on the cause, the HINT is shown.
  const extra = pgError.hint ? `\n  HINT: ${pgError.hint}` : '';
  return new MigrationError(
    `migration ${file.file} failed at ${where}${pgError.message}${sqlstate}${extra}\n${summary}${ownTransaction ? '' : ' Fix it and run migrate again.'}`,
    file.file,
    statement ? { index: index + 1, line: statement.line, text: statement.text } : null,
    { line, code: pgError.code ?? null, serverMessage: pgError.message, version: file.version, persisted: { ownTransaction, statements: committed, summary } },
    { cause: error },
  );
}

function isTxn(statement: Statement): boolean {
  const h = head(statement);
  return TXN_START.test(h) || TXN_COMMIT.test(h) || TXN_ROLLBACK.test(h);
}

/** PostgreSQL's error position counts characters (code points); JavaScript strings count UTF-16 units. */
function charOffset(text: string, chars: number): number {
  let offset = 0;
  for (let n = 0; n < chars && offset < text.length; n++) offset += text.codePointAt(offset)! > 0xffff ? 2 : 1;
  return offset;
}

function ranges(numbers: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < numbers.length; i++) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;
    out.push(i === j ? `${numbers[i]}` : `${numbers[i]}–${numbers[j]}`);
    i = j;
  }
  return out.join(', ');
}

function excerpt(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > 200 ? oneLine.slice(0, 197) + '...' : oneLine;
}

/**
 * A database's migrations as the platform's API takes them (`{ file, sql }`, `file` relative to
 * the folder, e.g. `20240101120000_init/migration.sql`), read with the source and filename rules
 * the model declares. `baseDir` is the folder the model's paths are relative to (arbor.yaml's
 * folder, or the Encore app's root).
 */
export async function readMigrationTexts(baseDir: string, db: { migrations?: string; migrationsSource?: MigrationSource; migrationsNaming?: FileNaming }): Promise<{ file: string; sql: string }[]> {
  if (!db.migrations) return [];
  const files = await listMigrations(resolve(baseDir, db.migrations), { source: db.migrationsSource, naming: db.migrationsNaming });
  return Promise.all(files.map(async (f) => ({ file: f.file, sql: await readFile(f.path, 'utf8') })));
}

/** Problems with migration file names given to the platform for `db` (empty when fine): the same rules as a folder's. */
export function migrationNameProblems(db: { migrationsSource?: MigrationSource; migrationsNaming?: FileNaming }, files: string[]): string[] {
  return parseMigrationNames(files, { source: db.migrationsSource, naming: db.migrationsNaming }).problems;
}
