/**
 * @module `arbor up`: everything on one machine — the offline Neon engine, the platform with its
 * API, and a `local` Neon account connected to the engine. `arbor serve`: the platform alone.
 */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import type { Platform } from '../platform/platform.ts';
import { dataPlace } from './engine.ts';
import { checkHome, checkMachine, checkPort, checkShim, claimStateDir, info, warn } from './preflight.ts';

const log = { info, warn };

function port(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag} ${value} is not a port number (0-65535)`);
  return n;
}

function printLogin(platform: Platform, home: string): void {
  const lines = [`  Dashboard:       ${platform.url}/`, `  API:             ${platform.url}/api/v1   (OpenAPI: ${platform.url}/api/v1/openapi.json)`];
  if (platform.firstAdmin) {
    lines.push(`  Log in as:       ${platform.firstAdmin.name} / ${platform.firstAdmin.password}   (shown once; first start only)`);
  } else {
    lines.push(`  Log in:          with the admin password printed on the first start, or make a token: npx arbor tokens create --role admin --home ${home}`);
  }
  lines.push(`  e.g.             curl -c cookies -H 'content-type: application/json' -d '{"name":"admin","password":"…"}' ${platform.url}/api/v1/auth/login`);
  process.stdout.write(lines.join('\n') + '\n');
}

/** The platform as `up` and `serve` start it: metadata in DATABASE_URL or under `<home>/platform`. */
function platformOptions(home: string, portValue: string, host?: string, trace?: boolean) {
  return { home: join(resolve(home), 'platform'), databaseUrl: process.env.DATABASE_URL, port: port(portValue, '--port'), host, log, failpoint: process.env.ARBOR_FAILPOINT, trace: trace || undefined };
}

function stopOn(close: () => Promise<void>): void {
  const stop = async () => {
    process.stderr.write('INFO: stopping…\n');
    await close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start Arbor locally: engine + platform + a `local` Neon account (state in $ARBOR_HOME, default ./.arbor)')
    .option('--home <dir>', 'state directory', process.env.ARBOR_HOME ?? '.arbor')
    .option('--port <n>', 'platform HTTP port', '4400')
    .option('--engine-port <n>', 'engine HTTP port', '4599')
    .option('--engine-data <dir>', "put the engine's clusters and history here, e.g. on XFS with reflink or btrfs (default: $ARBOR_ENGINE_DATA, else under the home)")
    .option('--trace', 'log one line per API request with where its time went (auth, store queries, Neon calls); also ARBOR_TRACE=1')
    .action(async (opts: { home: string; port: string; enginePort: string; engineData?: string; trace?: boolean }) => {
      const home = resolve(opts.home);
      const enginePort = port(opts.enginePort, '--engine-port');
      checkMachine();
      checkHome(home);
      claimStateDir(join(home, 'engine'), home);
      await checkPort('127.0.0.1', port(opts.port, '--port'), '--port', true);
      await checkPort('127.0.0.1', enginePort, '--engine-port', true);
      await checkShim(join(home, 'engine'));
      info('starting the engine (offline Neon)…');
      // Loaded here, not at the top: every other command (and --help) starts without the engine and platform.
      const [{ startEngineServer }, { ensureLocalAccount }, { startPlatform }] = await Promise.all([import('../engine/server.ts'), import('../platform/accounts/accounts.ts'), import('../platform/platform.ts')]);
      const dataDir = opts.engineData ?? process.env.ARBOR_ENGINE_DATA;
      const engine = await startEngineServer({ home: join(home, 'engine'), port: enginePort, log, ...(dataDir ? { engine: { dataDir: resolve(dataDir) } } : {}) });
      info('starting the platform…');
      let platform: Platform;
      try {
        platform = await startPlatform(platformOptions(home, opts.port, undefined, opts.trace));
        await ensureLocalAccount(platform.ctx, engine.url, engine.apiKey);
      } catch (error) {
        await engine.close();
        throw error;
      }
      process.stdout.write(`Arbor is up (state in ${home}).\n`);
      printLogin(platform, home);
      // The engine key is shown on the start that created it only (then: arbor engine key).
      const engineKey = engine.keyCreated ? engine.apiKey : `"$(npx arbor engine key --home ${join(home, 'engine')})"`;
      process.stdout.write(`  Neon engine:     ${engine.url}  (account "local"; neonctl: NEON_API_HOST=${engine.url} NEON_API_KEY=${engineKey})\n`);
      if (engine.keyCreated) process.stdout.write(`  Engine key:      shown once, on this first start; later: npx arbor engine key --home ${join(home, 'engine')}\n`);
      process.stdout.write(`  Engine data:     ${dataPlace(join(home, 'engine'), dataDir, engine.engine.copyStrategy)}\n`);
      process.stdout.write('Press Ctrl-C to stop.\n');
      stopOn(async () => {
        await platform.close();
        await engine.close();
      });
    });

  program
    .command('serve')
    .description('start the platform alone (connect Neon accounts through its API)')
    .option('--home <dir>', 'state directory', process.env.ARBOR_HOME ?? '.arbor')
    .option('--port <n>', 'HTTP port', '4400')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--trace', 'log one line per API request with where its time went (auth, store queries, Neon calls); also ARBOR_TRACE=1')
    .action(async (opts: { home: string; port: string; host: string; trace?: boolean }) => {
      checkHome(resolve(opts.home));
      await checkPort(opts.host, port(opts.port, '--port'), '--port');
      info('starting the platform…');
      const { startPlatform } = await import('../platform/platform.ts');
      const platform = await startPlatform(platformOptions(opts.home, opts.port, opts.host, opts.trace));
      process.stdout.write(`Arbor platform listening: ${platform.url}\n`);
      printLogin(platform, resolve(opts.home));
      stopOn(() => platform.close());
    });
}
