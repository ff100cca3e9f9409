/**
 * @module A branch's data as of a past point (an LSN or a timestamp), rebuilt from its history:
 * the newest base copy before the point, plus the archived WAL replayed up to it.
 *
 * Plan: make sure the WAL up to the point is archived (a marker commit so a record after the
 * point exists, then `pg_switch_wal()` and wait for the archiver); copy the base into
 * `<dest>.pitr`; start it with `recovery.signal`, `restore_command` on the archive and
 * `recovery_target_lsn` (exclusive: everything before the LSN) or `recovery_target_time`
 * (inclusive: every commit up to the time); PostgreSQL promotes at the target. Then stop it, drop
 * the recovery settings and rename to `dest`. Until that rename nothing is visible: a crash
 * leaves `<dest>.pitr`, which the engine removes on its next start (Engine.recover).
 */
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import pg from 'pg';
import type { BranchRecord } from '../catalog/types.ts';
import { SUPERUSER, writeSettings } from '../clusters/cluster.ts';
import { copyTree } from '../clusters/copy.ts';
import { ownFile } from '../clusters/os-user.ts';
import { startPostmaster, stopPostmaster } from '../compute/postmaster.ts';
import { computeSize } from '../compute/size.ts';
import type { Engine } from '../engine.ts';
import { badRequest } from '../errors.ts';
import { failpoint } from './failpoints.ts';
import { lsnValue, micros, neonTime, pgTimestamp } from './lsn.ts';
import { chainedRestoreCommand, historySource, readInherited, type HistorySource } from './lineage.ts';
import { BASE_FILE, listBases, walArchiveDir } from './store.ts';

/** A past point of a branch, as the API gives it (one of the two). */
export interface HistoryPoint {
  lsn?: string;
  timestamp?: string;
}

/** Where the point came from in the request, for error messages (`parent_lsn` or `source_lsn`, …). */
export interface PointFields {
  lsn: string;
  timestamp: string;
  /** Names the branch in messages: "the parent's", "the source branch's". */
  whose: string;
}

const ARCHIVE_DEADLINE_MS = 60_000;
const RECOVERY_DEADLINE_MS = 30 * 60_000;
const RECOVERY_CONF = 'arbor-recovery.conf';
const INCLUDE_LINE = `include_if_exists = '${RECOVERY_CONF}'`;

/** The earliest moment the project's retention keeps, in ms. */
export function windowStart(engine: Engine, projectId: string, now = Date.now()): number {
  return now - engine.project(projectId).history_retention_seconds * 1000;
}

/**
 * Checks a point against the retention window and the history the branch has, with Neon-shaped
 * 400s naming the limit. With `pending` (a base copy is on its way) the history check is left to
 * the operation, which runs after that copy.
 */
export async function checkPoint(engine: Engine, branch: BranchRecord, point: HistoryPoint, fields: PointFields, pending = false): Promise<void> {
  const project = engine.project(branch.project_id);
  const retention = project.history_retention_seconds;
  if (point.timestamp) {
    const at = Date.parse(point.timestamp);
    if (at > Date.now()) throw badRequest(`${fields.timestamp} ${point.timestamp} is in the future`);
    const start = windowStart(engine, project.id);
    if (at < start) {
      throw badRequest(
        `${fields.timestamp} ${point.timestamp} is outside the history retention window: project ${project.id} keeps ${retention} seconds of history (history_retention_seconds), so the earliest point is ${neonTime(start)}`,
      );
    }
  }
  if (point.lsn && engine.computes.isRunning(branch.id)) {
    const current = await engine.withAdmin(branch, async (admin) => (await admin.query('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0].lsn as string);
    if (lsnValue(point.lsn) > lsnValue(current)) throw badRequest(`${fields.lsn} ${point.lsn} is ahead of ${fields.whose} current LSN ${current}`);
  }
  if (retention === 0) throw badRequest(`project ${project.id} keeps no history (history_retention_seconds is 0); raise it to branch or restore from a past point`);
  if (!pending) await chooseBase(engine, branch, point, fields);
}

/**
 * Where the point's replay starts: the newest base copy before it, the branch's own or (before
 * its first) an ancestor's from before the fork (lineage.ts); or a 400 saying where history begins.
 */
async function chooseBase(engine: Engine, branch: BranchRecord, point: HistoryPoint, fields: PointFields): Promise<HistorySource> {
  // As on Neon, a branch's history starts at its creation: before it, the data is its parent's
  // and is branched from the parent (a masked preview relies on this: its parent's past is not its own).
  const inherited = readInherited(engine.home, branch.id);
  if (inherited) {
    if (point.lsn && lsnValue(point.lsn) < lsnValue(inherited.lsn)) {
      throw badRequest(`${fields.lsn} ${point.lsn} is before branch ${branch.id} was created (at LSN ${inherited.lsn}); to go further back, branch from its parent ${branch.parent_id}`);
    }
    // The time the data was complete, not `created_at` (whole seconds, and before the fork).
    if (point.timestamp && micros(point.timestamp) < micros(inherited.time)) {
      throw badRequest(`${fields.timestamp} ${point.timestamp} is before branch ${branch.id} was created (${inherited.time}); to go further back, branch from its parent ${branch.parent_id}`);
    }
  }
  const bound = point.lsn ? { lsn: point.lsn } : { micros: micros(point.timestamp!) };
  const source = await historySource(engine.home, engine.data.branches, branch, bound);
  if (source) return source;
  const retention = engine.project(branch.project_id).history_retention_seconds;
  const any = await historySource(engine.home, engine.data.branches, branch, {});
  if (!any) throw badRequest(`branch ${branch.id} has no history yet (its first base copy is being taken); retry in a moment`);
  const first = (await listBases(engine.home, any.ownerId))[0] ?? any.base;
  throw badRequest(
    point.lsn
      ? `${fields.lsn} ${point.lsn} is before the history kept for branch ${branch.id}, which starts at LSN ${first.lsn} (history_retention_seconds is ${retention})`
      : `${fields.timestamp} ${point.timestamp} is before the history kept for branch ${branch.id}, which starts at ${first.time} (history_retention_seconds is ${retention})`,
  );
}

/**
 * Makes every WAL record the branch has written so far reach its archive: a marker commit (so a
 * timestamp target always has a later commit to stop before), a segment switch, and a wait for
 * the archiver. Returns the insert LSN from before the marker.
 */
async function archiveUpToNow(engine: Engine, branch: BranchRecord): Promise<{ lsn: string; timeline: number }> {
  const archive = walArchiveDir(engine.home, branch.id);
  return engine.withAdmin(branch, async (admin) => {
    const { lsn: current, file } = (await admin.query('SELECT pg_current_wal_insert_lsn()::text AS lsn, pg_walfile_name(pg_current_wal_insert_lsn()) AS file')).rows[0] as { lsn: string; file: string };
    await admin.query('SELECT pg_current_xact_id()');
    const segment = (await admin.query('SELECT pg_walfile_name(pg_switch_wal()) AS name')).rows[0].name as string;
    const deadline = Date.now() + ARCHIVE_DEADLINE_MS;
    while (!existsSync(join(archive, segment))) {
      if (Date.now() > deadline) {
        const { rows } = await admin.query('SELECT last_failed_wal, failed_count FROM pg_stat_archiver');
        throw new Error(`WAL segment ${segment} of branch ${branch.id} was not archived within ${ARCHIVE_DEADLINE_MS} ms (archiver: ${JSON.stringify(rows[0])})`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return { lsn: current, timeline: parseInt(file.slice(0, 8), 16) };
  });
}

/**
 * Waits until a running ancestor has archived every segment it completed (none marked `.ready`):
 * a replay through its history right after a fork needs the segments it finished just before.
 * A stopped one archived them on its way down.
 */
async function ancestorArchived(engine: Engine, branchId: string): Promise<void> {
  const ancestor = engine.data.branches.find((b) => b.id === branchId);
  if (!ancestor || !engine.computes.isRunning(ancestor.id)) return;
  const admin = await engine.computes.admin(ancestor.id, engine.superuserPassword(engine.project(ancestor.project_id))).catch(() => undefined);
  if (!admin) return;
  try {
    const deadline = Date.now() + ARCHIVE_DEADLINE_MS;
    while ((await admin.query(`SELECT count(*)::int AS n FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'`)).rows[0].n > 0) {
      if (Date.now() > deadline) throw new Error(`branch ${ancestor.id} did not archive its completed WAL within ${ARCHIVE_DEADLINE_MS} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await admin.end();
  }
}

/**
 * Connects once recovery has promoted. With `hot_standby = off` the server refuses sessions
 * until then (its pid file says "standby" from the start of recovery, so it cannot tell).
 */
async function waitForPromotion(pid: number, port: number, password: string, logFile: string): Promise<pg.Client> {
  const deadline = Date.now() + RECOVERY_DEADLINE_MS;
  for (;;) {
    const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres' });
    try {
      await client.connect();
      if (!(await client.query('SELECT pg_is_in_recovery() AS r')).rows[0].r) return client;
      await client.end();
    } catch (error) {
      await client.end().catch(() => {});
      if ((error as { code?: string }).code !== '57P03' && (error as { code?: string }).code !== 'ECONNREFUSED') throw error;
    }
    if (!isAlive(pid)) throw new Error(`the point-in-time recovery stopped:\n${readFileSync(logFile, 'utf8').split('\n').slice(-12).join('\n')}`);
    if (Date.now() > deadline) throw new Error(`the point-in-time recovery did not finish within ${RECOVERY_DEADLINE_MS} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export interface BuiltPoint {
  /** Where the new history forks: the LSN the data stops at. */
  lsn: string;
  /** The point as Neon reports it (the given timestamp, or the last commit replayed for an LSN). */
  timestamp: string;
}

/** Builds `dest` (absent) as `source` was at `point`; see the module comment. */
export async function buildAtPoint(engine: Engine, source: BranchRecord, point: HistoryPoint, dest: string, fields: PointFields): Promise<BuiltPoint> {
  const project = engine.project(source.project_id);
  // A base copy still on its way (right after the source was created) may be the one the point needs.
  await engine.history.quiesce(source.id);
  const { lsn: current, timeline } = await archiveUpToNow(engine, source);
  if (point.lsn && lsnValue(point.lsn) > lsnValue(current)) throw badRequest(`${fields.lsn} ${point.lsn} is ahead of ${fields.whose} current LSN ${current}`);
  const { base, archives, ownerId } = await chooseBase(engine, source, point, fields);
  const inherited = ownerId !== source.id;
  if (inherited) for (const dir of archives.slice(1)) await ancestorArchived(engine, basename(dirname(dir)));
  const work = `${dest}.pitr`;
  await fs.rm(work, { recursive: true, force: true });
  let pid: number | undefined;
  try {
    await copyTree(base.dir, work, (relative) => relative !== BASE_FILE);
    await fs.writeFile(join(work, 'recovery.signal'), '');
    ownFile(join(work, 'recovery.signal'), 0o600);
    const target = point.lsn
      ? [`recovery_target_lsn = '${point.lsn}'`, `recovery_target_inclusive = off`]
      : [`recovery_target_time = '${pgTimestamp(point.timestamp!)}'`, `recovery_target_inclusive = on`];
    const recovery = [
      '# Written by the Arbor engine for one point-in-time recovery; removed after promotion.',
      `restore_command = '${chainedRestoreCommand(archives).replace(/'/g, "''")}'`,
      ...target,
      // An ancestor's base is on an older timeline: follow the source's own (its history file is in its archive).
      `recovery_target_timeline = '${inherited ? timeline : 'current'}'`,
      `recovery_target_action = 'promote'`,
      // No hot standby: "ready" then means promoted, and a smaller compute than the source's is fine.
      `hot_standby = off`,
      // Nothing of this run belongs in any archive; the new branch archives from its first start.
      `archive_mode = off`,
      '',
    ];
    await fs.writeFile(join(work, RECOVERY_CONF), recovery.join('\n'));
    ownFile(join(work, RECOVERY_CONF), 0o600);
    const conf = join(work, 'postgresql.conf');
    if (!readFileSync(conf, 'utf8').includes(INCLUDE_LINE)) await fs.appendFile(conf, `\n${INCLUDE_LINE}\n`);
    const port = await engine.allocatePort();
    const size = computeSize(project.default_endpoint_settings.autoscaling_limit_min_cu, project.default_endpoint_settings.autoscaling_limit_max_cu);
    await writeSettings(work, { port, tlsCert: engine.tls.cert, tlsKey: engine.tls.key, ...size });
    pid = await startPostmaster(engine.binaries(project.pg_version), work, port, engine.computes.logFile(basename(dest).split('.')[0]));
    const client = await waitForPromotion(pid, port, engine.superuserPassword(project), engine.computes.logFile(basename(dest).split('.')[0]));
    failpoint('pitr-promoted');
    let built: BuiltPoint;
    try {
      const { rows } = await client.query(
        `SELECT pg_is_in_recovery() AS recovering,
                to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_commit`,
      );
      if (rows[0].recovering) throw new Error('the point-in-time copy did not promote');
      // The new timeline's history file ends with the fork point: "<parent tli>\t<lsn>\t<reason>".
      const newest = (await fs.readdir(join(work, 'pg_wal'))).filter((n) => /^[0-9A-F]{8}\.history$/.test(n)).sort().pop();
      if (!newest) throw new Error('the promoted copy has no timeline history file');
      const fork = (await fs.readFile(join(work, 'pg_wal', newest), 'utf8')).trim().split('\n').pop()!.split('\t')[1];
      built = {
        lsn: point.lsn ?? fork,
        timestamp: point.timestamp ? neonTime(Date.parse(point.timestamp)) : (rows[0].last_commit ?? base.time.replace(/\.\d{3}Z$/, 'Z')),
      };
    } finally {
      await client.end();
    }
    await stopPostmaster(pid);
    pid = undefined;
    await fs.rm(join(work, RECOVERY_CONF));
    await fs.rename(work, dest);
    return built;
  } catch (error) {
    if (pid) await stopPostmaster(pid);
    await fs.rm(work, { recursive: true, force: true });
    throw error;
  }
}
