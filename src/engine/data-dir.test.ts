/**
 * `--data DIR` (EngineOptions.dataDir): the clusters and their history live in DIR, the home
 * keeps the catalog and links to them; a branch made there serves, the engine restarts on the
 * same home and data, and data already in the home is never hidden behind a new link.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { removeTree } from '../../scripts/reaper.ts';
import { Engine } from './engine.ts';
import { createApiClient } from '@neondatabase/api-client';
import { startEngineServer } from './server.ts';
import { connect, settle } from './test-support.ts';

test('clusters and history live in the data directory; the engine restarts on them', async () => {
  const home = mkdtempSync(join(tmpdir(), 'arbor-engine-home-'));
  const data = mkdtempSync(join(tmpdir(), 'arbor-engine-data-'));
  const server = await startEngineServer({ home, engine: { dataDir: data } });
  try {
    const api = createApiClient({ apiKey: server.apiKey, baseURL: server.url });
    const { data: created } = await api.createProject({ project: { name: 'elsewhere' } });
    await settle(api, created.project.id);
    const client = await connect(created.connection_uris![0].connection_uri);
    await client.query('CREATE TABLE t AS SELECT 1 AS n');
    await client.end();
    const branch = (await api.createProjectBranch(created.project.id, { endpoints: [{ type: 'read_write' as never }] })).data;
    await settle(api, created.project.id);

    for (const part of ['clusters', 'history']) {
      assert.ok(lstatSync(join(home, part)).isSymbolicLink(), `${part} in the home is a link`);
      assert.equal(realpathSync(join(home, part)), realpathSync(join(data, part)));
    }
    assert.ok(readdirSync(join(data, 'clusters')).includes(created.branch.id), "main's cluster is in the data directory");
    assert.ok(!readdirSync(data).includes('catalog.json'), 'the catalog stays in the home');
    const child = await connect(branch.connection_uris![0].connection_uri);
    assert.deepEqual((await child.query('SELECT n FROM t')).rows, [{ n: 1 }]);
    await child.end();
  } finally {
    await server.close();
  }
  // A restart on the same home and data finds both branches' clusters.
  const reopened = await Engine.open(home, undefined, { dataDir: data });
  try {
    assert.equal(reopened.data.branches.length, 2);
    for (const b of reopened.data.branches) assert.ok(existsSync(reopened.computes.dataDir(b.id)), `${b.id}'s cluster is found through the link`);
  } finally {
    await reopened.close();
    await removeTree(home);
    await removeTree(data);
  }
});

test("data already in the home is not hidden behind a link: the start is refused, saying what to move", async () => {
  const home = mkdtempSync(join(tmpdir(), 'arbor-engine-home-'));
  const data = mkdtempSync(join(tmpdir(), 'arbor-engine-data-'));
  try {
    mkdirSync(join(home, 'clusters'), { recursive: true });
    writeFileSync(join(home, 'clusters', 'br-something'), '');
    await assert.rejects(Engine.open(home, undefined, { dataDir: data }), /already holds this engine's clusters; move it to .* first .*--data/);
  } finally {
    await removeTree(home);
    await removeTree(data);
  }
});
