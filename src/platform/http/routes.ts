/**
 * @module The platform's REST API under /api/v1: accounts, apps, environments (status and
 * recorded steps, Neon settings, credentials), audit, and login.
 */
import { setCookie, deleteCookie, getCookie } from 'hono/cookie';
import { z } from 'zod';
import { accountView, connectAccount, listAccounts, listNeonProjects, listRegions, removeAccount } from '../accounts/accounts.ts';
import { appView, createApp, findApp, listApps, updateApp } from '../apps/apps.ts';
import { listAudit } from '../audit.ts';
import { createToken, createUser, listUsers, login, logout } from '../auth/auth.ts';
import type { Context } from '../context.ts';
import { listCredentials, revealCredential, rotateCredentials } from '../credentials/credentials.ts';
import { createEnvironment, deleteEnvironment, environmentView, errorDetail, findEnvironment, fixRoles, listEnvironments, retryEnvironment, updateSettings } from '../environments/environments.ts';
import { closePreview, listPreviews, openPreview, setPreviewSettings } from '../previews/previews.ts';
import { Api, SESSION_COOKIE, clientAddress } from './api.ts';
import { resetPreview } from '../previews/reset.ts';
import { previewSchemaDiff, schemaDiffMarkdown } from '../previews/schema-diff.ts';
import { githubWebhookRoutes } from '../github/webhook.ts';

const role = z.enum(['admin', 'member']);
const plan = z.enum(['free', 'launch', 'scale']);
const settings = z.strictObject({
  historyRetentionSeconds: z.number().int().optional(),
  minCu: z.number().optional(),
  maxCu: z.number().optional(),
  suspendTimeoutSeconds: z.number().int().optional(),
});
const migrations = z.record(z.string(), z.array(z.strictObject({ file: z.string(), sql: z.string() })));

export function platformApi(ctx: Context, onChange: () => void): Api {
  const api = new Api(ctx);
  const changed = <T>(value: T): T => (onChange(), value);

  api.route({
    method: 'post', path: '/auth/login', summary: 'Log in (sets an HttpOnly session cookie)', access: 'public',
    body: z.strictObject({ name: z.string(), password: z.string() }),
    async handler({ body, c }) {
      const { session, actor } = await login(ctx, body.name, body.password, clientAddress(c));
      setCookie(c, SESSION_COOKIE, session, { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: 7 * 86400 });
      return { user: actor };
    },
  });
  api.route({
    method: 'post', path: '/auth/logout', summary: 'Log out', access: 'member', status: 204,
    async handler({ c }) {
      const session = getCookie(c, SESSION_COOKIE);
      if (session) await logout(ctx, session);
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
    },
  });
  api.route({ method: 'get', path: '/me', summary: 'Who am I', access: 'member', handler: async ({ actor }) => ({ user: actor }) });

  api.route({ method: 'get', path: '/team', summary: 'List platform users', access: 'admin', handler: async () => ({ users: await listUsers(ctx) }) });
  api.route({
    method: 'post', path: '/team', summary: 'Add a platform user (its password is shown once)', access: 'admin', status: 201,
    body: z.strictObject({ name: z.string(), role }),
    handler: async ({ body }) => ({ user: await createUser(ctx, body.name, body.role) }),
  });
  api.route({
    method: 'post', path: '/tokens', summary: 'Create an API token (shown once)', access: 'admin', status: 201,
    body: z.strictObject({ name: z.string().min(1), role }),
    handler: async ({ body, actor }) => ({ token: await createToken(ctx, body.name, body.role, actor.name) }),
  });

  api.route({ method: 'get', path: '/accounts', summary: 'List Neon accounts', access: 'member', handler: async () => ({ accounts: (await listAccounts(ctx)).map(accountView) }) });
  api.route({
    method: 'post', path: '/accounts', summary: 'Connect a Neon account (the key is checked first)', access: 'admin', status: 201,
    body: z.strictObject({ name: z.string(), apiKey: z.string(), apiUrl: z.string().optional(), plan: plan.optional(), allowInsecureUrl: z.boolean().optional() }),
    handler: async ({ body, actor }) => ({ account: accountView(await connectAccount(ctx, actor, body)) }),
  });
  api.route({
    method: 'delete', path: '/accounts/{account}', summary: 'Remove a Neon account', access: 'admin', status: 204,
    handler: async ({ params, actor }) => removeAccount(ctx, actor, params.account),
  });
  api.route({ method: 'get', path: '/accounts/{account}/projects', summary: "List the account's Neon projects and branches", access: 'member', handler: async ({ params }) => ({ projects: await listNeonProjects(ctx, params.account) }) });
  api.route({ method: 'get', path: '/accounts/{account}/regions', summary: "List the account's regions", access: 'member', handler: async ({ params }) => ({ regions: await listRegions(ctx, params.account) }) });

  api.route({ method: 'get', path: '/apps', summary: 'List apps', access: 'member', handler: async () => ({ apps: (await listApps(ctx)).map(appView) }) });
  api.route({
    method: 'post', path: '/apps', summary: 'Create an app from its model (arbor.yaml as data or text) and migrations', access: 'member', status: 201,
    body: z.strictObject({ model: z.unknown(), migrations: migrations.optional() }),
    handler: async ({ body, actor }) => ({ app: appView(await createApp(ctx, actor, body)) }),
  });
  api.route({ method: 'get', path: '/apps/{app}', summary: 'Get an app', access: 'member', handler: async ({ params }) => ({ app: appView(await findApp(ctx, params.app)) }) });
  api.route({
    method: 'patch', path: '/apps/{app}', summary: "Update an app's model or migrations (every environment is reconciled)", access: 'member',
    body: z.strictObject({ model: z.unknown(), migrations: migrations.optional() }),
    handler: async ({ body, actor, params }) => changed({ app: appView(await updateApp(ctx, actor, params.app, body)) }),
  });

  api.route({
    method: 'get', path: '/apps/{app}/environments', summary: "List an app's environments", access: 'member',
    handler: async ({ params }) => ({ environments: await Promise.all((await listEnvironments(ctx, params.app)).map((e) => environmentView(ctx, e))) }),
  });
  api.route({
    method: 'post', path: '/apps/{app}/environments', summary: 'Create an environment (new-project, branch-environment, branch-neon or import)', access: 'member', status: 201,
    body: z.strictObject({
      name: z.string(),
      type: z.enum(['production', 'development', 'preview']).optional(),
      account: z.string().optional(),
      mode: z.enum(['new-project', 'branch-environment', 'branch-neon', 'import']),
      regionId: z.string().optional(),
      pgVersion: z.number().int().optional(),
      projectName: z.string().min(1).max(256).optional(),
      branchName: z.string().min(1).max(256).optional(),
      parentEnvironment: z.string().optional(),
      neonProjectId: z.string().optional(),
      neonBranchId: z.string().optional(),
      settings: settings.optional(),
    }),
    handler: async ({ body, actor, params }) => changed({ environment: await environmentView(ctx, await createEnvironment(ctx, actor, params.app, body)) }),
  });
  api.route({
    method: 'get', path: '/apps/{app}/environments/{env}', summary: 'Get an environment: status, Neon resources, recorded steps', access: 'member',
    handler: async ({ params }) => ({ environment: await environmentView(ctx, await findEnvironment(ctx, await findApp(ctx, params.app), params.env)) }),
  });
  api.route({
    method: 'delete', path: '/apps/{app}/environments/{env}', summary: 'Delete an environment and what Arbor created for it (confirm with its name)', access: 'admin', status: 202,
    query: z.object({ confirm: z.string().optional() }),
    handler: async ({ params, query, actor }) => changed({ environment: await environmentView(ctx, await deleteEnvironment(ctx, actor, params.app, params.env, query.confirm)) }),
  });
  api.route({
    method: 'patch', path: '/apps/{app}/environments/{env}/neon', summary: 'Change Neon settings: retention, compute units, suspend timeout', access: 'member',
    body: settings,
    handler: async ({ params, body, actor }) => changed({ environment: await environmentView(ctx, await updateSettings(ctx, actor, params.app, params.env, body)) }),
  });
  api.route({
    method: 'post', path: '/apps/{app}/environments/{env}/fix-roles', summary: 'Apply the role hierarchy to an imported branch (fixes what the check found)', access: 'member', status: 202,
    handler: async ({ params, actor }) => changed({ environment: await environmentView(ctx, await fixRoles(ctx, actor, params.app, params.env)) }),
  });
  api.route({
    method: 'get', path: '/apps/{app}/environments/{env}/error-detail', summary: "The full text of the environment's last failure (may carry row data; admins only, audited)", access: 'admin',
    handler: async ({ params, actor }) => ({ errorDetail: await errorDetail(ctx, actor, params.app, params.env) }),
  });
  api.route({
    method: 'post', path: '/apps/{app}/environments/{env}/retry', summary: 'Run the environment again now (after a permanent failure, or instead of waiting out the backoff)', access: 'member', status: 202,
    handler: async ({ params, actor }) => changed({ environment: await environmentView(ctx, await retryEnvironment(ctx, actor, params.app, params.env)) }),
  });
  api.route({
    method: 'get', path: '/apps/{app}/environments/{env}/users', summary: "The environment's database users (no passwords)", access: 'member',
    handler: async ({ params }) => ({ users: await listCredentials(ctx, params.app, params.env) }),
  });
  api.route({
    method: 'post', path: '/apps/{app}/environments/{env}/users/{role}/reveal', summary: "Reveal a user's password (audited)", access: 'admin',
    handler: async ({ params, actor }) => ({ user: await revealCredential(ctx, actor, params.app, params.env, params.role) }),
  });
  api.route({
    method: 'post', path: '/apps/{app}/environments/{env}/users/rotate', summary: 'Rotate the password of one user (body.role) or all', access: 'admin',
    body: z.strictObject({ role: z.string().optional() }),
    handler: async ({ params, body, actor }) => ({ rotated: await rotateCredentials(ctx, actor, params.app, params.env, body.role) }),
  });

  const prNumber = (raw: string) => (/^[0-9]{1,9}$/.test(raw) ? Number(raw) : Number.NaN);
  api.route({
    method: 'patch', path: '/apps/{app}/previews', summary: 'Choose the environment previews branch from (null turns previews off) and their time to live', access: 'member',
    body: z.strictObject({ parentEnvironment: z.string().nullable(), ttlSeconds: z.number().int().optional() }),
    handler: async ({ params, body, actor }) => {
      await setPreviewSettings(ctx, actor, params.app, body);
      return { app: appView(await findApp(ctx, params.app)) };
    },
  });
  api.route({
    method: 'get', path: '/apps/{app}/previews', summary: "List the app's preview environments", access: 'member',
    handler: async ({ params }) => ({ previews: await Promise.all((await listPreviews(ctx, params.app)).map((e) => environmentView(ctx, e))) }),
  });
  api.route({
    method: 'put', path: '/apps/{app}/previews/{number}', summary: "A pull request opened or pushed: create or update its preview with the pull request's migrations", access: 'member',
    body: z.strictObject({ migrations: migrations.optional() }),
    async handler({ params, body, actor, c }) {
      const { environment, created } = await openPreview(ctx, actor, params.app, prNumber(params.number), body);
      onChange();
      c.status(created ? 201 : 200);
      return { environment: await environmentView(ctx, environment) };
    },
  });
  api.route({
    method: 'delete', path: '/apps/{app}/previews/{number}', summary: 'A pull request closed: delete its preview and branch (absent is fine)', access: 'member', status: 202,
    handler: async ({ params, actor }) => changed({ deleted: await closePreview(ctx, actor, params.app, prNumber(params.number)) }),
  });
  api.route({
    method: 'post', path: '/apps/{app}/previews/{number}/reset', summary: "Reset the preview to its parent's current data, keeping its passwords and host; the pull request's migrations are applied again (audited)", access: 'member', status: 202,
    handler: async ({ params, actor }) => changed({ environment: await environmentView(ctx, await resetPreview(ctx, actor, params.app, prNumber(params.number))) }),
  });
  api.route({
    method: 'get', path: '/apps/{app}/previews/{number}/schema-diff', summary: "What the pull request changes in the database: the preview's schema against its parent environment's, as JSON and markdown", access: 'member',
    async handler({ params }) {
      const diff = await previewSchemaDiff(ctx, params.app, prNumber(params.number));
      return { diff, markdown: schemaDiffMarkdown(diff) };
    },
  });
  githubWebhookRoutes(api, ctx, onChange);

  api.route({
    method: 'get', path: '/audit', summary: 'The audit log, newest first', access: 'admin',
    handler: async () => ({ entries: (await listAudit(ctx)).map((e) => ({ at: e.at.toISOString(), actor: e.actor, action: e.action, target: e.target, detail: e.detail })) }),
  });

  api.hono.get('/openapi.json', (c) => c.json(api.openapi()));
  return api;
}
