/**
 * @module The platform's REST API under /api/v1: accounts, apps, environments (status and
 * recorded steps, Neon settings, credentials), audit, and login. Who may call what, per app and
 * per environment, is checked here (auth/access.ts; docs/security.md): an app the caller has no
 * role on is a 404, as if it did not exist.
 */
import { setCookie, deleteCookie, getCookie } from 'hono/cookie';
import { z } from 'zod';
import { eq } from 'drizzle-orm';
import { accountDetail, accountView, connectAccount, findAccount, listAccounts, listNeonProjects, listRegions, removeAccount } from '../accounts/accounts.ts';
import { appView, changeView, createApp, decideChange, listChanges, listMembers, removeMember, setMember, setProtection, updateApp } from '../apps/apps.ts';
import { deriveEncoreUpload } from '../apps/encore.ts';
import { listAudit } from '../audit.ts';
import { appRoles, authorizeApp, isInstanceAdmin, requireForEnvironment, requireRevealer, visibleApps } from '../auth/access.ts';
import { actorView, createToken, createUser, listTokens, listUsers, login, logout, removeUser, revokeToken } from '../auth/auth.ts';
import type { Actor, Context } from '../context.ts';
import { PlatformError } from '../errors.ts';
import { environments, type AppRole } from '../store/schema.ts';
import { listCredentials, revealCredential, rotateCredentials } from '../credentials/credentials.ts';
import { createEnvironment, deleteEnvironment, environmentView, environmentViews, confirmImport, errorDetail, findEnvironment, listEnvironments, retryEnvironment, updateSettings } from '../environments/environments.ts';
import { closePreview, listPreviews, openPreview, previewName, setPreviewSettings } from '../previews/previews.ts';
import { Api, SESSION_COOKIE, clientAddress } from './api.ts';
import { resetPreview } from '../previews/reset.ts';
import { environmentHistory, neonBranchHistory, requestRestore } from '../environments/restore.ts';
import { infraConfig } from '../environments/infra-config.ts';
import { previewSchemaDiff, schemaDiffMarkdown } from '../previews/schema-diff.ts';
import { githubWebhookRoutes } from '../github/webhook.ts';
import * as V from './responses.ts';

const role = z.enum(['admin', 'member']);
const appRole = z.enum(['viewer', 'developer', 'admin']);
const plan = z.enum(['free', 'launch', 'scale']);
const settings = z.strictObject({
  historyRetentionSeconds: z.number().int().optional(),
  minCu: z.number().optional(),
  maxCu: z.number().optional(),
  suspendTimeoutSeconds: z.number().int().optional(),
});
/** Every route that acts on one environment answers with its view. */
const environmentAnswer = z.strictObject({ environment: V.EnvironmentView });
const migrations = z.record(z.string(), z.array(z.strictObject({ file: z.string(), sql: z.string() })));

export function platformApi(ctx: Context, onChange: () => void): Api {
  const api = new Api(ctx);
  const changed = <T>(value: T): T => (onChange(), value);
  /** The app, when the caller has at least `need` on it (404 when it has no role there). */
  const appAs = (actor: Actor, name: string, need: AppRole, what: string) => authorizeApp(ctx, actor, name, need, what);
  /** The environment, when the caller may read it, and change it if `need` is given (protected: app admins). */
  const envAs = async (actor: Actor, appName: string, envName: string, what: string, need?: AppRole) => {
    const { app, role } = await appAs(actor, appName, 'viewer', what);
    const env = await findEnvironment(ctx, app, envName);
    if (need) requireForEnvironment(actor, app, role, env, what, need);
    return { app, role, env };
  };

  api.route({
    method: 'post', path: '/auth/login', summary: 'Log in (sets an HttpOnly session cookie)', access: 'public', response: z.strictObject({ user: V.UserView }),
    body: z.strictObject({ name: z.string(), password: z.string() }),
    async handler({ body, c }) {
      const { session, actor } = await login(ctx, body.name, body.password, clientAddress(c));
      setCookie(c, SESSION_COOKIE, session, { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: 7 * 86400 });
      return { user: await actorView(ctx, actor) };
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
  api.route({ method: 'get', path: '/me', summary: 'Who am I (a token: also its scope and role)', access: 'member', response: z.strictObject({ user: V.UserView }), handler: async ({ actor }) => ({ user: await actorView(ctx, actor) }) });

  api.route({ method: 'get', path: '/team', summary: 'List platform users', access: 'admin', response: z.strictObject({ users: z.array(V.TeamMemberView) }), handler: async () => ({ users: await listUsers(ctx) }) });
  api.route({
    method: 'post', path: '/team', summary: 'Add a platform user (its password is shown once)', access: 'admin', status: 201, response: z.strictObject({ user: V.NewUserView }),
    body: z.strictObject({ name: z.string(), role }),
    handler: async ({ body }) => ({ user: await createUser(ctx, body.name, body.role) }),
  });
  api.route({
    method: 'delete', path: '/team/{user}', summary: 'Remove a platform user: their sessions, app memberships and API tokens end with them', access: 'admin', status: 204,
    handler: async ({ params, actor }) => removeUser(ctx, actor, params.user),
  });
  api.route({
    method: 'post', path: '/tokens', summary: 'Create an API token (shown once): a role, a scope (app, or the instance when absent) and an expiry (default 90 days)', access: 'member', status: 201, response: z.strictObject({ token: z.string().describe('the secret, shown this once'), info: V.TokenView }),
    body: z.strictObject({ name: z.string().min(1), role: z.enum(['viewer', 'developer', 'admin', 'member']), app: z.string().optional(), expiresInSeconds: z.number().int().optional() }),
    async handler({ body, actor }) {
      const { token, view } = await createToken(ctx, actor, body);
      return { token, info: view };
    },
  });
  api.route({ method: 'get', path: '/tokens', summary: 'List the API tokens the caller may manage (never their secrets)', access: 'member', response: z.strictObject({ tokens: z.array(V.TokenView) }), handler: async ({ actor }) => ({ tokens: await listTokens(ctx, actor) }) });
  api.route({
    method: 'delete', path: '/tokens/{id}', summary: 'Revoke an API token', access: 'member', status: 204,
    handler: async ({ params, actor }) => revokeToken(ctx, actor, /^[0-9]{1,9}$/.test(params.id) ? Number(params.id) : -1),
  });

  api.route({ method: 'get', path: '/accounts', summary: 'List Neon accounts', access: 'member', response: z.strictObject({ accounts: z.array(V.AccountView) }), handler: async () => ({ accounts: (await listAccounts(ctx)).map(accountView) }) });
  api.route({
    method: 'post', path: '/accounts', summary: 'Connect a Neon account (the key is checked first)', access: 'admin', status: 201, response: z.strictObject({ account: V.AccountView }),
    body: z.strictObject({ name: z.string(), apiKey: z.string(), apiUrl: z.string().optional(), plan: plan.optional(), allowInsecureUrl: z.boolean().optional() }),
    handler: async ({ body, actor }) => ({ account: accountView(await connectAccount(ctx, actor, body)) }),
  });
  api.route({
    method: 'delete', path: '/accounts/{account}', summary: 'Remove a Neon account', access: 'admin', status: 204,
    handler: async ({ params, actor }) => removeAccount(ctx, actor, params.account),
  });
  /** An account's Neon projects and branches, without those only apps the caller cannot see use. */
  async function visibleNeonProjects(actor: Actor, accountName: string) {
      const projects = await listNeonProjects(ctx, accountName);
      if (isInstanceAdmin(actor)) return projects;
      // What environments of apps the caller cannot see use is not shown: a project only they
      // use, and their branches.
      const account = await findAccount(ctx, accountName);
      const visible = await appRoles(ctx, actor);
      const rows = await ctx.db.select({ appId: environments.appId, neon: environments.neon, spec: environments.spec }).from(environments).where(eq(environments.accountId, account.id));
      // What an environment holds, or is about to (an import's branch, a new project by its name).
      const used = rows.map((e) => ({ appId: e.appId, projectId: e.neon.projectId ?? e.spec.neonProjectId, branchId: e.neon.branchId ?? e.spec.neonBranchId, projectName: e.neon.projectId ? undefined : e.spec.projectName }));
      const hidden = used.filter((e) => !visible.has(e.appId));
      const hiddenBranches = new Set(hidden.map((e) => e.branchId).filter(Boolean));
      const hiddenProjects = new Set(hidden.map((e) => e.projectId).filter(Boolean));
      const hiddenNames = new Set(hidden.map((e) => e.projectName).filter(Boolean));
      for (const e of used) if (visible.has(e.appId) && e.projectId) hiddenProjects.delete(e.projectId);
      return projects.filter((p) => !hiddenProjects.has(p.id) && !hiddenNames.has(p.name)).map((p) => ({ ...p, branches: p.branches.filter((b) => !hiddenBranches.has(b.id)) }));
  }

  api.route({
    method: 'get', path: '/accounts/{account}/projects', summary: "List the account's Neon projects and branches (but those of apps the caller does not belong to)", access: 'member', response: z.strictObject({ projects: z.array(V.NeonProjectView) }),
    handler: async ({ params, actor }) => ({ projects: await visibleNeonProjects(actor, params.account) }),
  });
  api.route({
    method: 'get', path: '/accounts/{account}/projects/{project}/branches/{branch}/history', summary: "The history window of a Neon branch (for branch-neon's point in time): from, to, and why it begins there", access: 'member', response: z.strictObject({ history: V.HistoryView }),
    async handler({ params, actor }) {
      const visible = await visibleNeonProjects(actor, params.account);
      if (!visible.some((p) => p.id === params.project && p.branches.some((b) => b.id === params.branch))) throw new PlatformError(404, 'not_found', `no branch ${params.branch} in project ${params.project} of account ${params.account}`);
      return { history: await neonBranchHistory(ctx, params.account, params.project, params.branch) };
    },
  });
  api.route({
    method: 'get', path: '/accounts/{account}', summary: 'Get a Neon account: also the Postgres versions (pgVersions, defaultPgVersion) and regions it offers', access: 'member', response: z.strictObject({ account: V.AccountDetailView }),
    handler: async ({ params }) => ({ account: await accountDetail(ctx, params.account) }),
  });
  api.route({ method: 'get', path: '/accounts/{account}/regions', summary: "List the account's regions", access: 'member', response: z.strictObject({ regions: z.array(V.RegionView) }), handler: async ({ params }) => ({ regions: await listRegions(ctx, params.account) }) });

  api.route({ method: 'get', path: '/apps', summary: 'List the apps the caller belongs to, with its role on each', access: 'member', response: z.strictObject({ apps: z.array(V.AppView) }), handler: async ({ actor }) => ({ apps: (await visibleApps(ctx, actor)).map(({ app, role }) => appView(app, role)) }) });
  api.route({
    method: 'post', path: '/apps', summary: 'Create an app from its model (arbor.yaml as data or text) and migrations; its creator becomes its admin', access: 'member', status: 201, response: z.strictObject({ app: V.AppView }),
    body: z.strictObject({ model: z.unknown(), migrations: migrations.optional() }),
    async handler({ body, actor }) {
      if (actor.token && (actor.token.appId !== null || actor.token.role === 'viewer')) throw new PlatformError(403, 'forbidden', 'creating an app takes a user, or an instance-scoped developer or admin token');
      return { app: appView(await createApp(ctx, actor, body), 'admin') };
    },
  });
  api.route({
    method: 'post', path: '/encore-apps/derive', summary: "Derive an app's model and migrations from an Encore app's files (encore.app, its TypeScript or Go sources, migration folders; paths relative to encore.app's folder): the model, its arbor.yaml text, and notes on what could not be resolved. Changes nothing: send model and migrations to POST /apps or PATCH /apps/{app}. Read in a worker thread: 413 past the time limit (ARBOR_DERIVE_TIME_LIMIT_SECONDS, 60 s) or 1 GiB", access: 'member',
    body: z.strictObject({ folder: z.string().optional(), files: z.array(z.strictObject({ path: z.string(), text: z.string() })) }),
    response: V.EncoreDerivedView,
    handler: async ({ body }) => deriveEncoreUpload(body.files, body.folder),
  });
  api.route({
    method: 'get', path: '/apps/{app}', summary: 'Get an app', access: 'member', response: z.strictObject({ app: V.AppView }),
    async handler({ params, actor }) {
      const { app, role } = await appAs(actor, params.app, 'viewer', 'reading the app');
      return { app: appView(app, role) };
    },
  });
  api.route({
    method: 'patch', path: '/apps/{app}', summary: "Update an app's model or migrations: an app admin's change reaches every environment; a developer's reaches unprotected ones and waits for approval for protected ones", access: 'member', response: z.strictObject({ app: V.AppView, pending: V.ChangeView.optional().describe("a developer's change, waiting for approval for the protected environments") }),
    body: z.strictObject({ model: z.unknown(), migrations: migrations.optional() }),
    async handler({ body, actor, params }) {
      const { role } = await appAs(actor, params.app, 'developer', "changing the app's model");
      const { app, pending } = await updateApp(ctx, actor, params.app, body, { approve: role === 'admin' });
      return changed({ app: appView(app, role), ...(pending ? { pending: changeView(pending) } : {}) });
    },
  });
  api.route({
    method: 'get', path: '/apps/{app}/changes', summary: "Model changes by developers: pending (waiting for an app admin, for the protected environments), approved, rejected, superseded", access: 'member', response: z.strictObject({ changes: z.array(V.ChangeView) }),
    async handler({ params, actor }) {
      const { app } = await appAs(actor, params.app, 'viewer', "reading the app's changes");
      return { changes: (await listChanges(ctx, app)).map(changeView) };
    },
  });
  for (const decision of ['approve', 'reject'] as const) {
    api.route({
      method: 'post', path: `/apps/{app}/changes/{id}/${decision}`, summary: decision === 'approve' ? 'Approve a pending model change: the protected environments get it (audited)' : 'Reject a pending model change: the protected environments keep the approved model (audited)', access: 'member', response: z.strictObject({ change: V.ChangeView }),
      async handler({ params, actor }) {
        const { app } = await appAs(actor, params.app, 'admin', `${decision === 'approve' ? 'approving' : 'rejecting'} a model change`);
        const change = await decideChange(ctx, actor, app, /^[0-9]{1,9}$/.test(params.id) ? Number(params.id) : -1, decision);
        return changed({ change: changeView(change) });
      },
    });
  }
  api.route({
    method: 'get', path: '/apps/{app}/members', summary: "The app's members and their roles (instance admins are admins of every app without being listed)", access: 'member', response: z.strictObject({ members: z.array(V.MemberView) }),
    async handler({ params, actor }) {
      const { app } = await appAs(actor, params.app, 'viewer', "reading the app's members");
      return { members: await listMembers(ctx, app) };
    },
  });
  api.route({
    method: 'put', path: '/apps/{app}/members/{user}', summary: 'Add a user to the app, or change their role: viewer, developer or admin (app admins)', access: 'member', response: z.strictObject({ member: z.strictObject({ name: z.string(), role: V.AppRole }) }),
    body: z.strictObject({ role: appRole }),
    async handler({ params, body, actor }) {
      const { app } = await appAs(actor, params.app, 'admin', "managing the app's members");
      return { member: await setMember(ctx, actor, app, params.user, body.role) };
    },
  });
  api.route({
    method: 'delete', path: '/apps/{app}/members/{user}', summary: 'Remove a user from the app (app admins)', access: 'member', status: 204,
    async handler({ params, actor }) {
      const { app } = await appAs(actor, params.app, 'admin', "managing the app's members");
      await removeMember(ctx, actor, app, params.user);
    },
  });

  api.route({
    method: 'get', path: '/apps/{app}/environments', summary: "List an app's environments", access: 'member', response: z.strictObject({ environments: z.array(V.EnvironmentView) }),
    async handler({ params, actor }) {
      const { app } = await appAs(actor, params.app, 'viewer', "listing the app's environments");
      return { environments: await environmentViews(ctx, await listEnvironments(ctx, app)) };
    },
  });
  api.route({
    method: 'post', path: '/apps/{app}/environments', summary: 'Create an environment (new-project, branch-environment, branch-neon or import)', access: 'member', status: 201, response: environmentAnswer,
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
      at: z.string().optional(),
      settings: settings.optional(),
    }),
    async handler({ body, actor, params }) {
      const { app, role } = await appAs(actor, params.app, 'developer', 'creating an environment');
      // Production (protected from the start) and claims on Neon branches made outside Arbor take an app admin.
      if (role !== 'admin') {
        const refuse = (why: string) => new PlatformError(403, 'forbidden', `${why} needs the admin role on app ${app.name}; ${actor.name} is a ${role} there`);
        if (body.type === 'production') throw refuse('creating a production environment');
        if (body.mode === 'import' || body.mode === 'branch-neon') throw refuse(`mode ${body.mode} (a claim on a Neon branch)`);
        if (body.mode === 'branch-environment' && body.parentEnvironment) {
          const [parent] = (await ctx.db.select().from(environments).where(eq(environments.appId, app.id))).filter((e) => e.name === body.parentEnvironment);
          if (parent?.protected) throw refuse(`branching the protected environment ${parent.name} (a copy of its data)`);
        }
      }
      return changed({ environment: await environmentView(ctx, await createEnvironment(ctx, actor, params.app, body)) });
    },
  });
  api.route({
    method: 'get', path: '/apps/{app}/environments/{env}', summary: 'Get an environment: status, Neon resources, recorded steps', access: 'member', response: environmentAnswer,
    async handler({ params, actor }) {
      const { env } = await envAs(actor, params.app, params.env, 'reading the environment');
      return { environment: await environmentView(ctx, env) };
    },
  });
  api.route({
    method: 'patch', path: '/apps/{app}/environments/{env}', summary: 'Protect an environment or not (app admins): protected ones are changed by app admins only and run the approved model', access: 'member', response: environmentAnswer,
    body: z.strictObject({ protected: z.boolean() }),
    async handler({ params, body, actor }) {
      const { app, env } = await envAs(actor, params.app, params.env, "changing the environment's protection", 'admin');
      await appAs(actor, params.app, 'admin', "changing the environment's protection");
      return changed({ environment: await environmentView(ctx, await setProtection(ctx, actor, app, env, body.protected)) });
    },
  });
  api.route({
    method: 'delete', path: '/apps/{app}/environments/{env}', summary: 'Delete an environment and what Arbor created for it (confirm with its name; protected: app admins)', access: 'member', status: 202, response: environmentAnswer,
    query: z.object({ confirm: z.string().optional() }),
    async handler({ params, query, actor }) {
      await envAs(actor, params.app, params.env, 'deleting an environment', 'developer');
      return changed({ environment: await environmentView(ctx, await deleteEnvironment(ctx, actor, params.app, params.env, query.confirm)) });
    },
  });
  api.route({
    method: 'patch', path: '/apps/{app}/environments/{env}/neon', summary: 'Change Neon settings: retention, compute units, suspend timeout (protected: app admins)', access: 'member', response: environmentAnswer,
    body: settings,
    async handler({ params, body, actor }) {
      await envAs(actor, params.app, params.env, "changing the environment's Neon settings", 'developer');
      return changed({ environment: await environmentView(ctx, await updateSettings(ctx, actor, params.app, params.env, body)) });
    },
  });
  api.route({
    method: 'post', path: '/apps/{app}/environments/{env}/confirm-import', summary: "Confirm the changes listed for an imported branch (pendingChanges): Arbor then applies them and manages the branch's roles and migrations (app admins; audited)", access: 'member', status: 202, response: environmentAnswer,
    async handler({ params, actor }) {
      await envAs(actor, params.app, params.env, 'confirming the changes to an imported branch', 'admin');
      return changed({ environment: await environmentView(ctx, await confirmImport(ctx, actor, params.app, params.env)) });
    },
  });
  api.route({
    method: 'get', path: '/apps/{app}/environments/{env}/error-detail', summary: "The full text of the environment's last failure (may carry row data; app admins only, audited)", access: 'member', response: z.strictObject({ errorDetail: V.ErrorDetailView }),
    async handler({ params, actor }) {
      await appAs(actor, params.app, 'admin', "reading the full text of an environment's failure");
      return { errorDetail: await errorDetail(ctx, actor, params.app, params.env) };
    },
  });
  api.route({
    method: 'post', path: '/apps/{app}/environments/{env}/retry', summary: 'Run the environment again now (after a permanent failure, or instead of waiting out the backoff)', access: 'member', status: 202, response: environmentAnswer,
    async handler({ params, actor }) {
      await envAs(actor, params.app, params.env, 'retrying an environment', 'developer');
      return changed({ environment: await environmentView(ctx, await retryEnvironment(ctx, actor, params.app, params.env)) });
    },
  });
  api.route({
    method: 'get', path: '/apps/{app}/environments/{env}/history', summary: "The points in time the environment's branch can be restored to, or branched from (at): from, to, and why it begins there", access: 'member', response: z.strictObject({ history: V.HistoryView }),
    async handler({ params, actor }) {
      const { env } = await envAs(actor, params.app, params.env, "reading the environment's history window");
      return { history: await environmentHistory(ctx, env) };
    },
  });
  api.route({
    method: 'post', path: '/apps/{app}/environments/{env}/restore', summary: "Restore the environment's data to a point in its history (at: ISO timestamp or LSN, within the retention window), keeping its credentials and host (app admins; protected: confirm with its name; audited)", access: 'member', status: 202, response: environmentAnswer,
    body: z.strictObject({ at: z.string(), confirm: z.string().optional() }),
    async handler({ params, body, actor }) {
      await envAs(actor, params.app, params.env, 'restoring an environment to a point in time', 'admin');
      return changed({ environment: await environmentView(ctx, await requestRestore(ctx, actor, params.app, params.env, body.at, body.confirm)) });
    },
  });
  api.route({
    method: 'get', path: '/apps/{app}/environments/{env}/users', summary: "The environment's database users (no passwords)", access: 'member', response: z.strictObject({ users: z.array(V.CredentialView) }),
    async handler({ params, actor }) {
      await envAs(actor, params.app, params.env, "listing the environment's users");
      return { users: await listCredentials(ctx, params.app, params.env) };
    },
  });
  api.route({
    method: 'post', path: '/apps/{app}/environments/{env}/users/{role}/reveal', summary: "Reveal a user's password and connection URI (app admins, on every environment; audited)", access: 'member', response: z.strictObject({ user: V.RevealedCredential }),
    async handler({ params, actor }) {
      const { app, role } = await envAs(actor, params.app, params.env, 'revealing credentials');
      requireRevealer(actor, app, role);
      return { user: await revealCredential(ctx, actor, params.app, params.env, params.role) };
    },
  });
  api.route({
    method: 'post', path: '/apps/{app}/environments/{env}/users/rotate', summary: 'Rotate the password of one user (body.role) or all; reveals nothing (developers: unprotected environments; protected: app admins)', access: 'member', response: z.strictObject({ rotated: z.array(z.string()).describe('the users whose password changed') }),
    body: z.strictObject({ role: z.string().optional() }),
    async handler({ params, body, actor }) {
      await envAs(actor, params.app, params.env, 'rotating credentials', 'developer');
      return { rotated: await rotateCredentials(ctx, actor, params.app, params.env, body.role) };
    },
  });

  api.route({
    method: 'get', path: '/apps/{app}/environments/{env}/infra-config', summary: "Encore's infra.config.json (sql_servers) for self-hosting the app, or one service, on this environment: one login per database, passwords as $env references (no secrets)", access: 'member', response: V.InfraConfigView,
    query: z.object({ service: z.string().optional() }),
    async handler({ params, query, actor }) {
      await envAs(actor, params.app, params.env, "reading the environment's infra config");
      return await infraConfig(ctx, actor, params.app, params.env, { service: query.service });
    },
  });
  api.route({
    method: 'post', path: '/apps/{app}/environments/{env}/infra-config/reveal', summary: 'The same, with the values of the password variables (app admins; audited)', access: 'member', response: V.InfraConfigView,
    body: z.strictObject({ service: z.string().optional() }),
    async handler({ params, body, actor }) {
      // Every runtime password of the app at once: an app admin, whatever the environment.
      const { app, role } = await envAs(actor, params.app, params.env, "revealing the passwords of the environment's infra config");
      requireRevealer(actor, app, role, "revealing the passwords of the environment's infra config");
      return await infraConfig(ctx, actor, params.app, params.env, { service: body.service, reveal: true });
    },
  });

  const prNumber = (raw: string) => (/^[0-9]{1,9}$/.test(raw) ? Number(raw) : Number.NaN);
  api.route({
    method: 'patch', path: '/apps/{app}/previews', summary: 'Choose the environment previews branch from (null turns previews off) and their time to live', access: 'member', response: z.strictObject({ app: V.AppView }),
    body: z.strictObject({ parentEnvironment: z.string().nullable(), ttlSeconds: z.number().int().optional() }),
    handler: async ({ params, body, actor }) => {
      // Previews are copies of their parent's data that developers can read: an app admin chooses it.
      await appAs(actor, params.app, 'admin', 'choosing what previews branch from');
      await setPreviewSettings(ctx, actor, params.app, body);
      const { app, role } = await appAs(actor, params.app, 'admin', 'choosing what previews branch from');
      return { app: appView(app, role) };
    },
  });
  api.route({
    method: 'get', path: '/apps/{app}/previews', summary: "List the app's preview environments", access: 'member', response: z.strictObject({ previews: z.array(V.EnvironmentView) }),
    async handler({ params, actor }) {
      await appAs(actor, params.app, 'viewer', "listing the app's previews");
      return { previews: await environmentViews(ctx, await listPreviews(ctx, params.app)) };
    },
  });
  /** Opening and closing previews: developers; an environment of that name that is protected, app admins. */
  const previewAs = async (actor: Actor, appName: string, number: string, what: string) => {
    const { app, role } = await appAs(actor, appName, 'developer', what);
    const n = prNumber(number);
    if (Number.isInteger(n) && n >= 1) {
      const [existing] = (await ctx.db.select().from(environments).where(eq(environments.appId, app.id))).filter((e) => e.name === previewName(n));
      if (existing) requireForEnvironment(actor, app, role, existing, what);
    }
  };
  api.route({
    method: 'put', path: '/apps/{app}/previews/{number}', summary: "A pull request opened or pushed: create or update its preview with the pull request's migrations", access: 'member', response: environmentAnswer, alsoStatus: [201],
    body: z.strictObject({ migrations: migrations.optional() }),
    async handler({ params, body, actor, c }) {
      await previewAs(actor, params.app, params.number, 'opening a preview');
      const { environment, created } = await openPreview(ctx, actor, params.app, prNumber(params.number), body);
      onChange();
      c.status(created ? 201 : 200);
      return { environment: await environmentView(ctx, environment) };
    },
  });
  api.route({
    method: 'delete', path: '/apps/{app}/previews/{number}', summary: 'A pull request closed: delete its preview and branch (absent is fine)', access: 'member', status: 202, response: z.strictObject({ deleted: z.boolean().describe('false: there was no such preview') }),
    async handler({ params, actor }) {
      await previewAs(actor, params.app, params.number, 'closing a preview');
      return changed({ deleted: await closePreview(ctx, actor, params.app, prNumber(params.number)) });
    },
  });
  api.route({
    method: 'post', path: '/apps/{app}/previews/{number}/reset', summary: "Reset the preview to its parent's current data, keeping its passwords and host; the pull request's migrations are applied again (audited)", access: 'member', status: 202, response: environmentAnswer,
    async handler({ params, actor }) {
      await previewAs(actor, params.app, params.number, 'resetting a preview');
      return changed({ environment: await environmentView(ctx, await resetPreview(ctx, actor, params.app, prNumber(params.number))) });
    },
  });
  api.route({
    method: 'get', path: '/apps/{app}/previews/{number}/schema-diff', summary: "What the pull request changes in the database: the preview's schema against its parent environment's, as JSON and markdown", access: 'member', response: z.strictObject({ diff: V.SchemaDiffView, markdown: z.string() }),
    async handler({ params, actor }) {
      await appAs(actor, params.app, 'viewer', "reading a preview's schema diff");
      const diff = await previewSchemaDiff(ctx, params.app, prNumber(params.number));
      return { diff, markdown: schemaDiffMarkdown(diff) };
    },
  });
  githubWebhookRoutes(api, ctx, onChange);

  api.route({
    method: 'get', path: '/audit', summary: 'The audit log, newest first (instance admins: all of it; app admins: their apps)', access: 'member', response: z.strictObject({ entries: z.array(V.AuditEntryView) }),
    handler: async ({ actor }) => ({ entries: (await listAudit(ctx, 200, isInstanceAdmin(actor) ? undefined : await adminApps(actor))).map((e) => ({ at: e.at.toISOString(), actor: e.actor, action: e.action, target: e.target, detail: e.detail })) }),
  });

  async function adminApps(actor: Actor): Promise<string[]> {
    return (await visibleApps(ctx, actor)).filter((a) => a.role === 'admin').map((a) => a.app.name);
  }

  api.hono.get('/openapi.json', (c) => c.json(api.openapi()));
  return api;
}
