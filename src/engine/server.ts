/**
 * @module Serving the engine over HTTP on 127.0.0.1 (or a given host).
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { Engine, type EngineLog, type EngineOptions } from './engine.ts';
import { engineApp } from './http/app.ts';

export interface EngineServer {
  engine: Engine;
  url: string;
  apiKey: string;
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
  if (options.apiKey) engine.addApiKey('given', (apiKey = options.apiKey));
  else apiKey = engine.localApiKey();
  await engine.save();
  const app = engineApp(engine);
  const host = options.host ?? '127.0.0.1';
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: host }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    engine,
    apiKey,
    url: `http://${host}:${port}/api/v2`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await engine.close();
    },
  };
}
