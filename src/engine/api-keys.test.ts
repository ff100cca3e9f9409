/**
 * `/api_keys` through the official client: list, create (the key shown once, usable at once),
 * revoke (refused with 401 from then on).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createApiClient } from '@neondatabase/api-client';
import { rejects, startTestEngine, status, type TestEngine } from './test-support.ts';

let engine: TestEngine;

before(async () => {
  engine = await startTestEngine();
});

after(() => engine.close());

test('API keys: list, create, use, revoke', async () => {
  const before = (await engine.api.listApiKeys()).data;
  assert.ok(before.length >= 1);
  const { data: created } = await engine.api.createApiKey({ key_name: 'ci' });
  assert.equal(created.name, 'ci');
  assert.ok(created.key.length >= 32);
  const listed = (await engine.api.listApiKeys()).data;
  assert.deepEqual(listed.map((k) => k.name).slice(-1), ['ci']);
  assert.ok(listed.every((k) => !('key' in k)), 'a key is never listed');

  const ci = createApiClient({ apiKey: created.key, baseURL: engine.url });
  assert.ok((await ci.listProjects({})).data.projects);
  const { data: revoked } = await engine.api.revokeApiKey(created.id);
  assert.equal(revoked.revoked, true);
  await ci.listProjects({}).then(
    () => assert.fail('a revoked key still works'),
    (e: unknown) => assert.equal(status(e), 401),
  );
  await rejects(engine.api.revokeApiKey(created.id), 404, /not found/);
  await rejects(engine.api.createApiKey({ key_name: '' }), 400, /key_name/);
  assert.deepEqual(engine.specProblems, []);
});
