/**
 * @module The `arbor` command tree: one file per resource command, registered here, and an
 * example after every command's help. main.ts parses the command line with it.
 */
import { Command } from 'commander';
import { registerApps } from './apps.ts';
import { registerDb } from './db.ts';
import { registerEngine } from './engine.ts';
import { registerEnvironments } from './environments.ts';
import { registerGithub } from './github.ts';
import { addExamples } from './examples.ts';
import { registerMigrate } from './migrate.ts';
import { registerPreviews } from './previews.ts';
import { registerRoles } from './roles.ts';
import { registerTokens } from './tokens.ts';
import { registerUp } from './up.ts';

export function createProgram(): Command {
  const program = new Command('arbor')
    .description('Postgres environments on Neon: branches per environment and pull request, least-privilege roles, an offline engine')
    .showHelpAfterError()
    .exitOverride();
  registerUp(program);
  registerTokens(program);
  registerApps(program);
  registerEnvironments(program);
  registerPreviews(program);
  registerDb(program);
  registerGithub(program);
  registerEngine(program);
  registerRoles(program);
  registerMigrate(program);
  addExamples(program);
  return program;
}
