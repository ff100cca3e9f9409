/**
 * @module Closing the databases an app does not declare (Neon's `neondb`, or one made in the
 * console), on branches Arbor owns, so that no role of the hierarchy can connect to them.
 *
 * PUBLIC's CONNECT and TEMPORARY on a database can be revoked only by its owner (or a superuser),
 * and on Neon that owner is the API role that made it (`neondb_owner`), of which `encore_platform`
 * is not a member: SQL as the platform role cannot do it. Neon's API lets the account reveal that
 * role's password (`GET …/roles/{role}/reveal_password`), so Arbor connects as the owner for one
 * statement, `REVOKE CONNECT, TEMPORARY ON DATABASE … FROM PUBLIC`, and keeps nothing. The owner
 * keeps its access, and so do Neon's API roles (neon_superuser holds ALL on the databases Neon
 * made). Changing the owner instead (`PATCH …/databases/{db}`) would hand someone's database to
 * Arbor; revealing changes nothing but the one privilege.
 *
 * `postgres` belongs to Neon's own superuser (`cloud_admin`), which neither SQL nor the API
 * reaches: it stays open to every role, as on every Neon branch, holding nothing of the app
 * (docs/roles.md).
 */
import { newRoundTrips, openSession } from '../postgres/connection.ts';
import { neonMessage, type NeonApi } from '../neon/client.ts';
import { branchUri, storedPassword } from '../credentials/credentials.ts';
import { quoteIdent, roleNames } from '../postgres/names.ts';
import type { AppModel } from '../postgres/app-model.ts';
import type { Context } from '../context.ts';
import type { Environment } from '../store/schema.ts';

/** What the roles step knows (its StepContext). */
interface Branch {
  ctx: Context;
  api: NeonApi;
  env: Environment;
  model: AppModel;
  uriCache: { base?: string };
}

interface OpenDatabase {
  name: string;
  owner: string;
  /** PUBLIC's privileges among CONNECT and TEMPORARY. */
  public: string[];
}

/** Databases other than the model's (and the templates) that PUBLIC may still connect to or make temporary tables in. */
async function openDatabases(uri: string, declared: string[]): Promise<OpenDatabase[]> {
  const session = await openSession(uri, newRoundTrips());
  try {
    const { rows } = await session.query<OpenDatabase>(
      `SELECT d.datname AS name, pg_catalog.pg_get_userbyid(d.datdba) AS owner,
              ARRAY(SELECT x.privilege_type FROM pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) x
                    WHERE x.grantee OPERATOR(pg_catalog.=) 0 AND x.privilege_type IN ('CONNECT', 'TEMPORARY') ORDER BY 1) AS public
       FROM pg_catalog.pg_database d
       WHERE d.datallowconn AND NOT d.datistemplate AND d.datname <> ALL ($1::text[]) ORDER BY 1`,
      [declared],
    );
    return rows.filter((r) => r.public.length);
  } finally {
    await session.end();
  }
}

/**
 * Revokes PUBLIC's CONNECT and TEMPORARY on every undeclared database of the branch whose owner
 * Neon's API can reveal. Returns what it did and what it could not, for the step's detail.
 */
export async function closeUndeclaredDatabases(s: Branch, platformUri: string): Promise<string[]> {
  const { api, env, model } = s;
  const { projectId, branchId } = env.neon;
  const open = await openDatabases(platformUri, model.databases.map((d) => d.name));
  if (!open.length) return [];
  const apiRoles = new Set((await api.listProjectBranchRoles(projectId!, branchId!)).data.roles.map((r) => r.name));
  const platform = roleNames(model.prefix).platform;
  const said: string[] = [];
  for (const db of open) {
    if (!apiRoles.has(db.owner)) {
      // postgres (cloud_admin's), or a database whose owner the API does not know.
      if (db.name !== 'postgres') said.push(`database ${db.name} stays open to every role: its owner ${db.owner} is not a Neon API role, so Arbor cannot act as it`);
      continue;
    }
    let password = await storedPassword(s.ctx, env.id, db.owner);
    if (!password) {
      try {
        password = (await api.getProjectBranchRolePassword(projectId!, branchId!, db.owner)).data.password;
      } catch (error) {
        said.push(`database ${db.name} stays open to every role: Neon did not reveal the password of its owner ${db.owner} (${neonMessage(error)}); as ${db.owner}, run REVOKE CONNECT, TEMPORARY ON DATABASE ${quoteIdent(db.name)} FROM PUBLIC`);
        continue;
      }
    }
    const session = await openSession(await branchUri(api, env, platform, db.owner, password, db.name, s.uriCache), newRoundTrips());
    try {
      await session.batch(`REVOKE CONNECT, TEMPORARY ON DATABASE ${quoteIdent(db.name)} FROM PUBLIC;`);
    } finally {
      await session.end();
    }
    said.push(`closed database ${db.name} to the app's roles (as its owner ${db.owner})`);
  }
  return said;
}
