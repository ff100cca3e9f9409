/**
 * @module The shapes the REST API under /api/v1 answers with, as plain types: what the dashboard
 * (web/) and other clients import. The answers' types are inferred from their zod schemas
 * (responses.ts, their one home, which also makes the OpenAPI document); this file imports types
 * only (erased when bundled). `types.test.ts` checks the handlers' results against these shapes.
 */
import type { z } from 'zod';
import type { AppRole, ChangeStatus, EnvironmentMode, EnvironmentSpec, EnvironmentStatus, EnvironmentType, NeonSettings, Plan, StepStatus, UserRole } from '../store/schema.ts';
import type * as V from './responses.ts';

export type { AppRole, ChangeStatus, EnvironmentMode, EnvironmentStatus, EnvironmentType, NeonSettings, Plan, StepStatus, UserRole };

/** Every error: `{error: {code, message, field?}}`; `field` names the input at fault. */
export interface ApiErrorBody {
  error: { code: string; message: string; field?: string };
}

export type UserView = z.infer<typeof V.UserView>;

/** GET /tokens: never the secret. */
export type TokenView = z.infer<typeof V.TokenView>;

export type MemberView = z.infer<typeof V.MemberView>;

/** A developer's model change, pending approval for the protected environments (or decided). */
export type ChangeView = z.infer<typeof V.ChangeView>;

export type AccountView = z.infer<typeof V.AccountView>;

export interface AccountInput {
  name: string;
  apiKey: string;
  apiUrl?: string;
  plan?: Plan;
  /** Plain http to a loopback engine: accepted only when this says so. */
  allowInsecureUrl?: boolean;
}

export type AccountDetailView = z.infer<typeof V.AccountDetailView>;
export type RegionView = z.infer<typeof V.RegionView>;

export type NeonProjectView = z.infer<typeof V.NeonProjectView>;

export type AppView = z.infer<typeof V.AppView>;

export type StepView = z.infer<typeof V.StepView>;

/**
 * POST /encore-apps/derive: the files of an Encore app's folder (paths relative to the folder
 * holding encore.app; `folder` is its name, the app's name when encore.app has no id).
 */
export interface EncoreDeriveInput {
  folder?: string;
  files: { path: string; text: string }[];
}

/** The derived app: send `{ model: yaml, migrations }` to POST /apps. Nothing was changed. */
export type EncoreDerivedView = z.infer<typeof V.EncoreDerivedView>;

export type EnvironmentView = z.infer<typeof V.EnvironmentView>;

/** POST /apps/{app}/environments: the spec's fields (those the API accepts) plus name, type, account. */
export type EnvironmentInput = Omit<EnvironmentSpec, 'settings' | 'fixRoles' | 'migrations' | 'expiresAt' | 'pushedAt'> & {
  name: string;
  type?: EnvironmentType;
  account?: string;
  settings?: NeonSettings;
};

/** GET /apps/{app}/environments/{env}/error-detail (app admins; audited). */
export type ErrorDetailView = z.infer<typeof V.ErrorDetailView>;

export type CredentialView = z.infer<typeof V.CredentialView>;

export type RevealedCredential = z.infer<typeof V.RevealedCredential>;

export type AuditEntryView = z.infer<typeof V.AuditEntryView>;

export type TeamMemberView = z.infer<typeof V.TeamMemberView>;
export type NewUserView = z.infer<typeof V.NewUserView>;
export type HistoryView = z.infer<typeof V.HistoryView>;
export type SchemaDiffView = z.infer<typeof V.SchemaDiffView>;

export type InfraConfigView = z.infer<typeof V.InfraConfigView>;
