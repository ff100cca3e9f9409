/**
 * @module Neon's role model, reproduced: the `neon_superuser` group every API-created role joins,
 * with exactly the attributes and grants Neon's compute gives it (neon-api.md §4), so that code
 * tested here runs under the same limits on Neon.
 */
import type pg from 'pg';

const ident = (name: string) => '"' + name.replace(/"/g, '""') + '"';
const literal = (value: string) => "'" + value.replace(/'/g, "''") + "'";

/** Role names the API refuses, as Neon does. */
export function isReservedRoleName(name: string): boolean {
  return /^pg_/i.test(name) || ['neon_superuser', 'cloud_admin', 'zenith_admin', 'public', 'none'].includes(name.toLowerCase());
}

/** Creates `neon_superuser` and its grants; run once per cluster as the superuser. Idempotent. */
export async function createNeonSuperuser(client: pg.Client, pgVersion: number): Promise<void> {
  await client.query(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'neon_superuser') THEN
      CREATE ROLE neon_superuser CREATEDB CREATEROLE NOLOGIN REPLICATION BYPASSRLS IN ROLE pg_read_all_data, pg_write_all_data;
    END IF;
  END $$`);
  const grants = [
    'GRANT pg_monitor TO neon_superuser WITH ADMIN OPTION',
    'GRANT pg_signal_backend TO neon_superuser WITH ADMIN OPTION',
    'GRANT EXECUTE ON FUNCTION pg_show_replication_origin_status TO neon_superuser',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO neon_superuser WITH GRANT OPTION',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO neon_superuser WITH GRANT OPTION',
  ];
  if (pgVersion >= 16) {
    grants.push('GRANT pg_create_subscription TO neon_superuser');
    grants.push('GRANT EXECUTE ON FUNCTION pg_export_snapshot, pg_log_standby_snapshot TO neon_superuser');
  }
  for (const sql of grants) await client.query(sql);
}

/** Creates an API role the way Neon's compute does (attributes given directly: they do not inherit). */
export async function createApiRole(client: pg.Client, name: string, password: string | null): Promise<void> {
  const login = password === null ? 'NOLOGIN' : `LOGIN PASSWORD ${literal(password)}`;
  await client.query(`CREATE ROLE ${ident(name)} INHERIT CREATEROLE CREATEDB BYPASSRLS REPLICATION IN ROLE neon_superuser ${login}`);
}

export async function setRolePassword(client: pg.Client, name: string, password: string): Promise<void> {
  await client.query(`ALTER ROLE ${ident(name)} PASSWORD ${literal(password)}`);
}

/** Drops a role as Neon does: hand its objects to each database's owner, then drop. */
export async function dropApiRole(connect: (database: string) => Promise<pg.Client>, admin: pg.Client, name: string): Promise<void> {
  const { rows } = await admin.query(
    `SELECT d.datname, r.rolname AS owner FROM pg_catalog.pg_database d JOIN pg_catalog.pg_roles r ON r.oid = d.datdba
     WHERE d.datallowconn AND NOT d.datistemplate`,
  );
  for (const { datname, owner } of rows) {
    const client = await connect(datname);
    try {
      const target = owner === name ? 'cloud_admin' : owner;
      await client.query(`REASSIGN OWNED BY ${ident(name)} TO ${ident(target)}`);
      await client.query(`DROP OWNED BY ${ident(name)}`);
    } finally {
      await client.end();
    }
  }
  await admin.query(`DROP ROLE IF EXISTS ${ident(name)}`);
}

export async function createDatabase(client: pg.Client, name: string, owner: string): Promise<void> {
  await client.query(`CREATE DATABASE ${ident(name)} OWNER ${ident(owner)}`);
  await client.query(`GRANT ALL PRIVILEGES ON DATABASE ${ident(name)} TO neon_superuser`);
}

/**
 * As Neon's compute: `public` is handed to the database owner only when the superuser owns it
 * (PG ≤ 14). From PG 15 it belongs to `pg_database_owner`, so it follows the database's owner.
 */
export async function setPublicSchemaOwner(client: pg.Client, owner: string): Promise<void> {
  await client.query(`DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
               WHERE n.nspname OPERATOR(pg_catalog.=) 'public' AND r.rolsuper) THEN
      EXECUTE pg_catalog.format('ALTER SCHEMA public OWNER TO %I', ${literal(owner)});
    END IF;
  END $$`);
}

export { ident, literal };

/** A role or database made in SQL (not through the API), as the cluster has it. */
export interface ClusterObjects {
  roles: { name: string; login: boolean }[];
  databases: { name: string; owner: string }[];
}

/**
 * The roles and databases users can see: what Neon's DDL hook forwards to its control plane
 * (every role but the predefined `pg_*`, `neon_superuser` and the superuser; every database but
 * the templates and `postgres`).
 */
export async function clusterObjects(admin: pg.Client): Promise<ClusterObjects> {
  const roles = await admin.query<{ name: string; login: boolean }>(
    `SELECT rolname AS name, rolcanlogin AS login FROM pg_catalog.pg_roles
     WHERE rolname !~ '^pg_' AND rolname <> ALL (ARRAY['neon_superuser', 'cloud_admin']) AND NOT rolsuper ORDER BY oid`,
  );
  const databases = await admin.query<{ name: string; owner: string }>(
    `SELECT datname AS name, pg_catalog.pg_get_userbyid(datdba) AS owner FROM pg_catalog.pg_database
     WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY oid`,
  );
  return { roles: roles.rows, databases: databases.rows };
}
