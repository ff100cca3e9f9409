/**
 * @module The platform's metadata: the tables, and the row types derived from them. The SQL
 * migrations in ./migrations are generated from this file (`npm run db:generate`).
 */
import { sql } from 'drizzle-orm';
import { type AnyPgColumn, boolean, index, integer, jsonb, pgTable, primaryKey, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/** A user's role on the instance: `admin` manages accounts and users and is admin of every app. */
export type UserRole = 'admin' | 'member';
/** A role on one app (docs/security.md): status only; non-protected environments; everything. */
export type AppRole = 'viewer' | 'developer' | 'admin';

export const users = pgTable('users', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  role: text('role').$type<UserRole>().notNull(),
  /** scrypt: `scrypt$<salt>$<hash>`. */
  passwordHash: text('password_hash').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const sessions = pgTable('sessions', {
  /** sha256 of the cookie value; the value itself is never stored. */
  id: text('id').primaryKey(),
  userId: integer('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});

export const apiTokens = pgTable('api_tokens', {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
  /** What the token may do within its scope (never more than its creator may: auth/access.ts). */
  role: text('role').$type<AppRole>().notNull(),
  /** The one app it reaches; null: instance scope (every app its creator reaches). */
  appId: integer('app_id').references((): AnyPgColumn => apps.id, { onDelete: 'cascade' }),
  /** The user who made it (it dies with them); null: made through ARBOR_HOME (`arbor tokens create`). */
  userId: integer('user_id').references(() => users.id, { onDelete: 'cascade' }),
  /** sha256 of the token. */
  tokenHash: text('token_hash').notNull().unique(),
  last4: text('last4').notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull().default(sql`now() + interval '90 days'`),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
});

/**
 * Failed (or still running) logins of the last 15 minutes, two rows each (its user name's and its
 * address's): the limit in auth/login-guard.ts, shared by every platform process on this store.
 */
export const loginAttempts = pgTable(
  'login_attempts',
  {
    id: serial('id').primaryKey(),
    /** sha256 of `name:<user name>` or `address:<client address>`: nothing typed at login is kept. */
    key: text('key').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('login_attempts_key_at').on(t.key, t.at), index('login_attempts_at').on(t.at)],
);

export type Plan = 'free' | 'launch' | 'scale';

export const accounts = pgTable('accounts', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  apiUrl: text('api_url').notNull(),
  /** Encrypted with the master key (secrets.ts). */
  apiKeySealed: text('api_key_sealed').notNull(),
  keyLast4: text('key_last4').notNull(),
  plan: text('plan').$type<Plan>().notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export interface StoredMigration {
  file: string;
  sql: string;
}

export const apps = pgTable('apps', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  /** The app model (arbor.yaml as data). */
  model: jsonb('model').notNull(),
  /** Migration files per database name. */
  migrations: jsonb('migrations').$type<Record<string, StoredMigration[]>>().notNull().default({}),
  /** Preview environments (one per pull request) branch from this environment; none when unset. */
  previewParent: text('preview_parent'),
  /** How long a preview lives after its last update. */
  previewTtlSeconds: integer('preview_ttl_seconds').notNull().default(7 * 86400),
  /**
   * The model and migrations protected environments run: set by an app admin's change, or by an
   * app admin approving a developer's pending change (app_changes). Unprotected environments run
   * `model` / `migrations`.
   */
  approvedModel: jsonb('approved_model').notNull(),
  approvedMigrations: jsonb('approved_migrations').$type<Record<string, StoredMigration[]>>().notNull().default({}),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type EnvironmentType = 'production' | 'development' | 'preview';
export type EnvironmentMode = 'new-project' | 'branch-environment' | 'branch-neon' | 'import';
/** `awaiting_confirmation`: an imported branch was checked; the changes Arbor would make wait for an app admin (POST …/confirm-import). */
export type EnvironmentStatus = 'pending' | 'provisioning' | 'awaiting_confirmation' | 'ready' | 'failed' | 'deleting';

/** What the user asked for; the reconciler moves `neon` and `status` towards it. */
export interface EnvironmentSpec {
  mode: EnvironmentMode;
  regionId?: string;
  pgVersion?: number;
  projectName?: string;
  branchName?: string;
  /** branch-environment: the environment to branch from. */
  parentEnvironment?: string;
  /** branch-neon and import: the Neon project and branch. */
  neonProjectId?: string;
  neonBranchId?: string;
  /** branch-environment and branch-neon: the point in the source's history the branch starts at (ISO timestamp or LSN). */
  at?: string;
  settings: NeonSettings;
  /** import: an app admin confirmed the listed changes (POST …/confirm-import): Arbor manages the branch's roles and migrations from then on. */
  fixRoles?: boolean;
  /** preview: the pull request's migrations (instead of the app's), and when it is deleted. */
  migrations?: Record<string, StoredMigration[]>;
  expiresAt?: string;
  /** preview: when its pull request last pushed (opened or synchronized: the last PUT). */
  pushedAt?: string;
}

export interface NeonSettings {
  historyRetentionSeconds?: number;
  minCu?: number;
  maxCu?: number;
  suspendTimeoutSeconds?: number;
}

/** The Neon resources found or created for the environment. */
export interface EnvironmentNeon {
  projectId?: string;
  branchId?: string;
  endpointId?: string;
  host?: string;
  /** What Arbor created (and may delete): never true for an imported branch. */
  createdProject?: boolean;
  createdBranch?: boolean;
  /** How the branch differs from the hierarchy; `manual`: Arbor cannot fix it, the message says the exact step. */
  deviations?: { kind: string; message: string; database?: string; manual?: boolean }[];
  /** import, before confirmation: what confirming will change, in order. */
  pendingChanges?: string[];
  /** Branches Neon kept the state before a restore to a point in time under (deleted with the environment). */
  preserved?: string[];
  /**
   * A masked preview (previews/masking.ts): the branch its parent's data was masked on, and that
   * branch's endpoint until it is deleted; `done` once `branchId` above is the child of the masked state.
   */
  masking?: { branchId: string; endpointId?: string; done?: boolean };
  /**
   * A masked preview's reset under way (previews/reset.ts): the new masking branch made from the
   * parent for the reset asked at `for`, and its endpoint until its masking succeeded. It becomes
   * `masking` once the preview's branch is restored from it.
   */
  resetMasking?: { for: string; branchId: string; endpointId?: string };
  /**
   * How the engine made `branchId` (reconcile/branch-creation.ts), once asked: a spare promoted or
   * a full copy and why; only `branchId` when the account does not tell (Neon's cloud).
   */
  branchCreation?: { branchId: string; strategy?: 'spare' | 'copy'; reason?: string; durationMs?: number };
}

export const environments = pgTable(
  'environments',
  {
    id: serial('id').primaryKey(),
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    type: text('type').$type<EnvironmentType>().notNull(),
    /** Only app admins change it, and it runs the app's approved model (production: on by default). */
    protected: boolean('protected').notNull().default(false),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id),
    spec: jsonb('spec').$type<EnvironmentSpec>().notNull(),
    neon: jsonb('neon').$type<EnvironmentNeon>().notNull().default({}),
    status: text('status').$type<EnvironmentStatus>().notNull().default('pending'),
    error: text('error'),
    /** Bumped on every change the reconciler must act on; `observedGeneration` catches up. */
    generation: integer('generation').notNull().default(1),
    observedGeneration: integer('observed_generation').notNull().default(0),
    /** Failed runs in a row: the retry waits 2^failures s (at most 5 minutes); reset by success or a change. */
    failures: integer('failures').notNull().default(0),
    /** Which platform process works on it, until when (claimed with a row lock). */
    leaseOwner: text('lease_owner'),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('environments_app_name').on(t.appId, t.name)],
);

export type StepStatus = 'running' | 'done' | 'failed';

export const environmentSteps = pgTable('environment_steps', {
  id: serial('id').primaryKey(),
  environmentId: integer('environment_id')
    .notNull()
    .references(() => environments.id, { onDelete: 'cascade' }),
  generation: integer('generation').notNull(),
  step: text('step').notNull(),
  status: text('status').$type<StepStatus>().notNull(),
  detail: text('detail'),
  /** The platform process that ran it (Reconciler.owner). */
  worker: text('worker'),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
});

/** Passwords of the hierarchy's login roles on an environment's branch, encrypted. */
export const credentials = pgTable(
  'credentials',
  {
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    role: text('role').notNull(),
    passwordSealed: text('password_sealed').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.role] })],
);

/** Who belongs to which app, with which role. Instance admins need no row: they are admin of every app. */
export const appMembers = pgTable(
  'app_members',
  {
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role').$type<AppRole>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.userId] })],
);

export type ChangeStatus = 'pending' | 'approved' | 'rejected' | 'superseded';

/**
 * A developer's change to the app's model or migrations: applied to unprotected environments at
 * once, to protected ones only when an app admin approves it (a newer change supersedes it).
 */
export const appChanges = pgTable('app_changes', {
  id: serial('id').primaryKey(),
  appId: integer('app_id')
    .notNull()
    .references(() => apps.id, { onDelete: 'cascade' }),
  model: jsonb('model').notNull(),
  migrations: jsonb('migrations').$type<Record<string, StoredMigration[]>>().notNull(),
  status: text('status').$type<ChangeStatus>().notNull().default('pending'),
  requestedBy: text('requested_by').notNull(),
  decidedBy: text('decided_by'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  decidedAt: timestamp('decided_at', { withTimezone: true }),
});

export const auditLog = pgTable('audit_log', {
  id: serial('id').primaryKey(),
  /** The app an entry is about (null: instance-level), so app admins see their apps' entries only. */
  app: text('app'),
  at: timestamp('at', { withTimezone: true }).notNull().default(sql`now()`),
  actor: text('actor').notNull(),
  action: text('action').notNull(),
  target: text('target').notNull(),
  detail: jsonb('detail').$type<Record<string, unknown>>().notNull().default({}),
});

/**
 * What every change to an environment's desired state sets: a new generation for the reconciler,
 * and no waiting out the backoff of earlier failures (unless a process is working on it now).
 */
export const changed = () => ({
  generation: sql`${environments.generation} + 1`,
  failures: 0,
  leaseUntil: sql`CASE WHEN ${environments.leaseOwner} IS NULL THEN NULL ELSE ${environments.leaseUntil} END`,
  updatedAt: new Date(),
});

/**
 * Sets these top-level fields of an environment's spec, leaving the others as they are in the row
 * when the UPDATE runs, not as a request read them earlier: two requests changing different parts
 * of one spec at once (a push's migrations, a PATCH's settings) both count. Undefined fields are
 * left as they are.
 */
export const mergeSpec = (fields: Partial<EnvironmentSpec> & Record<string, unknown>) => sql`${environments.spec} || ${JSON.stringify(fields)}::jsonb`;

export type User = typeof users.$inferSelect;
export type Account = typeof accounts.$inferSelect;
export type App = typeof apps.$inferSelect;
export type Environment = typeof environments.$inferSelect;
export type EnvironmentStep = typeof environmentSteps.$inferSelect;
export type AuditEntry = typeof auditLog.$inferSelect;
export type ApiToken = typeof apiTokens.$inferSelect;
export type AppChange = typeof appChanges.$inferSelect;
