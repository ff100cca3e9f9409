/**
 * Point-in-time branches as a function of the WAL to replay since the last base copy, against
 * restoring a dump of the same state (the alternative without history: keep a logical dump and
 * load it — `psql \copy … TO file` then `CREATE DATABASE` + `\copy … FROM file`, the data part of
 * pg_dump | psql; Debian's pg_dump 15 refuses a PostgreSQL 17 server).
 *
 * One project; its first base copy is taken right after creation and automatic base copies are
 * off, so the WAL since the base grows to each size in turn (10 MB, 100 MB, 1 GB by default) by
 * inserting ~1 KB rows; at each size a branch is made at the current LSN, timed from the API call
 * (official client, operations awaited) to the first successful query on the child, and checked.
 *
 * Run: npm run bench:pitr -- [--wal 10,100,1024] [--runs 2]
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { firstQuery, median, minMedianMax as fmt, numberOption, numbersOption, startBenchEngine } from './support.ts';

const walSizes = numbersOption('wal', [10, 100, 1024]);
const runs = numberOption('runs', 2);

const bench = await startBenchEngine('pitr', { history: { tickMs: 3_600_000, baseCopyWalBytes: Number.MAX_SAFE_INTEGER, baseCopyIntervalMs: Number.MAX_SAFE_INTEGER } });
const { server, api, settle } = bench;
const dumps = mkdtempSync(join(tmpdir(), 'arbor-bench-dump-'));

console.log(`# point-in-time branch vs dump restore — ${new Date().toISOString()} — copy strategy: ${server.engine.copyStrategy}`);
try {
  const { data } = await api.createProject({ project: { name: 'bench-pitr' } });
  const projectId = data.project.id;
  await settle(projectId);
  await server.engine.history.settled();
  const uri = data.connection_uris![0].connection_uri;
  const plain = (db: string) => uri.replace('/neondb?', `/${db}?`).replace(/sslmode=require[^&]*&?/, 'sslmode=disable&').replace(/&?sslrootcert=[^&]*/, '');
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  await client.query('CREATE TABLE data (id bigint PRIMARY KEY, pad text)');
  const baseLsn = (await client.query('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0].l;
  const baseTime = performance.now();
  let rows = 0;
  console.log('| WAL since the base copy | database | point-in-time branch | dump restore | restore ÷ branch | WAL replayed per second |');
  console.log('|---|---|---|---|---|---|');
  for (const mb of walSizes) {
    for (;;) {
      const since = Number((await client.query('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn) AS d', [baseLsn])).rows[0].d) / 1048576;
      if (since >= mb) break;
      const batch = Math.max(100, Math.min(20_000, Math.round((mb - since) * 900)));
      await client.query(`INSERT INTO data SELECT g, repeat(md5(g::text), 28) FROM generate_series($1::bigint, $2::bigint) g`, [rows + 1, rows + batch]);
      rows += batch;
    }
    const { lsn, since, size } = (
      await client.query(
        `SELECT pg_current_wal_insert_lsn()::text AS lsn, pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn) / 1048576 AS since, pg_database_size('neondb') / 1048576 AS size`,
        [baseLsn],
      )
    ).rows[0];
    const branchMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const child = (await api.createProjectBranch(projectId, { branch: { parent_lsn: lsn }, endpoints: [{ type: 'read_write' as never }] })).data;
      await settle(projectId);
      await firstQuery(child.connection_uris![0].connection_uri);
      branchMs.push(performance.now() - t0);
      const check = new pg.Client({ connectionString: child.connection_uris![0].connection_uri });
      await check.connect();
      const n = Number((await check.query('SELECT count(*) AS n FROM data')).rows[0].n);
      await check.end();
      if (n !== rows) throw new Error(`the branch at ${lsn} has ${n} rows, expected ${rows}`);
      await api.deleteProjectBranch({ projectId, branchId: child.branch.id });
      await settle(projectId);
    }
    // The same state as a dump (taken untimed), restored into a fresh database.
    const file = join(dumps, `data-${mb}.copy`);
    execSync(`psql "${plain('neondb')}" -qc '\\copy data TO ${file}'`);
    const restoreMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t1 = performance.now();
      await client.query('CREATE DATABASE restored');
      execSync(`psql "${plain('restored')}" -qc 'CREATE TABLE data (id bigint PRIMARY KEY, pad text)' -c '\\copy data FROM ${file}'`);
      await firstQuery(uri.replace('/neondb?', '/restored?'));
      restoreMs.push(performance.now() - t1);
      await client.query('DROP DATABASE restored WITH (FORCE)');
    }
    const replayRate = (Number(since) / (median(branchMs) / 1000)).toFixed(0);
    console.log(
      `| ${Number(since).toFixed(0)} MB | ${Number(size).toFixed(0)} MB (dump ${(statSync(file).size / 1048576).toFixed(0)} MB) | ${fmt(branchMs)} ms | ${fmt(restoreMs)} ms | ${(median(restoreMs) / median(branchMs)).toFixed(2)}× | ${replayRate} MB/s |`,
    );
    rmSync(file, { force: true });
  }
  console.log(`(writing the WAL took ${((performance.now() - baseTime) / 1000).toFixed(0)} s in total)`);
  await client.end();
} finally {
  await bench.close();
  rmSync(dumps, { recursive: true, force: true });
}
