/**
 * @module Objects of an app's database that another role owns (made before Arbor, e.g. by
 * `neondb_owner` running an Encore app's migrations): handed to `db_<db>_admin`, so that its
 * migrations can change them and the hierarchy's grants reach them.
 *
 * Only an object's owner can give it away, and only to a role it may act as. Nobody but Neon's
 * own superuser is a member of an API-created role such as `neondb_owner`, so Arbor logs in as
 * the owner, with the password Neon keeps for it (`GET …/roles/{role}/reveal_password`; used for
 * the handover only, never stored), after letting it act as `db_<db>_admin` for the moment:
 * `GRANT db_<db>_admin TO owner`, the `ALTER … OWNER TO` statements, `REVOKE`. A crash between
 * leaves the membership, which the hierarchy's next run revokes (it grants nobody else that
 * role). Roles Neon keeps no password for (made in SQL) keep the membership until the user runs
 * the listed statements as that role; the next run takes it back.
 */
import { neonMessage, type NeonApi } from '../neon/client.ts';
import type { AppModel } from '../postgres/app-model.ts';
import { newRoundTrips, openSession } from '../postgres/connection.ts';
import { quoteIdent, roleNames } from '../postgres/names.ts';
import type { Environment } from '../store/schema.ts';

export interface OwnedObject {
  owner: string;
  /** e.g. `table public.customers`. */
  what: string;
  /** The `ALTER … OWNER TO db_<db>_admin` that hands it over. */
  sql: string;
}

export interface ForeignDeviation {
  kind: 'foreign-owned-objects';
  database: string;
  message: string;
  manual?: boolean;
}

/**
 * Schemas, tables, views, sequences (but those a column owns: they follow their table),
 * functions, procedures and types (but tables' row types and arrays) in the database `uri`
 * points at, owned by a role `admin` is not (and cannot act as). System schemas, objects of
 * extensions, objects a superuser owns and objects of roles `admin` made are left out.
 */
export async function ownedElsewhere(uri: string, admin: string): Promise<OwnedObject[]> {
  const session = await openSession(uri, newRoundTrips());
  try {
    // An empty search_path makes regprocedure/regtype print qualified names.
    await session.query("SELECT pg_catalog.set_config('search_path', '', false)");
    const { rows } = await session.query<OwnedObject>(
      `WITH target AS (SELECT (SELECT oid FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) $1) AS oid),
       objects AS (
         SELECT n.nspowner AS owner, 'schema ' || pg_catalog.quote_ident(n.nspname) AS what,
                pg_catalog.format('ALTER SCHEMA %I OWNER TO %I;', n.nspname, $1::text) AS sql, 'pg_namespace'::pg_catalog.regclass AS classid, n.oid, 0 AS sort
         FROM pg_catalog.pg_namespace n
         WHERE n.nspname !~ '^pg_' AND n.nspname OPERATOR(pg_catalog.<>) 'information_schema'
         UNION ALL
         SELECT c.relowner, pg_catalog.lower(k.word) || ' ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname),
                pg_catalog.format('ALTER %s %I.%I OWNER TO %I;', k.word, n.nspname, c.relname, $1::text), 'pg_class'::pg_catalog.regclass, c.oid, 1
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
         JOIN (VALUES ('r', 'TABLE'), ('p', 'TABLE'), ('f', 'FOREIGN TABLE'), ('v', 'VIEW'), ('m', 'MATERIALIZED VIEW'), ('S', 'SEQUENCE')) AS k(kind, word) ON k.kind OPERATOR(pg_catalog.=) c.relkind::text
         WHERE n.nspname !~ '^pg_' AND n.nspname OPERATOR(pg_catalog.<>) 'information_schema'
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid OPERATOR(pg_catalog.=) 'pg_class'::pg_catalog.regclass AND d.objid OPERATOR(pg_catalog.=) c.oid
                           AND d.refclassid OPERATOR(pg_catalog.=) 'pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i'))
         UNION ALL
         SELECT p.proowner, 'routine ' || p.oid::pg_catalog.regprocedure::text,
                pg_catalog.format('ALTER ROUTINE %s OWNER TO %I;', p.oid::pg_catalog.regprocedure, $1::text), 'pg_proc'::pg_catalog.regclass, p.oid, 2
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
         WHERE p.prokind IN ('f', 'p') AND n.nspname !~ '^pg_' AND n.nspname OPERATOR(pg_catalog.<>) 'information_schema'
         UNION ALL
         SELECT t.typowner, 'type ' || t.oid::pg_catalog.regtype::text,
                pg_catalog.format('ALTER %s %s OWNER TO %I;', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::pg_catalog.regtype, $1::text), 'pg_type'::pg_catalog.regclass, t.oid, 3
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace
         WHERE n.nspname !~ '^pg_' AND n.nspname OPERATOR(pg_catalog.<>) 'information_schema' AND t.typelem OPERATOR(pg_catalog.=) 0
           AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype OPERATOR(pg_catalog.=) 'c' AND (SELECT relkind FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) t.typrelid) OPERATOR(pg_catalog.=) 'c'))
       )
       SELECT pg_catalog.pg_get_userbyid(o.owner) AS owner, o.what, o.sql
       FROM objects o JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) o.owner, target
       WHERE NOT r.rolsuper AND r.rolname OPERATOR(pg_catalog.<>) 'pg_database_owner'
         AND (target.oid IS NULL OR NOT pg_catalog.pg_has_role(target.oid, o.owner, 'USAGE'))
         -- Roles the admin made in its migrations (it holds ADMIN OPTION: Encore's matview_owner) own what they own.
         AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m WHERE m.roleid OPERATOR(pg_catalog.=) o.owner AND m.member OPERATOR(pg_catalog.=) target.oid AND m.admin_option)
         AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid OPERATOR(pg_catalog.=) o.classid AND d.objid OPERATOR(pg_catalog.=) o.oid AND d.deptype OPERATOR(pg_catalog.=) 'e')
       ORDER BY 1, o.sort, 2`,
      [admin],
    );
    return rows;
  } finally {
    await session.end();
  }
}

const byOwner = (objects: OwnedObject[]) => {
  const grouped = new Map<string, OwnedObject[]>();
  for (const o of objects) grouped.set(o.owner, [...(grouped.get(o.owner) ?? []), o]);
  return grouped;
};

const listed = (objects: OwnedObject[]) => objects.slice(0, 5).map((o) => o.what).join(', ') + (objects.length > 5 ? `, … (${objects.length} in all)` : '');

/** Before confirmation: what the handover will do, as deviations and as changes. */
export function describeHandover(database: string, admin: string, objects: OwnedObject[]): { deviations: ForeignDeviation[]; changes: string[] } {
  const deviations: ForeignDeviation[] = [];
  const changes: string[] = [];
  for (const [owner, owned] of byOwner(objects)) {
    deviations.push({ kind: 'foreign-owned-objects', database, message: `in database ${database}, ${owned.length} object(s) are owned by ${owner}, not ${admin} (${listed(owned)}): ${admin}'s migrations could not change them` });
    changes.push(
      `hand the ${owned.length} object(s) ${owner} owns in database ${database} to ${admin} (as ${owner}, with the password Neon keeps for it; for a role made in SQL, which Neon keeps none for, you run the listed ALTER … OWNER statements as ${owner})`,
    );
  }
  return { deviations, changes };
}

/** Objects whose owner Arbor cannot log in as: the user hands them over (`lendAdmin`). */
export interface ManualHandover {
  database: string;
  admin: string;
  owner: string;
  objects: OwnedObject[];
  why: string;
}

/** Hands every object owned elsewhere in `database` to its db_<db>_admin, as each owner Neon gives a password for. */
export async function handOver(
  api: NeonApi,
  env: Environment,
  model: AppModel,
  database: string,
  platformUri: (database?: string) => Promise<string>,
  ownerUri: (role: string, password: string, database: string) => Promise<string>,
): Promise<{ handed: string[]; manual: ManualHandover[] }> {
  const admin = roleNames(model.prefix).dbAdmin(database);
  const objects = await ownedElsewhere(await platformUri(database), admin);
  const handed: string[] = [];
  const manual: ManualHandover[] = [];
  if (!objects.length) return { handed, manual };
  const platform = await openSession(await platformUri(), newRoundTrips());
  try {
    for (const [owner, owned] of byOwner(objects)) {
      let password: string | undefined;
      let why = '';
      try {
        password = (await api.getProjectBranchRolePassword(env.neon.projectId!, env.neon.branchId!, owner)).data.password;
      } catch (error) {
        why = neonMessage(error);
      }
      if (!password) {
        manual.push({ database, admin, owner, objects: owned, why });
        continue;
      }
      // The owner may act as admin for the moment (so it may give objects to it; it reaches the database through it).
      await platform.batch(`GRANT ${quoteIdent(admin)} TO ${quoteIdent(owner)} WITH INHERIT TRUE, SET TRUE;`);
      const session = await openSession(await ownerUri(owner, password, database), newRoundTrips());
      try {
        await session.batch(`BEGIN; ${owned.map((o) => o.sql).join(' ')} COMMIT;`);
      } finally {
        await session.end();
      }
      await platform.batch(`REVOKE ${quoteIdent(admin)} FROM ${quoteIdent(owner)};`);
      handed.push(`${owned.length} object(s) of ${owner} in ${database}`);
    }
  } finally {
    await platform.end();
  }
  return { handed, manual };
}

/**
 * Lets each owner Arbor cannot log in as act as db_<db>_admin (run after the hierarchy's last
 * apply this run, which revokes such memberships), and lists the exact statements for it to run.
 */
export async function lendAdmin(platformUri: string, manual: ManualHandover[]): Promise<ForeignDeviation[]> {
  if (!manual.length) return [];
  const platform = await openSession(platformUri, newRoundTrips());
  try {
    await platform.batch(manual.map((m) => `GRANT ${quoteIdent(m.admin)} TO ${quoteIdent(m.owner)} WITH INHERIT TRUE, SET TRUE;`).join('\n'));
  } finally {
    await platform.end();
  }
  return manual.map(({ database, admin, owner, objects, why }) => ({
    kind: 'foreign-owned-objects' as const,
    database,
    manual: true,
    message:
      `in database ${database}, ${objects.length} object(s) owned by ${owner} (${listed(objects)}) must belong to ${admin} before its migrations run, and only their owner can hand them over; ` +
      `Arbor cannot log in as ${owner} (Neon gave no password for it: ${why || 'none kept'}; roles made in SQL have none there). Arbor has let ${owner} act as ${admin} for this. ` +
      `As ${owner}, run in database ${database}: ${objects.map((o) => o.sql).join(' ')} Then retry (POST …/retry); Arbor then takes ${owner}'s membership in ${admin} back.`,
  }));
}
