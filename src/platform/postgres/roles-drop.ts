/**
 * @module A database the app removed from its model goes, with its roles: the database itself
 * (`db_<db>_admin`'s), its `db_<db>_reader`/`_writer`/`_admin`, and the roles its migrations made as
 * `db_<db>_admin` (Encore's CREATEROLE pattern, e.g. `matview_owner`; reported by `roles check` as
 * the app's own while the database is in the model).
 *
 * Only what Arbor made is dropped: a database whose owner is the role the hierarchy names for it
 * (`db_<name>_admin`) and that the platform role created (it holds ADMIN OPTION on it). Anything
 * else on the branch (neondb, a database made in the console) is never touched. The platform runs
 * this on branches it owns only, never on an import; a protected environment gets the change only
 * once an app admin approved the model.
 */
import type { AppModel } from './app-model.ts';
import { newRoundTrips, openSession } from './connection.ts';
import { quoteIdent as q, roleNames, SERVICE_ROLE_PREFIX } from './names.ts';
import { modelRoleNames } from './roles-observe.ts';

export interface DroppedDatabase {
  database: string;
  /** Roles dropped with it: the app's own first, then the database's three. */
  roles: string[];
}

/** Drops every database (and its roles) Arbor made for a database the model no longer has. */
export async function dropRemovedDatabases(url: string, model: AppModel): Promise<DroppedDatabase[]> {
  const names = roleNames(model.prefix);
  const keep = new Set(modelRoleNames(model));
  const session = await openSession(url, newRoundTrips());
  try {
    const declared = model.databases.map((d) => d.name);
    const { rows } = await session.query<{ name: string; owner: string }>(
      `SELECT d.datname AS name, r.rolname AS owner
       FROM pg_catalog.pg_database d JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) d.datdba
       WHERE NOT d.datistemplate AND d.datname <> ALL ($1::text[])
         AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION') ORDER BY 1`,
      [declared],
    );
    const removed = rows.filter((r) => r.owner === names.dbAdmin(r.name) && !keep.has(r.owner)).map((r) => ({ name: r.name, exists: true }));
    // A run that stopped between dropping a database and its roles left an admin role without its database.
    const { rows: orphans } = await session.query<{ role: string }>(
      `SELECT r.rolname AS role FROM pg_catalog.pg_roles r
       WHERE r.rolname LIKE 'db\\_%\\_admin' AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION')
         AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_database d WHERE d.datdba OPERATOR(pg_catalog.=) r.oid) ORDER BY 1`,
    );
    for (const { role } of orphans) {
      const name = role.slice('db_'.length, -'_admin'.length);
      if (names.dbAdmin(name) === role && !declared.includes(name) && !keep.has(role)) removed.push({ name, exists: false });
    }
    const dropped: DroppedDatabase[] = [];
    for (const { name, exists } of removed) {
      const owner = names.dbAdmin(name);
      // Roles the admin made (it holds ADMIN OPTION on them; PostgreSQL 16+ grants it to a role's creator).
      const made = (
        await session.query<{ role: string }>(
          `SELECT pg_catalog.pg_get_userbyid(a.roleid) AS role FROM pg_catalog.pg_auth_members a
           WHERE a.member OPERATOR(pg_catalog.=) (SELECT oid FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) $1) AND a.admin_option ORDER BY 1`,
          [owner],
        )
      ).rows
        .map((r) => r.role)
        .filter((role) => !keep.has(role) && !role.startsWith(SERVICE_ROLE_PREFIX));
      const own = [names.dbAdmin(name), names.dbWriter(name), names.dbReader(name)];
      // FORCE: the services' sessions on it end; the database cannot go while they hold it.
      if (exists) await session.batch(`DROP DATABASE IF EXISTS ${q(name)} WITH (FORCE);`);
      // The app's roles as their creator (the platform role has no ADMIN OPTION on them), then the database's.
      const sql = [
        ...(made.length ? [`SET ROLE ${q(owner)};`, ...made.map((role) => `DROP ROLE IF EXISTS ${q(role)};`), 'RESET ROLE;'] : []),
        ...own.map((role) => `DROP ROLE IF EXISTS ${q(role)};`),
      ];
      await session.batch(sql.join('\n'));
      dropped.push({ database: name, roles: [...made, ...own] });
    }
    return dropped;
  } finally {
    await session.end();
  }
}
