/**
 * Time travel connection strings (`neonctl connection-string <branch>@<timestamp|lsn>`, which
 * adds `options=neon_timestamp:…` or `neon_lsn:…` for Neon's proxy): the engine has no proxy in
 * the connection's path, so the connection ends with a FATAL that says time travel is not
 * supported and what to do instead (SQLSTATE 0A000), not PostgreSQL's "invalid command-line
 * argument". Plain connections are unaffected.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { connect, startTestProject, type TestEngine } from './test-support.ts';

const cliPath = createRequire(import.meta.url).resolve('neonctl/bin/cli.js');
let engine: TestEngine;
let projectId: string;
let mainUri: string;
let scratch: string;

before(async () => {
  ({ engine, projectId, mainUri } = await startTestProject({ name: 'time-travel' }));
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

test('a time travel connection string gets a clear FATAL; plain connections still work', async () => {
  const client = await connect(mainUri);
  const lsn = (await client.query('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0].l as string;
  await client.end();
  const at = new Date(Date.now() - 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (const [target, option] of [[`main@${at}`, 'neon_timestamp:'], [`main@${lsn}`, 'neon_lsn:']]) {
    const uri = await connectionString(target);
    assert.equal(new URL(uri).searchParams.get('options')?.startsWith(option), true, uri);
    // neonctl asks for sslmode=require, which node-postgres verifies; the engine's certificate is its own.
    const url = new URL(uri);
    url.searchParams.set('sslmode', 'no-verify');
    const traveller = new pg.Client({ connectionString: url.toString() });
    const error = await traveller.connect().then(
      () => assert.fail('connected'),
      (e: { message: string; code?: string; hint?: string; severity?: string }) => e,
    );
    await traveller.end().catch(() => {});
    assert.equal(error.severity, 'FATAL', `${error.message} ${JSON.stringify(error)}`);
    assert.equal(error.code, '0A000');
    assert.match(error.message, /time travel connections are not supported by the Arbor engine \(options=neon_(timestamp|lsn):/);
    assert.match(error.hint ?? '', /neonctl branches create --parent/);
  }
  const plain = await connect(mainUri);
  assert.deepEqual((await plain.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  await plain.end();
  assert.deepEqual(engine.specProblems, []);
});
