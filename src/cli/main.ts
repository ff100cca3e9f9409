/**
 * @module The `arbor` command line: one file per resource command, registered here.
 */
import { Command, CommanderError } from 'commander';
import { registerEngine } from './engine.ts';
import { registerMigrate } from './migrate.ts';
import { registerRoles } from './roles.ts';
import { registerUp } from './up.ts';
import { registerTokens } from './tokens.ts';
import { registerApps } from './apps.ts';
import { registerPreviews } from './previews.ts';
import { registerDb } from './db.ts';
import { addExamples } from './examples.ts';

const program = new Command('arbor')
  .description('Postgres environments on Neon: branches per environment and pull request, least-privilege roles, an offline engine')
  .showHelpAfterError()
  .exitOverride();

registerUp(program);
registerTokens(program);
registerApps(program);
registerPreviews(program);
registerDb(program);
registerEngine(program);
registerRoles(program);
registerMigrate(program);
addExamples(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`ERROR: ${message}\n`);
  if (process.env.ARBOR_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
}
