/**
 * @module What every platform service works with: the store, the secrets, a log that never sees
 * a secret, and who is acting.
 */
import type { Db } from './store/db.ts';
import type { Secrets } from './secrets.ts';
import type { AppRole, UserRole } from './store/schema.ts';

export interface PlatformLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface Context {
  db: Db;
  secrets: Secrets;
  log: PlatformLog;
}

/** Who makes a request: a user (session) or an API token. What it may do per app: auth/access.ts. */
export interface Actor {
  name: string;
  /** `admin`: an instance admin (a user, or an instance-scoped admin token of one); else `member`. */
  role: UserRole;
  /** The user (session), or the user who made the token; none for a token made through ARBOR_HOME. */
  userId?: number;
  /** That user's instance role. */
  userRole?: UserRole;
  /** An API token: the one app it reaches (null: instance scope), and its role there. */
  token?: { id: number; appId: number | null; role: AppRole };
}
