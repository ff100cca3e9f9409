// Integration tests of `checkRoles` (and `rotatePasswords`): each kind of deviation is made by hand
// on a real server, found by check, and repaired by apply.
// Run alone: node scripts/test.mjs src/platform/postgres/roles-check.test.ts
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { validateAppModel } from './app-model.ts';
import { applyRoles } from './roles-apply.ts';
import { checkRoles } from './roles-check.ts';
import { rotatePasswords } from './rotate.ts';
import { startNeonLikeServer, type NeonLikeServer } from './test-server.ts';

let server: NeonLikeServer;
const passwords = new Map<string, string>();

const MODEL = validateAppModel({
  app: 'shop',
  databases: [{ name: 'a' }, { name: 'b' }],
  services: [{ name: 'one', databases: ['a'] }],
});

/** Runs SQL as the platform role (as a person with `db shell --superuser` would), in `database`. */
async function asPlatform(sql: string, database = 'postgres'): Promise<void> {
  const client = new pg.Client({ connectionString: server.url('encore_platform', server.platformPassword, database) });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

before(async () => {
  server = await startNeonLikeServer();
  const result = await applyRoles(server.platformUrl, MODEL);
  for (const s of result.secrets) passwords.set(s.role, s.password);
});

after(async () => {
  await server?.stop();
});

const CASES: { name: string; sql: string; database?: string; kinds: string[] }[] = [
  { name: 'missing role (and so its memberships)', sql: 'DROP ROLE encore_reader', kinds: ['missing-role', 'missing-membership'] },
  { name: 'missing membership', sql: 'REVOKE db_a_writer FROM svc_one', kinds: ['missing-membership'] },
  { name: 'extra membership reaching another database', sql: 'GRANT db_b_reader TO svc_one', kinds: ['extra-membership', 'undeclared-database-reach'] },
  { name: 'membership of a stranger', sql: 'CREATE ROLE stranger LOGIN; GRANT db_a_writer TO stranger', kinds: ['extra-membership'] },
  { name: 'wrong database owner', sql: 'ALTER DATABASE a OWNER TO encore_platform', kinds: ['wrong-owner'] },
  { name: 'PUBLIC CONNECT left on', sql: 'GRANT CONNECT ON DATABASE b TO PUBLIC', kinds: ['public-connect', 'undeclared-database-reach'] },
  { name: 'a direct CONNECT to an undeclared database', sql: 'GRANT CONNECT ON DATABASE b TO svc_one', kinds: ['extra-database-grant', 'undeclared-database-reach'] },
  { name: 'missing default privileges', database: 'a', sql: 'ALTER DEFAULT PRIVILEGES FOR ROLE db_a_admin REVOKE SELECT ON TABLES FROM db_a_reader', kinds: ['missing-default-privileges'] },
  { name: 'a table without grants', database: 'a', sql: 'SET ROLE db_a_admin; CREATE TABLE t (id int); REVOKE ALL ON t FROM db_a_reader, db_a_writer', kinds: ['missing-object-privileges'] },
  { name: 'a service role with CREATEDB', sql: 'ALTER ROLE svc_one CREATEDB', kinds: ['role-attributes'] },
];

describe('checkRoles', () => {
  test('finds nothing on a branch apply just set up', async () => {
    const result = await checkRoles(server.platformUrl, MODEL);
    assert.deepEqual(result.deviations, []);
    assert.equal(result.ok, true);
  });

  for (const c of CASES) {
    test(`finds ${c.name}, and apply repairs it`, async () => {
      await asPlatform(c.sql, c.database);
      const found = await checkRoles(server.platformUrl, MODEL);
      // Repair before asserting, so one failure does not cascade into the next case.
      const repaired = await applyRoles(server.platformUrl, MODEL);
      for (const s of repaired.secrets) passwords.set(s.role, s.password);
      assert.equal(found.ok, false);
      assert.deepEqual([...new Set(found.deviations.map((d) => d.kind))].sort(), [...c.kinds].sort(), JSON.stringify(found.deviations, null, 2));
      assert.deepEqual(repaired.remaining, []);
      assert.equal((await checkRoles(server.platformUrl, MODEL)).ok, true);
    });
  }

  test('the service role reaches exactly its declared database again after repairs', async () => {
    const ok = new pg.Client({ connectionString: server.url('svc_one', passwords.get('svc_one')!, 'a') });
    await ok.connect();
    await ok.query('INSERT INTO t VALUES (1)');
    await ok.end();
    const denied = new pg.Client({ connectionString: server.url('svc_one', passwords.get('svc_one')!, 'b') });
    await assert.rejects(denied.connect(), /permission denied for database "b"/);
  });
});

describe('rotatePasswords', () => {
  test('gives every login role of the hierarchy a new password; the old ones stop working', async () => {
    const secrets = await rotatePasswords(server.platformUrl);
    assert.deepEqual(secrets.map((s) => s.role), ['db_a_admin', 'db_b_admin', 'encore_admin', 'encore_reader', 'encore_writer', 'stranger', 'svc_one']);
    for (const { role, password } of secrets) {
      if (role === 'stranger') continue;
      assert.notEqual(password, passwords.get(role));
      const database = role === 'db_b_admin' ? 'b' : 'a';
      await assert.rejects(new pg.Client({ connectionString: server.url(role, passwords.get(role)!, database) }).connect(), /password authentication failed/);
      const client = new pg.Client({ connectionString: server.url(role, password, database) });
      await client.connect();
      await client.end();
    }
  });
});
