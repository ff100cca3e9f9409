/**
 * Encore's CLI habits and self-hosting, through the built binary against a real platform and
 * engine: `db shell DB` (positional database, psql behind a proxy that keeps the real password, refused when unknown, conflicting role flags
 * refused, --app from ./arbor.yaml), `db conn-uri`, `db proxy` (node-postgres and psql through it,
 * a wrong password refused, a cancel forwarded, the real password never printed) and
 * `env infra-config` (Encore's sql_servers shape, $env passwords, --reveal for app admins only,
 * and the config's logins working as the services).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { CommanderError } from 'commander';
import pg from 'pg';
import { createProgram } from './program.ts';
import { encoreInfraConfig } from '../platform/environments/infra-config.ts';
import { SHOP_MIGRATIONS, SHOP_MODEL, startTestPlatform, type TestPlatform } from '../platform/test-support.ts';

let t: TestPlatform;
let token: string;
const BIN = resolve('bin/arbor.js');
const dir = mkdtempSync(join(tmpdir(), 'arbor-db-cli-'));

function run(args: string[], options: { token?: string; cwd?: string } = {}): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }>; stdout: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: { ...process.env, ARBOR_URL: t.platform.url, ARBOR_TOKEN: options.token ?? token }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) => child.once('exit', (code) => r({ code, stdout, stderr })));
  return { child, done, stdout: () => stdout };
}
const arbor = (args: string[], options: { token?: string; cwd?: string } = {}) => run(args, options).done;

/** The same command tree in this process (no start-up cost): what it printed, or the error main.ts would print. */
async function inProcess(args: string[], options: { token?: string } = {}): Promise<{ stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  const saved = { url: process.env.ARBOR_URL, token: process.env.ARBOR_TOKEN };
  // The commands write strings; the test runner reports to its parent with binary chunks on the same stdout.
  const capture = (stream: 'stdout' | 'stderr') =>
    ((chunk: unknown, ...rest: unknown[]) => (typeof chunk === 'string' ? ((out[stream] += chunk), true) : (writes[stream] as (...a: unknown[]) => boolean).call(process[stream], chunk, ...rest))) as typeof process.stdout.write;
  process.stdout.write = capture('stdout');
  process.stderr.write = capture('stderr');
  Object.assign(process.env, { ARBOR_URL: t.platform.url, ARBOR_TOKEN: options.token ?? token });
  try {
    await createProgram().parseAsync(['node', 'arbor', ...args]);
  } catch (error) {
    if (!(error instanceof CommanderError)) out.stderr += `ERROR: ${(error as Error).message}\n`;
  } finally {
    Object.assign(process.stdout, { write: writes.stdout });
    Object.assign(process.stderr, { write: writes.stderr });
    for (const [key, value] of [['ARBOR_URL', saved.url], ['ARBOR_TOKEN', saved.token]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
  return out;
}

before(async () => {
  t = await startTestPlatform();
  token = (await t.call('POST', '/tokens', { name: 'cli', role: 'admin' })).body.token;
  await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  assert.equal((await t.call('POST', '/apps', { model: SHOP_MODEL, migrations: SHOP_MIGRATIONS })).status, 201);
  assert.equal((await t.call('POST', '/apps/shop/environments', { name: 'dev', account: 'engine', mode: 'new-project' })).status, 201);
  await t.waitFor('shop', 'dev', 'ready', 600_000); // a deadline for a hang, not a timing: the machine may be busy
  writeFileSync(join(dir, 'arbor.yaml'), SHOP_MODEL);
});
after(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

test('db shell: the database is positional, refused when unknown; role flags exclude each other; --app from ./arbor.yaml', async () => {
  const real = (await t.call('POST', '/apps/shop/environments/dev/users/encore_reader/reveal')).body.user.password as string;
  const billing = await arbor(['db', 'shell', 'billing', '--app', 'shop', '--env', 'dev', '--', '-Atc', 'SELECT current_database(), current_user', '-c', '\\! echo "pw:$PGPASSWORD"']);
  assert.equal(billing.code, 0, billing.stderr);
  const [row, seen] = billing.stdout.split('\n');
  assert.equal(row, 'billing|encore_reader');
  assert.match(seen, /^pw:[\w-]{20,}$/, 'psql has a password: the proxy\'s');
  assert.ok(!billing.stdout.includes(real) && !billing.stderr.includes(real), 'psql never sees the real password');
  // Inside the app's folder --app comes from arbor.yaml; --database is the positional's alias.
  const here = await arbor(['db', 'shell', '--database', 'main', '-e', 'dev', '--write', '--', '-Atc', 'SELECT current_database(), current_user, count(*) FROM orders'], { cwd: dir });
  assert.equal(here.stdout, 'main|encore_writer|1\n', here.stderr);

  const unknown = await inProcess(['db', 'shell', 'files', '--app', 'shop', '--env', 'dev']);
  assert.match(unknown.stderr, /database "files" is not one of app shop's: main, billing/);
  const unnamed = await inProcess(['db', 'shell', '--app', 'shop', '--env', 'dev', '--', '-Atc', 'SELECT 1']);
  assert.match(unnamed.stderr, /several databases \(main, billing\): name one/);
  const both = await inProcess(['db', 'shell', 'main', '--write', '--admin', '--app', 'shop', '--env', 'dev']);
  assert.match(both.stderr, /option '--write' cannot be used with option '--admin'/);
  const two = await inProcess(['db', 'shell', 'main', '--database', 'billing', '--app', 'shop', '--env', 'dev']);
  assert.match(two.stderr, /two databases given: main and --database billing/);
  const noApp = await inProcess(['db', 'shell', 'main', '--env', 'dev']); // this checkout has no arbor.yaml
  assert.match(noApp.stderr, /--app is required/);
});

test('db conn-uri prints a working URI for the role and database, and the reveal is audited', async () => {
  const printed = await inProcess(['db', 'conn-uri', 'billing', '--app', 'shop', '--env', 'dev', '--admin']);
  assert.equal(printed.stderr, '');
  const uri = printed.stdout.trim();
  assert.equal(new URL(uri).username, 'encore_admin');
  assert.equal(new URL(uri).pathname, '/billing');
  const client = new pg.Client({ connectionString: uri.replace('sslmode=require', 'sslmode=verify-full') });
  await client.connect();
  try {
    assert.deepEqual((await client.query('SELECT current_user AS u, current_database() AS d')).rows, [{ u: 'encore_admin', d: 'billing' }]);
  } finally {
    await client.end();
  }
  const audit = (await t.call('GET', '/audit')).body.entries;
  assert.ok(audit.some((e: { action: string; target: string }) => e.action === 'credentials.reveal' && e.target === 'shop/dev/encore_admin'));
  assert.match((await inProcess(['db', 'conn-uri', 'nope', '--app', 'shop', '--env', 'dev'])).stderr, /database "nope" is not one of app shop's: main, billing/);
  // A reveal is an app admin's: a developer's conn-uri, shell and proxy print the platform's refusal and no URI.
  const developer = (await t.call('POST', '/tokens', { name: 'dev-conn', role: 'developer', app: 'shop' })).body.token;
  for (const command of ['conn-uri', 'shell', 'proxy']) {
    const refused = await inProcess(['db', command, 'billing', '--app', 'shop', '--env', 'dev'], { token: developer });
    assert.equal(refused.stdout, '', command);
    assert.match(refused.stderr, /^ERROR: revealing credentials needs the app's admin role \(app shop\); token:dev-conn is a developer there \(ask an app admin\)\n$/, command);
  }
});

test('db proxy: clients log in with the run password, never the real one; queries, psql, its Ctrl-C; a wrong password is refused', async () => {
  const real = (await t.call('POST', '/apps/shop/environments/dev/users/encore_writer/reveal')).body.user.password as string;
  const proxy = run(['db', 'proxy', '--app', 'shop', '--env', 'dev', '--write']);
  try {
    while (!proxy.stdout().includes('\n')) await new Promise((r) => proxy.child.stdout!.once('data', r));
    const url = new URL(proxy.stdout().trim());
    assert.equal(url.hostname, '127.0.0.1');
    assert.equal(url.pathname, '/main');
    assert.notEqual(decodeURIComponent(url.password), real);

    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      assert.deepEqual((await client.query('SELECT current_user AS u, current_database() AS d')).rows, [{ u: 'encore_writer', d: 'main' }]);
      assert.equal((await client.query("INSERT INTO orders (item) VALUES ($1) RETURNING item", ['through the proxy'])).rows[0].item, 'through the proxy');
    } finally {
      await client.end();
    }

    const billing = new URL(url);
    billing.pathname = '/billing';
    const psql = spawn('psql', [billing.toString(), '-Atc', 'SELECT current_database(), count(*) FROM invoices'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    psql.stdout!.on('data', (c) => (out += c));
    assert.equal(await new Promise((r) => psql.once('exit', r)), 0);
    assert.equal(out, 'billing|0\n');

    // Ctrl-C in psql: its CancelRequest goes through the proxy to the server running the query.
    const sleeper = spawn('psql', [url.toString(), '-Atc', 'SELECT pg_sleep(600)'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let sleeperErr = '';
    sleeper.stderr!.on('data', (c) => (sleeperErr += c));
    const sleeperExit = new Promise((r) => sleeper.once('exit', r));
    const watcher = new pg.Client({ connectionString: url.toString() });
    await watcher.connect();
    while (!(await watcher.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(600)'")).rowCount);
    await watcher.end();
    sleeper.kill('SIGINT');
    assert.equal(await sleeperExit, 1);
    assert.match(sleeperErr, /canceling statement due to user request/);

    const wrong = new URL(url);
    wrong.password = 'not-the-password';
    const refused = new pg.Client({ connectionString: wrong.toString() });
    await assert.rejects(refused.connect(), (e: { code?: string; message: string }) => e.code === '28P01' && /password authentication failed/.test(e.message));
    const other = new URL(url);
    other.pathname = '/postgres';
    const outside = new pg.Client({ connectionString: other.toString() });
    await assert.rejects(outside.connect(), (e: { code?: string; message: string }) => e.code === '3D000' && /not one of this proxy's: main, billing/.test(e.message));
  } finally {
    proxy.child.kill('SIGTERM');
  }
  const result = await proxy.done;
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /as encore_writer on 127\.0\.0\.1:\d+ \(databases: main, billing\)/);
  assert.match(result.stderr, /refused a client .*wrong password/);
  assert.ok(!result.stdout.includes(real) && !result.stderr.includes(real), 'the real password is never printed');
});

test('env infra-config: Encore sql_servers with one login per database and $env passwords; --reveal for app admins, audited; the logins work', async () => {
  const out = join(dir, 'infra.config.json');
  const plain = await arbor(['env', 'infra-config', '--app', 'shop', '--env', 'dev', '--out', out]);
  assert.equal(plain.code, 0, plain.stderr);
  const config = encoreInfraConfig.parse(JSON.parse(readFileSync(out, 'utf8')));
  assert.equal(config.sql_servers.length, 1);
  const [server] = config.sql_servers;
  assert.match(server.host, /^127\.0\.0\.1:\d+$/);
  assert.match(server.tls_config?.ca ?? '', /^-----BEGIN CERTIFICATE-----/);
  assert.deepEqual(server.databases, {
    main: { name: 'main', username: 'svc_orders', password: { $env: 'SVC_ORDERS_PASSWORD' } },
    billing: { name: 'billing', username: 'svc_invoices', password: { $env: 'SVC_INVOICES_PASSWORD' } },
  });
  assert.match(plain.stderr, /set SVC_ORDERS_PASSWORD to the password of svc_orders \(main\); --reveal prints it/);
  assert.equal(plain.stdout, '');

  const alone = await inProcess(['env', 'infra-config', '--app', 'shop', '--env', 'dev', '--service', 'invoices']);
  const aloneDbs = encoreInfraConfig.parse(JSON.parse(alone.stdout)).sql_servers[0].databases;
  assert.deepEqual(Object.fromEntries(Object.entries(aloneDbs).map(([k, v]) => [k, v.username])), { main: 'svc_invoices', billing: 'svc_invoices' });
  const ordersRun = await inProcess(['env', 'infra-config', '--app', 'shop', '--env', 'dev', '--service', 'orders']);
  assert.deepEqual(Object.keys(encoreInfraConfig.parse(JSON.parse(ordersRun.stdout)).sql_servers[0].databases), ['main']);
  assert.match(ordersRun.stderr, /INFO: database billing: service orders does not declare it/);
  assert.match((await inProcess(['env', 'infra-config', '--app', 'shop', '--env', 'dev', '--service', 'nope'])).stderr, /app shop has no service "nope"; its services: orders, invoices \(field: service\)/);

  const developer = (await t.call('POST', '/tokens', { name: 'dev', role: 'developer', app: 'shop' })).body.token;
  const refused = await inProcess(['env', 'infra-config', '--app', 'shop', '--env', 'dev', '--reveal'], { token: developer });
  assert.match(refused.stderr, /needs the app.s admin role \(app shop\)/);
  const revealed = await inProcess(['env', 'infra-config', '--app', 'shop', '--env', 'dev', '--reveal']);
  const vars = Object.fromEntries(revealed.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.deepEqual(Object.keys(vars).sort(), ['SVC_INVOICES_PASSWORD', 'SVC_ORDERS_PASSWORD']);
  const audit = (await t.call('GET', '/audit')).body.entries;
  assert.ok(audit.some((e: { action: string; target: string; detail: { roles?: string[] } }) => e.action === 'credentials.reveal' && e.target === 'shop/dev/infra-config' && e.detail.roles?.join() === 'svc_orders,svc_invoices'));

  // Connect as Encore's runtime would from this config: host, TLS against `ca`, each database's login.
  const [hostname, port] = server.host.split(':');
  for (const [database, entry] of Object.entries(server.databases)) {
    const password = vars[(entry.password as { $env: string }).$env];
    const client = new pg.Client({ host: hostname, port: Number(port), database, user: entry.username, password, ssl: { ca: server.tls_config!.ca } });
    await client.connect();
    try {
      const table = database === 'main' ? 'orders' : 'invoices';
      assert.equal((await client.query(`INSERT INTO ${table} ${table === 'orders' ? "(item) VALUES ('x')" : 'DEFAULT VALUES'} RETURNING 1 AS one`)).rows[0].one, 1);
      await assert.rejects(client.query('CREATE TABLE services_cannot (id int)'), /permission denied/);
    } finally {
      await client.end();
    }
  }
});
