/**
 * @module `arbor migrate`: Encore's migration conventions on a database, run as its
 * `db_<db>_admin`. Files `N_name.up.sql` in numeric order; golang-migrate's `schema_migrations`
 * table (one row: the current version); each file and its version row in one transaction; the
 * same advisory lock as golang-migrate, so no two runners (Arbor's or Encore's) interleave.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from './crc32.ts';
import { newRoundTrips, openSession, type RoundTrips, type Session } from './connection.ts';
import { quoteIdent as q } from './names.ts';
import { splitStatements } from './sql-split.ts';

export const MIGRATIONS_TABLE = 'schema_migrations';

/** Encore's TypeScript pattern; `.down.sql` files are listed but never run. */
const FILE_PATTERN = /^(\d+)_([^.]+)\.(up|down)\.sql$/;

export interface MigrationFile {
  version: number;
  name: string;
  file: string;
  path: string;
}

/** A migration failed; nothing of `file` was applied (its transaction was rolled back). */
export class MigrationError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly statement: { index: number; line: number; text: string } | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/** The `.up.sql` files of `dir` in numeric order; other `.sql` names and duplicate numbers are errors. */
export async function listMigrations(dir: string): Promise<MigrationFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new Error(`cannot read the migrations folder ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const problems: string[] = [];
  const files: MigrationFile[] = [];
  for (const file of names.sort()) {
    if (!file.endsWith('.sql')) continue;
    const match = FILE_PATTERN.exec(file);
    if (!match) {
      problems.push(`${file}: a migration file is named N_description.up.sql (or .down.sql), e.g. 1_create_users.up.sql`);
      continue;
    }
    if (match[3] !== 'up') continue;
    const version = Number(match[1]);
    if (!Number.isSafeInteger(version) || version <= 0) {
      problems.push(`${file}: the version must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`);
      continue;
    }
    const twin = files.find((f) => f.version === version);
    if (twin) problems.push(`${file}: version ${version} is also used by ${twin.file}; every migration needs its own number`);
    else files.push({ version, name: match[2], file, path: join(dir, file) });
  }
  if (problems.length) throw new Error(`invalid migrations in ${dir}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return files.sort((a, b) => a.version - b.version);
}

/** golang-migrate's `GenerateAdvisoryLockId(database, schema, table)`, so its runners and ours exclude each other. */
export function advisoryLockId(database: string, schema: string, table = MIGRATIONS_TABLE): string {
  const SALT = 1486364155;
  const sum = crc32(Buffer.from([schema, table, database].join('\0'), 'utf8'));
  return String(Math.imul(sum, SALT) >>> 0);
}

export interface MigrateResult {
  applied: { version: number; file: string; ms: number }[];
  /** The version the database is at afterwards, null when no migration has ever run. */
  version: number | null;
  roundTrips: RoundTrips;
}

export interface MigrateOptions {
  log?: (line: string) => void;
  /** How long to wait for another runner's lock; default 5 minutes. */
  lockTimeoutMs?: number;
}

/**
 * Applies the pending migrations of `dir` to the database at `url`.
 *
 * @example
 * const { applied } = await migrate('postgresql://db_main_admin:...@host/main', 'migrations/main');
 */
export async function migrate(url: string, dir: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const files = await listMigrations(dir);
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
      const current = await readVersion(session, table);
      let from = current?.version ?? 0;
      if (current?.dirty) {
        const previous = files.filter((f) => f.version < current.version).at(-1)?.version ?? 0;
        log(`version ${current.version} is marked dirty (a run failed half way); re-applying from ${previous || 'the start'}, as Encore does`);
        from = previous;
      }
      const pending = files.filter((f) => f.version > from);
      const applied: MigrateResult['applied'] = [];
      for (const file of pending) {
        const started = performance.now();
        await applyFile(session, table, file);
        const ms = performance.now() - started;
        applied.push({ version: file.version, file: file.file, ms });
        log(`applied ${file.file} (${ms.toFixed(0)} ms)`);
      }
      if (current?.dirty && !pending.length) await setVersion(session, table, from || null);
      const version = applied.at(-1)?.version ?? (current?.dirty ? from || null : current?.version ?? null);
      return { applied, version, roundTrips };
    } finally {
      await session.query('SELECT pg_advisory_unlock($1::bigint)', [lockId]).catch(() => {});
    }
  } finally {
    await session.end();
  }
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

async function readVersion(session: Session, table: string): Promise<{ version: number; dirty: boolean } | null> {
  await session.query(`CREATE TABLE IF NOT EXISTS ${table} (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`);
  const { rows } = await session.query<{ version: string; dirty: boolean }>(`SELECT version::text, dirty FROM ${table} ORDER BY version DESC LIMIT 1`);
  return rows.length ? { version: Number(rows[0].version), dirty: rows[0].dirty } : null;
}

async function setVersion(session: Session, table: string, version: number | null): Promise<void> {
  await session.query('BEGIN');
  try {
    await session.query(`DELETE FROM ${table}`);
    if (version !== null) await session.query(`INSERT INTO ${table} (version, dirty) VALUES ($1, false)`, [version]);
    await session.query('COMMIT');
  } catch (error) {
    await session.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** One transaction: every statement of the file, then the version row. */
async function applyFile(session: Session, table: string, file: MigrationFile): Promise<void> {
  const text = await readFile(file.path, 'utf8');
  const statements = splitStatements(text);
  await session.query('BEGIN');
  let index = -1;
  try {
    for (index = 0; index < statements.length; index++) await session.query(statements[index].text);
    index = -1;
    await session.query(`DELETE FROM ${table}`);
    await session.query(`INSERT INTO ${table} (version, dirty) VALUES ($1, false)`, [file.version]);
    await session.query('COMMIT');
  } catch (error) {
    await session.query('ROLLBACK').catch(() => {});
    const statement = index >= 0 ? { index: index + 1, line: statements[index].line, text: statements[index].text } : null;
    const where = statement ? `statement ${statement.index} (line ${statement.line}):\n    ${excerpt(statement.text)}\n  ` : 'recording its version: ';
    throw new MigrationError(
      `migration ${file.file} failed at ${where}${(error as Error).message}\nNothing of ${file.file} was applied; fix it and run migrate again.`,
      file.file,
      statement,
      { cause: error },
    );
  }
}

function excerpt(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > 200 ? oneLine.slice(0, 197) + '...' : oneLine;
}
