/**
 * @module Reads the live state of a branch for the role planner: one query cluster-wide, then
 * one per existing database of the model (default privileges and schemas live per database).
 */
import { readFileSync } from 'node:fs';
import type { AppModel } from './app-model.ts';
import { openSession, type RoundTrips, type Session } from './connection.ts';
import { roleNames, SERVICE_ROLE_PREFIX } from './names.ts';

const OBSERVE_CLUSTER_SQL = readFileSync(new URL('./sql/observe-cluster.sql', import.meta.url), 'utf8');
const OBSERVE_DATABASE_SQL = readFileSync(new URL('./sql/observe-database.sql', import.meta.url), 'utf8');

/** Databases observed at once; each costs a connection. */
const DATABASE_CONCURRENCY = 4;

export interface ObservedRole {
  name: string;
  login: boolean;
  inherit: boolean;
  superuser: boolean;
  createrole: boolean;
  createdb: boolean;
  replication: boolean;
  bypassrls: boolean;
  /** The connected role holds ADMIN OPTION on it (it created it, on PG16+). */
  administered: boolean;
}

/** One row of pg_auth_members: `member` belongs to `role`, granted by `grantor`. */
export interface ObservedGrant {
  role: string;
  member: string;
  grantor: string;
  inherit: boolean;
  set: boolean;
  admin: boolean;
  /** The connected role may revoke it (holds ADMIN OPTION on `role`). */
  roleAdministered: boolean;
}

export interface AclEntry {
  /** A role name, or `PUBLIC`. */
  grantee: string;
  privilege: string;
}

export interface DefaultAclEntry extends AclEntry {
  /** pg_default_acl.defaclobjtype: r tables, S sequences, f functions, T types, n schemas. */
  objtype: string;
}

export interface ObservedSchema {
  name: string;
  readerUsage: boolean;
  unreadableTables: number;
  unwritableTables: number;
  unreadableSequences: number;
  unwritableSequences: number;
}

export interface ObservedDatabaseContents {
  /** Default privileges `FOR ROLE db_<db>_admin` in every schema (defaclnamespace 0). */
  defaults: DefaultAclEntry[];
  schemas: ObservedSchema[];
}

export interface ObservedDatabase {
  name: string;
  owner: string;
  acl: AclEntry[];
  contents: ObservedDatabaseContents;
}

export interface ObservedState {
  currentUser: string;
  /** `createrole_self_grant`: when it has set and inherit, roles we create are granted to us. */
  selfGrant: string;
  roles: ObservedRole[];
  grants: ObservedGrant[];
  /** The model's databases that exist. */
  databases: ObservedDatabase[];
  /** Which service roles (also ones no longer in the model) may CONNECT to which model database. */
  reach: { role: string; database: string }[];
}

/** The model's role names, for the cluster query. */
export function modelRoleNames(model: AppModel): string[] {
  const n = roleNames(model.prefix);
  return [
    n.platform, n.reader, n.writer, n.admin, n.services,
    ...model.databases.flatMap((d) => [n.dbReader(d.name), n.dbWriter(d.name), n.dbAdmin(d.name)]),
    ...model.services.map((s) => n.service(s.name)),
  ];
}

/**
 * Observes the branch behind `session` (connected as the platform role). Databases are opened
 * through `url` with the database name replaced.
 */
export async function observeRoles(session: Session, url: string, model: AppModel, stats: RoundTrips): Promise<ObservedState> {
  const { rows } = await session.query<{ observed: Omit<ObservedState, 'databases'> & { databases: Omit<ObservedDatabase, 'contents'>[] } }>(
    OBSERVE_CLUSTER_SQL,
    [modelRoleNames(model), model.databases.map((d) => d.name), SERVICE_ROLE_PREFIX.replace(/_/g, '\\_') + '%'],
  );
  const cluster = rows[0].observed;
  const names = roleNames(model.prefix);
  const databases = await mapLimited(cluster.databases, DATABASE_CONCURRENCY, async (db) => {
    const contents = await observeDatabase(db.name === session.database ? session : null, url, db.name, names, stats);
    return { ...db, contents };
  });
  return { ...cluster, databases };
}

async function observeDatabase(
  existing: Session | null,
  url: string,
  database: string,
  names: ReturnType<typeof roleNames>,
  stats: RoundTrips,
): Promise<ObservedDatabaseContents> {
  const session = existing ?? (await openSession(url, stats, database).catch((error: Error & { code?: string }) => {
    if (error.code === '42501') {
      throw new Error(`${error.message}\nThe platform role cannot connect to database ${JSON.stringify(database)}: make it a member of the owner, or change the owner to ${JSON.stringify(names.dbAdmin(database))} through the Neon API.`, { cause: error });
    }
    throw error;
  }));
  try {
    const { rows } = await session.query<{ observed: ObservedDatabaseContents }>(OBSERVE_DATABASE_SQL, [
      names.dbReader(database), names.dbWriter(database), names.dbAdmin(database),
    ]);
    return rows[0].observed;
  } finally {
    if (!existing) await session.end();
  }
}

/** Runs `fn` over `items`, at most `limit` at a time, keeping order. */
export async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
