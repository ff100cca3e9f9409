/**
 * @module Serving a Hono app on a TCP port, shared by the engine's API and the platform: the
 * listen either succeeds or rejects (a port in use is a rejection the caller reports, never an
 * unhandled 'error' event), and closing waits for the server to stop.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';

export interface Listening {
  server: ServerType;
  port: number;
  close(): Promise<void>;
}

export async function listen(fetch: (request: Request) => Response | Promise<Response>, port: number, hostname: string): Promise<Listening> {
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch, port, hostname }, () => resolve(s));
    s.once('error', reject);
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
