/**
 * @module The role planner: desired hierarchy (from the app model) + observed branch state →
 * the deviations and the SQL that repairs them. Pure: no I/O, so it is tested without a server;
 * `arbor roles check` is "the plan is not empty", `arbor roles apply` runs it.
 */
import { randomBytes } from 'node:crypto';
import type { AppModel } from './app-model.ts';
import { quoteIdent as q, quoteLiteral, roleNames, SERVICE_ROLE_PREFIX, type RoleNames } from './names.ts';
import type { ObservedDatabase, ObservedGrant, ObservedRole, ObservedState } from './roles-observe.ts';

/**
 * The order operations run in. Each phase needs only what earlier ones made: memberships need
 * both roles, a database needs its owner role, grants need the database, service roles are
 * granted per-database roles.
 */
export const PHASES = [
  'create-global-roles',
  'create-database-roles',
  'grant-database-roles',
  'create-databases',
  'set-database-owners',
  'revoke-public-connect',
  'grant-database-connect',
  'revoke-extra-database-grants',
  // These two run connected to the database itself.
  'set-default-privileges',
  'grant-existing-objects',
  'create-service-roles',
  'grant-service-roles',
  'revoke-extra-memberships',
  'disable-removed-services',
] as const;
export type Phase = (typeof PHASES)[number];

export type DeviationKind =
  | 'missing-role'
  | 'role-attributes'
  | 'missing-membership'
  | 'extra-membership'
  | 'missing-database'
  | 'wrong-owner'
  | 'public-connect'
  | 'missing-connect'
  | 'extra-database-grant'
  | 'missing-default-privileges'
  | 'missing-object-privileges'
  | 'removed-service-can-login'
  | 'undeclared-database-reach';

export interface Operation {
  phase: Phase;
  /** Human description, safe to print (never holds a password). */
  comment: string;
  sql: string;
  /** Run connected to this database; null: on the platform connection. */
  database: string | null;
  /** Cannot share a multi-statement query or transaction (CREATE DATABASE). */
  standalone: boolean;
  /** The login role whose new password this operation sets (its secret counts once it commits). */
  setsPasswordOf?: string;
}

export interface Deviation {
  kind: DeviationKind;
  message: string;
  /** What repairs it; empty when another deviation's repair covers it or it needs a superuser. */
  operations: Operation[];
}

export interface Secret {
  role: string;
  password: string;
}

/** A role the app's migrations created as `db_<db>_admin` (CREATEROLE): reported, never a deviation. */
export interface AppRole {
  role: string;
  createdBy: string;
  /** Roles granted it (e.g. `encore_services`). */
  members: string[];
}

export interface RolesPlan {
  /** Roles made by the app's migrations; not deviations. */
  appRoles: AppRole[];
  deviations: Deviation[];
  /** All operations, in phase order. */
  operations: Operation[];
  /** Passwords of login roles the plan creates or re-enables; shown once. */
  secrets: Secret[];
}

export interface PlanOptions {
  generatePassword?: () => string;
}

/** 32 characters from 24 random bytes: 192 bits, far above Neon's 60-bit minimum. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Attributes every role of the hierarchy has (SUPERUSER is left out: only a superuser may set it). */
const ATTRIBUTES = 'NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS';
/**
 * `db_<db>_admin`'s: CREATEROLE too, as Encore grants its migration role (encoredev/encore PR
 * #1991), so migrations may `CREATE ROLE matview_owner; GRANT matview_owner TO encore_services`.
 * On PostgreSQL 16+ that reaches only roles it creates itself (it gets ADMIN OPTION on them);
 * it cannot give SUPERUSER, CREATEDB, REPLICATION or BYPASSRLS, nor membership in roles it does
 * not administer (every role of the hierarchy), nor change their passwords.
 */
const ADMIN_ATTRIBUTES = 'NOCREATEDB CREATEROLE INHERIT NOREPLICATION NOBYPASSRLS';

type Privilege = { objtype: 'r' | 'S' | 'n'; keyword: 'TABLES' | 'SEQUENCES' | 'SCHEMAS'; privileges: string[] };

/** Default privileges `FOR ROLE db_<db>_admin` in every schema, per grantee level. */
const READER_DEFAULTS: Privilege[] = [
  { objtype: 'r', keyword: 'TABLES', privileges: ['SELECT'] },
  { objtype: 'S', keyword: 'SEQUENCES', privileges: ['SELECT'] },
  { objtype: 'n', keyword: 'SCHEMAS', privileges: ['USAGE'] },
];
const WRITER_DEFAULTS: Privilege[] = [
  { objtype: 'r', keyword: 'TABLES', privileges: ['INSERT', 'UPDATE', 'DELETE'] },
  { objtype: 'S', keyword: 'SEQUENCES', privileges: ['USAGE', 'UPDATE'] },
];

/** Privileges on a database given to its reader (and so to its writer, admin and services). */
const READER_DATABASE_PRIVILEGES = ['CONNECT', 'TEMPORARY'];

interface DesiredRole {
  name: string;
  login: boolean;
  /** `db_<db>_admin` only. */
  createrole?: boolean;
  phase: Phase;
  what: string;
}

interface DesiredGrant {
  role: string;
  member: string;
  phase: Phase;
}

/** Plans the hierarchy of `model` on a branch in state `observed`. */
export function planRoles(model: AppModel, observed: ObservedState, options: PlanOptions = {}): RolesPlan {
  const password = options.generatePassword ?? generatePassword;
  const names = roleNames(model.prefix);
  const deviations: Deviation[] = [];
  const secrets: Secret[] = [];
  const deviate = (kind: DeviationKind, message: string, operations: Operation[] = []) => deviations.push({ kind, message, operations });
  const op = (phase: Phase, comment: string, sql: string, database: string | null = null, standalone = false): Operation => ({ phase, comment, sql, database, standalone });

  const roles = new Map(observed.roles.map((r) => [r.name, r]));
  const desiredRoles = desiredRoleList(model, names);
  const desiredRoleNames = new Set(desiredRoles.map((r) => r.name));
  const selfGrant = /\bset\b/i.test(observed.selfGrant ?? '') && /\binherit\b/i.test(observed.selfGrant ?? '');

  // Roles: create what is missing, align attributes of what exists.
  for (const want of desiredRoles) {
    const have = roles.get(want.name);
    if (!have) {
      let sql = `CREATE ROLE ${q(want.name)} WITH ${want.createrole ? ADMIN_ATTRIBUTES : ATTRIBUTES} ${want.login ? 'LOGIN' : 'NOLOGIN'}`;
      if (want.login) {
        const secret = { role: want.name, password: password() };
        secrets.push(secret);
        sql += ` PASSWORD ${quoteLiteral(secret.password)}`;
      }
      const ops = [{ ...op(want.phase, `create ${want.what} role ${want.name}`, sql), ...(want.login ? { setsPasswordOf: want.name } : {}) }];
      // Without createrole_self_grant we must make ourselves a member to own and grant as it.
      if (!selfGrant) ops.push(op(want.phase, `let ${observed.currentUser} act as ${want.name}`, `GRANT ${q(want.name)} TO ${q(observed.currentUser)} WITH INHERIT TRUE, SET TRUE`));
      deviate('missing-role', `role ${want.name} (${want.what}) does not exist`, ops);
      continue;
    }
    const wrong = wrongAttributes(have, want.login, want.createrole ?? false);
    if (wrong.length) {
      let sql = `ALTER ROLE ${q(want.name)} WITH ${want.createrole ? ADMIN_ATTRIBUTES : ATTRIBUTES} ${want.login ? 'LOGIN' : 'NOLOGIN'}`;
      let note = '';
      if (want.login && !have.login) {
        const secret = { role: want.name, password: password() };
        secrets.push(secret);
        sql += ` PASSWORD ${quoteLiteral(secret.password)}`;
        note = ' (login re-enabled with a new password)';
      }
      // PostgreSQL 16+: changing another role's attributes needs ADMIN OPTION on it.
      const fixable = !have.superuser && have.administered;
      const why = have.superuser ? '; only a superuser can remove SUPERUSER' : !have.administered ? `; ${observed.currentUser} has no ADMIN OPTION on ${want.name}, so change it as a role that has (or its creator)` : '';
      deviate(
        'role-attributes',
        `role ${want.name} has ${wrong.join(', ')}${why}`,
        fixable ? [{ ...op(want.phase, `set the attributes of ${want.name}${note}`, sql), ...(note ? { setsPasswordOf: want.name } : {}) }] : [],
      );
    }
  }

  // Memberships the hierarchy needs.
  const grants = groupGrants(observed.grants);
  const desiredGrants = desiredGrantList(model, names);
  const desiredKeys = new Set(desiredGrants.map((g) => grantKey(g.role, g.member)));
  for (const want of desiredGrants) {
    const have = grants.get(grantKey(want.role, want.member));
    const sql = `GRANT ${q(want.role)} TO ${q(want.member)} WITH INHERIT TRUE`;
    if (!have) deviate('missing-membership', `${want.member} is not a member of ${want.role}`, [op(want.phase, `grant ${want.role} to ${want.member}`, sql)]);
    else if (!have.some((g) => g.inherit)) deviate('missing-membership', `${want.member} is a member of ${want.role} without INHERIT, so it gets none of its privileges`, [op(want.phase, `grant ${want.role} to ${want.member} with INHERIT`, sql)]);
  }

  // The platform role acts as each db_<db>_admin to own databases and set default privileges.
  for (const db of model.databases) {
    const admin = names.dbAdmin(db.name);
    if (!roles.has(admin)) continue;
    const have = grants.get(grantKey(admin, observed.currentUser)) ?? [];
    if (!have.some((g) => g.inherit) || !have.some((g) => g.set)) {
      deviate('missing-membership', `${observed.currentUser} cannot act as ${admin} (needs membership WITH INHERIT, SET)`, [
        op('grant-database-roles', `let ${observed.currentUser} act as ${admin}`, `GRANT ${q(admin)} TO ${q(observed.currentUser)} WITH INHERIT TRUE, SET TRUE`),
      ]);
    }
  }

  // Roles a db_<db>_admin created in its migrations (it holds ADMIN OPTION on them): the app's own.
  const admins = new Set(model.databases.map((d) => names.dbAdmin(d.name)));
  const appRoles = new Map<string, AppRole>();
  for (const g of observed.grants) {
    if (!g.admin || !admins.has(g.member) || desiredRoleNames.has(g.role) || g.role.startsWith(SERVICE_ROLE_PREFIX)) continue;
    appRoles.set(g.role, { role: g.role, createdBy: g.member, members: [] });
  }
  for (const g of observed.grants) {
    const app = appRoles.get(g.role);
    if (app && g.member !== app.createdBy && !app.members.includes(g.member)) app.members.push(g.member);
  }

  // Memberships nobody asked for: of a hierarchy role in anything, or of anyone else in a hierarchy role.
  for (const rows of grants.values()) {
    const { role, member } = rows[0];
    if (desiredKeys.has(grantKey(role, member))) continue;
    if (member === observed.currentUser) continue;
    // Membership in a role the app's migrations made (Encore's `GRANT matview_owner TO encore_services`).
    if (appRoles.has(role)) continue;
    const memberManaged = desiredRoleNames.has(member) || member.startsWith(SERVICE_ROLE_PREFIX) && roles.has(member);
    const roleManaged = desiredRoleNames.has(role);
    if (!memberManaged && !roleManaged) continue;
    const revocable = rows.every((g) => g.roleAdministered);
    deviate(
      'extra-membership',
      `${member} is a member of ${role}, which the hierarchy does not grant${revocable ? '' : `; ${observed.currentUser} has no ADMIN OPTION on ${role}, so revoke it as a role that has`}`,
      revocable
        ? rows.map((g) => op('revoke-extra-memberships', `revoke ${role} from ${member}`, `REVOKE ${q(role)} FROM ${q(member)} GRANTED BY ${q(g.grantor)}`))
        : [],
    );
  }

  // Databases: existence, owner, CONNECT, default privileges, objects already there.
  const databases = new Map(observed.databases.map((d) => [d.name, d]));
  for (const db of model.databases) planDatabase(db.name, databases.get(db.name), names, desiredRoleNames, op, deviate);

  // Services removed from the model keep their role: make sure it cannot log in any more.
  const modelServiceRoles = new Set(model.services.map((s) => names.service(s.name)));
  for (const role of observed.roles) {
    if (!role.name.startsWith(SERVICE_ROLE_PREFIX) || modelServiceRoles.has(role.name) || desiredRoleNames.has(role.name)) continue;
    if (!role.administered) continue;
    if (role.login) {
      deviate('removed-service-can-login', `role ${role.name} belongs to no service in the model but can still log in`, [
        op('disable-removed-services', `disable login of ${role.name} (service removed from the model)`, `ALTER ROLE ${q(role.name)} WITH NOLOGIN`),
      ]);
    }
  }

  // A service reaching a database it did not declare (whatever the path; repaired by the above).
  const declared = new Map(model.services.map((s) => [names.service(s.name), new Set(s.databases)]));
  for (const { role, database } of observed.reach) {
    const allowed = declared.get(role);
    if (allowed && !allowed.has(database)) {
      deviate('undeclared-database-reach', `service role ${role} can connect to database ${database}, which its service does not declare`);
    }
  }

  const operations = deviations
    .flatMap((d) => d.operations)
    .map((o, i) => ({ o, i }))
    .sort((a, b) => PHASES.indexOf(a.o.phase) - PHASES.indexOf(b.o.phase) || a.i - b.i)
    .map(({ o }) => o);
  return { deviations, operations, secrets, appRoles: [...appRoles.values()] };
}

function desiredRoleList(model: AppModel, n: RoleNames): DesiredRole[] {
  return [
    { name: n.services, login: false, phase: 'create-global-roles', what: 'the shared services' },
    { name: n.reader, login: true, phase: 'create-global-roles', what: 'the global reader' },
    { name: n.writer, login: true, phase: 'create-global-roles', what: 'the global writer' },
    { name: n.admin, login: true, phase: 'create-global-roles', what: 'the global admin' },
    ...model.databases.flatMap((d): DesiredRole[] => [
      { name: n.dbReader(d.name), login: false, phase: 'create-database-roles', what: `database ${d.name}'s reader` },
      { name: n.dbWriter(d.name), login: false, phase: 'create-database-roles', what: `database ${d.name}'s writer` },
      { name: n.dbAdmin(d.name), login: true, createrole: true, phase: 'create-database-roles', what: `database ${d.name}'s admin` },
    ]),
    ...model.services.map((s): DesiredRole => ({ name: n.service(s.name), login: true, phase: 'create-service-roles', what: `service ${s.name}'s` })),
  ];
}

function desiredGrantList(model: AppModel, n: RoleNames): DesiredGrant[] {
  const phase = 'grant-database-roles';
  return [
    ...model.databases.flatMap((d): DesiredGrant[] => [
      { role: n.dbReader(d.name), member: n.dbWriter(d.name), phase },
      { role: n.dbWriter(d.name), member: n.dbAdmin(d.name), phase },
      { role: n.services, member: n.dbAdmin(d.name), phase },
      { role: n.dbReader(d.name), member: n.reader, phase },
      { role: n.dbWriter(d.name), member: n.writer, phase },
      { role: n.dbAdmin(d.name), member: n.admin, phase },
    ]),
    ...model.services.flatMap((s): DesiredGrant[] => [
      { role: n.services, member: n.service(s.name), phase: 'grant-service-roles' },
      ...s.databases.map((d): DesiredGrant => ({ role: n.dbWriter(d), member: n.service(s.name), phase: 'grant-service-roles' })),
    ]),
  ];
}

function wrongAttributes(role: ObservedRole, login: boolean, createrole: boolean): string[] {
  const wrong: string[] = [];
  if (role.login !== login) wrong.push(login ? 'NOLOGIN' : 'LOGIN');
  if (role.superuser) wrong.push('SUPERUSER');
  if (role.createrole !== createrole) wrong.push(createrole ? 'NOCREATEROLE' : 'CREATEROLE');
  if (role.createdb) wrong.push('CREATEDB');
  if (role.replication) wrong.push('REPLICATION');
  if (role.bypassrls) wrong.push('BYPASSRLS');
  if (!role.inherit) wrong.push('NOINHERIT');
  return wrong;
}

const grantKey = (role: string, member: string) => JSON.stringify([role, member]);

function groupGrants(rows: ObservedGrant[]): Map<string, ObservedGrant[]> {
  const grouped = new Map<string, ObservedGrant[]>();
  for (const row of rows) {
    const key = grantKey(row.role, row.member);
    grouped.set(key, [...(grouped.get(key) ?? []), row]);
  }
  return grouped;
}

type OpFactory = (phase: Phase, comment: string, sql: string, database?: string | null, standalone?: boolean) => Operation;
type Deviate = (kind: DeviationKind, message: string, operations?: Operation[]) => void;

function planDatabase(name: string, have: ObservedDatabase | undefined, n: RoleNames, hierarchy: Set<string>, op: OpFactory, deviate: Deviate): void {
  const reader = n.dbReader(name);
  const writer = n.dbWriter(name);
  const admin = n.dbAdmin(name);
  const onDb = `ON DATABASE ${q(name)}`;

  if (!have) {
    deviate('missing-database', `database ${name} does not exist`, [
      op('create-databases', `create database ${name} owned by ${admin}`, `CREATE DATABASE ${q(name)} OWNER ${q(admin)}`, null, true),
      op('revoke-public-connect', `revoke CONNECT on ${name} from PUBLIC`, `REVOKE CONNECT, TEMPORARY ${onDb} FROM PUBLIC`),
      op('grant-database-connect', `grant CONNECT on ${name} to ${reader}`, `GRANT ${READER_DATABASE_PRIVILEGES.join(', ')} ${onDb} TO ${q(reader)}`),
      ...defaultPrivilegeOps(name, admin, [[reader, READER_DEFAULTS], [writer, WRITER_DEFAULTS]], op),
    ]);
    return;
  }

  if (have.owner !== admin) {
    deviate('wrong-owner', `database ${name} is owned by ${have.owner}, not ${admin}`, [
      op('set-database-owners', `change the owner of ${name} to ${admin}`, `ALTER DATABASE ${q(name)} OWNER TO ${q(admin)}`),
    ]);
  }
  const publicPrivileges = have.acl.filter((a) => a.grantee === 'PUBLIC' && (a.privilege === 'CONNECT' || a.privilege === 'TEMPORARY'));
  if (publicPrivileges.length) {
    deviate('public-connect', `PUBLIC has ${publicPrivileges.map((a) => a.privilege).join(', ')} on database ${name}, so every role can connect`, [
      op('revoke-public-connect', `revoke CONNECT on ${name} from PUBLIC`, `REVOKE CONNECT, TEMPORARY ${onDb} FROM PUBLIC`),
    ]);
  }
  const readerPrivileges = new Set(have.acl.filter((a) => a.grantee === reader).map((a) => a.privilege));
  const missing = READER_DATABASE_PRIVILEGES.filter((p) => !readerPrivileges.has(p));
  if (missing.length) {
    deviate('missing-connect', `${reader} lacks ${missing.join(', ')} on database ${name}`, [
      op('grant-database-connect', `grant ${missing.join(', ')} on ${name} to ${reader}`, `GRANT ${missing.join(', ')} ${onDb} TO ${q(reader)}`),
    ]);
  }
  const extra = [...new Set(have.acl.map((a) => a.grantee))].filter((g) => g !== reader && g !== admin && g !== have.owner && (hierarchy.has(g) || g.startsWith(SERVICE_ROLE_PREFIX)));
  for (const grantee of extra) {
    deviate('extra-database-grant', `${grantee} holds privileges on database ${name} directly; only ${reader} should`, [
      op('revoke-extra-database-grants', `revoke privileges on ${name} from ${grantee}`, `REVOKE ALL ${onDb} FROM ${q(grantee)}`),
    ]);
  }

  const defaults = new Set(have.contents.defaults.map((d) => `${d.objtype}|${d.grantee}|${d.privilege}`));
  const missingDefaults: [string, Privilege[]][] = [];
  for (const [grantee, wanted] of [[reader, READER_DEFAULTS], [writer, WRITER_DEFAULTS]] as const) {
    const lacking = wanted
      .map((w) => ({ ...w, privileges: w.privileges.filter((p) => !defaults.has(`${w.objtype}|${grantee}|${p}`)) }))
      .filter((w) => w.privileges.length);
    if (lacking.length) missingDefaults.push([grantee, lacking]);
  }
  if (missingDefaults.length) {
    const what = missingDefaults.map(([g, ps]) => `${g}: ${ps.map((p) => `${p.privileges.join('/')} on new ${p.keyword.toLowerCase()}`).join(', ')}`).join('; ');
    deviate('missing-default-privileges', `in database ${name}, objects ${admin} creates later would not be granted (${what})`, defaultPrivilegeOps(name, admin, missingDefaults, op));
  }

  for (const schema of have.contents.schemas) {
    const ops: Operation[] = [];
    const gaps: string[] = [];
    const inSchema = `IN SCHEMA ${q(schema.name)}`;
    const grant = (gap: string, comment: string, sql: string) => {
      gaps.push(gap);
      ops.push(op('grant-existing-objects', comment, sql, name));
    };
    if (!schema.readerUsage) grant(`${reader} cannot use the schema`, `grant USAGE on schema ${schema.name} to ${reader}`, `GRANT USAGE ON SCHEMA ${q(schema.name)} TO ${q(reader)}`);
    if (schema.unreadableTables) grant(`${schema.unreadableTables} table(s) not readable by ${reader}`, `grant SELECT on tables in ${schema.name} to ${reader}`, `GRANT SELECT ON ALL TABLES ${inSchema} TO ${q(reader)}`);
    if (schema.unwritableTables) grant(`${schema.unwritableTables} table(s) not writable by ${writer}`, `grant INSERT, UPDATE, DELETE on tables in ${schema.name} to ${writer}`, `GRANT INSERT, UPDATE, DELETE ON ALL TABLES ${inSchema} TO ${q(writer)}`);
    if (schema.unreadableSequences) grant(`${schema.unreadableSequences} sequence(s) not readable by ${reader}`, `grant SELECT on sequences in ${schema.name} to ${reader}`, `GRANT SELECT ON ALL SEQUENCES ${inSchema} TO ${q(reader)}`);
    if (schema.unwritableSequences) grant(`${schema.unwritableSequences} sequence(s) not usable by ${writer}`, `grant USAGE, UPDATE on sequences in ${schema.name} to ${writer}`, `GRANT USAGE, UPDATE ON ALL SEQUENCES ${inSchema} TO ${q(writer)}`);
    if (ops.length) deviate('missing-object-privileges', `in database ${name}, schema ${schema.name}: ${gaps.join('; ')} (objects not owned by ${admin} need their owner to grant)`, ops);
  }
}

function defaultPrivilegeOps(database: string, admin: string, grants: (readonly [string, Privilege[]])[], op: OpFactory): Operation[] {
  return grants.flatMap(([grantee, privileges]) =>
    privileges.map((p) =>
      op(
        'set-default-privileges',
        `in ${database}, grant ${p.privileges.join(', ')} on ${p.keyword.toLowerCase()} ${admin} creates to ${grantee}`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${q(admin)} GRANT ${p.privileges.join(', ')} ON ${p.keyword} TO ${q(grantee)}`,
        database,
      ),
    ),
  );
}
