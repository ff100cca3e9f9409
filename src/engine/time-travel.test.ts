/**
 * Time travel connection strings (`neonctl connection-string <branch>@<timestamp|lsn>`, which
 * adds `options=neon_timestamp:…` or `neon_lsn:…` for Neon's proxy) connect to a read-only view
 * of the branch at that point, served by an ephemeral compute that stops once idle; a point
 * outside the history ends the connection with a FATAL saying why. Plain connections are
 * unaffected.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { connect, sleep, startTestProject, waitFor, type TestEngine } from './test-support.ts';

const cliPath = createRequire(import.meta.url).resolve('neonctl/bin/cli.js');
let engine: TestEngine;
let projectId: string;
let mainUri: string;
let scratch: string;

before(async () => {
  ({ engine, projectId, mainUri } = await startTestProject({ name: 'time-travel' }, { minSuspendSeconds: 1 }));
  scratch = mkdtempSync(join(tmpdir(), 'arbor-time-travel-'));
});

after(async () => {
  await engine.close();
  rmSync(scratch, { recursive: true, force: true });
});

function connectionString(target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    for (const k of Object.keys(env)) if (k.startsWith('NEON_') || k.startsWith('PG')) delete env[k];
    const child = spawn(
      process.execPath,
      [cliPath, 'connection-string', target, '--project-id', projectId, '--api-host', engine.url, '--api-key', engine.apiKey, '--no-analytics', '--config-dir', join(scratch, 'config'), '--context-file', join(scratch, '.neon')],
      { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout.trim()) : reject(new Error(`neonctl exited ${code}: ${stderr}`))));
  });
}

/** A node-postgres client for a neonctl URI (sslmode=require, which node-postgres would verify against the engine's own certificate). */
function client(uri: string): pg.Client {
  const url = new URL(uri);
  url.searchParams.set('sslmode', 'no-verify');
  return new pg.Client({ connectionString: url.toString() });
}

test('time travel connection strings read the branch as it was, read-only; the compute stops when idle', async () => {
  await engine.engine.history.settled();
  const main = await connect(mainUri);
  await main.query('CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 10) g');
  await sleep(1100);
  const at = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  await sleep(1100);
  const lsn = (await main.query('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0].l as string;
  await main.query('INSERT INTO items SELECT g FROM generate_series(11, 15) g');
  await main.end();

  for (const [target, option, expected] of [[`main@${at}`, 'neon_timestamp:', 10], [`main@${lsn}`, 'neon_lsn:', 10]] as const) {
    const uri = await connectionString(target);
    assert.equal(new URL(uri).searchParams.get('options')?.startsWith(option), true, uri);
    const traveller = client(uri);
    await traveller.connect();
    assert.deepEqual((await traveller.query('SELECT count(*)::int AS n FROM items')).rows, [{ n: expected }], target);
    assert.deepEqual((await traveller.query('SELECT current_user AS u, current_database() AS d')).rows, [{ u: 'neondb_owner', d: 'neondb' }]);
    await assert.rejects(traveller.query('INSERT INTO items VALUES (99)'), /read-only transaction/);
    // Queries keep working on the same session (the relay carries both ways).
    for (let i = 0; i < 20; i++) assert.equal((await traveller.query('SELECT $1::int AS i', [i])).rows[0].i, i);
    await traveller.end();
  }
  // The head is unchanged and writable.
  const head = await connect(mainUri);
  assert.deepEqual((await head.query('SELECT count(*)::int AS n FROM items')).rows, [{ n: 15 }]);
  await head.end();
  await waitFor('the time travel computes to stop', async () => (await engine.engine.timeTravel.running()) === 0, 30_000);
  assert.deepEqual(readdirSync(join(engine.home, 'clusters')).filter((n) => n.includes('.')), []);
  assert.deepEqual(engine.specProblems, []);
});

test('a point outside the history ends the connection with a FATAL saying so', async () => {
  const uri = await connectionString('main@2020-01-01T00:00:00Z');
  const traveller = client(uri);
  const error = await traveller.connect().then(
    () => assert.fail('connected'),
    (e: { message: string; code?: string; hint?: string; severity?: string }) => e,
  );
  await traveller.end().catch(() => {});
  assert.equal(error.severity, 'FATAL', error.message);
  assert.equal(error.code, '0A000');
  assert.match(error.message, /time travel: .*outside the history retention window/);
  const plain = await connect(mainUri);
  assert.deepEqual((await plain.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  await plain.end();
  assert.deepEqual(engine.specProblems, []);
});
