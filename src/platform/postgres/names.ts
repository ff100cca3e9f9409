/**
 * @module Role and database names of the hierarchy (docs/roles.md): how they are formed from the
 * app model, how they are validated, and the one way identifiers and literals reach SQL.
 */

/** PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63;

export const DEFAULT_PREFIX = 'encore';

/**
 * Quotes an identifier for SQL: `"` doubled, always wrapped, so no name can end the identifier.
 *
 * @example quoteIdent('a"; DROP ROLE x; --') // => "a""; DROP ROLE x; --"
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('an SQL identifier cannot be empty');
  if (name.includes('\0')) throw new Error(`the SQL identifier ${JSON.stringify(name)} contains a NUL byte`);
  return '"' + name.replace(/"/g, '""') + '"';
}

/**
 * Quotes a string literal as node-postgres' `escapeLiteral` does: `'` doubled, and with a
 * backslash present the `E''` form with backslashes doubled, so the value is read back exactly
 * whatever `standard_conforming_strings` says.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('an SQL string literal cannot contain a NUL byte');
  const body = value.replace(/'/g, "''");
  if (!value.includes('\\')) return `'${body}'`;
  return `E'${body.replace(/\\/g, '\\\\')}'`;
}

/** Every role of the hierarchy for one prefix; per-database and per-service names by function. */
export interface RoleNames {
  platform: string;
  reader: string;
  writer: string;
  admin: string;
  services: string;
  dbReader(db: string): string;
  dbWriter(db: string): string;
  dbAdmin(db: string): string;
  service(service: string): string;
}

export function roleNames(prefix: string = DEFAULT_PREFIX): RoleNames {
  return {
    platform: `${prefix}_platform`,
    reader: `${prefix}_reader`,
    writer: `${prefix}_writer`,
    admin: `${prefix}_admin`,
    services: `${prefix}_services`,
    dbReader: (db) => `db_${db}_reader`,
    dbWriter: (db) => `db_${db}_writer`,
    dbAdmin: (db) => `db_${db}_admin`,
    service: (service) => `${SERVICE_ROLE_PREFIX}${service}`,
  };
}

/** Service roles are recognised by this prefix (a service removed from the model keeps its role). */
export const SERVICE_ROLE_PREFIX = 'svc_';

export function byteLength(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

/** Names PostgreSQL refuses for roles, or that Neon reserves. */
const RESERVED_ROLE_NAMES = new Set(['public', 'none', 'current_user', 'session_user', 'current_role', 'neon_superuser', 'cloud_admin', 'zenith_admin']);

/**
 * Why `name` cannot be used as a database (or any) name, or null when it can. The name is sent
 * quoted, so any printable character is allowed; what is refused is what PostgreSQL would reject
 * or silently change: empty, control characters, or longer than 63 bytes (it would be truncated,
 * and two long names could become the same object).
 */
export function identifierProblem(name: string): string | null {
  if (name.length === 0) return 'is empty';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'contains a control character (newline, tab, NUL, ...)';
  if (name !== name.trim()) return 'starts or ends with white space';
  const bytes = byteLength(name);
  if (bytes > MAX_IDENTIFIER_BYTES) return `is ${bytes} bytes long; PostgreSQL names hold at most ${MAX_IDENTIFIER_BYTES} bytes and would truncate it`;
  return null;
}

/** As `identifierProblem`, and also the names PostgreSQL or Neon reserve for roles. */
export function roleNameProblem(name: string): string | null {
  const problem = identifierProblem(name);
  if (problem) return problem;
  if (RESERVED_ROLE_NAMES.has(name.toLowerCase())) return 'is a reserved role name';
  if (/^pg_/i.test(name)) return 'starts with pg_, which PostgreSQL reserves for its own roles';
  return null;
}
