/**
 * @module `arbor db shell`: psql on an environment's database as one of the hierarchy's roles —
 * `encore_reader` by default, `--write` (encore_writer), `--admin` (encore_admin), `--superuser`
 * (encore_platform) — with credentials the platform reveals to admins (audited).
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { PlatformClient, urlOption } from './client.ts';

export function registerDb(program: Command): void {
  const db = program.command('db').description('databases of an environment');
  db.command('shell')
    .description('open psql on a database of an environment (extra arguments after -- go to psql)')
    .addOption(urlOption())
    .requiredOption('--app <name>', 'app')
    .requiredOption('--env <name>', 'environment')
    .option('--database <name>', 'database (default: the first of the model)')
    .option('--write', 'as encore_writer')
    .option('--admin', 'as encore_admin')
    .option('--superuser', 'as encore_platform')
    .argument('[psqlArgs...]')
    .action(async (psqlArgs: string[], o: { url: string; app: string; env: string; database?: string; write?: boolean; admin?: boolean; superuser?: boolean }) => {
      const prefix = 'encore';
      const role = o.superuser ? `${prefix}_platform` : o.admin ? `${prefix}_admin` : o.write ? `${prefix}_writer` : `${prefix}_reader`;
      const client = new PlatformClient(o.url);
      const base = `/apps/${encodeURIComponent(o.app)}/environments/${encodeURIComponent(o.env)}`;
      const { users } = await client.call('GET', `${base}/users`);
      const entry = users.find((u: { username: string }) => u.username === role);
      if (!entry) throw new Error(`${o.app}/${o.env} has no login role ${role}`);
      const database = o.database ?? entry.databases[0];
      if (!database) throw new Error(`app ${o.app} declares no database`);
      if (!entry.databases.includes(database)) throw new Error(`database ${database} is not one of ${o.app}'s (${entry.databases.join(', ')})`);
      const { user } = await client.call('POST', `${base}/users/${encodeURIComponent(role)}/reveal`);
      const url = new URL(user.connectionUri);
      url.pathname = `/${database}`;
      process.stderr.write(`INFO: connecting to ${database} on ${o.app}/${o.env} as ${role}\n`);
      // The password goes through the environment, not the command line (where `ps` shows it).
      const password = decodeURIComponent(url.password);
      url.password = '';
      const child = spawn('psql', [url.toString(), ...psqlArgs], { stdio: 'inherit', env: { ...process.env, PGPASSWORD: password } });
      const code = await new Promise<number>((resolve, reject) => {
        child.once('error', (error) => reject(new Error((error as NodeJS.ErrnoException).code === 'ENOENT' ? 'psql is not installed (Debian: apt-get install postgresql-client)' : error.message)));
        child.once('exit', (c) => resolve(c ?? 1));
      });
      process.exitCode = code;
    });
}
