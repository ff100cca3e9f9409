/**
 * @module Credentials: the hierarchy's login roles on an environment's branch, their passwords
 * (encrypted at rest), reveal (audited) and rotation. Who may (checked by the caller, routes.ts):
 * revealing is an app admin's on every environment (access.ts `requireRevealer`); rotating, which
 * reveals nothing, a developer's on unprotected environments and an app admin's on protected ones.
 */
import { and, eq } from 'drizzle-orm';
import { audit } from '../audit.ts';
import { clientFor } from '../accounts/accounts.ts';
import { appFor, findApp, modelOf } from '../apps/apps.ts';
import type { Actor, Context } from '../context.ts';
import { findEnvironment } from '../environments/environments.ts';
import { PlatformError, notFound } from '../errors.ts';
import { awaitOperations, type NeonApi } from '../neon/client.ts';
import type { AppModel } from '../postgres/app-model.ts';
import { openSession, newRoundTrips } from '../postgres/connection.ts';
import { quoteIdent, quoteLiteral, roleNames } from '../postgres/names.ts';
import { generatePassword, type Secret } from '../postgres/roles-plan.ts';
import { accounts, credentials, environments, type Environment } from '../store/schema.ts';

export interface LoginRole {
  role: string;
  /** Databases it is meant for (all of the app's for the global roles). */
  databases: string[];
  purpose: string;
}

/** Every login role of the hierarchy for `model` (docs/roles.md). */
export function loginRoles(model: AppModel): LoginRole[] {
  const names = roleNames(model.prefix);
  const all = model.databases.map((d) => d.name);
  return [
    { role: names.platform, databases: all, purpose: 'sets up everything; db shell --superuser' },
    { role: names.reader, databases: all, purpose: 'db shell (read)' },
    { role: names.writer, databases: all, purpose: 'db shell --write' },
    { role: names.admin, databases: all, purpose: 'db shell --admin' },
    ...model.databases.map((d) => ({ role: names.dbAdmin(d.name), databases: [d.name], purpose: `owns ${d.name}; runs its migrations` })),
    ...model.services.map((s) => ({ role: names.service(s.name), databases: s.databases, purpose: `service ${s.name}` })),
  ];
}

export async function storeSecrets(ctx: Context, environmentId: number, secrets: Secret[]): Promise<void> {
  for (const s of secrets) {
    const sealed = ctx.secrets.seal(s.password);
    await ctx.db
      .insert(credentials)
      .values({ environmentId, role: s.role, passwordSealed: sealed })
      .onConflictDoUpdate({ target: [credentials.environmentId, credentials.role], set: { passwordSealed: sealed, updatedAt: new Date() } });
  }
}

export async function storedPassword(ctx: Context, environmentId: number, role: string): Promise<string | undefined> {
  const [row] = await ctx.db.select().from(credentials).where(and(eq(credentials.environmentId, environmentId), eq(credentials.role, role)));
  return row ? ctx.secrets.open(row.passwordSealed) : undefined;
}

/**
 * A connection URI for the branch as `role` on `database`. Built from the URI Neon gives for the
 * platform role, so host, port and TLS parameters are Neon's (or the engine's).
 */
export async function branchUri(
  api: NeonApi,
  env: Environment,
  platformRole: string,
  role: string,
  password: string,
  database: string,
  /** Reuse the base URI within one reconcile run (it costs two Neon calls). */
  cache?: { base?: string },
): Promise<string> {
  let base = cache?.base;
  if (!base) {
    const { data } = await api.listProjectBranchDatabases(env.neon.projectId!, env.neon.branchId!);
    const known = data.databases[0]?.name;
    if (!known) throw new Error(`branch ${env.neon.branchId} has no database Neon knows to build a connection string from`);
    base = (await api.getConnectionUri({ projectId: env.neon.projectId!, branch_id: env.neon.branchId, endpoint_id: env.neon.endpointId, database_name: known, role_name: platformRole })).data.uri;
    if (cache) cache.base = base;
  }
  const url = new URL(base);
  url.username = role;
  url.password = password;
  url.pathname = `/${database}`;
  return url.toString();
}

/** The app, environment, model (the approved one on a protected environment), Neon client and role names. */
export async function credentialContext(ctx: Context, appName: string, envName: string) {
  const app = await findApp(ctx, appName);
  const env = await findEnvironment(ctx, app, envName);
  // A protected environment has the roles of the approved model.
  const model = modelOf(appFor(app, env));
  const [account] = await ctx.db.select().from(accounts).where(eq(accounts.id, env.accountId));
  return { app, env, model, api: clientFor(ctx, account), names: roleNames(model.prefix) };
}

export async function listCredentials(ctx: Context, appName: string, envName: string) {
  const { env, model } = await credentialContext(ctx, appName, envName);
  const stored = new Set((await ctx.db.select({ role: credentials.role }).from(credentials).where(eq(credentials.environmentId, env.id))).map((r) => r.role));
  const [host, port] = (env.neon.host ?? '').split(':');
  return loginRoles(model).map((r) => ({ username: r.role, host: host || undefined, port: port ? Number(port) : undefined, databases: r.databases, purpose: r.purpose, hasPassword: stored.has(r.role) }));
}

export async function revealCredential(ctx: Context, actor: Actor, appName: string, envName: string, role: string) {
  const { app, env, model, api, names } = await credentialContext(ctx, appName, envName);
  const entry = loginRoles(model).find((r) => r.role === role);
  if (!entry) throw notFound(`login role ${role} in the hierarchy of app ${app.name}`);
  const password = await storedPassword(ctx, env.id, role);
  if (!password) throw new PlatformError(409, 'not_provisioned', `no password is known for ${role} on ${app.name}/${env.name} yet; wait until the environment is ready or rotate it`);
  await audit(ctx, actor, 'credentials.reveal', `${app.name}/${env.name}/${role}`);
  const database = entry.databases[0] ?? 'postgres';
  const connectionUri = await unlessDeleted(ctx, app.name, env, 'revealing', () => branchUri(api, env, names.platform, role, password, database));
  return { username: role, password, connectionUri };
}

/** New passwords for one login role or all; the platform role is reset through Neon. */
export async function rotateCredentials(ctx: Context, actor: Actor, appName: string, envName: string, role?: string): Promise<string[]> {
  const { app, env, model, api, names } = await credentialContext(ctx, appName, envName);
  if (env.status !== 'ready') throw new PlatformError(409, 'not_ready', `environment ${app.name}/${env.name} is ${env.status}; rotate once it is ready`);
  const targets = loginRoles(model).filter((r) => !role || r.role === role);
  if (!targets.length) throw notFound(`login role ${role} in the hierarchy of app ${app.name}`);
  const rotated = await unlessDeleted(ctx, app.name, env, 'rotating', () => rotateOnBranch(ctx, api, env, names.platform, targets.map((t) => t.role)));
  await audit(ctx, actor, 'credentials.rotate', `${app.name}/${env.name}`, { roles: rotated });
  return rotated;
}

/**
 * Runs `work` on the environment's branch. A deletion may be requested while it runs (the check of
 * its status came before): the reconciler then deletes the branch, and then the row (its
 * credentials with it), under `work`'s feet. That failure (a refused connection, Neon's 404, the
 * credentials' foreign key) is a 409 saying so, not a 500; any other failure is what it is.
 */
async function unlessDeleted<T>(ctx: Context, appName: string, env: Environment, doing: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const [now] = await ctx.db.select({ status: environments.status }).from(environments).where(eq(environments.id, env.id));
    if (!now || now.status === 'deleting') {
      throw new PlatformError(409, 'deleting', `environment ${appName}/${env.name} was deleted while ${doing} its credentials; it has none any more`);
    }
    throw error;
  }
}

export async function rotateOnBranch(ctx: Context, api: NeonApi, env: Environment, platformRole: string, roles: string[], cache?: { base?: string }): Promise<string[]> {
  const others = roles.filter((r) => r !== platformRole);
  if (others.length) {
    const platformPassword = await storedPassword(ctx, env.id, platformRole);
    if (!platformPassword) throw new Error(`no password known for ${platformRole}`);
    const uri = await branchUri(api, env, platformRole, platformRole, platformPassword, 'postgres', cache);
    const secrets = others.map((r) => ({ role: r, password: generatePassword() }));
    const session = await openSession(uri, newRoundTrips());
    try {
      await session.batch(secrets.map((s) => `ALTER ROLE ${quoteIdent(s.role)} WITH PASSWORD ${quoteLiteral(s.password)};`).join('\n'));
    } finally {
      await session.end();
    }
    await storeSecrets(ctx, env.id, secrets);
  }
  if (roles.includes(platformRole)) {
    const { data } = await api.resetProjectBranchRolePassword(env.neon.projectId!, env.neon.branchId!, platformRole);
    await awaitOperations(api, env.neon.projectId!);
    await storeSecrets(ctx, env.id, [{ role: platformRole, password: data.role.password! }]);
  }
  return roles;
}
