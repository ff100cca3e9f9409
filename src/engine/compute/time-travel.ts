/**
 * @module Time travel: connections whose options say `neon_timestamp:<t>` or `neon_lsn:<lsn>`
 * (as `neonctl connection-string <branch>@<point>` builds them, for Neon's proxy) are served by an
 * ephemeral read-only compute at that point of the branch's history.
 *
 * The backend that received such a connection (its client authenticated against the branch)
 * asks here, over a unix socket in the engine's private socket directory, naming its data
 * directory and the option (listen-shim.c). The engine rebuilds the branch as of that point
 * (history/point-in-time.ts) into `clusters/<branch>.tt-…`, starts it read-only on the private
 * socket only (trusted there: only the engine and the postgres OS user reach that directory) and
 * answers its socket's path; the backend relays its client to a session there. Computes are
 * shared by connections to the same point and stopped (and removed) once no session used them
 * for a while. After a crash their directories are unknown to the catalog and removed on start.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import { basename, join } from 'node:path';
import { removeCluster, uniqueName } from '../clusters/cluster.ts';
import { ownFile } from '../clusters/os-user.ts';
import type { Engine } from '../engine.ts';
import { checkPoint, type HistoryPoint } from '../history/point-in-time.ts';
import { startAtPoint } from './ephemeral.ts';
import { stopPostmaster } from './postmaster.ts';

const POINT_FIELDS = { lsn: 'neon_lsn', timestamp: 'neon_timestamp', whose: "the branch's" };
const OWN_PROCESS = /^postgres: (checkpointer|background writer|walwriter|autovacuum|logical replication|archiver|startup|walsummarizer|io worker)/;

interface Ephemeral {
  key: string;
  dir: string;
  socket: string;
  pid: number;
  idleSince: number;
}

export class TimeTravel {
  private server?: net.Server;
  private computes = new Map<string, Promise<Ephemeral>>();
  private timer?: NodeJS.Timeout;
  private closed = false;
  private removing = 0;

  constructor(
    private readonly engine: Engine,
    /** How long a compute with no session stays up. */
    private readonly idleMs: number,
  ) {}

  /** The unix socket backends ask on (passed to postmasters as ARBOR_TIME_TRAVEL_SOCKET). */
  get socketPath(): string {
    return join(this.engine.computes.socketDir, '.arbor-time-travel');
  }

  async start(): Promise<void> {
    await fs.rm(this.socketPath, { force: true });
    const server = net.createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    ownFile(this.socketPath, 0o600);
    this.server = server;
    this.timer = setInterval(() => void this.reap().catch((e) => this.engine.log.warn(`time travel: ${(e as Error).message}`)), Math.min(1000, this.idleMs));
    this.timer.unref();
  }

  private serve(socket: net.Socket): void {
    let input = '';
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      input += chunk;
      const lines = input.split('\n');
      if (lines.length < 3) return;
      socket.removeAllListeners('data');
      this.answer(lines[0], lines[1]).then(
        (path) => socket.end(`OK ${path}\n`),
        (error: Error) => socket.end(`ERR ${error.message.replace(/\s+/g, ' ')}\n`),
      );
    });
  }

  private async answer(dataDir: string, option: string): Promise<string> {
    if (this.closed) throw new Error('the Arbor engine is stopping');
    const branch = this.engine.data.branches.find((b) => this.engine.computes.dataDir(b.id) === dataDir || b.id === basename(dataDir));
    if (!branch) throw new Error('time travel: this compute belongs to no branch');
    const [kind, ...rest] = option.split(':');
    const value = rest.join(':');
    const point: HistoryPoint = kind === 'neon_lsn' ? { lsn: value } : { timestamp: value };
    if (point.lsn && !/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i.test(point.lsn)) throw new Error(`time travel: neon_lsn ${value} is not an LSN like 0/1DE2850`);
    if (point.timestamp && Number.isNaN(Date.parse(point.timestamp))) throw new Error(`time travel: neon_timestamp ${value} is not a timestamp like 2024-01-01T00:00:00Z`);
    const key = `${branch.id} ${kind} ${point.lsn?.toUpperCase() ?? new Date(point.timestamp!).toISOString()}`;
    let compute = this.computes.get(key);
    if (!compute) {
      compute = this.make(key, branch.id, point);
      this.computes.set(key, compute);
      compute.catch(() => this.computes.delete(key));
    }
    const ready = await compute;
    ready.idleSince = Date.now();
    return ready.socket;
  }

  private async make(key: string, branchId: string, point: HistoryPoint): Promise<Ephemeral> {
    const engine = this.engine;
    const branch = engine.data.branches.find((b) => b.id === branchId)!;
    try {
      await engine.history.quiesce(branch.id);
      await checkPoint(engine, branch, point, POINT_FIELDS, false);
    } catch (error) {
      throw new Error(`time travel: ${(error as Error).message}`);
    }
    const dir = `${engine.computes.dataDir(branch.id)}.${uniqueName('tt')}`;
    // Sessions come only from backends of the branch (their clients authenticated there).
    const { port, pid } = await startAtPoint(engine, branch, point, dir, POINT_FIELDS, { maxConnections: 20, trustLocal: true });
    return { key, dir, socket: join(engine.computes.socketDir, `.s.PGSQL.${port}`), pid, idleSince: Date.now() };
  }

  /** Computes nobody used for `idleMs` are stopped and removed. */
  private async reap(): Promise<void> {
    for (const [key, pending] of this.computes) {
      const compute = await pending.catch(() => undefined);
      if (!compute) continue;
      if ((await sessions(compute.pid)) > 0) compute.idleSince = Date.now();
      else if (Date.now() - compute.idleSince >= this.idleMs && this.computes.get(key) === pending) {
        this.computes.delete(key);
        await this.remove(compute);
      }
    }
  }

  private async remove(compute: Ephemeral): Promise<void> {
    this.removing += 1;
    try {
      await stopPostmaster(compute.pid);
      await removeCluster(compute.dir);
    } finally {
      this.removing -= 1;
    }
  }

  /** How many time travel computes run or are being removed (tests). */
  async running(): Promise<number> {
    return (await Promise.allSettled([...this.computes.values()])).filter((r) => r.status === 'fulfilled').length + this.removing;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    const all = [...this.computes.values()];
    this.computes.clear();
    for (const result of await Promise.allSettled(all)) if (result.status === 'fulfilled') await this.remove(result.value);
    await fs.rm(this.socketPath, { force: true });
  }
}

/** Sessions on a time travel compute (all come over the unix socket). */
async function sessions(pid: number): Promise<number> {
  let children: string[];
  try {
    children = (await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).split(' ').filter(Boolean);
  } catch {
    return 0;
  }
  let count = 0;
  for (const child of children) {
    try {
      const title = (await fs.readFile(`/proc/${child}/cmdline`, 'utf8')).replace(/\0+$/, '').replace(/\0/g, ' ');
      if (title && !OWN_PROCESS.test(title)) count += 1;
    } catch {
      // exited
    }
  }
  return count;
}

