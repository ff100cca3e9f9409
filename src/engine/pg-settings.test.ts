/**
 * `pg_settings` through the official `@neondatabase/api-client`: only the settings Neon accepts
 * (compute/pg-settings.ts), with checked values, on every route that takes them. The attack of
 * issue 9 first: `archive_command` ran OS commands as the postgres user for anyone with the
 * engine key.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EndpointType } from '@neondatabase/api-client';
import { makeTraversable } from './clusters/os-user.ts';
import { pgSettingProblem } from './compute/pg-settings.ts';
import { connect, rejects, startTestProject, waitFor, type TestEngine } from './test-support.ts';

let engine: TestEngine;
let projectId: string;
let mainId: string;
let mainUri: string;
let endpointId: string;
/** Where an attacker's command would leave its mark: a fresh folder, so no other run can touch it. */
const marks = mkdtempSync(join(tmpdir(), 'arbor-pg-settings-marks-'));
// Writable for the postgres OS user the computes run as, so a command that ran would leave its mark.
makeTraversable(marks);
chmodSync(marks, 0o777);
const mark = (name: string) => join(marks, name);

before(async () => {
  ({ engine, projectId, mainId, mainUri } = await startTestProject({ name: 'settings', pg_version: 17 }));
  endpointId = (await engine.api.listProjectEndpoints(projectId)).data.endpoints[0].id;
});

after(async () => {
  await engine.close();
  rmSync(marks, { recursive: true, force: true });
});

/**
 * Makes the main branch's compute finish a WAL segment and waits until its archiver has archived
 * it: whatever `archive_command` the compute runs has run by then.
 */
async function archiveOneSegment(): Promise<void> {
  const branch = engine.engine.data.branches.find((b) => b.id === mainId)!;
  await engine.engine.withAdmin(branch, async (admin) => {
    await admin.query('CREATE TABLE IF NOT EXISTS wal_filler (x int); INSERT INTO wal_filler VALUES (1)');
    const { rows } = await admin.query<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal');
    await waitFor(`the archiver to archive ${rows[0].wal}`, async () => {
      const { rows: stats } = await admin.query<{ last: string | null; failed: string | null }>('SELECT last_archived_wal AS last, last_failed_wal AS failed FROM pg_stat_archiver');
      return (stats[0].last ?? '') >= rows[0].wal || (stats[0].failed ?? '') >= rows[0].wal;
    });
  });
}

describe('the archive_command attack', () => {
  test('update endpoint: refused with a 400 naming the setting; the command never runs', async () => {
    const target = mark('update');
    await rejects(
      engine.api.updateProjectEndpoint(projectId, endpointId, { endpoint: { settings: { pg_settings: { archive_command: `id > ${target}` } } } }),
      400,
      /archive_command/,
    );
    const { data } = await engine.api.getProjectEndpoint(projectId, endpointId);
    assert.deepEqual(data.endpoint.settings.pg_settings ?? {}, {}, 'nothing was stored');
    assert.deepEqual((await engine.api.listProjectOperations({ projectId })).data.operations.filter((o) => o.action === 'apply_config'), [], 'no restart was scheduled');
    await archiveOneSegment();
    assert.equal(existsSync(target), false, `${target} was created: the command ran`);
  });

  test('create endpoint: refused, no endpoint made', async () => {
    const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'no-endpoint' } });
    await engine.settle(projectId);
    const target = mark('create');
    await rejects(
      engine.api.createProjectEndpoint(projectId, { endpoint: { branch_id: data.branch.id, type: EndpointType.ReadWrite, settings: { pg_settings: { archive_command: `id > ${target}` } } } }),
      400,
      /archive_command/,
    );
    assert.deepEqual((await engine.api.listProjectBranchEndpoints(projectId, data.branch.id)).data.endpoints, []);
    assert.equal(existsSync(target), false);
  });

  test('branch create with an endpoint: refused, no branch made', async () => {
    const target = mark('branch');
    await rejects(
      engine.api.createProjectBranch(projectId, { branch: { name: 'evil' }, endpoints: [{ type: EndpointType.ReadWrite, settings: { pg_settings: { archive_command: `id > ${target}` } } }] }),
      400,
      /archive_command/,
    );
    const names = (await engine.api.listProjectBranches({ projectId })).data.branches.map((b) => b.name);
    assert.ok(!names.includes('evil'), `branches: ${names.join(', ')}`);
    assert.equal(existsSync(target), false);
  });

  test('project defaults, on create and on update: refused, nothing made or stored', async () => {
    const before = (await engine.api.listProjects({})).data.projects.length;
    const target = mark('project');
    await rejects(
      engine.api.createProject({ project: { name: 'evil', default_endpoint_settings: { pg_settings: { archive_command: `id > ${target}` } } } }),
      400,
      /archive_command/,
    );
    assert.equal((await engine.api.listProjects({})).data.projects.length, before, 'no project was created');
    await rejects(
      engine.api.updateProject(projectId, { project: { default_endpoint_settings: { pg_settings: { archive_command: `id > ${target}` } } } }),
      400,
      /archive_command/,
    );
    const { data } = await engine.api.getProject(projectId);
    assert.equal(data.project.default_endpoint_settings?.pg_settings, undefined, 'nothing was stored');
    assert.equal(existsSync(target), false);
  });
});

describe('what is refused', () => {
  // Each through update endpoint, the cheapest route; all routes share one schema.
  const refused = [
    'archive_command',
    'ARCHIVE_COMMAND',
    'Archive_Library',
    'archive_mode',
    'restore_command',
    'archive_cleanup_command',
    'recovery_end_command',
    'ssl_passphrase_command',
    'shared_preload_libraries',
    'local_preload_libraries',
    'session_preload_libraries',
    'dynamic_library_path',
    'data_directory',
    'config_file',
    'hba_file',
    'ident_file',
    'external_pid_file',
    'ssl_cert_file',
    'ssl_key_file',
    'ssl_ca_file',
    'ssl_crl_file',
    'log_directory',
    'log_filename',
    'logging_collector',
    'log_destination',
    'log_min_messages',
    'log_statement',
    'debug_print_plan',
    'listen_addresses',
    'port',
    'unix_socket_directories',
    'primary_conninfo',
    'max_connections',
    'shared_buffers',
    'wal_level',
    'fsync',
    'password_encryption',
    'default_transaction_read_only',
    'createrole_self_grant',
    'neon.forward_ddl',
    'no_such_setting',
  ];
  for (const name of refused) {
    test(`${name}: 400 naming it`, async () => {
      await rejects(
        engine.api.updateProjectEndpoint(projectId, endpointId, { endpoint: { settings: { pg_settings: { [name]: 'on' } } } }),
        400,
        new RegExp(`setting ${name.replace('.', '\\.')} cannot be changed`),
      );
    });
  }

  // Names of Object.prototype, sent as raw JSON (the api-client drops some of them): an allowlist
  // lookup must not find Object.prototype's members.
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
    test(`${name} (raw JSON): 400 naming it`, async () => {
      const response = await fetch(`${engine.url}/projects/${projectId}/endpoints/${endpointId}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${engine.apiKey}`, 'content-type': 'application/json' },
        body: `{"endpoint":{"settings":{"pg_settings":{${JSON.stringify(name)}:"on"}}}}`,
      });
      const body = (await response.json()) as { message: string };
      assert.equal(response.status, 400, body.message);
      assert.match(body.message, new RegExp(`setting ${name} cannot be changed`));
    });
  }

  const badValues: [string, string, RegExp][] = [
    ['work_mem', "4MB'\narchive_command = 'id", /control characters/],
    ['search_path', 'public\r', /control characters/],
    ['application_name', 'a\u0000b', /control characters/],
    ['work_mem', 'lots', /must be a number/],
    ['work_mem', '1', /out of range 64/],
    ['work_mem', '4 parsecs', /unit parsecs/],
    ['statement_timeout', '5MB', /unit MB/],
    ['enable_seqscan', 'maybe', /must be on or off/],
    ['synchronous_commit', 'sometimes', /must be one of/],
    ['search_path', "public'; archive_command = 'id", /schema names/],
    ['TimeZone', 'Mars/Olympus_Mons', /time zone/],
    ['TimeZone', '../../../etc/passwd', /time zone/],
    ['DateStyle', 'whenever', /ISO, MDY/],
  ];
  for (const [name, value, pattern] of badValues) {
    test(`${name} = ${JSON.stringify(value)}: 400`, async () => {
      await rejects(engine.api.updateProjectEndpoint(projectId, endpointId, { endpoint: { settings: { pg_settings: { [name]: value } } } }), 400, pattern);
    });
  }

  test('a setting newer than the project\'s Postgres', () => {
    assert.match(pgSettingProblem('transaction_timeout', '5s', 16) ?? '', /requires Postgres 17/);
    assert.equal(pgSettingProblem('transaction_timeout', '5s', 17), undefined);
  });
});

describe('what is accepted', () => {
  test('session-level settings reach the compute, quotes and backslashes intact', async () => {
    const appName = String.raw`it's a \'quoted\' \n name`;
    const pg_settings = {
      work_mem: '8MB',
      statement_timeout: '5s',
      enable_seqscan: 'off',
      search_path: '"$user", public',
      TimeZone: 'europe/paris',
      DateStyle: 'ISO, DMY',
      default_transaction_isolation: 'repeatable read',
      application_name: appName,
    };
    const { data } = await engine.api.updateProjectEndpoint(projectId, endpointId, { endpoint: { settings: { pg_settings } } });
    assert.deepEqual(data.endpoint.settings.pg_settings, pg_settings);
    await engine.settle(projectId);
    const client = await connect(mainUri);
    try {
      const show = async (name: string) => Object.values((await client.query(`SHOW ${name}`)).rows[0])[0];
      assert.equal(await show('work_mem'), '8MB');
      assert.equal(await show('statement_timeout'), '5s');
      assert.equal(await show('enable_seqscan'), 'off');
      assert.equal(await show('search_path'), '"$user", public');
      assert.equal(await show('TimeZone'), 'Europe/Paris');
      assert.equal(await show('DateStyle'), 'ISO, DMY');
      assert.equal(await show('default_transaction_isolation'), 'repeatable read');
      assert.equal(await show('application_name'), appName);
      // The settings file holds them under their canonical names, and nothing else of the user's.
      const conf = readFileSync(join(engine.engine.computes.dataDir(mainId), 'arbor.conf'), 'utf8');
      assert.match(conf, /^TimeZone = 'europe\/paris'$/m);
      assert.equal(conf.match(/^archive_command = /gm)?.length, 1, 'only the engine\'s own archive_command');
    } finally {
      await client.end();
    }
    await archiveOneSegment();
    assert.deepEqual(engine.specProblems, []);
  });

  test('a catalog that already holds a refused setting never writes it to the settings file', async () => {
    const target = mark('catalog');
    const endpoint = engine.engine.data.endpoints.find((e) => e.id === endpointId)!;
    endpoint.settings = { pg_settings: { archive_command: `id > ${target}`, work_mem: '16MB' } };
    await engine.engine.save();
    await engine.api.restartProjectEndpoint(projectId, endpointId);
    await engine.settle(projectId);
    const conf = readFileSync(join(engine.engine.computes.dataDir(mainId), 'arbor.conf'), 'utf8');
    assert.doesNotMatch(conf, /id > /);
    assert.match(conf, /^work_mem = '16MB'$/m);
    await archiveOneSegment();
    assert.equal(existsSync(target), false, `${target} was created: the command ran`);
    assert.deepEqual(engine.specProblems, []);
  });
});
