/**
 * Connection strings a client can use: endpoints present a certificate signed by the engine's
 * local CA (`<home>/tls/ca.crt`) for 127.0.0.1, so node-postgres and psql verify it (verify-full)
 * when given that CA, and refuse it without; pooled strings are served by PgBouncer where it is
 * installed (and are the direct ones where it is not).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { connect, settle, startTestProject, type TestEngine } from './test-support.ts';
import { findPgbouncer } from './compute/pooler.ts';

const execFileAsync = promisify(execFile);
let engine: TestEngine;
let mainUri: string;
let projectId: string;
let mainId: string;

before(async () => {
  ({ engine, mainUri, projectId, mainId } = await startTestProject({ name: 'tls' }));
});

after(() => engine.close());

function parts(uri: string) {
  const url = new URL(uri);
  return { host: url.hostname, port: Number(url.port), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database: url.pathname.slice(1) };
}

test('node-postgres and psql verify the endpoint with the local CA (verify-full), and refuse it without', async () => {
  const ca = join(engine.home, 'tls', 'ca.crt');
  assert.equal(engine.engine.tls.ca, ca);
  const target = parts(mainUri);
  const verified = new pg.Client({ ...target, ssl: { ca: readFileSync(ca, 'utf8'), rejectUnauthorized: true } });
  await verified.connect();
  assert.deepEqual((await verified.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows, [{ ssl: true }]);
  await verified.end();

  const unverified = new pg.Client({ ...target, ssl: { rejectUnauthorized: true } });
  await assert.rejects(unverified.connect(), /self[- ]signed|unable to (get|verify)/);
  await unverified.end().catch(() => {});

  // The URI the engine hands out names the CA: node-postgres (require = verify-full) connects as is.
  assert.equal(new URL(mainUri).searchParams.get('sslrootcert'), ca);
  const asGiven = await connect(mainUri);
  await asGiven.end();

  const url = new URL(mainUri);
  url.searchParams.set('sslmode', 'verify-full');
  url.searchParams.set('sslrootcert', ca);
  const { stdout } = await execFileAsync('psql', [url.toString(), '-XAtc', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'], { env: { PATH: process.env.PATH } });
  assert.equal(stdout.trim(), 't');
  // A string without sslrootcert (as neonctl or create-branch-action build them): the CA given by environment.
  const bare = new URL(mainUri);
  bare.searchParams.delete('sslrootcert');
  const script = `const pg = require('pg'); const c = new pg.Client({ connectionString: process.argv[1] }); c.connect().then(() => c.query('SELECT 1 AS one')).then((r) => { console.log(r.rows[0].one); return c.end(); }).catch((e) => { console.error(e.message); process.exit(1); });`;
  const node = await execFileAsync(process.execPath, ['-e', script, bare.toString()], { env: { ...process.env, NODE_EXTRA_CA_CERTS: ca } });
  assert.equal(node.stdout.trim(), '1');
  await assert.rejects(execFileAsync(process.execPath, ['-e', script, bare.toString()], { env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } }), /self[- ]signed|unable to/);
  bare.searchParams.set('sslmode', 'verify-full');
  const psql = await execFileAsync('psql', [bare.toString(), '-XAtc', 'SELECT 1'], { env: { PATH: process.env.PATH, PGSSLROOTCERT: ca } });
  assert.equal(psql.stdout.trim(), '1');

  // `arbor engine ca` prints where it is.
  const cli = await execFileAsync(process.execPath, ['bin/arbor.js', 'engine', 'ca', '--home', engine.home]);
  assert.equal(cli.stdout.trim(), ca);
  assert.match(cli.stderr, /NODE_EXTRA_CA_CERTS=/);
  assert.deepEqual(engine.specProblems, []);
});

test('pooled connection strings: PgBouncer in transaction mode where it is installed, with SCRAM and the local CA', async () => {
  const api = engine.api;
  const ask = async (pooled: boolean, role = 'neondb_owner') =>
    (await api.getConnectionUri({ projectId, branch_id: mainId, database_name: 'neondb', role_name: role, pooled })).data.uri;
  const direct = await ask(false);
  const pooled = await ask(true);
  const { data: branch } = await api.getProjectBranch(projectId, mainId);
  assert.ok(branch.branch);
  if (!findPgbouncer()) {
    // The documented fallback: the direct string.
    assert.equal(pooled, direct);
    return;
  }
  assert.notEqual(new URL(pooled).port, new URL(direct).port);
  // Two clients one after the other get the same server session: a pool, in transaction mode.
  const pidThrough = async (uri: string) => {
    const client = await connect(uri);
    try {
      return (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    } finally {
      await client.end();
    }
  };
  const first = await pidThrough(pooled);
  assert.equal(await pidThrough(pooled), first);
  assert.notEqual(await pidThrough(direct), await pidThrough(direct));
  const client = await connect(pooled);
  await client.query('BEGIN');
  await client.query('CREATE TABLE pooled_t AS SELECT 1 AS x');
  await client.query('COMMIT');
  assert.deepEqual((await client.query('SELECT x FROM pooled_t')).rows, [{ x: 1 }]);
  await client.end();
  // A role the API creates later logs in through the running pooler too (its userlist is reloaded).
  await api.createProjectBranchRole(projectId, mainId, { role: { name: 'pooled_reader' } });
  await settle(api, projectId);
  const reader = await connect(await ask(true, 'pooled_reader'));
  assert.equal((await reader.query('SELECT current_user AS u')).rows[0].u, 'pooled_reader');
  await reader.end();
  // No plaintext password on disk: the userlist holds SCRAM secrets.
  const userlist = readFileSync(join(engine.home, 'poolers', (await api.listProjectBranchEndpoints(projectId, mainId)).data.endpoints[0].id, 'userlist.txt'), 'utf8');
  assert.match(userlist, /"neondb_owner" "SCRAM-SHA-256\$/);
  assert.ok(!userlist.includes(decodeURIComponent(new URL(direct).password)));
  assert.deepEqual(engine.specProblems, []);
});
