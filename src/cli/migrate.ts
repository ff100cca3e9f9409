/**
 * @module `arbor migrate`: apply a folder of Encore-style migrations to one database, connected as
 * its `db_<db>_admin`. Progress on stderr, the result on stdout.
 */
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadAppModel, migrationsOf, type AppModel } from '../platform/postgres/app-model.ts';
import { readEncoreApp } from '../platform/postgres/encore-app.ts';
import { FILE_NAMINGS, migrate, MIGRATION_SOURCES, type FileNaming, type MigrationSource } from '../platform/postgres/migrate.ts';

interface MigrateCliOptions {
  url: string;
  dir?: string;
  app?: string;
  encore?: string;
  db?: string;
  source?: MigrationSource;
  naming?: FileNaming;
  json?: boolean;
}

/** The folder and its rules: given (`--dir`), or the database's as arbor.yaml or the Encore app declares it. */
async function target(options: MigrateCliOptions): Promise<{ dir: string; source: MigrationSource; naming: FileNaming }> {
  const given = [options.dir && '--dir', options.app && '--app', options.encore && '--encore'].filter(Boolean);
  if (given.length !== 1) throw new Error(given.length ? `${given.join(' and ')} cannot be used together; give one` : 'give --dir DIR, or --app arbor.yaml / --encore APP_DIR with --db NAME');
  if (options.dir) {
    if (options.db) throw new Error('--db is for --app or --encore; with --dir give the folder itself');
    return { dir: options.dir, source: options.source ?? 'sql', naming: options.naming ?? 'any' };
  }
  if (options.source || options.naming) throw new Error('--source and --naming come from the app with --app or --encore; give them only with --dir');
  let model: AppModel;
  let base: string;
  if (options.app) {
    model = await loadAppModel(options.app);
    base = dirname(resolve(options.app));
  } else {
    const found = await readEncoreApp(options.encore!);
    for (const note of found.notes) process.stderr.write(`WARNING: ${note}\n`);
    model = found.model;
    base = resolve(options.encore!);
  }
  const names = model.databases.map((d) => d.name).join(', ') || 'none';
  if (!options.db) throw new Error(`--db is needed: which of the app's databases (${names})?`);
  const db = model.databases.find((d) => d.name === options.db);
  if (!db) throw new Error(`the app has no database ${JSON.stringify(options.db)}; its databases: ${names}`);
  const m = migrationsOf(db);
  if (!m) throw new Error(`database ${db.name} declares no migrations folder`);
  return { dir: resolve(base, m.path), source: m.source, naming: m.naming };
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending migrations as Encore runs them: each file as one multi-statement query, golang-migrate\'s schema_migrations')
    .addOption(new Option('--url <url>', 'database connection URL, as db_<db>_admin').env('ARBOR_DATABASE_URL').makeOptionMandatory())
    .option('--dir <dir>', 'folder of migration files')
    .option('--app <file>', "take the folder and its source from this arbor.yaml's database --db")
    .option('--encore <dir>', "take the folder and its source from this Encore app's database --db (read from its source code)")
    .option('--db <name>', 'the database of --app or --encore')
    .addOption(new Option('--source <source>', "with --dir: how the folder is laid out, as Encore's migrations.source: sql (N_name.up.sql, the default), drizzle (NNNN_name.sql), prisma or drizzle/v1 (<N>_<name>/migration.sql; non-sequential)").choices(MIGRATION_SOURCES))
    .addOption(new Option('--naming <rules>', "with --dir: filename rules of a sql folder: Encore's TypeScript parser (ts), its Go parser (go, 1.up.sql allowed), or either (any, the default)").choices(FILE_NAMINGS))
    .option('--json', 'print JSON for machines')
    .action(async (options: MigrateCliOptions) => {
      const { dir, source, naming } = await target(options);
      const result = await migrate(options.url, dir, { source, naming, log: (line) => process.stderr.write(`INFO: ${line}\n`) });
      if (options.json) {
        process.stdout.write(JSON.stringify({ applied: result.applied, version: result.version, mode: result.mode }, null, 2) + '\n');
        return;
      }
      if (!result.applied.length) process.stderr.write(`INFO: no change: nothing to apply; the database is at version ${result.version ?? 'none'}\n`);
      process.stdout.write(`version\t${result.version ?? ''}\napplied\t${result.applied.map((m) => m.file).join(' ')}\n`);
    });
}
