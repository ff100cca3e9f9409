/**
 * The platform's API under load (issue #15): a platform process with an app of 10 environments
 * (each a new project on the engine, all ready), loaded with autocannon at 200 concurrent
 * connections for ~10 s per route: the environments list, one environment, the apps, the audit
 * log, and one write (creating an API token). Side by side in one run: the embedded store, and
 * DATABASE_URL on a PostgreSQL the bench starts (an engine project that never suspends) with one
 * and with two platform processes (connections split between them). Latencies are every
 * response's, from autocannon's response events; req/s counts every answer.
 *
 * Run: npm run bench:api -- [--duration 10] [--connections 200] [--environments 10]
 *        [--stores embedded,postgres,postgres×2] [--routes list,get,apps,audit,token]
 *        [--profile <dir>]   (the first store's first platform process under node --cpu-prof)
 *        [--baseline <dir>]  (also, before each store's run, the platform of another checkout —
 *                             e.g. `git archive <commit> | tar -x -C <dir>` with node_modules linked — side by side)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { numberOption, option, startBenchEngine } from './support.ts';

const duration = numberOption('duration', 10);
const connections = numberOption('connections', 200);
const environmentCount = numberOption('environments', 10);
const stores = option('stores', 'embedded,postgres,postgres×2').split(',');
const routeFilter = option('routes', 'list,get,apps,audit,token').split(',');
const profileDir = option('profile', '');
const baselineDir = option('baseline', '');

interface Route {
  key: string;
  label: string;
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
}

const ROUTES: Route[] = [
  { key: 'list', label: 'GET /apps/bench/environments', method: 'GET', path: '/apps/bench/environments' },
  { key: 'get', label: 'GET /apps/bench/environments/env0', method: 'GET', path: '/apps/bench/environments/env0' },
  { key: 'apps', label: 'GET /apps', method: 'GET', path: '/apps' },
  { key: 'audit', label: 'GET /audit', method: 'GET', path: '/audit' },
  { key: 'token', label: 'POST /tokens (viewer, app bench)', method: 'POST', path: '/tokens', body: { name: 'bench-load', role: 'viewer', app: 'bench' } },
].filter((r) => routeFilter.includes(r.key)) as Route[];

interface Row {
  store: string;
  route: string;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  non2xx: number;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** A platform process (bench/api-server.ts); resolves with its URL (and token, when it set up the app). */
function startServer(env: Record<string, string>, profile: boolean, cwd?: string): Promise<{ child: ChildProcess; url: string; token?: string }> {
  const flags = profile ? ['--cpu-prof', '--cpu-prof-dir', resolve(profileDir)] : [];
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', 'bench/api-server.ts'], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolveReady, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const line = /^READY (.*)$/m.exec(out);
      if (line) resolveReady({ child, ...JSON.parse(line[1]) });
    });
    child.once('exit', (code) => reject(new Error(`the platform process exited with ${code} before it was ready`)));
  });
}

function stopServer(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null) return r();
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
}

/** One route at `connections` split over the processes' URLs, all at once. */
async function load(urls: string[], token: string, route: Route): Promise<Omit<Row, 'store' | 'route'>> {
  const latencies: number[] = [];
  let non2xx = 0;
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(route.body ? { 'content-type': 'application/json' } : {}) };
  const runs = urls.map((url, i) => {
    const share = Math.floor(connections / urls.length) + (i < connections % urls.length ? 1 : 0);
    const instance = autocannon({ url: `${url}/api/v1${route.path}`, connections: share, duration, method: route.method, headers, body: route.body ? JSON.stringify(route.body) : undefined, timeout: 30 });
    instance.on('response', (_client, status, _bytes, ms) => {
      latencies.push(ms);
      if (status < 200 || status >= 300) non2xx++;
    });
    return instance;
  });
  const results = await Promise.all(runs);
  latencies.sort((a, b) => a - b);
  const seconds = Math.max(...results.map((r) => r.duration));
  return {
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    errors: results.reduce((n, r) => n + r.errors, 0),
    non2xx,
  };
}

/** A short warm-up (JIT, caches): 200 requests of the route, 20 at a time. */
async function warmUp(url: string, token: string, route: Route): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${url}/api/v1${route.path}`, { method: route.method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: route.body ? JSON.stringify(route.body) : undefined }).then((r) => r.arrayBuffer()),
      ),
    );
  }
}

process.removeAllListeners('warning');
const engine = await startBenchEngine('api');
const rows: Row[] = [];
const loads: string[] = [];
const started = new Date();
let profiled = false;
try {
  let postgresUrl: string | undefined;
  const variants = baselineDir ? [{ label: ' (baseline)', cwd: resolve(baselineDir) }, { label: '', cwd: undefined }] : [{ label: '', cwd: undefined }];
  for (const store of stores) {
    for (const variant of variants) {
      const processes = store === 'postgres×2' ? 2 : 1;
      let databaseUrl = '';
      if (store.startsWith('postgres')) {
        if (!postgresUrl) {
          const { data } = await engine.api.createProject({ project: { name: 'arbor-metadata', default_endpoint_settings: { suspend_timeout_seconds: -1 } } });
          await engine.settle(data.project.id);
          postgresUrl = data.connection_uris![0].connection_uri;
        }
        // A database of its own per case, on the same server.
        const db = `arbor_${processes}_${variant.cwd ? 'baseline' : 'current'}`;
        const pg = (await import('pg')).default;
        const admin = new pg.Client({ connectionString: postgresUrl });
        await admin.connect();
        await admin.query(`CREATE DATABASE ${db}`);
        await admin.end();
        const url = new URL(postgresUrl);
        url.pathname = `/${db}`;
        databaseUrl = url.toString();
      } else if (store !== 'embedded') throw new Error(`--stores: embedded, postgres or postgres×2, not ${store}`);
      const home = mkdtempSync(join(tmpdir(), 'arbor-bench-api-'));
      const common = { ENGINE_URL: engine.server.url, ENGINE_KEY: engine.server.apiKey, ARBOR_MASTER_KEY: randomBytes(32).toString('base64'), DATABASE_URL: databaseUrl };
      const children: ChildProcess[] = [];
      const name = `${processes > 1 ? `postgres, ${processes} processes` : store}${variant.label}`;
      try {
        const t0 = performance.now();
        const first = await startServer({ ...common, BENCH_HOME: join(home, 'p0'), BENCH_ENVIRONMENTS: String(environmentCount) }, !!profileDir && !profiled, variant.cwd);
        profiled = true;
        children.push(first.child);
        const urls = [first.url];
        for (let i = 1; i < processes; i++) {
          const other = await startServer({ ...common, BENCH_HOME: join(home, `p${i}`) }, false, variant.cwd);
          children.push(other.child);
          urls.push(other.url);
        }
        process.stderr.write(`${name}: ${processes} platform process(es), app with ${environmentCount} ready environments in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
        for (const route of ROUTES) {
          for (const url of urls) await warmUp(url, first.token!, route);
          loads.push(loadavg()[0].toFixed(2));
          const result = await load(urls, first.token!, route);
          rows.push({ store: name, route: route.label, ...result });
          process.stderr.write(`  ${route.label}: ${result.rps.toFixed(0)} req/s, p95 ${Math.round(result.p95)} ms\n`);
        }
        // Requests autocannon gave up on at its end are still being answered: let them finish
        // before the store closes (else they end as internal errors in the log).
        await new Promise((r) => setTimeout(r, 2000));
      } finally {
        for (const child of children) await stopServer(child);
        rmSync(home, { recursive: true, force: true });
      }
    }
  }
} finally {
  await engine.close();
}

const cpu = cpus();
console.log(`# API under load — ${started.toISOString()} — ${cpu.length} × ${cpu[0]?.model.trim()}, Node ${process.version}`);
console.log(`${connections} connections, ${duration} s per route, an app with ${environmentCount} environments; 1-minute load average before each route: ${loads.join(', ')}`);
console.log('');
console.log('| store | route | req/s | p50 ms | p95 ms | p99 ms | mean ms (connections ÷ req/s) | errors | non-2xx |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.store} | ${r.route} | ${r.rps.toFixed(0)} | ${Math.round(r.p50)} | ${Math.round(r.p95)} | ${Math.round(r.p99)} | ${Math.round((connections / r.rps) * 1000)} | ${r.errors} | ${r.non2xx} |`);
console.log('');
console.log('Percentiles are of the responses that came back; the requests still in flight when the time is up (one per connection) are not among them, so when req/s × duration is not far above the connections they understate. The mean by Little\'s law (every connection always has a request out) counts them.');
console.log('Goal (#15): GET /apps/{app}/environments with 10 environments on the embedded store ≥ 1,000 req/s and p95 ≤ 300 ms at 200 connections, no errors.');
