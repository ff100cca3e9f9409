/**
 * @module Serving the engine over HTTP on 127.0.0.1 (or a given host).
 */
import { serve, type ServerType } from '@hono/node-server';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Engine, type EngineLog, type EngineOptions } from './engine.ts';
import { SecretBox } from './catalog/secrets.ts';
import { catalogPath } from './catalog/store.ts';
import type { CatalogData } from './catalog/types.ts';
import { engineApp } from './http/app.ts';

export interface EngineServer {
  engine: Engine;
  url: string;
  /** The key clients use: the engine's own (see `keyCreated`), or the one given in the options. */
  apiKey: string;
  /**
   * True when this start generated the engine's own key: the first start of its home, the one
   * time the CLI shows the key (later only `arbor engine key` does). Never logged.
   */
  keyCreated: boolean;
  close(): Promise<void>;
}

export interface EngineServerOptions {
  home: string;
  port?: number;
  host?: string;
  apiKey?: string;
  log?: EngineLog;
  engine?: EngineOptions;
}

export async function startEngineServer(options: EngineServerOptions): Promise<EngineServer> {
  const engine = await Engine.open(options.home, options.log, options.engine);
  let apiKey: string;
  let keyCreated = false;
  if (options.apiKey) engine.addApiKey('given', (apiKey = options.apiKey));
  else {
    keyCreated = !engine.data.api_keys.some((k) => k.sealed);
    apiKey = engine.localApiKey();
  }
  await engine.save();
  const app = engineApp(engine);
  const host = options.host ?? '127.0.0.1';
  let server: ServerType;
  try {
    server = await new Promise((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: host }, () => resolve(s));
      s.once('error', reject); // e.g. the port is in use: a rejection, not an unhandled 'error' event
    });
  } catch (error) {
    await engine.close();
    throw error;
  }
  // Keep-alive longer than clients' (axios, the api-client, keeps idle sockets 5 s, as Node's
  // server did): with equal timeouts a request sent as the server closes an idle socket, which a
  // loaded machine makes likely, fails with ECONNRESET. Neon's API keeps them about a minute.
  (server as import('node:http').Server).keepAliveTimeout = 65_000;
  (server as import('node:http').Server).headersTimeout = 66_000;
  const { port } = server.address() as AddressInfo;
  return {
    engine,
    apiKey,
    keyCreated,
    url: `http://${host}:${port}/api/v2`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await engine.close();
    },
  };
}

/**
 * The engine's own API key of the home `home`, for `arbor engine key`: read from its catalog
 * (where it is sealed with the home's secret.key), without starting the engine or creating
 * anything. Throws a message for the user when the home has no such key.
 */
export function readEngineKey(home: string): string {
  const catalog = catalogPath(home);
  if (!existsSync(catalog) || !existsSync(join(home, 'secret.key'))) {
    throw new Error(`no engine state in ${home}: start the engine once (arbor engine serve --home ${home}, or arbor up) and it creates its key`);
  }
  const data = JSON.parse(readFileSync(catalog, 'utf8')) as CatalogData;
  const sealed = data.api_keys.find((k) => k.sealed)?.sealed;
  if (!sealed) throw new Error(`the engine in ${home} has no key of its own: it was only started with --api-key, and it keeps just a hash of that key`);
  return SecretBox.open(home).open(sealed);
}
