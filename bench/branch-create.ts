/**
 * Branch creation, measured from the API call to the first successful query on the child, for
 * parents of several sizes, side by side with the alternatives on the same data in the same run:
 *   - CREATE DATABASE … TEMPLATE (one database, same cluster; needs the source without sessions)
 *   - logical copy: `psql \copy … TO STDOUT | psql \copy … FROM STDIN` (what pg_dump | psql does
 *     for the data; Debian's pg_dump 15 refuses a PostgreSQL 17 server)
 *
 * Run: npm run bench:branch -- [--sizes 10,100,1024] [--runs 3]
 */
import { execSync } from 'node:child_process';
import pg from 'pg';
import { firstQuery, median, minMedianMax as fmt, numberOption, numbersOption, startBenchEngine } from './support.ts';

const sizes = numbersOption('sizes', [10, 100, 1024]);
const runs = numberOption('runs', 3);

const bench = await startBenchEngine('branch');
const { server, api, settle } = bench;

console.log(`# branch creation — ${new Date().toISOString()} — copy strategy: ${server.engine.copyStrategy}`);
console.log('| parent | engine branch, spare ready | engine branch, direct copy | CREATE DATABASE TEMPLATE | logical copy (\\copy → \\copy) | TEMPLATE ÷ branch (spare / copy) | logical ÷ branch (spare / copy) |');
console.log('|---|---|---|---|---|---|---|');
try {
  for (const mb of sizes) {
    const { data } = await api.createProject({ project: { name: `bench-${mb}` } });
    const projectId = data.project.id;
    await settle(projectId);
    const uri = data.connection_uris![0].connection_uri;
    const client = new pg.Client({ connectionString: uri });
    await client.connect();
    // ~1 KB rows: mb MB of table data.
    await client.query('CREATE TABLE data (id bigint PRIMARY KEY, pad text)');
    const rows = mb * 1000;
    for (let start = 1; start <= rows; start += 100_000) {
      await client.query(`INSERT INTO data SELECT g, repeat(md5(g::text), 28) FROM generate_series($1::bigint, $2::bigint) g`, [start, Math.min(rows, start + 99_999)]);
    }
    await client.query('CHECKPOINT').catch(() => {});
    const size = (await client.query(`SELECT pg_database_size('neondb') AS s`)).rows[0].s / 1048576;

    const mainId = data.branch.id;
    const spares = server.engine.spares;
    async function branchOnce(): Promise<number> {
      const t0 = performance.now();
      const res = await api.createProjectBranch(projectId, { endpoints: [{ type: 'read_write' as never }] });
      await settle(projectId);
      await firstQuery(res.data.connection_uris![0].connection_uri);
      const ms = performance.now() - t0;
      await api.deleteProjectBranch({ projectId, branchId: res.data.branch.id });
      await settle(projectId);
      return ms;
    }
    // With a spare ready (the usual case: one is kept per branched-from parent)…
    const branchMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      spares.replenish(server.engine.branch(projectId, mainId));
      await spares.settled(mainId);
      if (!spares.hasReady(mainId)) throw new Error('no spare was made');
      branchMs.push(await branchOnce());
    }
    // …and without (back-to-back creations, or spares turned off): a direct copy.
    spares.setEnabled(false);
    await spares.discard(mainId);
    const copyMs: number[] = [];
    for (let i = 0; i < runs; i++) copyMs.push(await branchOnce());
    spares.setEnabled(true);

    // The alternatives run as the project's owner role on the same cluster.
    await client.end();
    const templateMs: number[] = [];
    const logicalMs: number[] = [];
    const admin = new pg.Client({ connectionString: uri.replace('/neondb?', '/postgres?') });
    await admin.connect();
    for (let i = 0; i < runs; i++) {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'neondb' AND pid <> pg_backend_pid()`);
      const t0 = performance.now();
      await admin.query(`CREATE DATABASE copy_t TEMPLATE neondb`);
      await firstQuery(uri.replace('/neondb?', '/copy_t?'));
      templateMs.push(performance.now() - t0);
      await admin.query('DROP DATABASE copy_t WITH (FORCE)');

      const plain = (db: string) => uri.replace('/neondb?', `/${db}?`).replace(/sslmode=require[^&]*&?/, 'sslmode=disable&').replace(/&?sslrootcert=[^&]*/, '');
      const t1 = performance.now();
      await admin.query('CREATE DATABASE copy_l');
      execSync(`psql "${plain('copy_l')}" -qc 'CREATE TABLE data (id bigint PRIMARY KEY, pad text)'`);
      execSync(`psql "${plain('neondb')}" -qc '\\copy data TO STDOUT' | psql "${plain('copy_l')}" -qc '\\copy data FROM STDIN'`, { shell: '/bin/bash' });
      await firstQuery(uri.replace('/neondb?', '/copy_l?'));
      logicalMs.push(performance.now() - t1);
      await admin.query('DROP DATABASE copy_l WITH (FORCE)');
    }
    await admin.end();
    const ratio = (xs: number[]) => (median(xs) / median(branchMs)).toFixed(2);
    const vsCopy = (xs: number[]) => (median(xs) / median(copyMs)).toFixed(2);
    console.log(
      `| ${mb} MB (db ${size.toFixed(0)} MB) | ${fmt(branchMs)} ms | ${fmt(copyMs)} ms | ${fmt(templateMs)} ms | ${fmt(logicalMs)} ms | ` +
        `${ratio(templateMs)}× / ${vsCopy(templateMs)}× | ${ratio(logicalMs)}× / ${vsCopy(logicalMs)}× |`,
    );
    await api.deleteProject(projectId);
  }
  console.log(`\nmin / median / max over ${runs} runs; ratio > 1 means the engine branch is faster.`);
  console.log('The engine branch copies the whole cluster (every database and role) while the parent serves;');
  console.log('TEMPLATE copies one database and needs its sessions terminated first.');
} finally {
  await bench.close();
}
