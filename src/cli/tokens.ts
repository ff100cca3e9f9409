/**
 * @module `arbor tokens create`: an API token for CI and first automation, made where ARBOR_HOME
 * lives (no login needed: access to ARBOR_HOME is the credential).
 */
import type { Command } from 'commander';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TOKEN_PREFIX, newSecret } from '../platform/auth/auth.ts';
import { inboxDir } from '../platform/auth/token-inbox.ts';
import { last4, sha256 } from '../platform/secrets.ts';
import { openStore } from '../platform/store/db.ts';
import { apiTokens } from '../platform/store/schema.ts';

export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').alias('token').description('platform API tokens');
  tokens
    .command('create')
    .description('create an API token and print it (once)')
    .requiredOption('--role <role>', 'admin or member')
    .option('--name <name>', 'what the token is for', 'cli')
    .option('--home <dir>', 'state directory', process.env.ARBOR_HOME ?? '.arbor')
    .action(async (opts: { role: string; name: string; home: string }) => {
      if (opts.role !== 'admin' && opts.role !== 'member') throw new Error(`--role must be admin or member (got ${opts.role})`);
      const home = resolve(opts.home);
      const platformHome = join(home, 'platform');
      if (!existsSync(platformHome) && !process.env.DATABASE_URL) throw new Error(`${home} holds no Arbor platform; run \`arbor up --home ${opts.home}\` first or pass --home`);
      const token = TOKEN_PREFIX + newSecret(24);
      const row = { name: opts.name, role: opts.role as 'admin' | 'member', tokenHash: sha256(token), last4: last4(token) };
      try {
        const store = await openStore({ home: platformHome, databaseUrl: process.env.DATABASE_URL });
        try {
          await store.db.insert(apiTokens).values({ ...row, createdBy: 'cli' });
        } finally {
          await store.close();
        }
      } catch (error) {
        if (!/is in use by process/.test((error as Error).message)) throw error;
        // The platform holds the embedded store: hand it the request and wait for it.
        const dir = inboxDir(platformHome);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const file = join(dir, `${Date.now()}-${process.pid}.json`);
        writeFileSync(file, JSON.stringify(row), { mode: 0o600 });
        const deadline = Date.now() + 15_000;
        while (existsSync(file)) {
          if (Date.now() > deadline) throw new Error(`the running platform did not pick up the token request ${file} within 15 s`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      process.stdout.write(`${token}\n`);
    });
}
