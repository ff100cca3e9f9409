/**
 * A spare is sized like its parent's compute. A hot standby refuses to replay a primary whose
 * max_connections (set by the compute size) is larger than its own, so a spare made at the
 * project's default size died when the parent was resized, and the next branch waited for it and
 * was copied instead ("the spare did not catch up"). Resizing the parent now makes its spare again
 * at the new size, and a branch made afterwards is the promoted spare. How each branch was made
 * (spare, or copy and why) is told by the engine's extension route.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createApiClient } from '@neondatabase/api-client';
import { startEngineServer } from './server.ts';
import { connect, settle } from './test-support.ts';

test("resizing a branch's compute remakes its spare at the new size; the next branch is that spare, promoted", async () => {
  const home = mkdtempSync(join(tmpdir(), 'arbor-spare-resize-'));
  const warnings: string[] = [];
  const server = await startEngineServer({ home, log: { info: () => {}, warn: (m) => warnings.push(m) } });
  try {
    const api = createApiClient({ apiKey: server.apiKey, baseURL: server.url, timeout: 60_000 });
    const { data: created } = await api.createProject({ project: { name: 'resize' } });
    const projectId = created.project.id;
    const main = created.branch.id;
    const endpointId = created.endpoints[0].id;
    await settle(api, projectId);
    const spares = server.engine.spares;
    await spares.settled(main);
    assert.ok(spares.hasReady(main), 'a spare at the default size');

    await api.updateProjectEndpoint(projectId, endpointId, { endpoint: { autoscaling_limit_min_cu: 0.5, autoscaling_limit_max_cu: 2 } });
    await settle(api, projectId);
    await spares.settled(main);
    assert.ok(spares.hasReady(main), 'a spare again, at the new size');

    const parent = await connect(created.connection_uris![0].connection_uri);
    try {
      assert.equal((await parent.query('SHOW max_connections')).rows[0].max_connections, '838');
      await parent.query('CREATE TABLE marker AS SELECT 7 AS x');
    } finally {
      await parent.end();
    }
    const { data: child } = await api.createProjectBranch(projectId, { branch: { name: 'after-resize' }, endpoints: [{ type: 'read_write' as never }] });
    assert.equal(spares.hasReady(main), false, 'the branch took the spare');
    await settle(api, projectId);
    const reader = await connect(child.connection_uris![0].connection_uri);
    try {
      assert.deepEqual((await reader.query('SELECT x FROM marker')).rows, [{ x: 7 }]);
      assert.deepEqual((await reader.query('SELECT pg_is_in_recovery() AS standby')).rows, [{ standby: false }]);
      // The child's endpoint has the project's default size, not the spare's.
      assert.equal((await reader.query('SHOW max_connections')).rows[0].max_connections, '104');
    } finally {
      await reader.end();
    }
    await spares.settled(main);
    assert.deepEqual(warnings, [], 'no spare died, none was copied around');

    // How each branch was made, through the engine's extension route (authenticated like the rest).
    const creation = async (branchId: string) => (await api.instance.get(`/x-arbor/projects/${projectId}/branches/${branchId}/creation`)).data.creation;
    const promoted = await creation(child.branch.id);
    assert.equal(promoted.strategy, 'spare');
    assert.equal(promoted.reason, undefined);
    assert.ok(Number.isInteger(promoted.duration_ms) && promoted.duration_ms >= 0);
    const anonymous = await fetch(`${server.url}/x-arbor/projects/${projectId}/branches/${child.branch.id}/creation`);
    assert.equal(anonymous.status, 401);
    assert.equal((await api.instance.get(`/x-arbor/projects/${projectId}/branches/${main}/creation`, { validateStatus: () => true })).status, 404, "a project's first branch was not branched");
    assert.equal((await api.getProjectBranch(projectId, child.branch.id)).data.branch.hasOwnProperty('made_by'), false, "Neon's branch body is unchanged");

    // Spares off (as `engine serve --no-spares` starts): the next branch is a full copy, saying why.
    spares.setEnabled(false);
    await spares.discard(main);
    const { data: copied } = await api.createProjectBranch(projectId, { branch: { name: 'no-spares' }, endpoints: [{ type: 'read_write' as never }] });
    await settle(api, projectId);
    const copy = await creation(copied.branch.id);
    assert.equal(copy.strategy, 'copy');
    assert.equal(copy.reason, 'spares are off (engine serve --no-spares)');
    assert.ok(Number.isInteger(copy.duration_ms) && copy.duration_ms > 0);
  } finally {
    await server.close();
    rmSync(home, { recursive: true, force: true });
  }
});
