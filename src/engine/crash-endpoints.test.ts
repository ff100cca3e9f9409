/**
 * Endpoints across an engine killed with SIGKILL: postmasters keep serving while the engine is
 * down; after a restart active endpoints are adopted (no manual step), idle ones wake on connect,
 * an adopted one still suspends when idle, and nothing is left orphaned (the old keeper exits
 * with its engine, the spare is removed).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { connect, settle, waitFor } from './test-support.ts';
import { engineProcesses, keepersOf, postmastersUnder } from './test-process.ts';

const engines = engineProcesses('arbor-crash-endpoints-', 'crash-endpoints-key');
const home = engines.home;
const startEngine = () => engines.start({ ARBOR_ENGINE_MIN_SUSPEND_SECONDS: '1' });

after(() => engines.cleanUp());

test('kill -9 with active and idle endpoints: still served, adopted after restart, idle ones wake, no orphans', async () => {
  let { api, process: first } = await startEngine();
  const { data } = await api.createProject({ project: { name: 'crashy', default_endpoint_settings: { suspend_timeout_seconds: -1 } } });
  const projectId = data.project.id;
  await settle(api, projectId);
  const mainUri = data.connection_uris![0].connection_uri;
  const branch = async (name: string, suspend_timeout_seconds: number) => {
    const created = (await api.createProjectBranch(projectId, { branch: { name }, endpoints: [{ type: 'read_write' as never, suspend_timeout_seconds }] })).data;
    await settle(api, projectId);
    return { endpointId: created.endpoints[0].id, uri: created.connection_uris![0].connection_uri };
  };
  const sleepy = await branch('sleepy', 1);
  const adoptee = await branch('adoptee', 2);
  const state = async (endpointId: string) => (await api.getProjectEndpoint(projectId, endpointId)).data.endpoint.current_state;
  const held = await connect(mainUri);
  await held.query('CREATE TABLE survived AS SELECT 1 AS x');
  const adopteeClient = await connect(adoptee.uri);
  await waitFor('sleepy to suspend', async () => (await state(sleepy.endpointId)) === 'idle');
  // …and that being written to the catalog (a kill before that would bring it back active).
  const saved = () => JSON.parse(readFileSync(join(home, 'catalog.json'), 'utf8')).endpoints.find((e: { id: string }) => e.id === sleepy.endpointId).current_state;
  await waitFor('the catalog to say sleepy is idle', () => saved() === 'idle');

  const keepers = keepersOf(first.pid!);
  assert.equal(keepers.length, 1);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));

  // While the engine is down, active endpoints keep serving, old and new sessions alike.
  assert.deepEqual((await held.query('SELECT x FROM survived')).rows, [{ x: 1 }]);
  const meanwhile = await connect(mainUri);
  await meanwhile.query('SELECT 1');
  await meanwhile.end();
  await waitFor('the old keeper to exit', () => !existsSync(`/proc/${keepers[0]}`), 5_000);

  ({ api } = await startEngine());
  assert.equal(await state(data.endpoints[0].id), 'active');
  assert.equal(await state(adoptee.endpointId), 'active');
  assert.equal(await state(sleepy.endpointId), 'idle');
  assert.deepEqual((await held.query('SELECT x FROM survived')).rows, [{ x: 1 }], 'sessions survive the restart');
  await held.end();
  // main and adoptee run; sleepy runs nothing; the old spare of main is gone.
  assert.equal(postmastersUnder(home).length, 2);

  const woken = await connect(sleepy.uri);
  await woken.query('SELECT 1');
  await woken.end();
  assert.equal(await state(sleepy.endpointId), 'active');

  // An adopted endpoint still suspends once idle, and wakes again.
  await adopteeClient.query('SELECT 1');
  await adopteeClient.end();
  await waitFor('the adopted endpoint to suspend', async () => (await state(adoptee.endpointId)) === 'idle');
  const again = await connect(adoptee.uri);
  await again.query('SELECT 1');
  await again.end();

  await waitFor('sleepy to suspend again', async () => (await state(sleepy.endpointId)) === 'idle');
  await waitFor('only main and adoptee to run', () => postmastersUnder(home).length === 2);
});
