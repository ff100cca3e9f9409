/**
 * @module `arbor engine serve`: the offline Neon alone.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { checkHome, checkMachine, checkPort, checkShim, claimStateDir, info, warn } from './preflight.ts';

export function registerEngine(program: Command): void {
  const engine = program.command('engine').description('the offline Neon-compatible engine');
  engine
    .command('serve')
    .description("serve Neon's management API v2 over local PostgreSQL clusters")
    .option('--home <dir>', 'state directory (default: $ARBOR_HOME/engine or ./.arbor/engine)')
    .option('--port <n>', 'HTTP port', '4599')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--api-key <key>', 'accept this API key (otherwise the engine makes its own on the first start, prints it once; later: npx arbor engine key)')
    .option('--no-spares', 'keep no hot standby per branched-from branch: every branch is a full copy (slower), no second cluster per parent on disk')
    .option('--data <dir>', 'put the clusters and their history here, e.g. on XFS with reflink or btrfs, where a branch costs only what it writes (default: $ARBOR_ENGINE_DATA, else in the home)')
    .action(async (opts: { home?: string; port: string; host: string; apiKey?: string; spares: boolean; data?: string }) => {
      const home = resolve(opts.home ?? join(process.env.ARBOR_HOME ?? '.arbor', 'engine'));
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${opts.port} is not a port number (0-65535)`);
      checkMachine();
      checkHome(home);
      claimStateDir(home, home);
      await checkPort(opts.host, port, '--port');
      await checkShim(home);
      info('starting the engine…');
      // Loaded here: `arbor --help` and the other commands start without the engine.
      const { startEngineServer } = await import('../engine/server.ts');
      const dataDir = opts.data ?? process.env.ARBOR_ENGINE_DATA;
      const server = await startEngineServer({ home, port, host: opts.host, apiKey: opts.apiKey, log: { info, warn }, engine: { spares: opts.spares, ...(dataDir ? { dataDir: resolve(dataDir) } : {}) } });
      process.stdout.write(`Arbor engine listening: ${server.url}\n`);
      // The key is shown once, when this start created it; never in the log (stderr).
      if (server.keyCreated) process.stdout.write(`API key: ${server.apiKey}   (shown once, on this first start; later: npx arbor engine key --home ${home})\n`);
      else if (opts.apiKey) process.stdout.write('API key: the one given with --api-key\n');
      else process.stdout.write(`API key: not shown again; print it with: npx arbor engine key --home ${home}\n`);
      process.stdout.write(`State: ${home}\n`);
      process.stdout.write(`Data: ${dataPlace(home, dataDir, server.engine.copyStrategy)}\n`);
      const key = opts.apiKey ? '<key>' : `"$(npx arbor engine key --home ${home})"`;
      process.stdout.write(`Try: NEON_API_HOST=${server.url} NEON_API_KEY=${key} npx neonctl projects list --no-analytics\n`);
      const stop = async () => {
        process.stderr.write('INFO: stopping endpoints…\n');
        try {
          await server.close();
        } catch (error) {
          process.stderr.write(`WARN: the engine did not close cleanly: ${(error as Error).message}\n`);
          process.exit(1);
        }
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  engine
    .command('key')
    .description("print the engine's API key (made on its first start; whoever has it controls every project of the engine)")
    .option('--home <dir>', 'state directory (default: $ARBOR_HOME/engine or ./.arbor/engine)')
    .action(async (opts: { home?: string }) => {
      const home = resolve(opts.home ?? join(process.env.ARBOR_HOME ?? '.arbor', 'engine'));
      const { readEngineKey } = await import('../engine/server.ts');
      process.stdout.write(`${readEngineKey(home)}\n`);
    });

  engine
    .command('ca')
    .description("print the path of the engine's local CA certificate, which signs every endpoint's certificate (give it to clients that verify TLS)")
    .option('--home <dir>', 'state directory (default: $ARBOR_HOME/engine or ./.arbor/engine)')
    .action((opts: { home?: string }) => {
      const home = resolve(opts.home ?? join(process.env.ARBOR_HOME ?? '.arbor', 'engine'));
      const ca = join(home, 'tls', 'ca.crt');
      if (!existsSync(ca)) throw new Error(`${ca} does not exist yet: it is made on the engine's first start (npx arbor engine serve --home ${home})`);
      process.stdout.write(`${ca}\n`);
      process.stderr.write(`Trust it: NODE_EXTRA_CA_CERTS=${ca} (node-postgres), PGSSLROOTCERT=${ca} (psql, neonctl), or sslrootcert=${ca} in a URL\n`);
    });
}

/** Where the clusters live and whether branches there are clones or copies, with the way to clones. */
export function dataPlace(home: string, dataDir: string | undefined, strategy: 'clone' | 'copy'): string {
  const where = dataDir ? resolve(dataDir) : join(home, 'clusters');
  return strategy === 'clone'
    ? `${where} (files are cloned: a branch costs only what it writes)`
    : `${where} (this filesystem cannot clone files: each branch copies its parent; on XFS with reflink or btrfs it would not — see --data)`;
}
