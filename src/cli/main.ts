/**
 * @module The `arbor` command line: parses argv with the command tree of program.ts; one handler
 * turns every failure into one `ERROR:` line and exit code 1 (the stack only with ARBOR_DEBUG=1).
 */
import { CommanderError } from 'commander';
import { createProgram } from './program.ts';

try {
  await createProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`ERROR: ${message}\n`);
  if (process.env.ARBOR_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
}
