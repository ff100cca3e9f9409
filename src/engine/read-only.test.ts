/**
 * read_only endpoints (Neon's read replicas) through `@neondatabase/api-client` and neonctl, on
 * an engine run as a real process so it can be killed: a hot standby of the branch that refuses
 * writes with PostgreSQL's 25006, follows its primary, scales to zero and wakes with its
 * primary's latest data, and survives `kill -9` of the engine.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Api } from '@neondatabase/api-client';
import { connect, rejects, settle, waitFor } from './test-support.ts';
import { engineProcesses, exited } from './test-process.ts';

const engines = engineProcesses('arbor-read-only-', 'read-only-key');
const startEngine = () => engines.start({ ARBOR_ENGINE_MIN_SUSPEND_SECONDS: '1' });
const cliPath = createRequire(import.meta.url).resolve('neonctl/bin/cli.js');

after(() => engines.cleanUp());

/** neonctl against the engine, its JSON output parsed (exit code 0 asserted). */
function neonctl(url: string, args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    for (const k of Object.keys(env)) if (k.startsWith('NEON_') || k.startsWith('PG')) delete env[k];
    const child = spawn(
      process.execPath,
      [cliPath, ...args, '--api-host', url, '--api-key', 'read-only-key', '--no-analytics', '--output', 'json', '--config-dir', join(engines.home, 'neonctl')],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`neonctl ${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

async function uriOf(api: Api<unknown>, projectId: string, branchId: string, endpointId: string): Promise<string> {
  return (await api.getConnectionUri({ projectId, branch_id: branchId, endpoint_id: endpointId, database_name: 'neondb', role_name: 'neondb_owner' })).data.uri;
}

const count = async (uri: string) => {
  const client = await connect(uri);
  try {
    return Number((await client.query('SELECT count(*) AS n FROM t')).rows[0].n);
  } finally {
    await client.end();
  }
};

test('read_only endpoints: a standby that refuses writes, follows its primary, wakes with its latest data, survives kill -9', async () => {
  let { api, url, process: first } = await startEngine();
  const { data } = await api.createProject({ project: { name: 'replicas', default_endpoint_settings: { suspend_timeout_seconds: 1 } } });
  const projectId = data.project.id;
  const mainId = data.branch.id;
  const primaryId = data.endpoints[0].id;
  const mainUri = data.connection_uris![0].connection_uri;
  await settle(api, projectId);
  const writer = await connect(mainUri);
  await writer.query('CREATE TABLE t (x int); INSERT INTO t VALUES (1)');

  // Neon's rule here: a read_only endpoint replicates the branch's read_write one.
  const bare = (await api.createProjectBranch(projectId, { branch: { name: 'bare' } })).data.branch;
  await settle(api, projectId);
  await rejects(api.createProjectEndpoint(projectId, { endpoint: { branch_id: bare.id, type: 'read_only' as never } }), 422, /no read_write endpoint.*create a read_write endpoint/);

  const created = (await api.createProjectEndpoint(projectId, { endpoint: { branch_id: mainId, type: 'read_only' as never } })).data;
  assert.equal(created.endpoint.type, 'read_only');
  const replicaId = created.endpoint.id;
  const replicaUri = await uriOf(api, projectId, mainId, replicaId);
  assert.notEqual(new URL(replicaUri).port, new URL(mainUri).port);
  await settle(api, projectId);

  const reader = await connect(replicaUri);
  assert.deepEqual((await reader.query('SELECT x FROM t')).rows, [{ x: 1 }]);
  await assert.rejects(reader.query('INSERT INTO t VALUES (2)'), (e: { code?: string }) => e.code === '25006');
  // It streams from the primary.
  await writer.query('INSERT INTO t VALUES (2)');
  await waitFor('the replica to replay the insert', async () => Number((await reader.query('SELECT count(*) AS n FROM t')).rows[0].n) === 2);
  await reader.end();
  await writer.end();

  // Both scale to zero; a write wakes the primary alone, which suspends again.
  const state = async (id: string) => (await api.getProjectEndpoint(projectId, id)).data.endpoint.current_state;
  await waitFor('both endpoints to suspend', async () => (await state(primaryId)) === 'idle' && (await state(replicaId)) === 'idle', 30_000);
  const late = await connect(mainUri);
  await late.query('INSERT INTO t VALUES (3)');
  await late.end();
  await waitFor('the primary to suspend again', async () => (await state(primaryId)) === 'idle', 30_000);
  assert.equal(await state(replicaId), 'idle');
  // The replica wakes on connect and serves what its primary committed while it slept.
  assert.equal(await count(replicaUri), 3);

  // neonctl's add-compute (its default type is read_only).
  const added = await neonctl(url, ['branches', 'add-compute', 'main', '--type', 'read_only', '--project-id', projectId]);
  const second: { id: string; type: string } = added.endpoint ?? added;
  assert.equal(second.type, 'read_only');
  assert.notEqual(second.id, replicaId);
  await settle(api, projectId);
  assert.equal(await count(await uriOf(api, projectId, mainId, second.id)), 3);

  // kill -9 of the engine while a client holds the replica: it keeps serving, and is adopted after
  // the restart. (It stays up from here on; the client connects once it serves: a connection
  // accepted during a wake is relayed by the engine and ends with it.)
  await api.updateProjectEndpoint(projectId, replicaId, { endpoint: { suspend_timeout_seconds: -1 } });
  assert.equal(await count(replicaUri), 3);
  await waitFor('the replica to be active', async () => (await state(replicaId)) === 'active');
  const held = await connect(replicaUri);
  first.kill('SIGKILL');
  await exited(first);
  assert.equal(Number((await held.query('SELECT count(*) AS n FROM t')).rows[0].n), 3);
  ({ api, url, process: first } = await startEngine());
  assert.equal(await state(replicaId), 'active');
  const after = await connect(mainUri);
  await after.query('INSERT INTO t VALUES (4)');
  await after.end();
  await waitFor('the adopted replica to replay', async () => Number((await held.query('SELECT count(*) AS n FROM t')).rows[0].n) === 4);
  await assert.rejects(held.query('DELETE FROM t'), (e: { code?: string }) => e.code === '25006');
  await held.end();

  // The read_write endpoint goes only after its replicas; a deleted replica leaves nothing on disk.
  await rejects(api.deleteProjectEndpoint(projectId, primaryId), 422, /read_only endpoints .* delete them first/);
  await api.deleteProjectEndpoint(projectId, second.id);
  await settle(api, projectId);
  assert.equal(existsSync(join(engines.home, 'clusters', second.id)), false);
  assert.deepEqual((await api.listProjectBranchEndpoints(projectId, mainId)).data.endpoints.map((e) => e.type).sort(), ['read_only', 'read_write']);
});
