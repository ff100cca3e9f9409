/**
 * The real Neon CLI (`neonctl` 5.x, npm devDependency) driven against the engine unchanged:
 * `--api-host <engine>/api/v2 --api-key <key> --no-analytics --output json`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, startTestEngine, type TestEngine } from './test-support.ts';

const cliPath = createRequire(import.meta.url).resolve('neonctl/bin/cli.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let engine: TestEngine;
let scratch: string;

/** Runs a child process without blocking the event loop (the engine serves from this process). */
function run(command: string, args: string[], onStderr?: (chunk: string) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    for (const k of Object.keys(env)) if (k.startsWith('NEON_') || k.startsWith('PG')) delete env[k];
    const child = spawn(command, args, { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function neonctl(args: string[], onStderr?: (stderr: string) => void): Promise<Run> {
  return run(
    process.execPath,
    [
      cliPath,
      ...args,
      '--api-host', engine.url,
      '--api-key', engine.apiKey,
      '--no-analytics',
      '--output', 'json',
      '--config-dir', join(scratch, 'config'),
      '--context-file', join(scratch, '.neon'),
    ],
    onStderr,
  );
}

/** Runs neonctl, asserts exit code 0 and returns stdout parsed as JSON. */
async function neonctlJson<T = any>(args: string[]): Promise<T> {
  const r = await neonctl(args);
  assert.equal(r.code, 0, `neonctl ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** `connection-string` prints the bare URI even with `--output json`. */
async function connectionString(args: string[]): Promise<string> {
  const r = await neonctl(['connection-string', ...args]);
  assert.equal(r.code, 0, r.stderr);
  const uri = r.stdout.trim();
  assert.match(uri, /^postgresql:\/\//);
  return uri;
}

async function withClient<T>(uri: string, fn: (c: Awaited<ReturnType<typeof connect>>) => Promise<T>): Promise<T> {
  const client = await connect(uri);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'arbor-neonctl-'));
  engine = await startTestEngine();
});

after(async () => {
  await engine?.close();
  rmSync(scratch, { recursive: true, force: true });
});

// State shared by the steps below (they run in order, one engine).
let projectId = '';
let mainId = '';
let devId = '';
let mainUri = '';
let devUri = '';

test('projects create + projects list', async () => {
  const created = await neonctlJson(['projects', 'create', '--name', 'x']);
  projectId = created.project.id;
  assert.match(projectId, /^[a-z0-9-]{1,60}$/);
  assert.equal(created.project.name, 'x');
  assert.equal(created.connection_uris.length, 1);
  await engine.settle(projectId);

  const listed = await neonctlJson(['projects', 'list']);
  assert.deepEqual(
    listed.projects.map((p: { id: string; name: string }) => [p.id, p.name]),
    [[projectId, 'x']],
  );
  assert.deepEqual(listed.shared_with_you, []);
});

test('branches create + branches list', async () => {
  const before = await neonctlJson<any[]>(['branches', 'list', '--project-id', projectId]);
  assert.equal(before.length, 1);
  mainId = before[0].id;
  assert.equal(before[0].name, 'main');
  assert.equal(before[0].default, true);

  // Data written before branching must be in the branch.
  mainUri = await connectionString(['--project-id', projectId, 'main', '--ssl', 'require']);
  await withClient(`${mainUri}&sslrootcert=${encodeURIComponent(join(engine.home, 'tls', 'ca.crt'))}`, (c) =>
    c.query(`create table t (v text); insert into t values ('before-branch')`),
  );

  const created = await neonctlJson(['branches', 'create', '--project-id', projectId, '--name', 'dev']);
  devId = created.branch.id;
  // neonctl treats only `br-<word>-<word>-<word>` as an id (src/utils/formats.ts).
  assert.ok(devId.startsWith('br-') && /^[a-z0-9]+-[a-z0-9]+-[a-z0-9]+$/.test(devId.slice(3)), devId);
  assert.equal(created.branch.name, 'dev');
  assert.equal(created.branch.parent_id, mainId);
  assert.equal(created.endpoints.length, 1);
  assert.equal(created.endpoints[0].type, 'read_write');
  await engine.settle(projectId);

  const listed = await neonctlJson<any[]>(['branches', 'list', '--project-id', projectId]);
  assert.deepEqual(listed.map((b) => b.name).sort(), ['dev', 'main']);
  const dev = listed.find((b) => b.name === 'dev');
  assert.equal(dev.id, devId);
  assert.equal(dev.current_state, 'ready');
});

test('connection-string for main and dev connect with node-postgres and psql; branches are isolated', async () => {
  devUri = await connectionString(['--project-id', projectId, 'dev', '--ssl', 'require']);
  assert.notEqual(devUri, mainUri);
  for (const uri of [mainUri, devUri]) {
    const u = new URL(uri);
    assert.equal(u.searchParams.get('sslmode'), 'require');
    assert.equal(u.pathname, '/neondb');
    assert.equal(decodeURIComponent(u.username), 'neondb_owner');
  }
  // neonctl's default (no branch, no --ssl) is the default branch with sslmode=require&channel_binding=require.
  const defaultUri = await connectionString(['--project-id', projectId]);
  assert.equal(new URL(defaultUri).searchParams.get('channel_binding'), 'require');
  assert.equal(defaultUri, mainUri);

  // node-postgres: verify the server against the engine's CA on main, libpq semantics on dev.
  const ca = encodeURIComponent(join(engine.home, 'tls', 'ca.crt'));
  await withClient(`${mainUri}&sslrootcert=${ca}`, async (c) => {
    const { rows } = await c.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
    assert.deepEqual(rows, [{ ssl: true }]);
    await c.query(`insert into t values ('after-branch')`);
  });
  await withClient(`${devUri}&uselibpqcompat=true`, async (c) => {
    const { rows } = await c.query('select v from t order by v');
    assert.deepEqual(rows, [{ v: 'before-branch' }]);
  });

  // The real libpq client with neonctl's untouched default string (SCRAM with channel binding over TLS).
  const psql = await run('/usr/bin/psql', [defaultUri, '-X', '-A', '-t', '-c', 'select 1']);
  assert.equal(psql.code, 0, psql.stderr);
  assert.equal(psql.stdout.trim(), '1');
  const psqlDev = await run('/usr/bin/psql', [
    devUri, '-X', '-A', '-t', '-c', 'select string_agg(v, \',\' order by v) from t',
  ]);
  assert.equal(psqlDev.code, 0, psqlDev.stderr);
  assert.equal(psqlDev.stdout.trim(), 'before-branch');
});

test('roles create + databases create work and are usable', async () => {
  const role = await neonctlJson(['roles', 'create', '--project-id', projectId, '--branch', 'dev', '--name', 'alice']);
  assert.equal(role.name, 'alice');
  assert.equal(role.branch_id, devId);
  assert.equal(typeof role.password, 'string');
  assert.ok(role.password.length >= 12);
  await engine.settle(projectId);

  const db = await neonctlJson([
    'databases', 'create', '--project-id', projectId, '--branch', 'dev', '--name', 'appdb', '--owner-name', 'alice',
  ]);
  assert.equal(db.name, 'appdb');
  assert.equal(db.owner_name, 'alice');
  assert.equal(db.branch_id, devId);
  await engine.settle(projectId);

  const roles = await neonctlJson<any[]>(['roles', 'list', '--project-id', projectId, '--branch', 'dev']);
  assert.deepEqual(roles.map((r) => r.name).sort(), ['alice', 'neondb_owner']);
  const dbs = await neonctlJson<any[]>(['databases', 'list', '--project-id', projectId, '--branch', 'dev']);
  assert.deepEqual(dbs.map((d) => [d.name, d.owner_name]).sort(), [['appdb', 'alice'], ['neondb', 'neondb_owner']]);
  // Neither exists on main.
  const mainRoles = await neonctlJson<any[]>(['roles', 'list', '--project-id', projectId, '--branch', 'main']);
  assert.deepEqual(mainRoles.map((r) => r.name), ['neondb_owner']);

  const aliceUri = await connectionString([
    '--project-id', projectId, 'dev', '--role-name', 'alice', '--database-name', 'appdb', '--ssl', 'require',
  ]);
  assert.equal(decodeURIComponent(new URL(aliceUri).password), role.password);
  await withClient(`${aliceUri}&uselibpqcompat=true`, async (c) => {
    const { rows } = await c.query(
      `select current_user as "user", current_database() as db,
              (select pg_get_userbyid(datdba) from pg_database where datname = current_database()) as owner`,
    );
    assert.deepEqual(rows, [{ user: 'alice', db: 'appdb', owner: 'alice' }]);
    await c.query('create table mine (i int)');
  });
});

test('neonctl retries a mutation that meets 423 while a branch is being created', async () => {
  // Hold the project's operation queue so the branch's operations stay running until neonctl has
  // provably met the lock; then let them finish and neonctl's retry (3 s later) must succeed.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  engine.engine.schedule(projectId, [], () => gate);
  try {
    const { status, data } = await engine.api.createProjectBranch(projectId, {
      branch: { name: 'busy' },
      endpoints: [{ type: 'read_write' as never }],
    });
    assert.equal(status, 201);
    assert.ok(data.operations.length > 0 && data.operations.every((o) => o.status === 'running' || o.status === 'scheduling'));

    let sawLock = false;
    const cli = neonctl(['roles', 'create', '--project-id', projectId, '--branch', 'main', '--name', 'carol'], (stderr) => {
      if (!sawLock && stderr.includes('Resource is locked')) {
        sawLock = true;
        release();
      }
    });
    const r = await cli;
    assert.ok(sawLock, `neonctl never reported the lock: ${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    const role = JSON.parse(r.stdout);
    assert.equal(role.name, 'carol');
    assert.equal(role.branch_id, mainId);
  } finally {
    release();
  }
  await engine.settle(projectId);
  const { data } = await engine.api.listProjectBranchRoles(projectId, mainId);
  assert.ok(data.roles.some((r) => r.name === 'carol'));
});

test('branches delete, then deleting the absent branch again', async () => {
  const deleted = await neonctlJson(['branches', 'delete', '--project-id', projectId, 'dev']);
  assert.equal(deleted.id, devId);
  assert.equal(deleted.name, 'dev');
  await engine.settle(projectId);

  await assert.rejects(engine.api.getProjectBranch(projectId, devId), (e: any) => e.response?.status === 404);

  // By id: the engine answers 204 (spec: "204 when it does not exist"); neonctl exits 0, prints nothing.
  const again = await neonctl(['branches', 'delete', '--project-id', projectId, devId]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.trim(), '');
  // By name: neonctl resolves names itself and fails before calling DELETE.
  const byName = await neonctl(['branches', 'delete', '--project-id', projectId, 'dev']);
  assert.equal(byName.code, 1);
  assert.match(byName.stderr, /Branch dev not found/);

  // The same through the api-client (and its response checked against the spec).
  const direct = await engine.api.deleteProjectBranch({ projectId, branchId: devId });
  assert.equal(direct.status, 204);

  const listed = await neonctlJson<any[]>(['branches', 'list', '--project-id', projectId]);
  assert.deepEqual(listed.map((b) => b.name).sort(), ['busy', 'main']);
});

test('every api-client response of this file matched the Neon OpenAPI spec', () => {
  assert.deepEqual(engine.specProblems, []);
});
