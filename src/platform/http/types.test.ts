/**
 * The API's published shapes (`types.ts`, which clients import, inferred from responses.ts) match
 * what the domain functions return, and the schemas' enums are the store's. The checks are
 * type-level: `tsc -p .` (part of `npm test`) fails when a result drifts. (Each route's handler is
 * also typed by its response schema in routes.ts; whether answers match at run time, extra fields
 * included, is checked against the OpenAPI document by responses.test.ts and the fuzz.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { accountDetail, accountView, listNeonProjects, listRegions } from '../accounts/accounts.ts';
import type { appView, changeView, listMembers } from '../apps/apps.ts';
import type { actorView, createUser, listTokens, listUsers } from '../auth/auth.ts';
import type { deriveEncoreUpload } from '../apps/encore.ts';
import type { Actor } from '../context.ts';
import type { listCredentials, revealCredential } from '../credentials/credentials.ts';
import type { environmentHistory } from '../environments/restore.ts';
import type { EnvironmentInput as ServerEnvironmentInput, environmentView } from '../environments/environments.ts';
import type * as Store from '../store/schema.ts';
import type { previewSchemaDiff } from '../previews/schema-diff.ts';
import type { infraConfig } from '../environments/infra-config.ts';
import type * as Api from './types.ts';
import type * as V from './responses.ts';
import type { z } from 'zod';

type Result<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>;
/** True when A can be used where B is expected. */
type Fits<A, B> = [A] extends [B] ? true : false;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function fits<T extends true>(): T | undefined {
  return undefined;
}

test('the handlers answer with the shapes types.ts publishes', () => {
  fits<Fits<ReturnType<typeof accountView>, Api.AccountView>>();
  fits<Fits<Result<typeof listRegions>, Api.RegionView[]>>();
  fits<Fits<Result<typeof accountDetail>, Api.AccountDetailView>>();
  fits<Fits<Result<typeof listNeonProjects>, Api.NeonProjectView[]>>();
  fits<Fits<ReturnType<typeof appView>, Api.AppView>>();
  fits<Fits<Result<typeof actorView>, Api.UserView>>();
  fits<Fits<Result<typeof listTokens>, Api.TokenView[]>>();
  fits<Fits<Result<typeof listMembers>, Api.MemberView[]>>();
  fits<Fits<ReturnType<typeof changeView>, Api.ChangeView>>();
  fits<Fits<Result<typeof environmentView>, Api.EnvironmentView>>();
  fits<Fits<Api.EnvironmentInput, ServerEnvironmentInput>>();
  fits<Fits<Result<typeof listCredentials>, Api.CredentialView[]>>();
  fits<Fits<Result<typeof environmentHistory>, Api.HistoryView>>();
  fits<Fits<Result<typeof revealCredential>, Api.RevealedCredential>>();
  fits<Fits<Result<typeof listUsers>, Api.TeamMemberView[]>>();
  fits<Fits<Result<typeof createUser>, Api.NewUserView>>();
  fits<Fits<Result<typeof previewSchemaDiff>, Api.SchemaDiffView>>();
  fits<Same<z.infer<typeof V.UserRole>, Store.UserRole>>();
  fits<Same<z.infer<typeof V.AppRole>, Store.AppRole>>();
  fits<Same<z.infer<typeof V.Plan>, Store.Plan>>();
  fits<Same<z.infer<typeof V.EnvironmentType>, Store.EnvironmentType>>();
  fits<Same<z.infer<typeof V.EnvironmentMode>, Store.EnvironmentMode>>();
  fits<Same<z.infer<typeof V.EnvironmentStatus>, Store.EnvironmentStatus>>();
  fits<Same<z.infer<typeof V.StepStatus>, Store.StepStatus>>();
  fits<Same<z.infer<typeof V.ChangeStatus>, Store.ChangeStatus>>();
  fits<Same<z.infer<typeof V.NeonSettings>, Store.NeonSettings>>();
  fits<Fits<Result<typeof deriveEncoreUpload>, Api.EncoreDerivedView>>();
  fits<Fits<Parameters<typeof deriveEncoreUpload>[0], Api.EncoreDeriveInput['files']>>();
  fits<Fits<Result<typeof infraConfig>, Api.InfraConfigView>>();
  assert.ok(true);
});
