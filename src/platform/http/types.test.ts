/**
 * The API's published shapes (`types.ts`, which clients import) match what the handlers return.
 * The checks are type-level: `tsc -p .` (part of `npm test`) fails when a handler's result drifts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { accountView, listNeonProjects, listRegions } from '../accounts/accounts.ts';
import type { appView, changeView, listMembers } from '../apps/apps.ts';
import type { actorView, listTokens } from '../auth/auth.ts';
import type { Actor } from '../context.ts';
import type { listCredentials, revealCredential } from '../credentials/credentials.ts';
import type { EnvironmentInput as ServerEnvironmentInput, environmentView } from '../environments/environments.ts';
import type { infraConfig } from '../environments/infra-config.ts';
import type * as Api from './types.ts';

type Result<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>;
/** True when A can be used where B is expected. */
type Fits<A, B> = [A] extends [B] ? true : false;
function fits<T extends true>(): T | undefined {
  return undefined;
}

test('the handlers answer with the shapes types.ts publishes', () => {
  fits<Fits<ReturnType<typeof accountView>, Api.AccountView>>();
  fits<Fits<Result<typeof listRegions>, Api.RegionView[]>>();
  fits<Fits<Result<typeof listNeonProjects>, Api.NeonProjectView[]>>();
  fits<Fits<ReturnType<typeof appView>, Api.AppView>>();
  fits<Fits<Result<typeof actorView>, Api.UserView>>();
  fits<Fits<Result<typeof listTokens>, Api.TokenView[]>>();
  fits<Fits<Result<typeof listMembers>, Api.MemberView[]>>();
  fits<Fits<ReturnType<typeof changeView>, Api.ChangeView>>();
  fits<Fits<Result<typeof environmentView>, Api.EnvironmentView>>();
  fits<Fits<Api.EnvironmentInput, ServerEnvironmentInput>>();
  fits<Fits<Result<typeof listCredentials>, Api.CredentialView[]>>();
  fits<Fits<Result<typeof revealCredential>, Api.RevealedCredential>>();
  fits<Fits<Result<typeof infraConfig>, Api.InfraConfigView>>();
  assert.ok(true);
});
