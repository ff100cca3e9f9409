/**
 * @module Test fixture: a real engine (as Neon) and a real platform on fresh homes and random
 * ports, driven over HTTP like any client. Whoever starts them stops them (`close`). Every answer
 * `call()` gets is checked against the platform's OpenAPI document (status and body schema), so
 * every test that uses it also tests the document on real data.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTree } from '../../scripts/reaper.ts';
import { startEngineServer, type EngineServer } from '../engine/server.ts';
import { openApiChecker, type OpenApiChecker } from './http/openapi-check.ts';
import { startPlatform, type Platform } from './platform.ts';

export interface Response<T = any> {
  status: number;
  body: T;
}

export interface TestPlatform {
  engine: EngineServer;
  platform: Platform;
  home: string;
  logs: string[];
  /** Calls the API as the admin (session cookie), or with `token`. */
  call<T = any>(method: string, path: string, body?: unknown, auth?: { token?: string; anonymous?: boolean }): Promise<Response<T>>;
  /** The platform's OpenAPI document, for checking answers got otherwise than through `call()`. */
  checker: OpenApiChecker;
  /** Polls an environment until `status`; fails early on `failed`. */
  waitFor(app: string, env: string, status: 'ready' | 'failed' | 'awaiting_confirmation', timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

export async function startTestPlatform(options: { databaseUrl?: string; engine?: EngineServer } = {}): Promise<TestPlatform> {
  const home = mkdtempSync(join(tmpdir(), 'arbor-platform-test-'));
  const engine = options.engine ?? (await startEngineServer({ home: join(home, 'engine') }));
  const logs: string[] = [];
  const log = { info: (m: string) => logs.push(`INFO ${m}`), warn: (m: string) => logs.push(`WARN ${m}`) };
  const platform = await startPlatform({ home: join(home, 'platform'), databaseUrl: options.databaseUrl, log });
  let cookie = '';
  const checker = openApiChecker(await (await fetch(`${platform.url}/api/v1/openapi.json`)).json());
  async function call(method: string, path: string, body?: unknown, auth: { token?: string; anonymous?: boolean } = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (auth.token) headers.authorization = `Bearer ${auth.token}`;
    else if (!auth.anonymous && cookie) headers.cookie = cookie;
    const response = await fetch(`${platform.url}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    const problems = checker.check(method, path, response.status, text);
    if (problems.length) throw new Error(`the answer to ${method} ${path} does not match the OpenAPI document:\n  ${problems.join('\n  ')}`);
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }
  if (platform.firstAdmin) {
    const response = await fetch(`${platform.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: platform.firstAdmin.name, password: platform.firstAdmin.password }),
    });
    cookie = (response.headers.get('set-cookie') ?? '').split(';')[0];
  }
  return {
    engine,
    platform,
    home,
    logs,
    call,
    checker,
    async waitFor(app, env, status, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { body } = await call('GET', `/apps/${app}/environments/${env}`);
        const e = body.environment;
        if (e?.status === status && e.observedGeneration === e.generation) return e;
        if (e?.status === status && status === 'failed') return e;
        if (e?.status === 'failed' && status !== 'failed') throw new Error(`environment ${app}/${env} failed: ${e.error}`);
        if (Date.now() > deadline) throw new Error(`environment ${app}/${env} is ${e?.status} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      await platform.close();
      if (!options.engine) await engine.close();
      await removeTree(home);
    },
  };
}

export const SHOP_MODEL = `app: shop
databases:
  - name: main
  - name: billing
services:
  - name: orders
    databases: [main]
  - name: invoices
    databases: [main, billing]
`;

export const SHOP_MIGRATIONS = {
  main: [
    { file: '1_orders.up.sql', sql: 'CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL);' },
    { file: '2_seed.up.sql', sql: "INSERT INTO orders (item) VALUES ('first');" },
  ],
  billing: [{ file: '1_invoices.up.sql', sql: 'CREATE TABLE invoices (id serial PRIMARY KEY, total int);' }],
};
