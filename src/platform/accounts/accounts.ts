/**
 * @module Neon accounts: a name, an API key and an API URL (Neon's cloud, or an Arbor engine).
 * The key is checked with a real call before it is saved, and kept encrypted; lists show only
 * its last four characters.
 */
import { eq } from 'drizzle-orm';
import { audit } from '../audit.ts';
import { requireAdmin } from '../auth/auth.ts';
import type { Actor, Context } from '../context.ts';
import { PlatformError, conflict, invalid, notFound } from '../errors.ts';
import { apiUrlProblem, describeNeonFailure, neonClient, type CallCounter, type NeonApi } from '../neon/client.ts';
import { last4 } from '../secrets.ts';
import { PLANS } from './plans.ts';
import { accounts, apps, environments, type Account, type Plan } from '../store/schema.ts';

export const NEON_CLOUD_URL = 'https://console.neon.tech/api/v2';

export interface AccountInput {
  name: string;
  apiKey: string;
  apiUrl?: string;
  plan?: Plan;
  /** Plain http to a loopback address (an engine on this machine) is accepted only with this. */
  allowInsecureUrl?: boolean;
}

/** How long the key check waits for the API URL. */
const CHECK_TIMEOUT_MS = 15_000;

/** The fixed message per way the key check can fail: nothing of the upstream's answer is passed on. */
function checkFailure(apiUrl: string, error: unknown): PlatformError {
  const failure = describeNeonFailure(error);
  const at = `checking the key against ${apiUrl} failed`;
  switch (failure?.kind) {
    case 'key_refused':
      return new PlatformError(422, 'account_check_failed', `${at}: the API key was refused`, 'apiKey');
    case 'timeout':
      return new PlatformError(422, 'account_check_failed', `${at}: it did not answer within ${CHECK_TIMEOUT_MS / 1000} s`, 'apiUrl');
    case 'unreachable':
      return new PlatformError(422, 'account_check_failed', `${at}: could not reach it (nothing listening, name unknown, or TLS refused)`, 'apiUrl');
    case 'insecure_url':
      return new PlatformError(422, 'account_check_failed', `${at}: ${failure.message}`, 'apiUrl');
    default: {
      const status = failure?.status;
      const how = status ? ` (it answered ${status}${status >= 300 && status < 400 ? ', a redirect, which is not followed' : ''})` : '';
      return new PlatformError(422, 'account_check_failed', `${at}: it is not a Neon API${how}`, 'apiUrl');
    }
  }
}

export function accountView(a: Account) {
  return { name: a.name, apiUrl: a.apiUrl, keyLast4: a.keyLast4, plan: a.plan, createdAt: a.createdAt.toISOString() };
}

export async function findAccount(ctx: Context, name: string): Promise<Account> {
  const [account] = await ctx.db.select().from(accounts).where(eq(accounts.name, name));
  if (!account) throw notFound(`Neon account ${name}`);
  return account;
}

export function clientFor(ctx: Context, account: Account, counter?: CallCounter): NeonApi {
  return neonClient(account.apiUrl, ctx.secrets.open(account.apiKeySealed), counter);
}

export async function connectAccount(ctx: Context, actor: Actor, input: AccountInput): Promise<Account> {
  requireAdmin(actor, 'connecting a Neon account');
  if (!/^[a-z][a-z0-9-]{0,39}$/.test(input.name)) throw invalid('name', `account name "${input.name}" must start with a letter and use a-z, 0-9 and - (at most 40)`);
  if (!input.apiKey) throw invalid('apiKey', 'apiKey is required: create one in the Neon console under Account settings → API keys');
  const apiUrl = (input.apiUrl ?? NEON_CLOUD_URL).trim().replace(/\/+$/, '');
  const problem = apiUrl.length > 2000 ? 'is too long' : apiUrlProblem(apiUrl, input.allowInsecureUrl === true);
  if (problem) throw invalid('apiUrl', `apiUrl ${JSON.stringify(apiUrl.slice(0, 200))} ${problem}; Neon's is ${NEON_CLOUD_URL}`);
  const [existing] = await ctx.db.select().from(accounts).where(eq(accounts.name, input.name));
  if (existing) throw conflict(`a Neon account named ${input.name} is already connected`, 'name');
  let answer: unknown;
  try {
    answer = (await neonClient(apiUrl, input.apiKey, { timeoutMs: CHECK_TIMEOUT_MS }).listProjects({ limit: 1 })).data;
  } catch (error) {
    throw checkFailure(apiUrl, error);
  }
  // A 2xx that is not a project list is not a Neon API either.
  if (!Array.isArray((answer as { projects?: unknown } | null)?.projects)) throw checkFailure(apiUrl, null);
  const [account] = await ctx.db
    .insert(accounts)
    .values({ name: input.name, apiUrl, apiKeySealed: ctx.secrets.seal(input.apiKey), keyLast4: last4(input.apiKey), plan: input.plan ?? 'free' })
    .returning();
  await audit(ctx, actor, 'account.connect', input.name, { apiUrl, plan: account.plan, ...(apiUrl.startsWith('http:') ? { insecureUrl: true } : {}) });
  return account;
}

export async function listAccounts(ctx: Context): Promise<Account[]> {
  return ctx.db.select().from(accounts).orderBy(accounts.id);
}

export async function removeAccount(ctx: Context, actor: Actor, name: string): Promise<void> {
  requireAdmin(actor, 'removing a Neon account');
  const account = await findAccount(ctx, name);
  const using = await ctx.db
    .select({ env: environments.name, app: apps.name })
    .from(environments)
    .innerJoin(apps, eq(apps.id, environments.appId))
    .where(eq(environments.accountId, account.id))
    .orderBy(apps.name, environments.name);
  if (using.length) {
    throw conflict(`Neon account ${name} is used by ${using.map((u) => `${u.app}/${u.env}`).join(', ')}; delete those environments first`);
  }
  await ctx.db.delete(accounts).where(eq(accounts.id, account.id));
  await audit(ctx, actor, 'account.remove', name);
}

/** The account's projects and their branches, for "branch from a chosen Neon branch" and import. */
export async function listNeonProjects(ctx: Context, name: string) {
  const api = clientFor(ctx, await findAccount(ctx, name));
  const projects = (await api.listProjects({ limit: 400 })).data.projects;
  return Promise.all(
    projects.map(async (p) => ({
      id: p.id,
      name: p.name,
      regionId: p.region_id,
      pgVersion: p.pg_version,
      branches: (await api.listProjectBranches({ projectId: p.id })).data.branches.map((b) => ({ id: b.id, name: b.name, default: b.default })),
    })),
  );
}

/** The Postgres versions Neon runs. */
export const NEON_PG_VERSIONS = [14, 15, 16, 17, 18];
const NEON_DEFAULT_PG_VERSION = 17;

/**
 * The Postgres versions an account can create projects with: Neon's for Neon's cloud; for an
 * Arbor engine the ones it has binaries for, asked through its one extension route
 * (`GET …/x-arbor/pg_versions`, engine/http/pg-versions.ts). An API without that route (404) is
 * taken as Neon's.
 */
export async function accountPgVersions(ctx: Context, account: Account): Promise<{ pgVersions: number[]; defaultPgVersion: number | null; hint?: string }> {
  const neon = { pgVersions: NEON_PG_VERSIONS, defaultPgVersion: NEON_DEFAULT_PG_VERSION };
  if (account.apiUrl === NEON_CLOUD_URL) return neon;
  try {
    const { data } = await clientFor(ctx, account).instance.get('/x-arbor/pg_versions');
    const versions = (Array.isArray(data?.pg_versions) ? data.pg_versions : []).filter((v: unknown) => Number.isInteger(v) && NEON_PG_VERSIONS.includes(v as number)) as number[];
    return { pgVersions: versions, defaultPgVersion: versions.includes(data.default_pg_version) ? data.default_pg_version : (versions[versions.length - 1] ?? null), ...(typeof data?.install_hint === 'string' ? { hint: data.install_hint.slice(0, 300) } : {}) };
  } catch (error) {
    const failure = describeNeonFailure(error);
    if (failure?.status === 404) return neon;
    throw new PlatformError(502, 'neon_unavailable', `could not ask account ${account.name} which Postgres versions it offers: ${failure?.message ?? (error as Error).message}`);
  }
}

/** One account: what `GET /accounts` shows, plus the Postgres versions and regions it offers. */
export async function accountDetail(ctx: Context, name: string) {
  const account = await findAccount(ctx, name);
  const { pgVersions, defaultPgVersion } = await accountPgVersions(ctx, account);
  return { ...accountView(account), pgVersions, defaultPgVersion, regions: await listRegions(ctx, name), limits: PLANS[account.plan] };
}

export async function listRegions(ctx: Context, name: string) {
  const api = clientFor(ctx, await findAccount(ctx, name));
  return (await api.getActiveRegions({})).data.regions.map((r) => ({ id: r.region_id, name: r.name, default: r.default }));
}

/** `arbor up`: the embedded engine as account `local` (its URL and key refreshed on each start). */
export async function ensureLocalAccount(ctx: Context, apiUrl: string, apiKey: string): Promise<void> {
  const values = { apiUrl, apiKeySealed: ctx.secrets.seal(apiKey), keyLast4: last4(apiKey), plan: 'scale' as Plan };
  const [existing] = await ctx.db.select().from(accounts).where(eq(accounts.name, 'local'));
  if (existing) await ctx.db.update(accounts).set(values).where(eq(accounts.id, existing.id));
  else await ctx.db.insert(accounts).values({ name: 'local', ...values });
}
