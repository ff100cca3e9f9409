/**
 * @module `arbor up`: everything on one machine — the engine, with a `local` Neon account.
 */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { startEngineServer } from '../engine/server.ts';

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start Arbor locally: the offline Neon engine (state in $ARBOR_HOME, default ./.arbor)')
    .option('--home <dir>', 'state directory', process.env.ARBOR_HOME ?? '.arbor')
    .option('--port <n>', 'engine HTTP port', '4599')
    .action(async (opts: { home: string; port: string }) => {
      const home = resolve(opts.home);
      const log = { info: (m: string) => process.stderr.write(`INFO: ${m}\n`), warn: (m: string) => process.stderr.write(`WARNING: ${m}\n`) };
      const engine = await startEngineServer({ home: join(home, 'engine'), port: Number(opts.port), log });
      process.stdout.write(
        [
          `Arbor is up (state in ${home}).`,
          `  Neon engine API: ${engine.url}`,
          `  API key:         ${engine.apiKey}`,
          `  neonctl:         NEON_API_HOST=${engine.url} NEON_API_KEY=${engine.apiKey} npx neonctl projects list --no-analytics`,
          'Press Ctrl-C to stop (endpoints are stopped cleanly).',
          '',
        ].join('\n'),
      );
      const stop = async () => {
        await engine.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
