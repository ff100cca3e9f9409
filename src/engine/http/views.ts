/**
 * @module Catalog records as Neon's API objects (the shapes in Neon's OpenAPI spec).
 */
import type { Engine } from '../engine.ts';
import type { BranchRecord, DatabaseRecord, EndpointRecord, OperationRecord, ProjectRecord, RoleRecord } from '../catalog/types.ts';

const ENGINE_HOST = '127.0.0.1';
const EPOCH = '0001-01-01T00:00:00Z';

export function projectView(p: ProjectRecord) {
  return {
    id: p.id,
    platform_id: 'arbor',
    region_id: p.region_id,
    name: p.name,
    provisioner: 'k8s-neonvm',
    default_endpoint_settings: p.default_endpoint_settings,
    // Neon's defaults for what the engine does not enforce (no IP allowlist, no VPC, no logical replication).
    settings: { allowed_ips: { ips: [], protected_branches_only: false, primary_branch_only: false }, enable_logical_replication: false, block_public_connections: false, block_vpc_connections: false, ...p.settings },
    pg_version: p.pg_version,
    proxy_host: ENGINE_HOST,
    branch_logical_size_limit: 0,
    branch_logical_size_limit_bytes: 0,
    store_passwords: p.store_passwords,
    creation_source: 'arbor-engine',
    history_retention_seconds: p.history_retention_seconds,
    created_at: p.created_at,
    updated_at: p.updated_at,
    consumption_period_start: EPOCH,
    consumption_period_end: EPOCH,
    owner_id: 'arbor-engine',
    owner: { email: 'local@arbor.invalid', name: 'Arbor engine', branches_limit: 5000, subscription_type: 'scale' },
    quota_reset_at: EPOCH,
    data_storage_bytes_hour: p.data_storage_bytes_hour ?? 0,
    synthetic_storage_size: p.synthetic_storage_size ?? 0,
    data_transfer_bytes: 0,
    written_data_bytes: 0,
    compute_time_seconds: 0,
    active_time_seconds: 0,
    cpu_used_sec: 0,
  };
}

export function projectListItemView(p: ProjectRecord) {
  const { consumption_period_start: _s, consumption_period_end: _e, ...rest } = projectView(p);
  return { ...rest, active_time: 0 };
}

export function branchView(b: BranchRecord) {
  return {
    id: b.id,
    project_id: b.project_id,
    ...(b.parent_id ? { parent_id: b.parent_id } : {}),
    ...(b.parent_lsn ? { parent_lsn: b.parent_lsn } : {}),
    ...(b.parent_timestamp ? { parent_timestamp: b.parent_timestamp } : {}),
    name: b.name,
    current_state: b.current_state,
    ...(b.pending_state ? { pending_state: b.pending_state } : {}),
    state_changed_at: b.state_changed_at,
    creation_source: 'arbor-engine',
    primary: b.default,
    default: b.default,
    protected: b.protected,
    cpu_used_sec: 0,
    compute_time_seconds: 0,
    active_time_seconds: 0,
    written_data_bytes: 0,
    data_transfer_bytes: 0,
    ...(b.expires_at ? { expires_at: b.expires_at } : {}),
    ...(b.ttl_interval_seconds !== undefined ? { ttl_interval_seconds: b.ttl_interval_seconds } : {}),
    ...(b.last_reset_at ? { last_reset_at: b.last_reset_at } : {}),
    ...(b.logical_size !== undefined ? { logical_size: b.logical_size } : {}),
    init_source: b.init_source ?? 'parent-data',
    created_by: { name: 'Arbor engine', image: '' },
    created_at: b.created_at,
    updated_at: b.updated_at,
  };
}

/** `host` carries the port: each endpoint listens on its own loopback port (see README). */
export function endpointHost(e: EndpointRecord): string {
  return `${ENGINE_HOST}:${e.port}`;
}

export function endpointView(e: EndpointRecord, regionId: string) {
  return {
    host: endpointHost(e),
    id: e.id,
    project_id: e.project_id,
    branch_id: e.branch_id,
    autoscaling_limit_min_cu: e.autoscaling_limit_min_cu,
    autoscaling_limit_max_cu: e.autoscaling_limit_max_cu,
    region_id: regionId,
    type: e.type,
    current_state: e.current_state,
    ...(e.pending_state ? { pending_state: e.pending_state } : {}),
    settings: e.settings,
    pooler_enabled: false,
    pooler_mode: 'transaction',
    disabled: e.disabled,
    passwordless_access: false,
    creation_source: 'arbor-engine',
    created_at: e.created_at,
    updated_at: e.updated_at,
    // Present from the start, as in Neon's bodies (its creation time until the compute first runs).
    last_active: e.last_active ?? e.created_at,
    ...(e.started_at ? { started_at: e.started_at } : {}),
    ...(e.suspended_at ? { suspended_at: e.suspended_at } : {}),
    proxy_host: ENGINE_HOST,
    suspend_timeout_seconds: e.suspend_timeout_seconds,
    provisioner: 'k8s-neonvm',
  };
}

export function roleView(branchId: string, r: RoleRecord, password?: string) {
  return {
    branch_id: branchId,
    name: r.name,
    ...(password !== undefined ? { password } : {}),
    protected: r.protected,
    authentication_method: r.password ? 'password' : 'no_login',
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

export function databaseView(branchId: string, d: DatabaseRecord) {
  return { id: d.id, branch_id: branchId, name: d.name, owner_name: d.owner_name, created_at: d.created_at, updated_at: d.updated_at };
}

export function operationView(o: OperationRecord) {
  return { ...o };
}

/** Neon's `pooler_host`: where PgBouncer serves the endpoint (compute/pooler.ts), else its own host. */
export function poolerHost(e: EndpointRecord): string {
  return e.pooler_port ? `${ENGINE_HOST}:${e.pooler_port}` : endpointHost(e);
}

export function connectionUri(engine: Engine, endpoint: EndpointRecord, role: string, password: string, database: string, pooled = false): string {
  const url = new URL(`postgresql://${pooled ? poolerHost(endpoint) : endpointHost(endpoint)}`);
  url.username = role;
  url.password = password;
  url.pathname = `/${database}`;
  url.searchParams.set('sslmode', 'require');
  // The engine's certificate is signed by its local CA (compute/tls.ts); naming the CA lets
  // verifying clients (node-postgres treats `require` as verify-full) check it instead of failing.
  url.searchParams.set('sslrootcert', engine.tls.ca);
  return url.toString();
}

/** Neon returns `connection_uris` only when the branch has exactly one role and one database. */
export function connectionUris(engine: Engine, branch: BranchRecord, endpoint: EndpointRecord | undefined) {
  if (!endpoint || branch.roles.length !== 1 || branch.databases.length !== 1) return undefined;
  const role = branch.roles[0];
  const database = branch.databases[0];
  if (!role.password) return undefined;
  const password = engine.secrets.open(role.password);
  return [
    {
      connection_uri: connectionUri(engine, endpoint, role.name, password, database.name),
      connection_parameters: {
        database: database.name,
        password,
        role: role.name,
        host: endpointHost(endpoint),
        pooler_host: poolerHost(endpoint),
      },
    },
  ];
}
