/**
 * @module The shapes the REST API under /api/v1 answers with, as plain types: what the dashboard
 * (web/) and other clients import. It imports types only (erased when bundled), and only from the
 * schema, their one home; `types.test.ts` checks the handlers' results against these shapes.
 */
import type { AppRole, ChangeStatus, EnvironmentMode, EnvironmentSpec, EnvironmentStatus, EnvironmentType, NeonSettings, Plan, StepStatus, UserRole } from '../store/schema.ts';

export type { AppRole, ChangeStatus, EnvironmentMode, EnvironmentStatus, EnvironmentType, NeonSettings, Plan, StepStatus, UserRole };

/** Every error: `{error: {code, message, field?}}`; `field` names the input at fault. */
export interface ApiErrorBody {
  error: { code: string; message: string; field?: string };
}

export interface UserView {
  name: string;
  /** `admin`: an instance admin. */
  role: UserRole;
  /** An API token: the app it reaches (or `instance`) and its role there. */
  token?: { scope: string; role: AppRole };
}

/** GET /tokens: never the secret. */
export interface TokenView {
  id: number;
  name: string;
  /** An app's name, or `instance`. */
  scope: string;
  role: AppRole;
  createdBy: string;
  createdAt: string;
  lastUsedAt?: string;
  expiresAt: string;
  expired: boolean;
}

export interface MemberView {
  name: string;
  role: AppRole;
  since: string;
}

/** A developer's model change, pending approval for the protected environments (or decided). */
export interface ChangeView {
  id: number;
  status: ChangeStatus;
  requestedBy: string;
  decidedBy?: string;
  createdAt: string;
  decidedAt?: string;
  model: unknown;
  migrations: Record<string, string[]>;
}

export interface AccountView {
  name: string;
  apiUrl: string;
  keyLast4: string;
  plan: Plan;
  createdAt: string;
}

export interface AccountInput {
  name: string;
  apiKey: string;
  apiUrl?: string;
  plan?: Plan;
  /** Plain http to a loopback engine: accepted only when this says so. */
  allowInsecureUrl?: boolean;
}

export interface RegionView {
  id: string;
  name: string;
  default: boolean;
}

export interface NeonProjectView {
  id: string;
  name: string;
  regionId: string;
  pgVersion: number;
  branches: { id: string; name: string; default: boolean }[];
}

export interface AppView {
  name: string;
  /** The caller's role on the app. */
  role?: AppRole;
  previews: { parentEnvironment?: string; ttlSeconds: number };
  model: unknown;
  /** Migration file names per database. */
  migrations: Record<string, string[]>;
  createdAt: string;
  updatedAt: string;
}

export interface StepView {
  generation: number;
  step: string;
  status: StepStatus;
  detail?: string;
  startedAt: string;
  finishedAt?: string;
}

export interface EnvironmentView {
  name: string;
  type: EnvironmentType;
  /** Changed by app admins only; runs the app's approved model. */
  protected: boolean;
  mode: EnvironmentMode;
  account?: string;
  status: EnvironmentStatus;
  error?: string;
  /** A failed environment: permanent (waits for a change or POST …/retry) or retried at nextAttemptAt. */
  retry?: { permanent: boolean; nextAttemptAt?: string };
  imported: boolean;
  neon: { projectId?: string; branchId?: string; endpointId?: string; host?: string };
  /** Retention (in `settings`) is this Neon project's, shared with these environments. */
  project?: { id: string; sharedWith: string[]; sharedWithOtherApps: number; retentionSetBy: string | null };
  settings: NeonSettings;
  deviations: { kind: string; message: string }[];
  warnings: string[];
  generation: number;
  observedGeneration: number;
  steps: StepView[];
}

/** POST /apps/{app}/environments: the spec's fields (those the API accepts) plus name, type, account. */
export type EnvironmentInput = Omit<EnvironmentSpec, 'settings' | 'fixRoles' | 'migrations' | 'expiresAt'> & {
  name: string;
  type?: EnvironmentType;
  account?: string;
  settings?: NeonSettings;
};

/** GET /apps/{app}/environments/{env}/error-detail (app admins; audited). */
export interface ErrorDetailView {
  status: EnvironmentStatus;
  failure: { step: string; at: string; message: string } | null;
}

export interface CredentialView {
  username: string;
  host?: string;
  port?: number;
  databases: string[];
  purpose: string;
  hasPassword: boolean;
}

export interface RevealedCredential {
  username: string;
  password: string;
  connectionUri: string;
}

/** GET …/infra-config and POST …/infra-config/reveal: Encore's infra.config.json (its sql_servers) and the variables it refers to. */
export interface InfraConfigView {
  config: {
    $schema?: string;
    sql_servers: {
      host: string;
      tls_config?: { disabled?: boolean; ca?: string };
      /** Keyed by the database's name on the server; `name` is Encore's. */
      databases: Record<string, { name?: string; username: string; password: string | { $env: string } }>;
    }[];
  };
  /** `value` only when revealed (app admins; audited). */
  env: { name: string; role: string; databases: string[]; value?: string }[];
  notes: string[];
}

export interface AuditEntryView {
  at: string;
  actor: string;
  action: string;
  target: string;
  detail: unknown;
}
