/**
 * @module `arbor tokens create|list|revoke`. `create` makes an API token where ARBOR_HOME lives
 * (no login needed: access to ARBOR_HOME is the credential), scoped to one app (`--app`) or the
 * instance, with a role and an expiry (default 90 days). `list` and `revoke` go through the
 * platform API (ARBOR_URL, ARBOR_TOKEN), and show the tokens that token may manage; never a secret.
 */
import { type Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TokenRequest } from '../platform/auth/token-inbox.ts';
import { PlatformClient, print, urlOption } from './client.ts';

/** `90d`, `12h`, `30m`, `45s` or plain seconds. */
export function parseDuration(text: string): number {
  const m = /^([0-9]{1,9})([smhd]?)$/.exec(text.trim());
  if (!m) throw new Error(`--expires-in must be a duration like 90d, 12h, 30m or 3600 (seconds); got "${text}"`);
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').alias('token').description('platform API tokens');
  tokens
    .command('create')
    .description('create an API token and print it (once)')
    .requiredOption('--role <role>', 'viewer, developer or admin (with no --app, admin is an instance admin)')
    .option('--app <app>', 'the one app the token reaches (default: the whole instance)')
    .option('--expires-in <duration>', 'how long it works: 90d, 12h, 30m (at most 366d)', '90d')
    .option('--name <name>', 'what the token is for', 'cli')
    .option('--home <dir>', 'state directory', process.env.ARBOR_HOME ?? '.arbor')
    .action(async (opts: { role: string; app?: string; expiresIn: string; name: string; home: string }) => {
      // Loaded here, not at the top: the platform's auth and store modules (drizzle, PGlite) are
      // only needed by this offline path, and every other command starts faster without them.
      const [{ TOKEN_PREFIX, newSecret, tokenExpiry, tokenRole }, { inboxDir, insertHomeToken }, { last4, sha256 }, { openStore }] = await Promise.all([
        import('../platform/auth/auth.ts'),
        import('../platform/auth/token-inbox.ts'),
        import('../platform/secrets.ts'),
        import('../platform/store/db.ts'),
      ]);
      const role = (() => {
        try {
          return tokenRole(opts.role);
        } catch {
          throw new Error(`--role must be viewer, developer or admin (got ${opts.role})`);
        }
      })();
      let expiresAt: Date;
      try {
        expiresAt = tokenExpiry(parseDuration(opts.expiresIn));
      } catch (error) {
        throw new Error(/--expires-in/.test((error as Error).message) ? (error as Error).message : `--expires-in must be from 1m to 366d (got ${opts.expiresIn})`);
      }
      const home = resolve(opts.home);
      const platformHome = join(home, 'platform');
      if (!existsSync(platformHome) && !process.env.DATABASE_URL) throw new Error(`${home} holds no Arbor platform; run \`arbor up --home ${opts.home}\` first or pass --home`);
      const token = TOKEN_PREFIX + newSecret(24);
      const request: TokenRequest = { name: opts.name, role, ...(opts.app !== undefined ? { app: opts.app } : {}), expiresAt: expiresAt.toISOString(), tokenHash: sha256(token), last4: last4(token) };
      try {
        const store = await openStore({ home: platformHome, databaseUrl: process.env.DATABASE_URL });
        try {
          await insertHomeToken({ db: store.db }, request);
        } finally {
          await store.close();
        }
      } catch (error) {
        if (!/is in use by process/.test((error as Error).message)) throw error;
        // The platform holds the embedded store: hand it the request and wait for it.
        const dir = inboxDir(platformHome);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const file = join(dir, `${Date.now()}-${process.pid}.json`);
        writeFileSync(file, JSON.stringify(request), { mode: 0o600 });
        const deadline = Date.now() + 15_000;
        while (existsSync(file)) {
          if (Date.now() > deadline) throw new Error(`the running platform did not pick up the token request ${file} within 15 s`);
          await new Promise((r) => setTimeout(r, 100));
        }
        if (existsSync(`${file}.error`)) {
          const message = readFileSync(`${file}.error`, 'utf8');
          rmSync(`${file}.error`, { force: true });
          throw new Error(message);
        }
      }
      process.stdout.write(`${token}\n`);
    });
  tokens
    .command('list')
    .description('list the API tokens ARBOR_TOKEN may manage: name, scope, role, created, last used, expiry (never a secret)')
    .addOption(urlOption())
    .option('--json', 'as JSON')
    .action(async (opts: { url: string; json?: boolean }) => {
      const { tokens: list } = await new PlatformClient(opts.url).call<{ tokens: { id: number; name: string; scope: string; role: string; createdBy: string; createdAt: string; lastUsedAt?: string; expiresAt: string; expired: boolean }[] }>('GET', '/tokens');
      print(list, opts.json, () =>
        ['id\tname\tscope\trole\tcreated\tlast used\texpires', ...list.map((t) => [t.id, t.name, t.scope, t.role, t.createdAt, t.lastUsedAt ?? 'never', t.expired ? `expired ${t.expiresAt}` : t.expiresAt].join('\t'))].join('\n') + '\n',
      );
    });
  tokens
    .command('revoke')
    .description('revoke an API token (its id, from `arbor tokens list`)')
    .argument('<id>', 'the token id')
    .addOption(urlOption())
    .action(async (id: string, opts: { url: string }) => {
      await new PlatformClient(opts.url).call('DELETE', `/tokens/${encodeURIComponent(id)}`);
      process.stderr.write(`INFO: token ${id} revoked\n`);
    });
}
