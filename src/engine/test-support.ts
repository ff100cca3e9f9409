/**
 * @module Test fixture: a real engine on a fresh home and a random port, driven through the
 * official `@neondatabase/api-client`. Whoever starts it stops it (`close`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiClient, type Api } from '@neondatabase/api-client';
import pg from 'pg';
import { startEngineServer, type EngineServer } from './server.ts';

export interface TestEngine extends EngineServer {
  home: string;
  api: Api<unknown>;
  /** Waits until every operation of the project is finished; fails on a failed one. */
  settle(projectId: string): Promise<void>;
  close(): Promise<void>;
}

export async function startTestEngine(): Promise<TestEngine> {
  const home = mkdtempSync(join(tmpdir(), 'arbor-engine-test-'));
  const server = await startEngineServer({ home });
  const api = createApiClient({ apiKey: server.apiKey, baseURL: server.url, timeout: 60_000 });
  return {
    ...server,
    home,
    api,
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

/** A node-postgres client for a connection URI the engine returned. */
export async function connect(uri: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  return client;
}
