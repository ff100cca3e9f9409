/**
 * What a branch costs on disk, and back-to-back branch speed, on the machine's filesystem and —
 * when run as root with mkfs.xfs (Debian's xfsprogs) — on a loop-mounted XFS with reflink that
 * this script makes and removes, side by side:
 *   - the parent's home after filling a table of `--size` MB (cluster, spare, WAL archive, base
 *     copies), before any branch;
 *   - what each of `--branches` branches adds once at rest (the parent's spare it used made again,
 *     history work done), and how long each took (API call → first query), made one after the
 *     other once the parent's spare is back;
 *   - then `--branches` more back to back: each right after the previous one's first query, so
 *     the spare is used up and a branch may be a direct copy;
 *   - each as a ratio to the table's size.
 * Two measures of space: `du` (apparent blocks, a shared extent counted in every file that has
 * it) and the filesystem's own used-blocks delta (statfs; shared extents counted once). On the
 * machine's root filesystem the statfs delta also sees other processes' writes.
 *
 * Run: npm run bench:disk -- [--size 500] [--branches 5] [--xfs-gb 12]
 */
import { execFileSync, execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { firstQuery, median, numberOption, startBenchEngine } from './support.ts';

const sizeMb = numberOption('size', 500);
const branches = numberOption('branches', 5);
const xfsGb = numberOption('xfs-gb', 12);
const MB = 1024 * 1024;

const used = (dir: string) => {
  const s = statfsSync(dir);
  return (s.blocks - s.bfree) * s.bsize;
};
const du = (dir: string) => Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);

interface Result {
  where: string;
  strategy: string;
  dataMb: number;
  parent: { du: number; fs: number };
  perBranch: { du: number; fs: number; ms: number }[];
  backToBack: number[];
}

async function measure(where: string, parentDir: string): Promise<Result> {
  const { home, server, api, settle: wait, close } = await startBenchEngine('disk', {}, parentDir);
  try {
    const fsBefore = used(home);
    const { data } = await api.createProject({ project: { name: 'bench-disk' } });
    const projectId = data.project.id;
    await wait(projectId);
    const client = new pg.Client({ connectionString: data.connection_uris![0].connection_uri });
    client.on('error', (error) => console.error(`${where}: the filling session ended: ${error.message}`));
    await client.connect();
    console.error(`${where}: filling ${sizeMb} MB`);
    await client.query('CREATE TABLE data (id bigint PRIMARY KEY, pad text)');
    const rows = sizeMb * 1000;
    for (let start = 1; start <= rows; start += 100_000) {
      await client.query(`INSERT INTO data SELECT g, repeat(md5(g::text), 28) FROM generate_series($1::bigint, $2::bigint) g`, [start, Math.min(rows, start + 99_999)]);
    }
    const dataMb = (await client.query(`SELECT pg_database_size('neondb') AS s`)).rows[0].s / MB;
    await client.end();
    const mainId = data.branch.id;
    // The parent at rest: its spare made, its history's background work done.
    await server.engine.spares.settled(mainId);
    await server.engine.history.settled();
    const parent = { du: du(home), fs: used(home) - fsBefore };
    // Where the parent's bytes are: each cluster (its pg_wal apart) and each branch's history.
    const parts = execSync(`for d in ${home}/clusters/* ${home}/clusters/*/pg_wal ${home}/history/*/wal ${home}/history/*/base-*; do du -sb "$d"; done 2>/dev/null || true`, { encoding: 'utf8', shell: '/bin/bash' });
    console.error(parts.trim().split('\n').map((l) => `  ${(Number(l.split('\t')[0]) / MB).toFixed(0).padStart(6)} MB  ${l.split('\t')[1].slice(home.length + 1)}`).join('\n'));
    console.error(`${where}: parent at rest, ${(parent.du / MB).toFixed(0)} MB; ${branches} branches`);
    const perBranch: Result['perBranch'] = [];
    for (let i = 0; i < branches; i++) {
      const [duBefore, fsAt] = [du(home), used(home)];
      const t0 = performance.now();
      const res = await api.createProjectBranch(projectId, { branch: { name: `b${i}` }, endpoints: [{ type: 'read_write' as never }] });
      await firstQuery(res.data.connection_uris![0].connection_uri);
      const ms = performance.now() - t0;
      await wait(projectId);
      // What the branch costs at rest: the parent's spare it used made again, history work done.
      await server.engine.spares.settled(mainId);
      await server.engine.history.settled();
      perBranch.push({ du: du(home) - duBefore, fs: used(home) - fsAt, ms });
    }
    // Back to back: each branch right after the previous one's first query, spare or not.
    const backToBack: number[] = [];
    for (let i = 0; i < branches; i++) {
      const t0 = performance.now();
      const res = await api.createProjectBranch(projectId, { branch: { name: `c${i}` }, endpoints: [{ type: 'read_write' as never }] });
      await firstQuery(res.data.connection_uris![0].connection_uri);
      backToBack.push(performance.now() - t0);
      await wait(projectId);
    }
    return { where, strategy: server.engine.copyStrategy, dataMb, parent, perBranch, backToBack };
  } finally {
    await close();
  }
}

/** A loop-mounted XFS with reflink, or why there is none. */
function mountXfs(): { dir: string; remove(): void } | string {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    execSync('command -v mkfs.xfs', { stdio: 'ignore' });
  } catch {
    return 'no mkfs.xfs (Debian: xfsprogs)';
  }
  const root = mkdtempSync(join(tmpdir(), 'arbor-bench-xfs-'));
  const image = join(root, 'xfs.img');
  const dir = join(root, 'mnt');
  mkdirSync(dir);
  execFileSync('truncate', ['-s', `${xfsGb}G`, image]);
  execFileSync('mkfs.xfs', ['-q', '-m', 'reflink=1', image]);
  try {
    execFileSync('mount', ['-o', 'loop', image, dir]);
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    return `mount -o loop failed: ${(error as Error).message.split('\n')[0]}`;
  }
  // The engine's postgres OS user must reach the home inside.
  execFileSync('chmod', ['755', dir]);
  return {
    dir,
    remove() {
      execFileSync('umount', [dir]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

const results: Result[] = [];
const fsType = execFileSync('stat', ['-f', '-c', '%T', tmpdir()], { encoding: 'utf8' }).trim();
results.push(await measure(`${tmpdir()} (${fsType})`, tmpdir()));
const xfs = mountXfs();
if (typeof xfs === 'string') console.log(`(no XFS run: ${xfs})`);
else {
  try {
    results.push(await measure('loop-mounted XFS, reflink=1', xfs.dir));
  } finally {
    xfs.remove();
  }
}

const mb = (b: number) => `${(b / MB).toFixed(0)} MB`;
const ratio = (b: number, dataMb: number) => `${(b / MB / dataMb).toFixed(2)}×`;
console.log(`# disk per branch — ${new Date().toISOString()} — ${sizeMb} MB table, ${branches} branches back to back`);
console.log('| filesystem (copy strategy) | data | parent: du / fs delta (÷ data) | per branch, median: du / fs delta (÷ data) | ms, spare ready (each) | ms, back to back (each) |');
console.log('|---|---|---|---|---|---|');
for (const r of results) {
  const d = median(r.perBranch.map((b) => b.du));
  const f = median(r.perBranch.map((b) => b.fs));
  console.log(
    `| ${r.where} (${r.strategy}) | ${r.dataMb.toFixed(0)} MB | ${mb(r.parent.du)} / ${mb(r.parent.fs)} (${ratio(r.parent.du, r.dataMb)} / ${ratio(r.parent.fs, r.dataMb)}) | ${mb(d)} / ${mb(f)} (${ratio(d, r.dataMb)} / ${ratio(f, r.dataMb)}) | ${r.perBranch.map((b) => b.ms.toFixed(0)).join(', ')} | ${r.backToBack.map((ms) => ms.toFixed(0)).join(', ')} |`,
  );
}
