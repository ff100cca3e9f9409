/**
 * @module Endpoint ports: one listening socket per endpoint, owned by the engine and never closed
 * while the endpoint exists, so a client never gets "connection refused" from a suspend or a wake.
 *
 * - Idle endpoint: the engine accepts on the socket. The first connection wakes the compute
 *   (`onWake`, once per wake); connections accepted before the postmaster takes over are held
 *   paused, then piped to it (the only bytes that ever pass through JavaScript).
 * - Active endpoint: the postmaster inherited the socket and accepts on it itself through the
 *   listen shim (listen-shim.c), and only once it is ready; the engine stops accepting, so new
 *   connections wait in the kernel's backlog during startup and go straight to PostgreSQL.
 * - A keeper child process (keeper.mjs) holds a duplicate of every socket, so the engine can
 *   close its own copy while a postmaster serves and get it back for the next idle period.
 *
 * Without the shim (no C compiler) the postmaster binds the port itself: the socket is closed
 * for the few milliseconds between the engine letting go and PostgreSQL listening.
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const KEEPER = join(dirname(fileURLToPath(import.meta.url)), 'keeper.mjs');
const KEEPER_DEADLINE_MS = 10_000;
const HOST = '127.0.0.1';

/** libuv's TCP handle behind a net.Server; it can travel over IPC and be listened on again. */
type TcpHandle = { fd: number; close(): void };

interface Port {
  port: number;
  server?: net.Server;
  /** The keeper holds a duplicate of the socket. */
  held: boolean;
  /** Connections accepted while idle or waking, waiting for the postmaster. */
  pending: net.Socket[];
  waking?: Promise<void>;
  /** A listen in progress (one at a time per port, or two servers would accept). */
  opening?: Promise<void>;
}

function handleOf(server: net.Server): TcpHandle {
  return (server as unknown as { _handle: TcpHandle })._handle;
}

export class Listeners {
  private keeper?: ChildProcess;
  private ports = new Map<number, Port>();
  private replies = new Map<number, { resolve: (r: { ok: boolean; handle?: TcpHandle }) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closed = false;

  constructor(
    /** Starts the endpoint's compute on `port` (single flight per port); resolves once it serves. */
    private readonly onWake: (port: number) => Promise<void>,
    private readonly warn: (message: string) => void,
  ) {}

  private startKeeper(): ChildProcess {
    const keeper = fork(KEEPER, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
    keeper.on('message', (message: { id: number; ok: boolean }, handle?: TcpHandle) => {
      const reply = this.replies.get(message.id);
      this.replies.delete(message.id);
      reply?.resolve({ ok: message.ok, handle });
    });
    keeper.once('exit', (code, signal) => {
      if (this.keeper === keeper) this.keeper = undefined;
      for (const port of this.ports.values()) port.held = false;
      for (const reply of this.replies.values()) reply.reject(new Error(`the listener keeper exited (${signal ?? code})`));
      this.replies.clear();
      if (!this.closed) this.warn(`the listener keeper exited (${signal ?? code}); sockets are re-created as needed`);
    });
    return keeper;
  }

  private request(cmd: 'hold' | 'give' | 'drop', port: number, handle?: TcpHandle): Promise<{ ok: boolean; handle?: TcpHandle }> {
    this.keeper ??= this.startKeeper();
    const keeper = this.keeper;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(id);
        reject(new Error(`the listener keeper did not answer ${cmd} for port ${port} within ${KEEPER_DEADLINE_MS} ms`));
      }, KEEPER_DEADLINE_MS);
      this.replies.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      keeper.send({ cmd, port, id }, handle as never);
    });
  }

  /** Whether the engine itself accepts on `port` now (the endpoint is idle or waking). */
  isAccepting(port: number): boolean {
    return Boolean(this.ports.get(port)?.server);
  }

  /** Ports the engine holds a socket for (accepting or handed to a postmaster). */
  known(): number[] {
    return [...this.ports.keys()];
  }

  /**
   * Makes the engine accept on `port`: takes the socket back from the keeper, or binds it when
   * there is none (first use, after an engine restart, or after a postmaster bound it itself).
   */
  async listen(port: number): Promise<void> {
    if (this.closed) return;
    let entry = this.ports.get(port);
    if (entry?.server) return;
    if (!entry) {
      entry = { port, held: false, pending: [] };
      this.ports.set(port, entry);
    }
    const current = entry;
    current.opening ??= this.open(current).finally(() => {
      current.opening = undefined;
    });
    return current.opening;
  }

  private async open(current: Port): Promise<void> {
    const port = current.port;
    let handle: TcpHandle | undefined;
    if (current.held) {
      const reply = await this.request('give', port).catch(() => ({ ok: false, handle: undefined }));
      handle = reply.ok ? reply.handle : undefined;
      if (!handle) current.held = false;
    }
    if (current.server) return;
    const server = net.createServer({ pauseOnConnect: true }, (socket) => this.accepted(current, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (handle) server.listen(handle, () => resolve());
      else server.listen({ port, host: HOST }, () => resolve());
    });
    server.on('error', (error) => this.warn(`endpoint port ${port}: ${error.message}`));
    if (this.closed || this.ports.get(port) !== current) {
      // Released (or the engine closed) meanwhile.
      server.close();
      return;
    }
    current.server = server;
    if (!current.held) {
      await this.request('hold', port, handleOf(server));
      current.held = true;
    }
  }

  /** The descriptor of the engine's copy of the socket, for a postmaster to inherit; null when the engine does not accept on it. */
  fd(port: number): number | null {
    const server = this.ports.get(port)?.server;
    return server ? handleOf(server).fd : null;
  }

  /**
   * After a postmaster was spawned with the socket: the engine stops accepting (the keeper and the
   * postmaster keep it open). With `direct`, the postmaster binds the port itself, so every copy
   * is closed first (call this before spawning then).
   */
  async handOver(port: number, direct = false): Promise<void> {
    const entry = this.ports.get(port);
    if (!entry) return;
    const server = entry.server;
    entry.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (direct && entry.held) {
      entry.held = false;
      await this.request('drop', port).catch(() => {});
    }
  }

  /** Closes the port for good (its endpoint is gone): refuses what waits, drops the keeper's copy. */
  async release(port: number): Promise<void> {
    const entry = this.ports.get(port);
    if (!entry) return;
    this.ports.delete(port);
    for (const socket of entry.pending.splice(0)) socket.destroy();
    if (entry.server) await new Promise<void>((resolve) => entry.server!.close(() => resolve()));
    if (entry.held) await this.request('drop', port).catch(() => {});
  }

  private accepted(entry: Port, socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    entry.pending.push(socket);
    entry.waking ??= this.wake(entry).finally(() => {
      entry.waking = undefined;
    });
  }

  private async wake(entry: Port): Promise<void> {
    try {
      await this.onWake(entry.port);
    } catch (error) {
      this.warn(`endpoint on port ${entry.port} could not wake: ${(error as Error).message}`);
      for (const socket of entry.pending.splice(0)) socket.destroy();
      return;
    }
    // The postmaster serves now; the engine must not accept its own forwarded connections.
    if (entry.server) await this.handOver(entry.port);
    for (const socket of entry.pending.splice(0)) forward(socket, entry.port);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const port of [...this.ports.keys()]) {
      const entry = this.ports.get(port)!;
      this.ports.delete(port);
      for (const socket of entry.pending.splice(0)) socket.destroy();
      if (entry.server) await new Promise<void>((resolve) => entry.server!.close(() => resolve()));
    }
    const keeper = this.keeper;
    this.keeper = undefined;
    if (keeper && keeper.exitCode === null) {
      const exited = new Promise((resolve) => keeper.once('exit', resolve));
      keeper.disconnect();
      await exited;
    }
  }
}

/** Pipes a connection the engine accepted to the postmaster now serving the port. */
function forward(client: net.Socket, port: number): void {
  if (client.destroyed) return;
  const upstream = net.connect({ port, host: HOST });
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
  client.pipe(upstream).pipe(client);
  client.resume();
}
