/**
 * @module `arbor db shell|conn-uri|proxy`, as Encore's `encore db` has them: the database is the
 * positional argument (`--database` is the same), the role is `encore_reader` by default,
 * `--write` (encore_writer), `--admin` (encore_admin) or `--superuser` (encore_platform), one of
 * them at most. Credentials come from the platform's reveal call (audited; app admins only, on
 * every environment: a developer gets the platform's 403). `conn-uri` prints the URI; `proxy`
 * keeps the password in this process and gives local clients a password of its own
 * (db-proxy.ts); `shell` runs psql through such a proxy, as Encore's does.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { PlatformClient, urlOption } from './client.ts';
import { startDbProxy } from './db-proxy.ts';

interface Target {
  url: string;
  app?: string;
  env: string;
  database?: string;
  write?: boolean;
  admin?: boolean;
  superuser?: boolean;
}

/** `app:` of ./arbor.yaml, so `--app` may be left out inside an app's folder. */
function appOfFolder(): string | undefined {
  if (!existsSync('arbor.yaml')) return undefined;
  try {
    const app = (parseYaml(readFileSync('arbor.yaml', 'utf8')) as { app?: unknown } | null)?.app;
    return typeof app === 'string' ? app : undefined;
  } catch {
    return undefined;
  }
}

function addTargetOptions(command: Command): Command {
  return command
    .addOption(urlOption())
    .option('--app <name>', 'app (default: app: of ./arbor.yaml)')
    .requiredOption('-e, --env <name>', 'environment')
    .option('--database <name>', 'the same as DATABASE')
    .addOption(new Option('--write', 'as encore_writer').conflicts(['admin', 'superuser']))
    .addOption(new Option('--admin', 'as encore_admin').conflicts(['write', 'superuser']))
    .addOption(new Option('--superuser', 'as encore_platform').conflicts(['write', 'admin']));
}

/** The role, the app and the database a command names, checked against the environment's users. */
async function resolve(o: Target, positional: string | undefined, command: string, anyDatabase = false) {
  const app = o.app ?? appOfFolder();
  if (!app) throw new Error('--app is required (there is no arbor.yaml with an app: in this folder to take it from)');
  if (positional !== undefined && o.database !== undefined && positional !== o.database) throw new Error(`two databases given: ${positional} and --database ${o.database}; give one`);
  const wanted = positional ?? o.database;
  const role = o.superuser ? 'encore_platform' : o.admin ? 'encore_admin' : o.write ? 'encore_writer' : 'encore_reader';
  const client = new PlatformClient(o.url);
  const base = `/apps/${encodeURIComponent(app)}/environments/${encodeURIComponent(o.env)}`;
  const { users } = await client.call<{ users: { username: string; databases: string[] }[] }>('GET', `${base}/users`);
  // The global roles are named after the model's prefix: the one ending like the role asked for.
  const entry = users.find((u) => u.username === role) ?? users.find((u) => u.username.endsWith(role.slice('encore'.length)) && !u.username.startsWith('db_') && !u.username.startsWith('svc_'));
  if (!entry) throw new Error(`${app}/${o.env} has no login role ${role}`);
  const databases = entry.databases;
  if (!databases.length) throw new Error(`app ${app} declares no database`);
  let database = wanted;
  if (database === undefined) {
    if (databases.length > 1 && !anyDatabase) throw new Error(`app ${app} has several databases (${databases.join(', ')}): name one, e.g. arbor db ${command} ${databases[0]} --env ${o.env}`);
    database = databases[0];
  }
  if (!databases.includes(database)) throw new Error(`database ${JSON.stringify(database)} is not one of app ${app}'s: ${databases.join(', ')}`);
  return {
    app,
    role: entry.username,
    database,
    databases,
    /** The role's URI on `database` (a reveal: app admins; audited). */
    async reveal(): Promise<URL> {
      const { user } = await client.call('POST', `${base}/users/${encodeURIComponent(entry.username)}/reveal`);
      const url = new URL(user.connectionUri);
      url.pathname = `/${encodeURIComponent(database)}`;
      return url;
    },
  };
}

/** The proxy's URI, without a password (the user name is only shown: the proxy takes any). */
function localUri(port: number, role: string, database: string): URL {
  const url = new URL(`postgresql://127.0.0.1:${port}`);
  url.username = role;
  url.pathname = `/${encodeURIComponent(database)}`;
  url.searchParams.set('sslmode', 'disable');
  return url;
}

/** The arguments after `--` (they go to psql) and the operands before it. */
function splitAtDashes(command: Command, operands: string[]): { before: string[]; after: string[] } {
  let root: Command = command;
  while (root.parent) root = root.parent;
  const raw = (root as unknown as { rawArgs: string[] }).rawArgs ?? [];
  const at = raw.indexOf('--');
  const after = at < 0 ? 0 : raw.length - at - 1;
  return { before: operands.slice(0, operands.length - after), after: operands.slice(operands.length - after) };
}

export function registerDb(program: Command): void {
  const db = program.command('db').description("an environment's databases: psql, a connection URI, a local proxy");
  addTargetOptions(db.command('shell').description('open psql on a database of an environment (arguments after -- go to psql; a reveal: app admins; audited)'))
    .argument('[args...]', 'DATABASE, then -- and psql arguments')
    .action(async (args: string[], o: Target, command: Command) => {
      const { before, after } = splitAtDashes(command, args);
      if (before.length > 1) throw new Error(`one database at most, got ${before.join(' ')} (psql arguments go after --)`);
      const target = await resolve(o, before[0], 'shell');
      // As Encore's does, psql talks to a proxy in this process with a password made for this
      // session: the real one never reaches psql, its history or `ps`.
      const proxy = await startDbProxy({ upstreamUri: (await target.reveal()).toString(), databases: target.databases, log: (line) => void (line.startsWith('WARN') && process.stderr.write(`${line}\n`)) });
      process.stderr.write(`INFO: connecting to ${target.database} on ${target.app}/${o.env} as ${target.role}\n`);
      const url = localUri(proxy.port, target.role, target.database);
      // Ctrl-C is psql's (it cancels the query through the proxy), not a reason for the proxy to stop.
      const ignore = () => {};
      process.on('SIGINT', ignore);
      let code: number;
      try {
        const child = spawn('psql', [url.toString(), ...after], { stdio: 'inherit', env: { ...process.env, PGPASSWORD: proxy.password } });
        code = await new Promise<number>((done, fail) => {
          child.once('error', (error) => fail(new Error((error as NodeJS.ErrnoException).code === 'ENOENT' ? 'psql is not installed (Debian: apt-get install postgresql-client)' : error.message)));
          child.once('exit', (c) => done(c ?? 1));
        });
      } finally {
        process.off('SIGINT', ignore);
        await proxy.close();
      }
      process.exitCode = code;
    });

  addTargetOptions(db.command('conn-uri').description("print a database's connection URI with the role's real password (a reveal: app admins; audited)"))
    .argument('[database]')
    .action(async (database: string | undefined, o: Target) => {
      const target = await resolve(o, database, 'conn-uri');
      process.stdout.write(`${(await target.reveal()).toString()}\n`);
    });

  addTargetOptions(db.command('proxy').description("a local listener on 127.0.0.1 for any Postgres client: it logs in with a password made for this run, the proxy with the role's real one (never shown; a reveal: app admins; audited)"))
    .option('-p, --port <n>', 'port (default: any free one)', (v) => {
      if (!/^[0-9]{1,5}$/.test(v) || Number(v) > 65535) throw new Error(`--port must be a port number (0-65535), got ${JSON.stringify(v)}`);
      return Number(v);
    })
    .argument('[database]', "the database of the printed URI (default: the first; clients may name any of the role's)")
    .action(async (database: string | undefined, o: Target & { port?: number }) => {
      const target = await resolve(o, database, 'proxy', true);
      const upstream = await target.reveal();
      const proxy = await startDbProxy({ upstreamUri: upstream.toString(), databases: target.databases, port: o.port, log: (line) => process.stderr.write(`${line}\n`) });
      const local = localUri(proxy.port, target.role, target.database);
      local.password = proxy.password;
      process.stdout.write(`${local.toString()}\n`);
      process.stderr.write(`INFO: ${target.app}/${o.env} as ${target.role} on 127.0.0.1:${proxy.port} (databases: ${target.databases.join(', ')}); this password works until the proxy stops (Ctrl-C)\n`);
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await proxy.close();
    });
}
