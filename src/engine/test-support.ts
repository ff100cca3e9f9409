/**
 * @module Test fixture: a real engine on a fresh home and a random port, driven through the
 * official `@neondatabase/api-client`. Whoever starts it stops it (`close`). Also the helpers
 * that tests (and benchmarks) share around that client: waiting on operations, reading its errors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiClient, type Api, type Operation } from '@neondatabase/api-client';
import pg from 'pg';
import { removeTree } from '../../scripts/reaper.ts';
import { validateNeonResponse } from './neon-spec.ts';
import type { EngineOptions } from './engine.ts';
import { startEngineServer, type EngineServer } from './server.ts';

export interface TestEngine extends EngineServer {
  home: string;
  api: Api<unknown>;
  /**
   * Every way a response seen by `api` (success or error) deviates from Neon's OpenAPI spec, as
   * `METHOD /path status: problem`. Tests end with `assert.deepEqual(engine.specProblems, [])`.
   */
  specProblems: string[];
  /** Waits until every operation of the project is finished; fails on a failed one. */
  settle(projectId: string): Promise<void>;
  close(): Promise<void>;
}

/** Where the test engine's home goes: a fresh directory under `parent` (default: the OS temp directory). */
export interface TestHome {
  parent?: string;
}

export async function startTestEngine(options: EngineOptions = {}, where: TestHome = {}): Promise<TestEngine> {
  const home = mkdtempSync(join(where.parent ?? tmpdir(), 'arbor-engine-test-'));
  // Internal errors (a 500) always reach the test's output; everything else with ARBOR_ENGINE_LOG=1.
  const verbose = process.env.ARBOR_ENGINE_LOG === '1';
  const print = (message: string) => console.error(`engine ${new Date().toISOString()}: ${message}`);
  const log = {
    info: (message: string) => verbose && print(message),
    warn: (message: string) => (verbose || message.startsWith('internal error')) && print(message),
  };
  const server = await startEngineServer({ home, engine: options, log });
  const api = createApiClient({ apiKey: server.apiKey, baseURL: server.url, timeout: 60_000 });
  const specProblems: string[] = [];
  const check = (response: SeenResponse) => {
    const method = (response.config.method ?? 'get').toUpperCase();
    const path = new URL(api.instance.getUri(response.config)).pathname;
    for (const problem of validateNeonResponse(method, path, response.status, response.data)) {
      specProblems.push(`${method} ${path} ${response.status}: ${problem}`);
    }
  };
  api.instance.interceptors.response.use(
    (response) => {
      check(response);
      return response;
    },
    (error: unknown) => {
      const response = (error as { response?: SeenResponse } | null)?.response;
      if (response) check(response);
      return Promise.reject(error);
    },
  );
  return {
    ...server,
    home,
    api,
    specProblems,
    settle: (projectId: string) => settle(api, projectId),
    async close() {
      await server.close();
      await removeTree(home);
    },
  };
}

export interface TestProject {
  engine: TestEngine;
  projectId: string;
  /** The default branch. */
  mainId: string;
  /** Its connection URI. */
  mainUri: string;
}

/** A test engine with one project created through the client, its operations finished. */
export async function startTestProject(project: CreateProject, options: EngineOptions = {}, where: TestHome = {}): Promise<TestProject> {
  const engine = await startTestEngine(options, where);
  const { data } = await engine.api.createProject({ project });
  await engine.settle(data.project.id);
  return { engine, projectId: data.project.id, mainId: data.branch.id, mainUri: data.connection_uris![0].connection_uri };
}

type CreateProject = Parameters<Api<unknown>['createProject']>[0]['project'];

/** The parts of an axios response the spec check reads. */
type SeenResponse = {
  config: NonNullable<Parameters<Api<unknown>['instance']['getUri']>[0]>;
  status: number;
  data: unknown;
};

/** A node-postgres client for a connection URI the engine returned. */
export async function connect(uri: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  return client;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `predicate` every 20 ms until it holds; fails after `ms` naming `what` it waited for. */
export async function waitFor(what: string, predicate: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Waits until every operation of the project is finished; fails at once on a failed one, and
 * after `timeoutMs`. Polls after 20 ms, then less often (×1.5, at most every 250 ms): each poll
 * lists every operation and checks the answer against Neon's spec, and a fixed 20 ms made this
 * wait one of the suite's larger CPU costs. Benchmarks pass `pollMs` (2 ms, fixed), since they
 * time through this wait.
 */
export async function settle(api: Api<unknown>, projectId: string, { pollMs, timeoutMs = 60_000 }: { pollMs?: number; timeoutMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let wait = pollMs ?? 20;
  for (;;) {
    const { data } = await api.listProjectOperations({ projectId, limit: 1000 });
    const failed = data.operations.find((o) => o.status === 'failed');
    if (failed) throw new Error(`operation ${failed.action} failed: ${failed.error}`);
    if (data.operations.every((o) => o.status === 'finished' || o.status === 'skipped')) return;
    if (Date.now() > deadline) throw new Error(`operations did not finish within ${timeoutMs / 1000} s`);
    await sleep(wait);
    if (pollMs === undefined) wait = Math.min(wait * 1.5, 250);
  }
}

/**
 * Waits until no operation of the project is scheduled or running and returns them all, failed
 * ones included: after a crash some are meant to have failed.
 */
export async function operationsAtRest(api: Api<unknown>, projectId: string): Promise<Operation[]> {
  for (;;) {
    const ops = (await api.listProjectOperations({ projectId, limit: 1000 })).data.operations;
    if (ops.every((o) => o.status !== 'running' && o.status !== 'scheduling')) return ops;
    await sleep(20);
  }
}

/** The HTTP status of an api-client error (undefined when there was no response). */
export function status(error: unknown): number | undefined {
  return (error as { response?: { status: number } }).response?.status;
}

/** The engine's `message` in an api-client error, or the error itself as text. */
export function message(error: unknown): string {
  return (error as { response?: { data: { message: string } } }).response?.data.message ?? String(error);
}

/** Asserts that `promise` fails with HTTP `expectedStatus` and a message matching `pattern`. */
export async function rejects(promise: Promise<unknown>, expectedStatus: number, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.equal(status(error), expectedStatus, `status for ${message(error)}`);
    assert.match(message(error), pattern);
    return;
  }
  assert.fail(`expected HTTP ${expectedStatus}`);
}
