/**
 * @module What every platform service works with: the store, the secrets, a log that never sees
 * a secret, and who is acting.
 */
import type { Db } from './store/db.ts';
import type { Secrets } from './secrets.ts';
import type { UserRole } from './store/schema.ts';

export interface PlatformLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface Context {
  db: Db;
  secrets: Secrets;
  log: PlatformLog;
}

/** Who makes a request: a user (session) or an API token. */
export interface Actor {
  name: string;
  role: UserRole;
}
