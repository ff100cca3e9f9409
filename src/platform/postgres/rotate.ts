/**
 * @module New passwords for every login role of the hierarchy on a branch — run on each preview
 * branch, which otherwise shares its parent's passwords (docs/roles.md).
 */
import { newRoundTrips, openSession } from './connection.ts';
import { quoteIdent as q, quoteLiteral } from './names.ts';
import { generatePassword, type Secret } from './roles-plan.ts';

/**
 * Sets a new password on every login role the connected role administers (every role it created,
 * on PG16+: the whole hierarchy, services removed from the model excepted since they cannot log
 * in), all in one transaction. The connected role itself (an API role) is reset through the Neon
 * API instead. Returns the new secrets, sorted by role.
 */
export async function rotatePasswords(url: string, options: { generatePassword?: () => string } = {}): Promise<Secret[]> {
  const next = options.generatePassword ?? generatePassword;
  const session = await openSession(url, newRoundTrips());
  try {
    const { rows } = await session.query<{ name: string }>(
      `SELECT r.rolname AS name FROM pg_catalog.pg_roles r
       WHERE r.rolcanlogin AND r.rolname OPERATOR(pg_catalog.<>) current_user AND NOT r.rolsuper
         AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION')
       ORDER BY r.rolname`,
    );
    const secrets = rows.map((r) => ({ role: r.name, password: next() }));
    if (secrets.length) await session.batch(secrets.map((s) => `ALTER ROLE ${q(s.role)} WITH PASSWORD ${quoteLiteral(s.password)};`).join('\n'));
    return secrets;
  } finally {
    await session.end();
  }
}
