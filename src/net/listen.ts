/**
 * @module Serving a Hono app on a TCP port, shared by the engine's API and the platform: the
 * listen either succeeds or rejects (a port in use is a rejection the caller reports, never an
 * unhandled 'error' event), idle keep-alive sockets outlive clients' own, and closing waits for
 * the server to stop.
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
  // Keep-alive longer than clients' (axios, the api-client, keeps idle sockets 5 s, as Node's
  // server did): with equal timeouts a request sent as the server closes an idle socket, which a
  // loaded machine makes likely, fails with ECONNRESET. Neon's API keeps them about a minute.
  const http = server as import('node:http').Server;
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = 66_000;
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
