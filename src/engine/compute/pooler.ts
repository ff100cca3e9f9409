/**
 * @module Pooled connections: PgBouncer in front of an endpoint, as Neon's `-pooler` hosts.
 *
 * Where Debian's `pgbouncer` is installed, every endpoint gets a second loopback port (its
 * `pooler_host`), owned by the engine like the endpoint's own (listeners.ts). The first
 * connection to it starts one PgBouncer for the endpoint, which inherits that socket through
 * systemd-style socket activation (`LISTEN_FDS`), so it accepts on it directly and nothing is
 * refused meanwhile. It runs Neon's settings (transaction mode, up to 10,000 clients, a pool of
 * 90% of the compute's `max_connections`) and connects to the endpoint's port like any client,
 * so it wakes a suspended compute; its idle server connections close after a few seconds, so the
 * compute can still scale to zero.
 *
 * Authentication: clients log in to PgBouncer with SCRAM against the roles' SCRAM secrets, copied
 * from the compute's `pg_authid` into `userlist.txt` (mode 0600, no plaintext password on disk),
 * and PgBouncer logs in to PostgreSQL with the keys of that exchange (SCRAM pass-through). The
 * list is written at each PgBouncer start and again (PgBouncer reloads it) after the API changes
 * a role's password. Files live in `<home>/poolers/<endpoint-id>/`; PgBouncer runs as the
 * postmasters' OS user. Without pgbouncer, `pooler_host` is the endpoint's own host.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EndpointRecord } from '../catalog/types.ts';
import type { Engine } from '../engine.ts';
import { ownedDir, ownFile, postgresUser } from '../clusters/os-user.ts';
import { computeSize } from './size.ts';

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

/** PgBouncer's path (`ARBOR_PGBOUNCER` first), or null when it is not installed. */
export function findPgbouncer(): string | null {
  const given = process.env.ARBOR_PGBOUNCER;
  if (given) return existsSync(given) ? given : null;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export class Poolers {
  readonly binary = findPgbouncer();
  private running = new Map<string, ChildProcess>();
  private starting = new Map<string, Promise<void>>();

  constructor(private readonly engine: Engine) {}

  private dir(endpointId: string): string {
    return join(this.engine.home, 'poolers', endpointId);
  }

  /** Gives the endpoint its pooler port (where PgBouncer is installed) and accepts on it. */
  async ensurePort(endpoint: EndpointRecord): Promise<void> {
    if (!this.binary) return;
    endpoint.pooler_port ??= await this.engine.allocatePort([endpoint.port]);
    await this.engine.listeners.listen(endpoint.pooler_port);
  }

  /** The endpoint whose pooler port this is, if any. */
  endpointOf(port: number): EndpointRecord | undefined {
    return this.engine.data.endpoints.find((e) => e.pooler_port === port);
  }

  /** A client connected to the endpoint's pooler port while no PgBouncer serves it: start one (once). */
  start(endpoint: EndpointRecord): Promise<void> {
    let work = this.starting.get(endpoint.id);
    if (!work) {
      work = this.startNow(endpoint).finally(() => this.starting.delete(endpoint.id));
      this.starting.set(endpoint.id, work);
    }
    return work;
  }

  private async startNow(endpoint: EndpointRecord): Promise<void> {
    const engine = this.engine;
    const port = endpoint.pooler_port;
    if (!this.binary || !port || this.running.has(endpoint.id)) return;
    const dir = this.dir(endpoint.id);
    ownedDir(join(engine.home, 'poolers'), 0o711);
    ownedDir(dir, 0o700);
    await this.writeUserlist(endpoint);
    const poolSize = Math.max(1, Math.floor(computeSize(endpoint.autoscaling_limit_min_cu, endpoint.autoscaling_limit_max_cu).maxConnections * 0.9));
    const ini = [
      '; Written by the Arbor engine on every start of this pooler.',
      '[databases]',
      // Every database, as the client's own user (which SCRAM pass-through needs).
      `* = host=127.0.0.1 port=${endpoint.port}`,
      '[pgbouncer]',
      // The socket comes from the engine (LISTEN_FDS); nothing else is bound.
      "listen_addr = ''",
      `listen_port = ${port}`,
      "unix_socket_dir = ''",
      'pool_mode = transaction',
      'max_client_conn = 10000',
      `default_pool_size = ${poolSize}`,
      'server_idle_timeout = 5',
      'auth_type = scram-sha-256',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'client_tls_sslmode = allow',
      `client_tls_cert_file = ${engine.tls.cert}`,
      `client_tls_key_file = ${engine.tls.key}`,
      'server_tls_sslmode = disable',
      'ignore_startup_parameters = extra_float_digits,options',
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n');
    const iniPath = join(dir, 'pgbouncer.ini');
    await fs.writeFile(iniPath, ini);
    ownFile(iniPath, 0o600);
    const fd = engine.listeners.fd(port);
    if (fd === null) throw new Error(`the engine does not hold pooler port ${port}`);
    const log = openSync(join(engine.home, 'logs', `${endpoint.id}-pooler.log`), 'a', 0o600);
    const user = postgresUser();
    let child: ChildProcess;
    try {
      // LISTEN_PID must be PgBouncer's own pid: the shell sets it to its own, then execs.
      child = spawn('/bin/sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$1"', this.binary, iniPath], {
        stdio: ['ignore', log, log, fd],
        uid: user?.uid,
        gid: user?.gid,
        env: { PATH: '/usr/bin:/bin' },
      });
    } finally {
      closeSync(log);
    }
    this.running.set(endpoint.id, child);
    child.once('exit', () => {
      if (this.running.get(endpoint.id) !== child) return;
      this.running.delete(endpoint.id);
      // Back to the engine: the next client starts it again.
      if (this.endpointOf(port)) void engine.listeners.listen(port).catch((e) => engine.log.warn(`pooler port ${port}: ${(e as Error).message}`));
    });
    // Not awaited: closing the engine's server waits for the connections it accepted, which wait for this start.
    void engine.listeners.handOver(port);
  }

  /**
   * Copies the SCRAM secrets of the branch's login roles from the compute into the pooler's
   * userlist (and has a running PgBouncer reload it).
   */
  async writeUserlist(endpoint: EndpointRecord): Promise<void> {
    const engine = this.engine;
    const branch = engine.branch(endpoint.project_id, endpoint.branch_id);
    const rows = await engine.withAdmin(branch, async (admin) =>
      (await admin.query(`SELECT rolname, rolpassword FROM pg_authid WHERE rolcanlogin AND rolpassword LIKE 'SCRAM-SHA-256$%' ORDER BY 1`)).rows as { rolname: string; rolpassword: string }[],
    );
    const quote = (v: string) => `"${v.replace(/"/g, '""')}"`;
    const path = join(this.dir(endpoint.id), 'userlist.txt');
    const tmp = `${path}.tmp`;
    await fs.writeFile(tmp, rows.map((r) => `${quote(r.rolname)} ${quote(r.rolpassword)}\n`).join(''), { mode: 0o600 });
    ownFile(tmp, 0o600);
    await fs.rename(tmp, path);
    this.running.get(endpoint.id)?.kill('SIGHUP');
  }

  /** After the API changed roles of the branch: running poolers of its endpoints reload their userlist. */
  async rolesChanged(branchId: string): Promise<void> {
    for (const e of this.engine.endpointsOf(branchId)) {
      if (this.running.has(e.id)) await this.writeUserlist(e).catch((error) => this.engine.log.warn(`pooler of ${e.id}: ${(error as Error).message}`));
    }
  }

  /** Stops poolers whose endpoint is gone (called with the port sweep). */
  sweep(): void {
    for (const [id, child] of this.running) {
      if (this.engine.data.endpoints.some((e) => e.id === id)) continue;
      this.running.delete(id);
      child.kill('SIGTERM');
      void fs.rm(this.dir(id), { recursive: true, force: true }).catch((e) => this.engine.log.warn(`pooler of ${id}: ${(e as Error).message}`));
    }
  }

  /**
   * On engine start: a PgBouncer a previous engine process left is stopped, since it holds the
   * port the engine listens on (its pooled sessions end; the next client starts a new one).
   */
  async stopLeftovers(): Promise<void> {
    const root = join(this.engine.home, 'poolers');
    for (const id of existsSync(root) ? readdirSync(root) : []) {
      const pidFile = join(root, id, 'pgbouncer.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
      const isPgbouncer = () => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('pgbouncer');
        } catch {
          return false;
        }
      };
      if (!(pid > 0) || !isPgbouncer()) continue;
      process.kill(pid, 'SIGKILL');
      while (isPgbouncer()) await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    for (const child of this.running.values()) child.kill('SIGTERM');
    this.running.clear();
  }
}
