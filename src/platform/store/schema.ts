/**
 * @module The platform's metadata: the tables, and the row types derived from them. The SQL
 * migrations in ./migrations are generated from this file (`npm run db:generate`).
 */
import { sql } from 'drizzle-orm';
import { integer, jsonb, pgTable, primaryKey, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export type UserRole = 'admin' | 'member';

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
  role: text('role').$type<UserRole>().notNull(),
  /** sha256 of the token. */
  tokenHash: text('token_hash').notNull().unique(),
  last4: text('last4').notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

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
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type EnvironmentType = 'production' | 'development' | 'preview';
export type EnvironmentMode = 'new-project' | 'branch-environment' | 'branch-neon' | 'import';
export type EnvironmentStatus = 'pending' | 'provisioning' | 'ready' | 'failed' | 'deleting';

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
  settings: NeonSettings;
  /** import: apply the role hierarchy (the one-click fix for what `check` found). */
  fixRoles?: boolean;
  /** preview: the pull request's migrations (instead of the app's), and when it is deleted. */
  migrations?: Record<string, StoredMigration[]>;
  expiresAt?: string;
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
  /** Deviations `roles check` found (import) until fixed. */
  deviations?: { kind: string; message: string }[];
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

export const auditLog = pgTable('audit_log', {
  id: serial('id').primaryKey(),
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

export type User = typeof users.$inferSelect;
export type Account = typeof accounts.$inferSelect;
export type App = typeof apps.$inferSelect;
export type Environment = typeof environments.$inferSelect;
export type EnvironmentStep = typeof environmentSteps.$inferSelect;
export type AuditEntry = typeof auditLog.$inferSelect;
