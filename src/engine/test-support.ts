/**
 * @module Test fixture: a real engine on a fresh home and a random port, driven through the
 * official `@neondatabase/api-client`. Whoever starts it stops it (`close`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiClient, type Api } from '@neondatabase/api-client';
import pg from 'pg';
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

export async function startTestEngine(options: EngineOptions = {}): Promise<TestEngine> {
  const home = mkdtempSync(join(tmpdir(), 'arbor-engine-test-'));
  const server = await startEngineServer({ home, engine: options });
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
    async settle(projectId: string) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const { data } = await api.listProjectOperations({ projectId, limit: 1000 });
        const failed = data.operations.find((o) => o.status === 'failed');
        if (failed) throw new Error(`operation ${failed.action} failed: ${failed.error}`);
        if (data.operations.every((o) => o.status === 'finished' || o.status === 'skipped')) return;
        if (Date.now() > deadline) throw new Error('operations did not finish within 60 s');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await server.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

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
