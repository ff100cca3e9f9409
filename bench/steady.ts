/**
 * Steady state: `pgbench -S -c4 -j2` (select-only, scale 10) through the endpoint's address,
 * side by side in the same run with
 *   - direct: the same postmaster's own listening socket (a second listen address, 127.0.0.2 on
 *     the same port, bound by PostgreSQL itself, which the listen shim leaves alone), and
 *   - a naive Node proxy: a byte pipe in front of that direct socket (what a wake proxy that stays
 *     in the path costs).
 * Also `-C` (a new connection per transaction), where the endpoint's accept path is exercised.
 * All plain TCP (sslmode=disable), same role, same database.
 *
 * Run: npm run bench:steady -- [--seconds 10] [--rounds 3]
 */
import { execFile } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ownFile } from '../src/engine/clusters/os-user.ts';
import { median, minMedianMax as fmt, numberOption, startBenchEngine } from './support.ts';

const execFileAsync = promisify(execFile);
const seconds = numberOption('seconds', 10);
const rounds = numberOption('rounds', 3);

const bench = await startBenchEngine('steady');
const { home, api, settle } = bench;
bench.server.engine.spares.setEnabled(false);

async function pgbench(url: string, extra: string[]): Promise<number> {
  const { stdout } = await execFileAsync('pgbench', ['-n', '-S', '-c4', '-j2', `-T${extra.includes('-C') ? Math.max(3, Math.round(seconds / 2)) : seconds}`, ...extra, url], { maxBuffer: 1 << 24 });
  const tps = /tps = ([\d.]+) \((without initial connection time|including reconnection times)\)/.exec(stdout);
  if (!tps) throw new Error(`pgbench printed no tps:\n${stdout}`);
  return Number(tps[1]);
}

let proxy: net.Server | undefined;
try {
  const { data } = await api.createProject({ project: { name: 'steady', default_endpoint_settings: { suspend_timeout_seconds: -1 } } });
  const projectId = data.project.id;
  await settle(projectId);
  const endpoint = data.endpoints[0];
  const port = Number(endpoint.host.split(':')[1]);
  // A second listen address that PostgreSQL binds itself, with its own pg_hba.conf line.
  const hba = join(home, 'bench_hba.conf');
  writeFileSync(hba, 'local all cloud_admin scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.2/32 scram-sha-256\n');
  ownFile(hba, 0o600);
  // Written into the cluster's own postgresql.conf (after the engine's include, so it wins): the
  // API's pg_settings take only the parameters Neon lets users set, and these two are not among them.
  appendFileSync(join(home, 'clusters', data.branch.id, 'postgresql.conf'), `\nlisten_addresses = '127.0.0.1,127.0.0.2'\nhba_file = '${hba}'\n`);
  await api.restartProjectEndpoint(projectId, endpoint.id);
  await settle(projectId);

  const uri = new URL(data.connection_uris![0].connection_uri);
  uri.search = '?sslmode=disable';
  const viaEndpoint = uri.toString();
  const direct = new URL(viaEndpoint);
  direct.hostname = '127.0.0.2';
  proxy = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.2', port });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', () => r()));
  const viaProxy = new URL(viaEndpoint);
  viaProxy.port = String((proxy.address() as net.AddressInfo).port);

  await execFileAsync('pgbench', ['-i', '-q', '-s', '10', viaEndpoint]);
  await pgbench(viaEndpoint, []); // warm-up

  const tps = { endpoint: [] as number[], direct: [] as number[], proxy: [] as number[], endpointC: [] as number[], directC: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    tps.endpoint.push(await pgbench(viaEndpoint, []));
    tps.direct.push(await pgbench(direct.toString(), []));
    tps.proxy.push(await pgbench(viaProxy.toString(), []));
    tps.endpointC.push(await pgbench(viaEndpoint, ['-C']));
    tps.directC.push(await pgbench(direct.toString(), ['-C']));
  }
  const ratio = (xs: number[], base: number[]) => `${((median(xs) / median(base)) * 100).toFixed(1)} %`;
  console.log(`# steady state — ${new Date().toISOString()} — pgbench -S -c4 -j2 -T${seconds}, scale 10, ${rounds} rounds interleaved`);
  console.log('| path | tps (min / median / max) | of direct |');
  console.log('|---|---|---|');
  console.log(`| endpoint address (127.0.0.1:${port}, served by the postmaster through the listen shim) | ${fmt(tps.endpoint)} | ${ratio(tps.endpoint, tps.direct)} |`);
  console.log(`| direct (the postmaster's own socket, 127.0.0.2:${port}) | ${fmt(tps.direct)} | 100 % |`);
  console.log(`| naive Node byte-pipe proxy in front of direct | ${fmt(tps.proxy)} | ${ratio(tps.proxy, tps.direct)} |`);
  console.log(`| endpoint address, -C (connection per transaction) | ${fmt(tps.endpointC)} | ${ratio(tps.endpointC, tps.directC)} |`);
  console.log(`| direct, -C | ${fmt(tps.directC)} | 100 % |`);
} finally {
  proxy?.close();
  await bench.close();
}
