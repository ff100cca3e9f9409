/**
 * @module The engine's persisted state: what Neon's control plane would keep in its database.
 * Field names follow Neon's API objects so the HTTP layer maps them one to one.
 */

export type OperationStatus = 'scheduling' | 'running' | 'finished' | 'failed' | 'cancelled' | 'skipped';
export type OperationAction =
  | 'create_timeline'
  | 'create_branch'
  | 'start_compute'
  | 'suspend_compute'
  | 'apply_config'
  | 'delete_timeline'
  | 'create_compute';

export interface ProjectRecord {
  id: string;
  name: string;
  region_id: string;
  pg_version: number;
  history_retention_seconds: number;
  store_passwords: boolean;
  default_endpoint_settings: {
    autoscaling_limit_min_cu: number;
    autoscaling_limit_max_cu: number;
    suspend_timeout_seconds: number;
    pg_settings?: Record<string, string>;
  };
  settings: Record<string, unknown>;
  /** Storage measured by history retention (history/history.ts): clusters plus history, bytes. */
  synthetic_storage_size?: number;
  data_storage_bytes_hour?: number;
  storage_measured_at?: string;
  /** Password of the cluster superuser `cloud_admin`, encrypted; shared by every branch (they are copies). */
  superuser_password: string;
  created_at: string;
  updated_at: string;
}

export interface RoleRecord {
  name: string;
  /** Encrypted; absent for NOLOGIN roles. */
  password?: string;
  protected: boolean;
  created_at: string;
  updated_at: string;
}

export interface DatabaseRecord {
  id: number;
  name: string;
  owner_name: string;
  created_at: string;
  updated_at: string;
}

export type BranchState = 'init' | 'ready' | 'resetting';

export interface BranchRecord {
  id: string;
  project_id: string;
  name: string;
  parent_id?: string;
  parent_lsn?: string;
  parent_timestamp?: string;
  default: boolean;
  protected: boolean;
  expires_at?: string;
  /** Seconds from setting `expires_at` to it; a restore restarts the expiry with it. */
  ttl_interval_seconds?: number;
  last_reset_at?: string;
  /** Bytes of the branch's cluster on disk, as last measured. */
  logical_size?: number;
  current_state: BranchState;
  pending_state?: BranchState;
  /**
   * Present from the 201 of its creation until its data is complete: a restarted engine resumes
   * the creation from it (lifecycle/resume.ts), so an acknowledged branch is never lost.
   */
  creation?: { point?: { lsn?: string; timestamp?: string }; schema_only?: boolean; /** A schema-only branch's source (it has no parent). */ source_id?: string };
  /**
   * How its data was made (an engine extension, `GET …/x-arbor/…/creation`, not in Neon's views):
   * the parent's spare promoted, or a full copy and why no spare served (spares.ts). Absent for
   * a project's first branch and branches made before the engine recorded it.
   */
  made_by?: { strategy: 'spare' | 'copy'; reason?: string; duration_ms: number };
  /** `schema-only`: made with the parent's schema and no data; absent for `parent-data`. */
  init_source?: 'schema-only';
  /** Neon's branch annotation (`annotation_value` at creation), returned by get and list. */
  annotation?: { value: Record<string, string>; created_at: string; updated_at: string };
  state_changed_at: string;
  created_at: string;
  updated_at: string;
  roles: RoleRecord[];
  databases: DatabaseRecord[];
}

export type EndpointState = 'init' | 'active' | 'idle';

export interface EndpointRecord {
  id: string;
  project_id: string;
  branch_id: string;
  type: 'read_write' | 'read_only';
  port: number;
  /** Where PgBouncer serves it (compute/pooler.ts); absent without pgbouncer. */
  pooler_port?: number;
  autoscaling_limit_min_cu: number;
  autoscaling_limit_max_cu: number;
  suspend_timeout_seconds: number;
  settings: { pg_settings?: Record<string, string> };
  disabled: boolean;
  current_state: EndpointState;
  pending_state?: EndpointState;
  created_at: string;
  updated_at: string;
  last_active?: string;
  started_at?: string;
  suspended_at?: string;
}

export interface OperationRecord {
  id: string;
  project_id: string;
  branch_id?: string;
  endpoint_id?: string;
  action: OperationAction;
  status: OperationStatus;
  error?: string;
  failures_count: number;
  created_at: string;
  updated_at: string;
  total_duration_ms: number;
}

export interface ApiKeyRecord {
  id: number;
  name: string;
  /** sha256 of the key; the key itself is shown once. */
  hash: string;
  /** Only for the key the engine generated for itself: kept (encrypted) so each start can print it. */
  sealed?: string;
  created_at: string;
}

export interface CatalogData {
  version: 1;
  api_keys: ApiKeyRecord[];
  projects: ProjectRecord[];
  branches: BranchRecord[];
  endpoints: EndpointRecord[];
  operations: OperationRecord[];
  next_database_id: number;
}
