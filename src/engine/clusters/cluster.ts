/**
 * @module A PostgreSQL cluster on disk: create one with initdb, write its settings, and branch
 * one from a parent (running or stopped) as a consistent copy.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { copyTree } from './copy.ts';
import { ownedDir, ownFile, postgresUser } from './os-user.ts';
import type { PgBinaries } from './binaries.ts';
import { archiveCommand, ensureArchivePath, restoreCommand } from '../history/store.ts';
import { allowedPgSettings } from '../compute/pg-settings.ts';

const execFileAsync = promisify(execFile);

/** The superuser of every cluster; plays Neon's internal `cloud_admin`, never handed to users. */
export const SUPERUSER = 'cloud_admin';

export interface ClusterSettings {
  port: number;
  tlsCert: string;
  tlsKey: string;
  sharedBuffersMb: number;
  maxConnections: number;
  /** The endpoint's `settings.pg_settings`, written last so they win. */
  extra?: Record<string, string>;
  /** Makes the cluster a hot standby streaming from this primary (a spare, see spares.ts). */
  standbyOf?: { port: number; user: string; password: string; name: string; host?: string };
  /** Where the unix socket goes (the engine's own sessions); none when absent. */
  socketDir?: string;
  /** `listen_addresses`; default 127.0.0.1 ('' for a maintenance start that serves no client). */
  listenAddresses?: string;
  /** The branch's WAL archive (history/store.ts): completed segments are copied there. */
  archiveDir?: string;
  /** A standby's `restore_command` source: its primary's archive, for WAL the primary no longer keeps. */
  restoreFrom?: string;
}

let nameCounter = 0;

/**
 * A name no other call returns, in this process or another, at any timing: this process's pid,
 * a per-process counter and random bits (never the clock). Lower-case letters, digits and `_`
 * only, at most 63 bytes: valid as a replication slot name (NAMEDATALEN) and as a file name.
 */
export function uniqueName(prefix: string, tag = ''): string {
  nameCounter += 1;
  const cleanTag = tag.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  const tail = `${process.pid.toString(36)}_${nameCounter.toString(36)}_${randomBytes(5).toString('hex')}`;
  const head = cleanTag ? `${prefix}_${cleanTag}` : prefix;
  return `${head.slice(0, 62 - tail.length)}_${tail}`;
}

export function binEnv(bins: PgBinaries): NodeJS.ProcessEnv {
  return { PATH: `${bins.bin}:/usr/bin:/bin`, LD_LIBRARY_PATH: bins.lib, LANG: 'C', LC_ALL: 'C' };
}

/** Runs initdb into `dataDir` with `cloud_admin` as superuser and SCRAM authentication. */
export async function initCluster(bins: PgBinaries, dataDir: string, superuserPassword: string, runDir: string): Promise<void> {
  ownedDir(dataDir);
  const pwfile = join(runDir, uniqueName('pw'));
  await fs.writeFile(pwfile, superuserPassword + '\n', { mode: 0o600 });
  ownFile(pwfile, 0o600);
  const user = postgresUser();
  try {
    await execFileAsync(
      bins.initdb,
      ['-D', dataDir, '-U', SUPERUSER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-instructions'],
      { env: binEnv(bins), uid: user?.uid, gid: user?.gid },
    );
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`initdb failed for ${dataDir}: ${stderr.trim() || (error as Error).message}`, { cause: error });
  } finally {
    await fs.rm(pwfile, { force: true });
  }
  await fs.appendFile(join(dataDir, 'postgresql.conf'), "\ninclude_if_exists = 'arbor.conf'\n");
  await writeHba(dataDir);
}

/** TCP on loopback for clients, the unix socket for cloud_admin only; always SCRAM, never `trust`. */
async function writeHba(dataDir: string): Promise<void> {
  const hba = [
    '# Written by the Arbor engine: loopback TCP only, SCRAM passwords, TLS optional; the unix',
    "# socket (in the engine's private run directory) only for the engine's own cloud_admin sessions.",
    'local all cloud_admin scram-sha-256',
    'local replication cloud_admin scram-sha-256',
    'host all all 127.0.0.1/32 scram-sha-256',
    'host replication all 127.0.0.1/32 scram-sha-256',
    '',
  ].join('\n');
  await fs.writeFile(join(dataDir, 'pg_hba.conf'), hba);
  ownFile(join(dataDir, 'pg_hba.conf'), 0o600);
}

/** Writes the engine-owned settings (port, TLS, compute size); a branch gets its own copy. */
export async function writeSettings(dataDir: string, s: ClusterSettings): Promise<void> {
  const lines = [
    '# Written by the Arbor engine on every start; edits are overwritten.',
    `listen_addresses = '${s.listenAddresses ?? '127.0.0.1'}'`,
    `port = ${s.port}`,
    `unix_socket_directories = ${settingLiteral(s.socketDir ?? '')}`,
    `ssl = on`,
    `ssl_cert_file = '${s.tlsCert}'`,
    `ssl_key_file = '${s.tlsKey}'`,
    `password_encryption = 'scram-sha-256'`,
    `shared_buffers = '${s.sharedBuffersMb}MB'`,
    `max_connections = ${s.maxConnections}`,
    `wal_level = replica`,
    `max_wal_senders = 4`,
    `max_replication_slots = 16`,
    // Small WAL footprint: a branch copies the segments it needs, recycled ones only cost disk.
    `min_wal_size = '32MB'`,
    `max_wal_size = '256MB'`,
    `wal_recycle = off`,
    `logging_collector = off`,
    `log_min_messages = warning`,
    `log_connections = off`,
    // PostgreSQL 16+ (a CREATEROLE role administers what it creates either way before that).
    ...(clusterMajor(dataDir) >= 16 ? [`createrole_self_grant = 'set, inherit'`] : []),
    // One syncfs() instead of an fsync per file when a copied cluster first starts.
    `recovery_init_sync_method = syncfs`,
    // A spare standby streams without a slot (so none can leak); this covers its short lag.
    `wal_keep_size = '64MB'`,
    // History retention: every completed segment goes to the branch's own archive (never the parent's).
    ...(s.archiveDir ? [`archive_mode = on`, `archive_command = ${settingLiteral(archiveCommand(s.archiveDir))}`] : [`archive_mode = off`]),
    ...(s.standbyOf
      ? [
          `hot_standby = on`,
          `primary_conninfo = ${settingLiteral(`host=${s.standbyOf.host ?? '127.0.0.1'} port=${s.standbyOf.port} user=${s.standbyOf.user} password=${s.standbyOf.password} application_name=${s.standbyOf.name} sslmode=disable`)}`,
          `wal_receiver_status_interval = 1s`,
          // A standby whose primary suspended reconnects soon after it wakes (default 5 s).
          `wal_retrieve_retry_interval = 1s`,
          ...(s.restoreFrom ? [`restore_command = ${settingLiteral(restoreCommand(s.restoreFrom))}`] : []),
        ]
      : []),
    // Only allowlisted settings with checked values, also from a catalog written before that check.
    ...allowedPgSettings(s.extra).map(([name, value]) => `${name} = ${settingLiteral(value)}`),
    '',
  ];
  if (s.archiveDir) ensureArchivePath(s.archiveDir);
  // Clusters made before the engine used a unix socket lack its pg_hba.conf line.
  if (s.socketDir) await writeHba(dataDir);
  const path = join(dataDir, 'arbor.conf');
  await fs.writeFile(path, lines.join('\n'));
  ownFile(path, 0o600);
}

/** The major version a data directory was made by (its PG_VERSION file); 17 when unreadable. */
function clusterMajor(dataDir: string): number {
  try {
    return Number(readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim()) || 17;
  } catch {
    return 17;
  }
}

function settingLiteral(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "''") + "'";
}

// What a copy of a data directory leaves out (PostgreSQL's own list for base backups).
const SKIP_DIR_CONTENTS = new Set(['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans']);
const SKIP_FILES = new Set(['postmaster.pid', 'postmaster.opts', 'backup_label', 'tablespace_map', 'recovery.signal', 'standby.signal']);

function hotFilter(relative: string, isDirectory: boolean): boolean {
  const parts = relative.split('/');
  const top = parts[0];
  if (parts.length >= 2 && SKIP_DIR_CONTENTS.has(top)) return false;
  if (isDirectory) return true;
  const name = parts[parts.length - 1];
  if (SKIP_FILES.has(name)) return false;
  if (name === 'pg_internal.init' || name.startsWith('pgsql_tmp') || name.startsWith('.s.PGSQL')) return false;
  return true;
}

function coldFilter(relative: string, isDirectory: boolean): boolean {
  const name = relative.split('/').pop()!;
  if (!isDirectory && (name === 'postmaster.pid' || name === 'postmaster.opts')) return false;
  return true;
}

export interface BranchPoint {
  lsn: string;
  files: number;
  bytes: number;
}

/**
 * Copies a running cluster with the non-exclusive low-level backup API, all on `client` (one
 * session, which the backup is tied to): a temporary replication slot keeps the WAL the copy
 * needs, `backup_label` makes the child replay to the consistent point on its first start. The
 * parent keeps serving reads and writes throughout.
 */
export async function copyRunningCluster(
  client: pg.Client,
  parentDir: string,
  childDir: string,
  pgVersion: number,
  /** Runs with the WAL still reserved, e.g. to start a standby that streams from the backup start. */
  beforeRelease?: () => Promise<void>,
  /** Goes into the slot's name (e.g. the id of the branch being made), for pg_replication_slots readers. */
  tag = '',
): Promise<BranchPoint> {
  // Temporary: PostgreSQL drops it when this session ends, so a crashed engine leaves none behind.
  const slot = uniqueName('arbor_branch', tag);
  await client.query('SELECT pg_create_physical_replication_slot($1, true, true)', [slot]);
  const start = pgVersion >= 15 ? 'pg_backup_start($1, true)' : 'pg_start_backup($1, true, false)';
  let started = false;
  let stopped = false;
  try {
    await client.query(`SELECT ${start}`, [`arbor ${childDir}`]);
    started = true;
    const copied = await copyTree(parentDir, childDir, hotFilter);
    const stop = pgVersion >= 15 ? 'pg_backup_stop(false)' : 'pg_stop_backup(false, false)';
    const { rows } = await client.query(`SELECT lsn::text, labelfile, spcmapfile, pg_walfile_name(lsn) AS stop_file FROM ${stop}`);
    stopped = true;
    const { lsn, labelfile, spcmapfile, stop_file } = rows[0];
    await fs.writeFile(join(childDir, 'backup_label'), labelfile);
    ownFile(join(childDir, 'backup_label'), 0o600);
    if (spcmapfile) await fs.writeFile(join(childDir, 'tablespace_map'), spcmapfile);
    const startFile = /START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)/.exec(labelfile)?.[1];
    if (!startFile) throw new Error('backup label without a start WAL file');
    await copyWal(join(parentDir, 'pg_wal'), join(childDir, 'pg_wal'), startFile, stop_file);
    if (beforeRelease) await beforeRelease();
    return { lsn, ...copied };
  } finally {
    if (started && !stopped) await client.query(pgVersion >= 15 ? 'SELECT pg_backup_stop(false)' : 'SELECT pg_stop_backup(false, false)').catch(() => {});
    await client.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(() => {});
  }
}

async function copyWal(fromWal: string, toWal: string, startFile: string, stopFile: string): Promise<void> {
  const user = postgresUser();
  await fs.mkdir(join(toWal, 'archive_status'), { recursive: true });
  if (user) await fs.chown(join(toWal, 'archive_status'), user.uid, user.gid);
  for (const name of await fs.readdir(fromWal)) {
    const segment = /^[0-9A-F]{24}$/.test(name) && name >= startFile && name <= stopFile;
    if (!segment && !name.endsWith('.history')) continue;
    await fs.copyFile(join(fromWal, name), join(toWal, name));
    if (user) await fs.chown(join(toWal, name), user.uid, user.gid);
  }
}

/** Copies a stopped cluster as it is, WAL included (it holds the shutdown checkpoint). */
export async function copyStoppedCluster(parentDir: string, childDir: string): Promise<{ files: number; bytes: number }> {
  return copyTree(parentDir, childDir, coldFilter);
}

/** Deletes a cluster directory; absent is fine. */
export async function removeCluster(dataDir: string): Promise<void> {
  await fs.rm(dataDir, { recursive: true, force: true });
}
