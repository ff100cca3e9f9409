/**
 * @module `arbor migrate`: apply a folder of Encore-style migrations to one database, connected as
 * its `db_<db>_admin`. Progress on stderr, the result on stdout.
 */
import { Command, Option } from 'commander';
import { migrate } from '../platform/postgres/migrate.ts';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending N_name.up.sql migrations (Encore conventions), one transaction per file')
    .addOption(new Option('--url <url>', 'database connection URL, as db_<db>_admin').env('ARBOR_DATABASE_URL').makeOptionMandatory())
    .requiredOption('--dir <dir>', 'folder of migration files')
    .option('--json', 'print JSON for machines')
    .action(async (options: { url: string; dir: string; json?: boolean }) => {
      const result = await migrate(options.url, options.dir, { log: (line) => process.stderr.write(`INFO: ${line}\n`) });
      if (options.json) {
        process.stdout.write(JSON.stringify({ applied: result.applied, version: result.version }, null, 2) + '\n');
        return;
      }
      if (!result.applied.length) process.stderr.write(`INFO: nothing to apply; the database is at version ${result.version ?? 'none'}\n`);
      process.stdout.write(`version\t${result.version ?? ''}\napplied\t${result.applied.map((m) => m.file).join(' ')}\n`);
    });
}
