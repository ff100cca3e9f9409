/**
 * Wake on connect: connect + first query (`SELECT 1`, node-postgres, TLS + SCRAM as the returned
 * URI says) on an idle endpoint, against the same on an active endpoint, and against a bare
 * postmaster start on a cluster of the same size (spawn `postgres`, wait for `ready`, connect +
 * query; no engine in between, TCP, no TLS) — what a wake cannot beat.
 *
 * Run: npm run bench:wake -- [--runs 30]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { binEnv, initCluster } from '../src/engine/clusters/cluster.ts';
import { postgresUser } from '../src/engine/clusters/os-user.ts';
import { stopPostmaster } from '../src/engine/compute/postmaster.ts';
import { freePort } from '../src/engine/compute/computes.ts';
import { numberOption, startBenchEngine } from './support.ts';

const runs = numberOption('runs', 30);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
const row = (name: string, xs: number[]) =>
  `| ${name} | ${xs.length} | ${Math.min(...xs).toFixed(1)} | ${pct(xs, 50).toFixed(1)} | ${pct(xs, 90).toFixed(1)} | ${pct(xs, 99).toFixed(1)} | ${Math.max(...xs).toFixed(1)} |`;

async function connectAndQuery(config: pg.ClientConfig): Promise<number> {
  const t0 = performance.now();
  const client = new pg.Client(config);
  await client.connect();
  await client.query('SELECT 1');
  const ms = performance.now() - t0;
  await client.end();
  return ms;
}

const bench = await startBenchEngine('wake', { minSuspendSeconds: 1 });
const { home, api, settle } = bench;
const engine = bench.server.engine;
engine.spares.setEnabled(false);

try {
  const { data } = await api.createProject({ project: { name: 'wake', default_endpoint_settings: { suspend_timeout_seconds: -1 } } });
  const projectId = data.project.id;
  await settle(projectId);
  const uri = data.connection_uris![0].connection_uri;
  const endpointId = data.endpoints[0].id;

  // Active endpoint: connect + query.
  await connectAndQuery({ connectionString: uri });
  const active: number[] = [];
  for (let i = 0; i < runs; i++) active.push(await connectAndQuery({ connectionString: uri }));

  // Idle endpoint: suspend through the API, then connect + query (the wake is inside).
  const wake: number[] = [];
  for (let i = 0; i < runs; i++) {
    await api.suspendProjectEndpoint(projectId, endpointId);
    await settle(projectId);
    if (engine.computes.isRunning(data.branch.id)) throw new Error('not suspended');
    await new Promise((r) => setTimeout(r, 50));
    wake.push(await connectAndQuery({ connectionString: uri }));
  }

  // Bare postmaster on a fresh cluster (as small as a new branch), no engine.
  const project = engine.project(projectId);
  const bins = engine.binaries(project.pg_version);
  const dataDir = join(home, 'bare-cluster');
  const user = postgresUser();
  const password = 'bench-password';
  await initCluster(bins, dataDir, password, join(home, 'run'));
  const native: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const port = await freePort();
    const t0 = performance.now();
    const child = spawn(bins.postgres, ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=`, '-c', 'shared_buffers=16MB', '-c', 'max_connections=104'], {
      env: binEnv(bins),
      uid: user?.uid,
      gid: user?.gid,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let exited = false;
    let log = '';
    child.stderr!.on('data', (d) => (log += d));
    child.once('exit', () => (exited = true));
    for (;;) {
      if (exited) throw new Error(`the bare postmaster exited: ${log}`);
      let ready = false;
      try {
        ready = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[7]?.trim() === 'ready';
      } catch {
        // not yet
      }
      if (ready) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'cloud_admin', password, database: 'postgres' });
    await client.connect();
    await client.query('SELECT 1');
    const ms = performance.now() - t0;
    await client.end();
    if (i > 0) native.push(ms);
    await stopPostmaster(child.pid!);
    await new Promise((r) => net.createServer().listen(port, '127.0.0.1', function (this: net.Server) { this.close(r); }));
  }

  console.log(`# wake on connect — ${new Date().toISOString()} — shim: ${engine.computes['ports']?.shim ? 'yes' : 'no'}`);
  console.log('| case | n | min ms | p50 ms | p90 ms | p99 ms | max ms |');
  console.log('|---|---|---|---|---|---|---|');
  console.log(row('idle endpoint: connect + first query (wake)', wake));
  console.log(row('active endpoint: connect + query', active));
  console.log(row('bare postmaster: spawn → ready → connect + query', native));
  console.log(`\nwake p50 − active p50 = ${(pct(wake, 50) - pct(active, 50)).toFixed(1)} ms; wake p50 ÷ bare start p50 = ${(pct(wake, 50) / pct(native, 50)).toFixed(2)}`);
} finally {
  await bench.close();
}
