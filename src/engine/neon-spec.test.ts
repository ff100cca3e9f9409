import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateNeonResponse } from './neon-spec.ts';

function project(): Record<string, unknown> {
  return {
    id: 'cold-bonus-61650555',
    platform_id: 'aws',
    region_id: 'aws-us-east-2',
    name: 'demo',
    provisioner: 'k8s-neonvm',
    pg_version: 17,
    proxy_host: 'us-east-2.aws.neon.tech',
    branch_logical_size_limit: 3072,
    branch_logical_size_limit_bytes: 3221225472,
    store_passwords: true,
    creation_source: 'console',
    history_retention_seconds: 86400,
    created_at: '2024-01-23T22:26:03Z',
    updated_at: '2024-01-23T22:26:03Z',
    consumption_period_start: '0001-01-01T00:00:00Z',
    consumption_period_end: '0001-01-01T00:00:00Z',
    owner_id: '838386f6-0000-4000-8000-000000000000',
    data_storage_bytes_hour: 0,
    data_transfer_bytes: 0,
    written_data_bytes: 0,
    compute_time_seconds: 0,
    active_time_seconds: 0,
    cpu_used_sec: 0,
    // nullable in the spec
    effective_project_permission: null,
    // not in the spec at all: additional properties are allowed
    arbor_extra: { anything: true },
  };
}

test('a complete getProject body is valid (full URL, /api/v2 prefix and query string are accepted)', () => {
  assert.deepEqual(validateNeonResponse('GET', '/projects/cold-bonus-61650555', 200, { project: project() }), []);
  assert.deepEqual(
    validateNeonResponse('get', 'http://127.0.0.1:1/api/v2/projects/cold-bonus-61650555?x=1', 200, { project: project() }),
    [],
  );
});

test('a getProject body missing a required field names that field', () => {
  const p = project();
  delete p.owner_id;
  assert.deepEqual(validateNeonResponse('GET', '/projects/p1', 200, { project: p }), [
    '/project/owner_id: required field is missing',
  ]);
});

test('wrong types, formats and nullable fields are reported with their JSON pointer', () => {
  const p = project();
  p.pg_version = '17';
  p.created_at = 'yesterday';
  p.effective_project_permission = 7;
  const problems = validateNeonResponse('GET', '/projects/p1', 200, { project: p });
  assert.ok(problems.some((x) => x.startsWith('/project/pg_version: must be integer')), problems.join('\n'));
  assert.ok(problems.some((x) => x.startsWith('/project/created_at: must match format "date-time"')), problems.join('\n'));
  assert.ok(problems.some((x) => x.startsWith('/project/effective_project_permission: must be string')), problems.join('\n'));
  assert.ok(!problems.some((x) => x.includes('arbor_extra')));
});

test('allOf response schemas (createProject 201) check every part', () => {
  const problems = validateNeonResponse('POST', '/projects', 201, { project: project() });
  for (const missing of ['connection_uris', 'roles', 'databases', 'operations', 'branch', 'endpoints']) {
    assert.ok(problems.includes(`/${missing}: required field is missing`), `${missing}: ${problems.join('\n')}`);
  }
});

test('errors fall back to the default GeneralError schema', () => {
  assert.deepEqual(validateNeonResponse('GET', '/projects/p1', 404, { code: '', message: 'not found' }), []);
  assert.deepEqual(validateNeonResponse('POST', '/projects/p1/branches', 423, { message: 'locked' }), [
    '/code: required field is missing',
  ]);
});

test('literal path segments win over parameters, 204 has no body, unknown paths are reported', () => {
  assert.deepEqual(validateNeonResponse('GET', '/projects/p1/branches/count', 200, { count: 2 }), []);
  assert.deepEqual(validateNeonResponse('GET', '/projects/p1/branches/count', 200, {}), ['/count: required field is missing']);
  assert.deepEqual(validateNeonResponse('DELETE', '/projects/p1/branches/br-a-b-c', 204, ''), []);
  assert.deepEqual(validateNeonResponse('GET', '/no/such/thing', 200, {}), ['no operation GET /no/such/thing in the Neon spec']);
});
