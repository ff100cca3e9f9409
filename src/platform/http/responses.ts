/**
 * @module The bodies the REST API answers with, as zod schemas: their one home. `routes.ts` gives
 * each route its schema (which types the handler's result and goes into the OpenAPI document under
 * the route's success status); `types.ts` publishes the inferred types to clients. Objects are
 * strict (`additionalProperties: false` in the document): a field a handler starts to send (a
 * password in a viewer's environment view, say) fails the tests that check every answer against
 * the document (http/openapi-check.ts), instead of reaching clients unnoticed.
 */
import { z } from 'zod';

const time = z.iso.datetime({ offset: true }).describe('ISO 8601 time');
export const UserRole = z.enum(['admin', 'member']).describe('admin: an instance admin');
export const AppRole = z.enum(['viewer', 'developer', 'admin']);
export const Plan = z.enum(['free', 'launch', 'scale']);
export const EnvironmentType = z.enum(['production', 'development', 'preview']);
export const EnvironmentMode = z.enum(['new-project', 'branch-environment', 'branch-neon', 'import']);
export const EnvironmentStatus = z.enum(['pending', 'provisioning', 'awaiting_confirmation', 'ready', 'failed', 'deleting']).describe('awaiting_confirmation: an imported branch was checked; the listed changes wait for an app admin (POST …/confirm-import)');
export const StepStatus = z.enum(['running', 'done', 'failed']);
export const ChangeStatus = z.enum(['pending', 'approved', 'rejected', 'superseded']);
/** Migration file names per database (never their SQL). */
const migrationFiles = z.record(z.string(), z.array(z.string()));

export const UserView = z.strictObject({
  name: z.string(),
  role: UserRole,
  token: z.strictObject({ scope: z.string().describe('an app, or instance'), role: AppRole }).optional().describe('an API token: the app it reaches (or instance) and its role there'),
});

/** GET /team: never a password hash. */
export const TeamMemberView = z.strictObject({ name: z.string(), role: UserRole, createdAt: time });
/** POST /team: the new user's password, shown this once. */
export const NewUserView = z.strictObject({ name: z.string(), role: UserRole, password: z.string() });

/** GET /tokens: never the secret. */
export const TokenView = z.strictObject({
  id: z.number().int(),
  name: z.string(),
  scope: z.string().describe('an app, or instance'),
  role: AppRole,
  createdBy: z.string(),
  createdAt: time,
  lastUsedAt: time.optional(),
  expiresAt: time,
  expired: z.boolean(),
});

export const MemberView = z.strictObject({ name: z.string(), role: AppRole, since: time });

/** A developer's model change, pending approval for the protected environments (or decided). */
export const ChangeView = z.strictObject({
  id: z.number().int(),
  status: ChangeStatus,
  requestedBy: z.string(),
  decidedBy: z.string().optional(),
  createdAt: time,
  decidedAt: time.optional(),
  model: z.unknown(),
  migrations: migrationFiles,
});

/** A Neon account: the last 4 characters of its key, never the key. */
export const AccountView = z.strictObject({ name: z.string(), apiUrl: z.string(), keyLast4: z.string(), plan: Plan, createdAt: time });

export const RegionView = z.strictObject({ id: z.string(), name: z.string(), default: z.boolean() });

export const AccountDetailView = AccountView.extend({
  pgVersions: z.array(z.number().int()),
  defaultPgVersion: z.number().int().nullable(),
  regions: z.array(RegionView),
  limits: z.strictObject({ maxHistoryRetentionSeconds: z.number().int(), maxCu: z.number(), suspend: z.enum(['fixed', 'default-or-never', 'configurable']) }).describe("the plan's limits"),
});

export const NeonProjectView = z.strictObject({
  id: z.string(),
  name: z.string(),
  regionId: z.string(),
  pgVersion: z.number().int(),
  branches: z.array(z.strictObject({ id: z.string(), name: z.string(), default: z.boolean() })),
});

export const AppView = z.strictObject({
  name: z.string(),
  role: AppRole.optional().describe("the caller's role on the app"),
  previews: z.strictObject({ parentEnvironment: z.string().optional(), ttlSeconds: z.number().int() }),
  model: z.unknown(),
  migrations: migrationFiles,
  createdAt: time,
  updatedAt: time,
});

export const StepView = z.strictObject({
  generation: z.number().int(),
  step: z.string(),
  status: StepStatus,
  detail: z.string().optional(),
  startedAt: time,
  finishedAt: time.optional(),
});

export const NeonSettings = z.strictObject({
  historyRetentionSeconds: z.number().int().optional(),
  minCu: z.number().optional(),
  maxCu: z.number().optional(),
  suspendTimeoutSeconds: z.number().int().optional(),
});

/** What every app member may read: no password, connection string or row data. */
export const EnvironmentView = z.strictObject({
  name: z.string(),
  type: EnvironmentType,
  protected: z.boolean().describe('changed by app admins only; runs the app\'s approved model'),
  mode: EnvironmentMode,
  account: z.string().optional(),
  status: EnvironmentStatus,
  error: z.string().optional().describe('the last failure, without row data (GET …/error-detail has the full text, for app admins)'),
  retry: z.strictObject({ permanent: z.boolean(), nextAttemptAt: time.optional() }).optional().describe('a failed environment: permanent (waits for a change or POST …/retry) or retried at nextAttemptAt'),
  imported: z.boolean(),
  at: z.string().optional().describe('branched at this point of its source (ISO time or LSN)'),
  restore: z.strictObject({ at: z.string(), requestedAt: time }).optional().describe('a restore to a point in time, until it is done'),
  neon: z.strictObject({ projectId: z.string().optional(), branchId: z.string().optional(), endpointId: z.string().optional(), host: z.string().optional() }),
  source: z
    .strictObject({
      projectName: z.string().optional(),
      regionId: z.string().optional(),
      pgVersion: z.number().int().optional(),
      branchName: z.string().optional(),
      parentEnvironment: z.string().optional(),
      neonProjectId: z.string().optional(),
      neonBranchId: z.string().optional(),
      expiresAt: time.optional(),
      pushedAt: time.optional().describe("a preview: when its pull request last pushed"),
    })
    .describe('where it came from, as the request asked'),
  createdAt: time,
  project: z
    .strictObject({ id: z.string(), sharedWith: z.array(z.string()), sharedWithOtherApps: z.number().int(), retentionSetBy: z.string().nullable() })
    .optional()
    .describe("retention (in settings) is this Neon project's, shared with these environments"),
  settings: NeonSettings,
  deviations: z.array(z.strictObject({ kind: z.string(), message: z.string(), database: z.string().optional(), manual: z.boolean().optional() })).describe('how the branch differs from the hierarchy; manual: Arbor cannot fix it, the message says the exact SQL or console step'),
  pendingChanges: z.array(z.string()).describe('an unconfirmed import: what POST …/confirm-import will change, in order; empty otherwise'),
  importConfirmed: z.boolean().optional().describe('imports only: whether an app admin confirmed the listed changes'),
  warnings: z.array(z.string()),
  generation: z.number().int(),
  observedGeneration: z.number().int(),
  steps: z.array(StepView),
});

/** GET …/error-detail (app admins; audited): the failure's full text. */
export const ErrorDetailView = z.strictObject({
  status: EnvironmentStatus,
  failure: z.strictObject({ step: z.string(), at: time, message: z.string() }).nullable(),
});

export const HistoryView = z.strictObject({ from: time, to: time, why: z.string(), historyRetentionSeconds: z.number().int() });

/** GET …/users: who can log in, never a password. */
export const CredentialView = z.strictObject({
  username: z.string(),
  host: z.string().optional(),
  port: z.number().int().optional(),
  databases: z.array(z.string()),
  purpose: z.string(),
  hasPassword: z.boolean(),
});

export const RevealedCredential = z.strictObject({ username: z.string(), password: z.string(), connectionUri: z.string() });

export const SchemaChange = z.strictObject({
  database: z.string(),
  kind: z.enum(['schema', 'extension', 'table', 'column', 'constraint', 'index', 'view', 'function', 'trigger', 'sequence', 'grant', 'default-privileges']),
  name: z.string(),
  change: z.enum(['added', 'removed', 'changed']),
  before: z.string().optional(),
  after: z.string().optional(),
});

export const SchemaDiffView = z.strictObject({
  app: z.string(),
  preview: z.string(),
  parent: z.string(),
  databases: z.array(z.string()),
  summary: z.strictObject({ added: z.number().int(), removed: z.number().int(), changed: z.number().int() }),
  changes: z.array(SchemaChange),
});

export const AuditEntryView = z.strictObject({ at: time, actor: z.string(), action: z.string(), target: z.string(), detail: z.unknown() });

/** POST /github/webhook: what was done with a delivery. */
export const WebhookAnswer = z.union([
  z.strictObject({ pong: z.literal(true) }),
  z.strictObject({ duplicate: z.literal(true) }),
  z.strictObject({ ignored: z.string() }),
  z.strictObject({ app: z.string(), preview: z.string(), closed: z.boolean() }),
  z.strictObject({ app: z.string(), preview: z.string(), recorded: z.string() }),
]);

export const WebhookStatus = z.strictObject({
  configured: z.boolean(),
  repositories: z.record(z.string(), z.string()),
  rejectedSignatures: z.number().int(),
  deliveries: z.number().int(),
  duplicates: z.number().int(),
});

/** POST /encore-apps/derive: the model derived from an Encore app's files (nothing changed). */
export const EncoreDerivedView = z.strictObject({
  model: z.strictObject({
    app: z.string(),
    prefix: z.string(),
    databases: z.array(z.strictObject({ name: z.string(), migrations: z.string().optional(), migrationsSource: z.string().optional(), migrationsNaming: z.string().optional() })),
    services: z.array(z.strictObject({ name: z.string(), databases: z.array(z.string()) })),
  }),
  yaml: z.string().describe('the model as arbor.yaml text'),
  language: z.enum(['typescript', 'go']),
  notes: z.array(z.string()).describe('what could not be resolved, with file and line; left out of the model'),
  migrations: z.record(z.string(), z.array(z.strictObject({ file: z.string(), sql: z.string() }))),
});

/** GET …/infra-config (and its reveal): Encore's infra.config.json `sql_servers`, passwords as `$env` references. */
export const InfraConfigView = z.strictObject({
  config: z.strictObject({
    $schema: z.string().optional(),
    sql_servers: z.array(
      z.strictObject({
        host: z.string(),
        tls_config: z.strictObject({ disabled: z.boolean().optional(), ca: z.string().optional() }).optional(),
        databases: z.record(z.string(), z.strictObject({ name: z.string().optional(), username: z.string(), password: z.union([z.string(), z.strictObject({ $env: z.string() })]) })).describe("keyed by the database's name on the server; name is Encore's"),
      }),
    ),
  }),
  env: z.array(z.strictObject({ name: z.string(), role: z.string(), databases: z.array(z.string()), value: z.string().optional().describe('only when revealed (app admins; audited)') })),
  notes: z.array(z.string()),
});
