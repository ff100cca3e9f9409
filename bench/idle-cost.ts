/**
 * Idle cost: N branches (default 50) each with a read_write endpoint at the smallest size
 * (0.25 CU), all suspended: how many processes run, what the engine and its keeper use, that
 * every port still listens; then the memory of one woken endpoint serving one client.
 *
 * Run: npm run bench:idle -- [--branches 50]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { childrenOf, keepersOf, postmastersUnder } from '../src/engine/test-process.ts';
import { sleep } from '../src/engine/test-support.ts';
import { numberOption, startBenchEngine } from './support.ts';

const count = numberOption('branches', 50);

/** RSS and PSS in MB of a process (smaps_rollup). */
function memory(pid: number): { rss: number; pss: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rss: kb('Rss') / 1024, pss: kb('Pss') / 1024 };
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

const bench = await startBenchEngine('idle', { minSuspendSeconds: 1, activityPollMs: 1000 });
const { home, api, settle } = bench;
const engine = bench.server.engine;
engine.spares.setEnabled(false);

try {
  const t0 = Date.now();
  const { data } = await api.createProject({ project: { name: 'idle', default_endpoint_settings: { suspend_timeout_seconds: 1 } } });
  const projectId = data.project.id;
  await settle(projectId);
  const uris: string[] = [];
  for (let i = 0; i < count; i++) {
    const created = (await api.createProjectBranch(projectId, { branch: { name: `preview-${i}` }, endpoints: [{ type: 'read_write' as never }] })).data;
    uris.push(created.connection_uris![0].connection_uri);
    await settle(projectId);
  }
  const endpoints = () => engine.data.endpoints;
  while (endpoints().some((e) => e.current_state !== 'idle')) await sleep(100);
  const madeIn = (Date.now() - t0) / 1000;
  await sleep(2000);

  const postgres = postmastersUnder(join(home, 'clusters'));
  const keeper = keepersOf(process.pid)[0];
  const listening = execFileSync('ss', ['-Hltn'], { encoding: 'utf8' });
  const ports = endpoints().map((e) => e.port);
  const open = ports.filter((p) => listening.includes(`127.0.0.1:${p} `)).length;
  const cpu0 = cpuSeconds(process.pid) + cpuSeconds(keeper);
  await sleep(10_000);
  const cpu = (cpuSeconds(process.pid) + cpuSeconds(keeper) - cpu0) / 10;
  const engineMem = memory(process.pid);
  const keeperMem = memory(keeper);
  const disk = execFileSync('du', ['-sm', join(home, 'clusters')], { encoding: 'utf8' }).split('\t')[0];

  // One endpoint woken by a client, which stays connected.
  const client = new pg.Client({ connectionString: uris[0] });
  const w0 = performance.now();
  await client.connect();
  await client.query('SELECT count(*) FROM pg_class');
  const wakeMs = performance.now() - w0;
  const branchId = endpoints().find((e) => uris[0].includes(`:${e.port}/`))!.branch_id;
  await sleep(500);
  const pm = engine.computes.pidOf(branchId)!;
  const procs = [pm, ...childrenOf(pm)];
  const active = procs.map(memory).reduce((a, m) => ({ rss: a.rss + m.rss, pss: a.pss + m.pss }), { rss: 0, pss: 0 });
  const settings = (await client.query(`SELECT current_setting('shared_buffers') AS sb, current_setting('max_connections') AS mc`)).rows[0];
  await client.end();

  console.log(`# idle cost — ${new Date().toISOString()} — ${count} branches, each with a read_write endpoint at 0.25 CU, suspend timeout 1 s`);
  console.log('| measure | value |');
  console.log('|---|---|');
  console.log(`| branches + endpoints made and all suspended in | ${madeIn.toFixed(0)} s |`);
  console.log(`| postgres processes running for the ${count} idle endpoints (+ main, idle too) | ${postgres.length} |`);
  console.log(`| endpoint ports still listening (held by the engine) | ${open} of ${ports.length} |`);
  console.log(`| engine process (this benchmark hosts it: API server, catalog, listeners) | RSS ${engineMem.rss.toFixed(0)} MB, PSS ${engineMem.pss.toFixed(0)} MB |`);
  console.log(`| listener keeper process (one for all endpoints) | RSS ${keeperMem.rss.toFixed(0)} MB, PSS ${keeperMem.pss.toFixed(0)} MB |`);
  console.log(`| CPU while all idle (engine + keeper, 1 s activity poll) | ${(cpu * 100).toFixed(2)} % of one core |`);
  console.log(`| disk (clusters/) | ${disk} MB |`);
  console.log(`| one endpoint woken by a client: connect + first query | ${wakeMs.toFixed(0)} ms |`);
  console.log(`| that active endpoint (0.25 CU: shared_buffers ${settings.sb}, max_connections ${settings.mc}) | ${procs.length} processes, RSS ${active.rss.toFixed(0)} MB, PSS ${active.pss.toFixed(0)} MB |`);
} finally {
  await bench.close();
}
