/**
 * @module `arbor migrate`: apply a folder of Encore-style migrations to one database, connected as
 * its `db_<db>_admin`. Progress on stderr, the result on stdout.
 */
import { Command, Option } from 'commander';
import { FILE_NAMINGS, migrate, MIGRATION_SOURCES, type FileNaming, type MigrationSource } from '../platform/postgres/migrate.ts';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending migrations as Encore runs them: each file as one multi-statement query, golang-migrate\'s schema_migrations')
    .addOption(new Option('--url <url>', 'database connection URL, as db_<db>_admin').env('ARBOR_DATABASE_URL').makeOptionMandatory())
    .requiredOption('--dir <dir>', 'folder of migration files')
    .addOption(new Option('--source <source>', "how the folder is laid out, as Encore's migrations.source: sql (N_name.up.sql), drizzle (NNNN_name.sql), prisma or drizzle/v1 (<N>_<name>/migration.sql; non-sequential)").choices(MIGRATION_SOURCES).default('sql'))
    .addOption(new Option('--naming <rules>', "filename rules of a sql folder: Encore's TypeScript parser (ts), its Go parser (go, 1.up.sql allowed), or either (any)").choices(FILE_NAMINGS).default('any'))
    .option('--json', 'print JSON for machines')
    .action(async (options: { url: string; dir: string; source: MigrationSource; naming: FileNaming; json?: boolean }) => {
      const result = await migrate(options.url, options.dir, { source: options.source, naming: options.naming, log: (line) => process.stderr.write(`INFO: ${line}\n`) });
      if (options.json) {
        process.stdout.write(JSON.stringify({ applied: result.applied, version: result.version, mode: result.mode }, null, 2) + '\n');
        return;
      }
      if (!result.applied.length) process.stderr.write(`INFO: no change; nothing to apply, the database is at version ${result.version ?? 'none'}\n`);
      process.stdout.write(`version\t${result.version ?? ''}\napplied\t${result.applied.map((m) => m.file).join(' ')}\n`);
    });
}
