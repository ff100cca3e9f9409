/**
 * The engine's bodies against Neon's recorded ones (test/fixtures/neon-responses/: field names,
 * nesting and JSON types re-typed from public recordings): for the same calls, every recorded
 * field is present with Neon's type (items of a non-empty array each). The engine may return more
 * (Neon's bodies grew since). `primary_branch_only` (Neon's older name of
 * `protected_branches_only`) came from this comparison.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { startTestEngine, type TestEngine } from './test-support.ts';

const FIXTURES = new URL('../../test/fixtures/neon-responses/', import.meta.url);
let engine: TestEngine;

before(async () => {
  engine = await startTestEngine();
});

after(() => engine.close());

type Shape = string | Shape[] | { [field: string]: Shape };

/** Every way `value` lacks a field of `shape` or has another type or nesting there, as `path: problem`. */
function differences(shape: Shape, value: unknown, path = '$'): string[] {
  if (typeof shape === 'string') {
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    return actual === shape ? [] : [`${path}: Neon has ${shape}, the engine ${actual}`];
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return [`${path}: Neon has an array, the engine ${typeof value}`];
    return value.flatMap((item, i) => differences(shape[0], item, `${path}[${i}]`));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: Neon has an object, the engine ${JSON.stringify(value)}`];
  return Object.entries(shape).flatMap(([field, inner]) =>
    field in value ? differences(inner, (value as Record<string, unknown>)[field], `${path}.${field}`) : [`${path}.${field}: missing`],
  );
}

function compare(fixture: string, body: unknown): void {
  const { body: shape } = JSON.parse(readFileSync(new URL(fixture, FIXTURES), 'utf8')) as { body: Shape };
  assert.deepEqual(differences(shape, body), [], `${fixture} against the engine's body`);
}

test('project, branch and endpoint creation, roles, databases and operations have every field of Neon\'s recorded bodies, with its type', async () => {
  const api = engine.api;
  const created = (await api.createProject({ project: { name: 'recorded' } })).data;
  compare('create-project.json', created);
  const projectId = created.project.id;
  await engine.settle(projectId);
  const branch = (await api.createProjectBranch(projectId, { branch: { name: 'dev' }, endpoints: [{ type: 'read_write' as never }] })).data;
  compare('create-branch.json', branch);
  await engine.settle(projectId);
  const bare = (await api.createProjectBranch(projectId, { branch: { name: 'bare' } })).data.branch;
  await engine.settle(projectId);
  compare('create-endpoint.json', (await api.createProjectEndpoint(projectId, { endpoint: { branch_id: bare.id, type: 'read_write' as never } })).data);
  await engine.settle(projectId);
  compare('list-roles.json', (await api.listProjectBranchRoles(projectId, created.branch.id)).data);
  compare('list-databases.json', (await api.listProjectBranchDatabases(projectId, created.branch.id)).data);
  compare('list-operations.json', (await api.listProjectOperations({ projectId, limit: 2 })).data);
  assert.deepEqual(engine.specProblems, []);
});
