// Unit tests of the pure role planner: desired model + observed state → deviations and SQL (no server).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateAppModel, type AppModel } from './app-model.ts';
import { roleNames } from './names.ts';
import type { ObservedGrant, ObservedRole, ObservedState } from './roles-observe.ts';
import { PHASES, planRoles } from './roles-plan.ts';

const MODEL = validateAppModel({
  app: 'shop',
  databases: [{ name: 'main' }, { name: 'audit' }],
  services: [
    { name: 'orders', databases: ['main'] },
    { name: 'reports', databases: ['main', 'audit'] },
  ],
});
const PLATFORM = 'encore_platform';
const fixedPassword = () => 'Pw-fixed';

function empty(): ObservedState {
  return { currentUser: PLATFORM, selfGrant: 'set, inherit', roles: [], grants: [], databases: [], reach: [] };
}

function role(name: string, login: boolean): ObservedRole {
  return { name, login, inherit: true, superuser: false, createrole: false, createdb: false, replication: false, bypassrls: false, administered: true };
}

function grant(roleName: string, member: string, extra: Partial<ObservedGrant> = {}): ObservedGrant {
  return { role: roleName, member, grantor: PLATFORM, inherit: true, set: true, admin: false, roleAdministered: true, ...extra };
}

/** What a branch looks like after a successful apply of `model`. */
function settled(model: AppModel): ObservedState {
  const n = roleNames(model.prefix);
  const state = empty();
  state.roles.push(role(n.services, false), role(n.reader, true), role(n.writer, true), role(n.admin, true));
  for (const { name } of model.databases) {
    state.roles.push(role(n.dbReader(name), false), role(n.dbWriter(name), false), { ...role(n.dbAdmin(name), true), createrole: true });
    state.grants.push(
      grant(n.dbReader(name), n.dbWriter(name)), grant(n.dbWriter(name), n.dbAdmin(name)), grant(n.services, n.dbAdmin(name)),
      grant(n.dbReader(name), n.reader), grant(n.dbWriter(name), n.writer), grant(n.dbAdmin(name), n.admin),
      grant(n.dbAdmin(name), PLATFORM, { grantor: 'cloud_admin' }),
    );
    state.databases.push({
      name,
      owner: n.dbAdmin(name),
      acl: [
        { grantee: n.dbAdmin(name), privilege: 'CONNECT' },
        { grantee: n.dbReader(name), privilege: 'CONNECT' },
        { grantee: n.dbReader(name), privilege: 'TEMPORARY' },
      ],
      contents: {
        defaults: [
          { objtype: 'r', grantee: n.dbReader(name), privilege: 'SELECT' },
          { objtype: 'S', grantee: n.dbReader(name), privilege: 'SELECT' },
          { objtype: 'n', grantee: n.dbReader(name), privilege: 'USAGE' },
          ...['INSERT', 'UPDATE', 'DELETE'].map((privilege) => ({ objtype: 'r', grantee: n.dbWriter(name), privilege })),
          ...['USAGE', 'UPDATE'].map((privilege) => ({ objtype: 'S', grantee: n.dbWriter(name), privilege })),
        ],
        schemas: [{ name: 'public', readerUsage: true, unreadableTables: 0, unwritableTables: 0, unreadableSequences: 0, unwritableSequences: 0 }],
      },
    });
  }
  for (const s of model.services) {
    state.roles.push(role(n.service(s.name), true));
    state.grants.push(grant(n.services, n.service(s.name)), ...s.databases.map((d) => grant(n.dbWriter(d), n.service(s.name))));
    state.reach.push(...s.databases.map((d) => ({ role: n.service(s.name), database: d })));
  }
  return state;
}

const sqlOf = (state: ObservedState, model = MODEL) => planRoles(model, state, { generatePassword: fixedPassword }).operations.map((o) => o.sql);

describe('planRoles on an empty branch', () => {
  const plan = planRoles(MODEL, empty(), { generatePassword: fixedPassword });

  test('creates everything, in the phase order of docs/roles.md', () => {
    const phases = plan.operations.map((o) => PHASES.indexOf(o.phase));
    assert.deepEqual(phases, [...phases].sort((a, b) => a - b));
    const first = (re: RegExp) => plan.operations.findIndex((o) => re.test(o.sql));
    assert.ok(first(/CREATE ROLE "encore_reader"/) < first(/CREATE ROLE "db_main_reader"/));
    assert.ok(first(/CREATE ROLE "db_main_admin"/) < first(/CREATE DATABASE "main"/));
    assert.ok(first(/CREATE DATABASE "main"/) < first(/REVOKE CONNECT, TEMPORARY ON DATABASE "main" FROM PUBLIC/));
    assert.ok(first(/ALTER DEFAULT PRIVILEGES/) < first(/CREATE ROLE "svc_orders"/));
  });

  test('gives login roles a password and reports it once, NOLOGIN roles none', () => {
    assert.deepEqual(plan.secrets.map((s) => s.role).sort(), ['db_audit_admin', 'db_main_admin', 'encore_admin', 'encore_reader', 'encore_writer', 'svc_orders', 'svc_reports']);
    assert.ok(plan.operations.some((o) => o.sql === `CREATE ROLE "svc_orders" WITH NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS LOGIN PASSWORD 'Pw-fixed'`));
    assert.ok(plan.operations.some((o) => o.sql === 'CREATE ROLE "db_main_writer" WITH NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS NOLOGIN'));
    assert.ok(plan.operations.every((o) => !o.comment.includes('Pw-fixed')), 'comments never hold passwords');
  });

  test('grants the hierarchy: per-database levels, global roles, services only to what they use', () => {
    const sql = plan.operations.map((o) => o.sql);
    for (const expected of [
      'GRANT "db_main_reader" TO "db_main_writer" WITH INHERIT TRUE',
      'GRANT "db_main_writer" TO "db_main_admin" WITH INHERIT TRUE',
      'GRANT "encore_services" TO "db_main_admin" WITH INHERIT TRUE',
      'GRANT "db_audit_admin" TO "encore_admin" WITH INHERIT TRUE',
      'GRANT "db_main_writer" TO "svc_orders" WITH INHERIT TRUE',
      'GRANT "db_audit_writer" TO "svc_reports" WITH INHERIT TRUE',
      'GRANT CONNECT, TEMPORARY ON DATABASE "audit" TO "db_audit_reader"',
    ]) assert.ok(sql.includes(expected), expected);
    assert.ok(!sql.includes('GRANT "db_audit_writer" TO "svc_orders" WITH INHERIT TRUE'));
  });

  test('default privileges run in the database, for objects db_<db>_admin creates in any schema', () => {
    const defaults = plan.operations.filter((o) => o.phase === 'set-default-privileges' && o.database === 'main').map((o) => o.sql);
    assert.deepEqual(defaults.sort(), [
      'ALTER DEFAULT PRIVILEGES FOR ROLE "db_main_admin" GRANT INSERT, UPDATE, DELETE ON TABLES TO "db_main_writer"',
      'ALTER DEFAULT PRIVILEGES FOR ROLE "db_main_admin" GRANT SELECT ON SEQUENCES TO "db_main_reader"',
      'ALTER DEFAULT PRIVILEGES FOR ROLE "db_main_admin" GRANT SELECT ON TABLES TO "db_main_reader"',
      'ALTER DEFAULT PRIVILEGES FOR ROLE "db_main_admin" GRANT USAGE ON SCHEMAS TO "db_main_reader"',
      'ALTER DEFAULT PRIVILEGES FOR ROLE "db_main_admin" GRANT USAGE, UPDATE ON SEQUENCES TO "db_main_writer"',
    ]);
    assert.ok(plan.operations.filter((o) => o.standalone).every((o) => o.sql.startsWith('CREATE DATABASE')));
  });

  test('without createrole_self_grant, makes the platform role a member of what it creates', () => {
    const sql = sqlOf({ ...empty(), selfGrant: '' });
    assert.ok(sql.includes('GRANT "db_main_admin" TO "encore_platform" WITH INHERIT TRUE, SET TRUE'));
  });
});

describe('planRoles on a settled branch', () => {
  test('plans nothing', () => {
    const plan = planRoles(MODEL, settled(MODEL));
    assert.deepEqual(plan.deviations, []);
    assert.deepEqual(plan.secrets, []);
  });

  test('a database and a service added to the model get only their own roles and grants', () => {
    const grown = validateAppModel({ ...MODEL, databases: [...MODEL.databases, { name: 'billing' }], services: [...MODEL.services, { name: 'payer', databases: ['billing'] }] });
    const sql = sqlOf(settled(MODEL), grown);
    assert.ok(sql.length > 0);
    for (const statement of sql) assert.match(statement, /billing|payer/, statement);
  });

  test('a service removed from the model loses its login and its memberships', () => {
    const shrunk = validateAppModel({ ...MODEL, services: [MODEL.services[0]] });
    const plan = planRoles(shrunk, settled(MODEL));
    const sql = plan.operations.map((o) => o.sql);
    assert.ok(sql.includes('ALTER ROLE "svc_reports" WITH NOLOGIN'));
    assert.ok(sql.includes('REVOKE "db_audit_writer" FROM "svc_reports" GRANTED BY "encore_platform"'));
    assert.ok(plan.deviations.some((d) => d.kind === 'removed-service-can-login'));
  });

  test('each hand-made deviation is reported with its kind and repaired', () => {
    const state = settled(MODEL);
    state.databases[0].owner = 'neondb_owner';
    state.databases[0].acl.push({ grantee: 'PUBLIC', privilege: 'CONNECT' }, { grantee: 'svc_orders', privilege: 'CONNECT' });
    state.databases[0].contents.defaults = state.databases[0].contents.defaults.filter((d) => d.objtype !== 'n');
    state.databases[0].contents.schemas.push({ name: 'legacy', readerUsage: false, unreadableTables: 2, unwritableTables: 2, unreadableSequences: 1, unwritableSequences: 1 });
    state.grants = state.grants.filter((g) => !(g.role === 'db_main_writer' && g.member === 'svc_orders'));
    state.grants.push(grant('db_audit_reader', 'svc_orders'), grant('db_audit_admin', 'eve', { grantor: 'cloud_admin', roleAdministered: true }));
    state.reach.push({ role: 'svc_orders', database: 'audit' });
    state.roles.find((r) => r.name === 'svc_orders')!.createrole = true;
    state.roles = state.roles.filter((r) => r.name !== 'encore_writer');
    const plan = planRoles(MODEL, state, { generatePassword: fixedPassword });
    const kinds = new Set(plan.deviations.map((d) => d.kind));
    for (const kind of ['wrong-owner', 'public-connect', 'extra-database-grant', 'missing-default-privileges', 'missing-object-privileges', 'missing-membership', 'extra-membership', 'undeclared-database-reach', 'role-attributes', 'missing-role'] as const) {
      assert.ok(kinds.has(kind), `missing ${kind}: ${[...kinds].join(', ')}`);
    }
    const sql = plan.operations.map((o) => o.sql);
    for (const expected of [
      'ALTER DATABASE "main" OWNER TO "db_main_admin"',
      'REVOKE CONNECT, TEMPORARY ON DATABASE "main" FROM PUBLIC',
      'REVOKE ALL ON DATABASE "main" FROM "svc_orders"',
      'ALTER DEFAULT PRIVILEGES FOR ROLE "db_main_admin" GRANT USAGE ON SCHEMAS TO "db_main_reader"',
      'GRANT SELECT ON ALL TABLES IN SCHEMA "legacy" TO "db_main_reader"',
      'GRANT USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA "legacy" TO "db_main_writer"',
      'GRANT "db_main_writer" TO "svc_orders" WITH INHERIT TRUE',
      'REVOKE "db_audit_reader" FROM "svc_orders" GRANTED BY "encore_platform"',
      'REVOKE "db_audit_admin" FROM "eve" GRANTED BY "cloud_admin"',
      'ALTER ROLE "svc_orders" WITH NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS LOGIN',
    ]) assert.ok(sql.includes(expected), expected);
    assert.ok(sql.some((s) => s.startsWith('CREATE ROLE "encore_writer"')));
  });

  test('a membership it cannot revoke is reported without a repair', () => {
    const state = settled(MODEL);
    state.grants.push(grant('pg_read_all_data', 'svc_orders', { grantor: 'cloud_admin', roleAdministered: false }));
    const plan = planRoles(MODEL, state);
    assert.equal(plan.deviations.length, 1);
    assert.equal(plan.deviations[0].kind, 'extra-membership');
    assert.deepEqual(plan.deviations[0].operations, []);
    assert.match(plan.deviations[0].message, /no ADMIN OPTION on pg_read_all_data/);
  });

  test('a service re-added to the model gets its login back with a new password', () => {
    const state = settled(MODEL);
    state.roles.find((r) => r.name === 'svc_orders')!.login = false;
    const plan = planRoles(MODEL, state, { generatePassword: fixedPassword });
    assert.deepEqual(plan.secrets, [{ role: 'svc_orders', password: 'Pw-fixed' }]);
  });
});

describe('db_<db>_admin has CREATEROLE, as Encore grants its migration role', () => {
  test('a new admin role is created with CREATEROLE; every other role without it', () => {
    const sql = sqlOf(empty(), MODEL).filter((s) => s.startsWith('CREATE ROLE'));
    for (const statement of sql) {
      if (/^CREATE ROLE "db_\w+_admin"/.test(statement)) assert.match(statement, / NOCREATEDB CREATEROLE /);
      else assert.match(statement, / NOCREATEROLE /);
    }
  });

  test('an admin role without CREATEROLE is a deviation, repaired by giving it', () => {
    const state = settled(MODEL);
    state.roles.find((r) => r.name === 'db_main_admin')!.createrole = false;
    const plan = planRoles(MODEL, state);
    assert.deepEqual(plan.deviations.map((d) => d.message), ['role db_main_admin has NOCREATEROLE']);
    assert.match(plan.operations[0].sql, /^ALTER ROLE "db_main_admin" WITH NOCREATEDB CREATEROLE /);
  });

  test('an admin role the platform role does not administer is reported without a repair (ALTER ROLE would be refused)', () => {
    const state = settled(MODEL);
    Object.assign(state.roles.find((r) => r.name === 'db_audit_admin')!, { createrole: false, administered: false });
    const plan = planRoles(MODEL, state);
    assert.equal(plan.deviations.length, 1);
    assert.match(plan.deviations[0].message, /role db_audit_admin has NOCREATEROLE; encore_platform has no ADMIN OPTION on db_audit_admin/);
    assert.deepEqual(plan.deviations[0].operations, []);
  });

  test("roles the app's migrations made (CREATE ROLE matview_owner; GRANT matview_owner TO encore_services) are app-made, not deviations", () => {
    const state = settled(MODEL);
    // What PostgreSQL 16+ records: the creator gets ADMIN OPTION (granted by the bootstrap superuser), then its grant.
    state.grants.push(
      grant('matview_owner', 'db_main_admin', { grantor: 'cloud_admin', admin: true, inherit: false, set: false, roleAdministered: false }),
      grant('matview_owner', 'encore_services', { grantor: 'db_main_admin', roleAdministered: false }),
    );
    const plan = planRoles(MODEL, state);
    assert.deepEqual(plan.deviations, []);
    assert.deepEqual(plan.appRoles, [{ role: 'matview_owner', createdBy: 'db_main_admin', members: ['encore_services'] }]);
  });

  test('a role nobody in the hierarchy administers, granted to encore_services, is still a deviation', () => {
    const state = settled(MODEL);
    state.grants.push(grant('stranger', 'encore_services', { grantor: 'cloud_admin', roleAdministered: false }));
    const plan = planRoles(MODEL, state);
    assert.deepEqual(plan.deviations.map((d) => d.kind), ['extra-membership']);
    assert.deepEqual(plan.appRoles, []);
  });
});

describe('planRoles with hostile names', () => {
  test('every identifier is quoted: quotes, semicolons and unicode stay inside one identifier', () => {
    const db = `x"; DROP DATABASE postgres; --`;
    const model = validateAppModel({ app: 'a', databases: [{ name: db }], services: [{ name: "o'rders ünï", databases: [db] }] });
    const sql = sqlOf(empty(), model);
    assert.ok(sql.includes(`CREATE DATABASE "x""; DROP DATABASE postgres; --" OWNER "db_x""; DROP DATABASE postgres; --_admin"`));
    assert.ok(sql.includes(`GRANT "db_x""; DROP DATABASE postgres; --_writer" TO "svc_o'rders ünï" WITH INHERIT TRUE`));
  });
});
