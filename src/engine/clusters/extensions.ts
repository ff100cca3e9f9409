/**
 * @module Extensions as on Neon: members of `neon_superuser` may `CREATE EXTENSION` for every
 * extension Neon supports that is installed here, untrusted ones included (pg_stat_statements,
 * postgres_fdw, dblink, moddatetime …); everyone else meets PostgreSQL's own refusal (42501).
 *
 * Neon does it with a hook in its compute; here an event trigger of the cluster superuser does
 * it in every database (installed in `template1`, so databases made later have it): at
 * `ddl_command_start` of a `CREATE EXTENSION` by a member of `neon_superuser`, the session's
 * role is made superuser; at `ddl_command_end` it is made ordinary again, and the statement is
 * refused (42501, rolled back) if it made an extension not on Neon's list — as is any statement
 * of another role that is not superuser (PostgreSQL lets any role with CREATE on the database make
 * a trusted extension, `pltcl` among them, which Neon does not offer). Both happen inside
 * the statement's transaction, so the attribute is never committed: an error rolls it back with
 * the statement. (PostgreSQL runs trusted extensions' scripts as superuser the same way.)
 * `pg_available_extensions` and `pg_available_extension_versions` list only Neon's extensions
 * that are installed, as on Neon, where nothing else is installed.
 */
import type pg from 'pg';
import { literal } from './neon-roles.ts';

/**
 * Neon's supported extensions, the one list: the names `CREATE EXTENSION` takes, from the table at
 * https://neon.com/docs/extensions/pg-extensions (checked against its PG14–PG18 version, 2026-02).
 * Where the table's row differs from the name: pg_roaringbitmap is `roaringbitmap`, pgvector is
 * `vector`, pgx_ulid is `ulid` (PG 14–16) and `pgx_ulid` (PG 17). Left out: `wal2json` (a logical
 * decoding plugin, no `CREATE EXTENSION`), and the experimental `pg_mooncake` and pgrag's `rag*`,
 * which Neon refuses until `SET neon.allow_unstable_extensions = 'true'`. Which major carries which
 * (the table's dashes) is not modelled: an extension is available where its files are installed.
 */
export const NEON_EXTENSIONS: readonly string[] = [
  'address_standardizer', 'address_standardizer_data_us', 'anon', 'autoinc', 'bloom', 'btree_gin', 'btree_gist', 'citext',
  'cube', 'dblink', 'dict_int', 'earthdistance', 'fuzzystrmatch', 'h3', 'h3_postgis', 'hll', 'hstore', 'hypopg',
  'insert_username', 'intagg', 'intarray', 'ip4r', 'isn', 'lo', 'ltree', 'moddatetime', 'neon', 'neon_utils', 'online_advisor',
  'pg_cron', 'pg_graphql', 'pg_hashids', 'pg_hint_plan', 'pg_ivm', 'pg_jsonschema', 'pg_partman', 'pg_prewarm', 'pg_repack',
  'pg_search', 'pg_session_jwt', 'pg_stat_statements', 'pg_tiktoken', 'pg_trgm', 'pg_uuidv7', 'pgcrypto', 'pgjwt',
  'pgrouting', 'pgrowlocks', 'pgstattuple', 'pgtap', 'pgx_ulid', 'plcoffee', 'plls', 'plpgsql', 'plpgsql_check', 'plv8',
  'postgis', 'postgis_raster', 'postgis_sfcgal', 'postgis_tiger_geocoder', 'postgis_topology', 'postgres_fdw', 'prefix',
  'rdkit', 'refint', 'roaringbitmap', 'rum', 'seg', 'semver', 'tablefunc', 'tcn', 'timescaledb', 'tsm_system_rows',
  'tsm_system_time', 'ulid', 'unaccent', 'unit', 'uuid-ossp', 'vector', 'xml2',
];

/** The SQL that installs the trigger pair in one database (idempotent; run as the cluster superuser). */
function triggerSql(): string {
  const list = `ARRAY[${NEON_EXTENSIONS.map(literal).join(', ')}]::text[]`;
  return `
CREATE SCHEMA IF NOT EXISTS arbor_internal AUTHORIZATION cloud_admin;
REVOKE ALL ON SCHEMA arbor_internal FROM PUBLIC;
CREATE OR REPLACE FUNCTION arbor_internal.extension_start() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
  name text;
BEGIN
  -- Whatever the session set this to, only this trigger names the role it raised.
  PERFORM set_config('arbor.extension_role', '', true);
  SELECT r.rolname INTO name FROM pg_roles r WHERE r.rolname = session_user AND NOT r.rolsuper;
  IF name IS NULL OR NOT pg_has_role(name, 'neon_superuser', 'MEMBER') THEN RETURN; END IF;
  EXECUTE format('ALTER ROLE %I SUPERUSER', name);
  PERFORM set_config('arbor.extension_role', name, true);
END $fn$;
CREATE OR REPLACE FUNCTION arbor_internal.extension_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
  name text := current_setting('arbor.extension_role', true);
  unlisted text;
BEGIN
  -- Only the session's own role, raised by extension_start (a value the session set is not trusted).
  IF coalesce(name, '') <> '' AND name = session_user THEN
    EXECUTE format('ALTER ROLE %I NOSUPERUSER', name);
    PERFORM set_config('arbor.extension_role', '', true);
  ELSIF (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user) THEN
    RETURN; -- the cluster's superuser (cloud_admin) makes any extension
  END IF;
  -- Only Neon's extensions, for every other role too (a trusted one, such as pltcl, needs no
  -- raising): any other one made by this statement (CASCADE included) undoes it all.
  SELECT string_agg(e.extname, ', ') INTO unlisted FROM pg_event_trigger_ddl_commands() c JOIN pg_extension e ON e.oid = c.objid
   WHERE c.classid = 'pg_extension'::regclass AND e.extname <> ALL (${list});
  IF unlisted IS NOT NULL THEN
    RAISE EXCEPTION 'permission denied to create extension "%"', unlisted
      USING ERRCODE = '42501', HINT = 'Must be superuser to create this extension (it is not one Neon supports).';
  END IF;
END $fn$;
REVOKE ALL ON FUNCTION arbor_internal.extension_start(), arbor_internal.extension_end() FROM PUBLIC;
DROP EVENT TRIGGER IF EXISTS arbor_extension_start;
DROP EVENT TRIGGER IF EXISTS arbor_extension_end;
CREATE EVENT TRIGGER arbor_extension_start ON ddl_command_start WHEN TAG IN ('CREATE EXTENSION') EXECUTE FUNCTION arbor_internal.extension_start();
CREATE EVENT TRIGGER arbor_extension_end ON ddl_command_end WHEN TAG IN ('CREATE EXTENSION') EXECUTE FUNCTION arbor_internal.extension_end();
-- What a session sees as available is what Neon offers: PostgreSQL's own two views, with their
-- definitions (system_views.sql, unchanged since 9.x), narrowed to Neon's list. Replacing a view
-- in pg_catalog needs allow_system_table_mods, which a superuser may set for its session.
SET allow_system_table_mods = on;
CREATE OR REPLACE VIEW pg_catalog.pg_available_extensions AS
  SELECT e.name, e.default_version, x.extversion AS installed_version, e.comment
    FROM pg_catalog.pg_available_extensions() AS e LEFT JOIN pg_catalog.pg_extension AS x ON e.name = x.extname
   WHERE e.name = ANY (${list});
CREATE OR REPLACE VIEW pg_catalog.pg_available_extension_versions AS
  SELECT e.name, e.version, (x.extname IS NOT NULL) AS installed, e.superuser, e.trusted, e.relocatable, e.schema, e.requires, e.comment
    FROM pg_catalog.pg_available_extension_versions() AS e LEFT JOIN pg_catalog.pg_extension AS x ON e.name = x.extname AND e.version = x.extversion
   WHERE e.name = ANY (${list});
RESET allow_system_table_mods;
`;
}

/**
 * Installs the extension triggers in `template1` and every database that allows connections
 * (`connect` opens a superuser session on one).
 */
export async function installExtensionTriggers(admin: pg.Client, connect: (db: string) => Promise<pg.Client>): Promise<void> {
  const { rows } = await admin.query(`SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1`);
  for (const { datname } of rows as { datname: string }[]) {
    const db = datname === 'postgres' ? admin : await connect(datname);
    try {
      await db.query(triggerSql());
    } finally {
      if (db !== admin) await db.end();
    }
  }
}

