/**
 * @module The one allowlist of `pg_settings` an endpoint (or a project's
 * `default_endpoint_settings`, or the endpoints of a branch create) may carry, and the check of
 * their values. The API refuses everything else with a 400 naming the setting; the settings file
 * writer (clusters/cluster.ts) keeps only what passes here too, so a catalog written before this
 * check cannot carry a command into postgresql.conf either.
 *
 * Where the list comes from. Neon's control plane checks `pg_settings` against a permitted list of
 * its own (not published); what Neon documents is the rule behind it: "Neon permits configuring
 * parameters that have a `user` context" (neon.com/docs/reference/compatibility, "Configuring
 * Postgres parameters for a session, database, or role"), and its notes on the API's settings
 * (neondatabase/website, docs/reference/pg-configuration.md) add that `log_` and `debug_` settings
 * are not for users. So the list below is PostgreSQL 17's `user`-context parameters (`SELECT
 * name FROM pg_settings WHERE context = 'user'`), with their type, unit and range from the same
 * view, minus the ones marked in EXCLUDED_USER_CONTEXT (debug/trace/log output, library loading,
 * settings the engine owns or that would lock it out). Nothing of `sighup`, `superuser` or
 * `postmaster` context is accepted: that is where `archive_command`, `restore_command`, every
 * `*_command`, `shared_preload_libraries`, `session_preload_libraries`, `dynamic_library_path`,
 * the file paths (`data_directory`, `config_file`, `hba_file`, `ssl_*_file`) and the log
 * destinations (`log_directory`, `log_filename`, `logging_collector`, `log_destination`) live.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_PG_VERSION, findBinaries } from '../clusters/binaries.ts';

type Memory = 'B' | 'kB' | '8kB' | 'MB';
type Time = 'us' | 'ms' | 's' | 'min';
/** How a setting's value is checked: PostgreSQL's vartype, with its unit and range. */
type Kind =
  | { type: 'bool' }
  | { type: 'integer' | 'real'; min: number; max: number; unit?: Memory | Time }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'string'; check: (value: string) => string | undefined };

const bool: Kind = { type: 'bool' };
const int = (min: number, max: number, unit?: Memory | Time): Kind => ({ type: 'integer', min, max, unit });
const real = (min: number, max: number, unit?: Memory | Time): Kind => ({ type: 'real', min, max, unit });
const oneOf = (...values: string[]): Kind => ({ type: 'enum', values });
const text = (check: (value: string) => string | undefined): Kind => ({ type: 'string', check });

const INT_MAX = 2147483647;
const DBL_MAX = Number.MAX_VALUE;

const IDENT = String.raw`(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const identList = (what: string, extra = '') => {
  const item = extra ? `(?:${IDENT}|${extra})` : IDENT;
  const pattern = new RegExp(`^\\s*(?:${item}(?:\\s*,\\s*${item})*)?\\s*$`);
  return text((v) => (pattern.test(v) ? undefined : `must be a comma-separated list of ${what}`));
};
const identifier = (what: string, qualified = false) => {
  const pattern = new RegExp(qualified ? `^(?:${IDENT}\\.)?${IDENT}$` : `^${IDENT}$`);
  return text((v) => (pattern.test(v) ? undefined : `must be ${what}`));
};

const DATESTYLE_WORDS = new Set(['iso', 'sql', 'postgres', 'german', 'dmy', 'mdy', 'ymd', 'euro', 'european', 'us', 'noneuro', 'noneuropean', 'default']);

/** The `user`-context parameters of PostgreSQL 17 that an endpoint may set, by lower-case name. */
const ALLOWED: Record<string, Kind & { since?: number; name?: string }> = {
  application_name: text((v) => (/^[\x20-\x7e]{0,63}$/.test(v) ? undefined : 'must be at most 63 printable ASCII characters')),
  array_nulls: bool,
  backend_flush_after: int(0, 256, '8kB'),
  backslash_quote: oneOf('safe_encoding', 'on', 'off'),
  bytea_output: oneOf('escape', 'hex'),
  check_function_bodies: bool,
  client_connection_check_interval: int(0, INT_MAX, 'ms'),
  client_min_messages: oneOf('debug5', 'debug4', 'debug3', 'debug2', 'debug1', 'log', 'notice', 'warning', 'error'),
  commit_siblings: int(0, 1000),
  constraint_exclusion: oneOf('partition', 'on', 'off'),
  cpu_index_tuple_cost: real(0, DBL_MAX),
  cpu_operator_cost: real(0, DBL_MAX),
  cpu_tuple_cost: real(0, DBL_MAX),
  cursor_tuple_fraction: real(0, 1),
  datestyle: {
    name: 'DateStyle',
    ...text((v) => (v.split(',').every((part) => part.trim().split(/\s+/).every((w) => DATESTYLE_WORDS.has(w.toLowerCase()))) ? undefined : 'must be like "ISO, MDY"')),
  },
  default_statistics_target: int(1, 10000),
  default_table_access_method: identifier('an access method name, e.g. heap'),
  default_tablespace: identList('tablespace names'),
  default_text_search_config: identifier('a text search configuration, e.g. pg_catalog.english', true),
  // lz4 only where PostgreSQL was built with it; the embedded builds are not.
  default_toast_compression: oneOf('pglz'),
  default_transaction_deferrable: bool,
  default_transaction_isolation: oneOf('serializable', 'repeatable read', 'read committed', 'read uncommitted'),
  effective_cache_size: int(1, INT_MAX, '8kB'),
  effective_io_concurrency: int(0, 1000),
  enable_async_append: bool,
  enable_bitmapscan: bool,
  enable_gathermerge: bool,
  enable_group_by_reordering: { ...bool, since: 17 },
  enable_hashagg: bool,
  enable_hashjoin: bool,
  enable_incremental_sort: bool,
  enable_indexonlyscan: bool,
  enable_indexscan: bool,
  enable_material: bool,
  enable_memoize: bool,
  enable_mergejoin: bool,
  enable_nestloop: bool,
  enable_parallel_append: bool,
  enable_parallel_hash: bool,
  enable_partition_pruning: bool,
  enable_partitionwise_aggregate: bool,
  enable_partitionwise_join: bool,
  enable_presorted_aggregate: { ...bool, since: 16 },
  enable_seqscan: bool,
  enable_sort: bool,
  enable_tidscan: bool,
  escape_string_warning: bool,
  extra_float_digits: int(-15, 3),
  from_collapse_limit: int(1, INT_MAX),
  geqo: bool,
  geqo_effort: int(1, 10),
  geqo_generations: int(0, INT_MAX),
  geqo_pool_size: int(0, INT_MAX),
  geqo_seed: real(0, 1),
  geqo_selection_bias: real(1.5, 2),
  geqo_threshold: int(2, INT_MAX),
  gin_fuzzy_search_limit: int(0, INT_MAX),
  gin_pending_list_limit: int(64, INT_MAX, 'kB'),
  hash_mem_multiplier: real(1, 1000),
  icu_validation_level: { ...oneOf('disabled', 'debug5', 'debug4', 'debug3', 'debug2', 'debug1', 'log', 'notice', 'warning', 'error'), since: 16 },
  idle_in_transaction_session_timeout: int(0, INT_MAX, 'ms'),
  idle_session_timeout: int(0, INT_MAX, 'ms'),
  intervalstyle: { name: 'IntervalStyle', ...oneOf('postgres', 'postgres_verbose', 'sql_standard', 'iso_8601') },
  io_combine_limit: { ...int(1, 32, '8kB'), since: 17 },
  jit: bool,
  jit_above_cost: real(-1, DBL_MAX),
  jit_expressions: bool,
  jit_inline_above_cost: real(-1, DBL_MAX),
  jit_optimize_above_cost: real(-1, DBL_MAX),
  jit_tuple_deforming: bool,
  join_collapse_limit: int(1, INT_MAX),
  lock_timeout: int(0, INT_MAX, 'ms'),
  logical_decoding_work_mem: int(64, INT_MAX, 'kB'),
  maintenance_io_concurrency: int(0, 1000),
  maintenance_work_mem: int(1024, INT_MAX, 'kB'), // 1 MB: the minimum up to Postgres 16 (64 kB from 17)
  max_parallel_maintenance_workers: int(0, 1024),
  max_parallel_workers: int(0, 1024),
  max_parallel_workers_per_gather: int(0, 1024),
  min_parallel_index_scan_size: int(0, 715827882, '8kB'),
  min_parallel_table_scan_size: int(0, 715827882, '8kB'),
  parallel_leader_participation: bool,
  parallel_setup_cost: real(0, DBL_MAX),
  parallel_tuple_cost: real(0, DBL_MAX),
  plan_cache_mode: oneOf('auto', 'force_generic_plan', 'force_custom_plan'),
  quote_all_identifiers: bool,
  random_page_cost: real(0, DBL_MAX),
  recursive_worktable_factor: { ...real(0.001, 1e6), since: 15 },
  row_security: bool,
  scram_iterations: { ...int(1, INT_MAX), since: 16 },
  search_path: identList('schema names, e.g. "$user", public', String.raw`\$user`),
  seq_page_cost: real(0, DBL_MAX),
  standard_conforming_strings: bool,
  statement_timeout: int(0, INT_MAX, 'ms'),
  stats_fetch_consistency: { ...oneOf('none', 'cache', 'snapshot'), since: 15 },
  synchronize_seqscans: bool,
  synchronous_commit: oneOf('local', 'remote_write', 'remote_apply', 'on', 'off'),
  tcp_keepalives_count: int(0, INT_MAX),
  tcp_keepalives_idle: int(0, INT_MAX, 's'),
  tcp_keepalives_interval: int(0, INT_MAX, 's'),
  tcp_user_timeout: int(0, INT_MAX, 'ms'),
  temp_buffers: int(100, 1073741823, '8kB'),
  temp_tablespaces: identList('tablespace names'),
  timezone: { name: 'TimeZone', ...text(checkTimeZone) },
  timezone_abbreviations: text((v) => (/^(Default|Australia|India)$/.test(v) ? undefined : 'must be Default, Australia or India')),
  transaction_timeout: { ...int(0, INT_MAX, 'ms'), since: 17 },
  transform_null_equals: bool,
  vacuum_buffer_usage_limit: { ...int(0, 16777216, 'kB'), since: 16 },
  vacuum_cost_delay: real(0, 100, 'ms'),
  vacuum_cost_limit: int(1, 10000),
  vacuum_cost_page_dirty: int(0, 10000),
  vacuum_cost_page_hit: int(0, 10000),
  vacuum_cost_page_miss: int(0, 10000),
  vacuum_failsafe_age: int(0, 2100000000),
  vacuum_freeze_min_age: int(0, 1000000000),
  vacuum_freeze_table_age: int(0, 2000000000),
  vacuum_multixact_failsafe_age: int(0, 2100000000),
  vacuum_multixact_freeze_min_age: int(0, 1000000000),
  vacuum_multixact_freeze_table_age: int(0, 2000000000),
  wal_sender_timeout: int(0, INT_MAX, 'ms'),
  wal_skip_threshold: int(0, INT_MAX, 'kB'),
  work_mem: int(64, INT_MAX, 'kB'),
  xmlbinary: oneOf('base64', 'hex'),
  xmloption: oneOf('content', 'document'),
};

/**
 * `user`-context parameters left out on purpose, and why (the error names the reason). Every
 * `debug_*`, `trace_*` and `log_*` name is refused as well, whatever its context.
 */
const EXCLUDED_USER_CONTEXT: Record<string, string> = {
  local_preload_libraries: 'it loads shared libraries into every session',
  client_encoding: 'the client chooses its encoding',
  createrole_self_grant: 'the engine sets it for neon_superuser',
  password_encryption: 'Neon always uses scram-sha-256',
  default_transaction_read_only: 'it would make the compute read-only for Neon itself',
  transaction_read_only: 'it is per transaction',
  transaction_isolation: 'it is per transaction; use default_transaction_isolation',
  transaction_deferrable: 'it is per transaction; use default_transaction_deferrable',
  restrict_nonsystem_relation_kind: 'it is a setting for maintenance tools',
  exit_on_error: 'it ends sessions on any error',
  lc_monetary: 'locales depend on the compute image',
  lc_numeric: 'locales depend on the compute image',
  lc_time: 'locales depend on the compute image',
  session_authorization: 'roles are chosen when connecting',
  role: 'roles are chosen when connecting',
};

const MEMORY_KB: Record<string, number> = { B: 1 / 1024, kB: 1, MB: 1024, GB: 1024 ** 2, TB: 1024 ** 3, '8kB': 8 };
const TIME_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Why `name = value` is refused for a compute of PostgreSQL `pgVersion`, or undefined when it is accepted. */
export function pgSettingProblem(name: string, value: string, pgVersion?: number): string | undefined {
  const key = name.toLowerCase();
  // Own properties only: `constructor` or `__proto__` must not find Object.prototype's.
  const kind = Object.hasOwn(ALLOWED, key) ? ALLOWED[key] : undefined;
  if (!kind) {
    const why = (Object.hasOwn(EXCLUDED_USER_CONTEXT, key) ? EXCLUDED_USER_CONTEXT[key] : undefined) ?? (/^(debug|trace|log)_/.test(key) || key === 'logging_collector' ? 'logging is run by Neon' : undefined);
    return `setting ${name} cannot be changed${why ? ` (${why})` : ''}; Neon accepts only session-level (user context) Postgres parameters such as work_mem or statement_timeout`;
  }
  if (kind.since && pgVersion !== undefined && pgVersion < kind.since) return `setting ${name} requires Postgres ${kind.since} or later`;
  if (value.length > 1024) return `setting ${name}: value must be at most 1024 characters`;
  if (/[\x00-\x1f\x7f]/.test(value)) return `setting ${name}: value must not contain control characters (newlines, tabs, NUL)`;
  const bad = valueProblem(kind, value.trim());
  return bad ? `setting ${name}: value ${JSON.stringify(value)} ${bad}` : undefined;
}

function valueProblem(kind: Kind, value: string): string | undefined {
  switch (kind.type) {
    case 'bool':
      return /^(on|off|true|false|yes|no|1|0)$/i.test(value) ? undefined : 'must be on or off';
    case 'enum':
      return kind.values.includes(value.toLowerCase()) ? undefined : `must be one of ${kind.values.join(', ')}`;
    case 'string':
      return kind.check(value);
    case 'integer':
    case 'real': {
      const match = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z]*)$/.exec(value);
      const range = `${kind.min}…${kind.max === INT_MAX || kind.max === DBL_MAX ? 'max' : kind.max}${kind.unit ? ` (in ${kind.unit})` : ''}`;
      if (!match) return `must be a number${kind.unit ? ' with an optional unit' : ''} in ${range}`;
      let number = Number(match[1]);
      const unit = match[2];
      if (unit) {
        const table = kind.unit && kind.unit in TIME_MS ? TIME_MS : kind.unit ? MEMORY_KB : undefined;
        if (!table || !(unit in table) || unit === '8kB') return `has unit ${unit}; ${kind.unit ? `use one of ${Object.keys(table!).filter((u) => u !== '8kB').join(', ')}` : 'this setting takes a plain number'}`;
        number = (number * table[unit]) / table[kind.unit!];
      }
      if (kind.type === 'integer') number = Math.round(number);
      if (!Number.isFinite(number) || number < kind.min || number > kind.max) return `is out of range ${range}`;
      return undefined;
    }
  }
}

function checkTimeZone(value: string): string | undefined {
  if (/^(UTC|GMT|Z)$/i.test(value) || /^[+-]?\d{1,2}(:\d{2})?$/.test(value)) return undefined;
  const problem = 'must be a time zone name such as UTC or Europe/Paris, or an offset such as +02:00';
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(value)) return problem;
  const dir = timezoneDir();
  // PostgreSQL looks zone names up in its tz database case-insensitively.
  if (dir) {
    let here = dir;
    for (const part of value.split('/')) {
      const found = existsSync(here) ? readdirSync(here).find((entry) => entry.toLowerCase() === part.toLowerCase()) : undefined;
      if (!found) return problem;
      here = join(here, found);
    }
  }
  return undefined;
}

let tzDir: string | null | undefined;
function timezoneDir(): string | null {
  if (tzDir === undefined) {
    const bins = findBinaries(DEFAULT_PG_VERSION);
    const dir = bins ? join(dirname(bins.lib), 'share', 'postgresql', 'timezone') : '';
    tzDir = dir && existsSync(dir) ? dir : null;
  }
  return tzDir;
}

/** The settings of `extra` that pass the allowlist, by their canonical names (what the settings file gets). */
export function allowedPgSettings(extra: Record<string, string> | undefined): [string, string][] {
  return Object.entries(extra ?? {})
    .filter(([name, value]) => typeof value === 'string' && pgSettingProblem(name, value) === undefined)
    .map(([name, value]) => [ALLOWED[name.toLowerCase()].name ?? name.toLowerCase(), value]);
}

/** The request schema of `pg_settings`: an object of string values, each name allowlisted and each value checked. */
export const pgSettingsSchema = z.preprocess(
  (raw, ctx) => {
    // zod's record drops a `__proto__` key without a word; refuse it like any other name.
    if (raw && typeof raw === 'object' && Object.hasOwn(raw, '__proto__')) {
      ctx.addIssue({ code: 'custom', path: ['__proto__'], message: pgSettingProblem('__proto__', '')! });
    }
    return raw;
  },
  z.record(z.string(), z.string({ error: 'pg_settings values must be strings' })).superRefine((settings, ctx) => {
    for (const [name, value] of Object.entries(settings)) {
      const problem = pgSettingProblem(name, value);
      if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
    }
  }),
);

/** The first setting of `settings` that Postgres `pgVersion` does not have (the schema checks names and values, not versions). */
export function pgSettingsVersionProblem(settings: Record<string, string> | undefined, pgVersion: number): string | undefined {
  for (const [name, value] of Object.entries(settings ?? {})) {
    const problem = pgSettingProblem(name, value, pgVersion);
    if (problem) return problem;
  }
  return undefined;
}
