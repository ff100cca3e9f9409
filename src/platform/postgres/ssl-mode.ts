/**
 * @module The SSL mode node-postgres expects. pg-connection-string 2.x treats
 * `sslmode=prefer|require|verify-ca` as `verify-full` (the certificate and the host name are
 * checked, against `sslrootcert` when the URL names one) and prints a "SECURITY WARNING" the
 * first time a process parses such a URL. Neon's connection URIs, and the engine's, say
 * `sslmode=require`. Spelling out `verify-full` keeps exactly the behaviour the library has
 * today, so TLS is not weakened, and the warning goes away. A URL that opts into libpq's
 * semantics (`uselibpqcompat=true`) is left as it is.
 */

const ALIASES_OF_VERIFY_FULL = new Set(['prefer', 'require', 'verify-ca']);

/**
 * The URL with `sslmode=verify-full` where node-postgres would treat its `sslmode` as that anyway.
 *
 * @example
 * explicitSslMode('postgresql://u:p@ep-x.neon.tech/neondb?sslmode=require&channel_binding=require')
 * // → 'postgresql://u:p@ep-x.neon.tech/neondb?sslmode=verify-full&channel_binding=require'
 */
export function explicitSslMode(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url.slice(q + 1).split('&');
  if (query.includes('uselibpqcompat=true')) return url;
  let changed = false;
  const rewritten = query.map((p) => {
    const [key, value] = p.split('=', 2);
    if (key !== 'sslmode' || !ALIASES_OF_VERIFY_FULL.has(decodeURIComponent(value ?? ''))) return p;
    changed = true;
    return 'sslmode=verify-full';
  });
  return changed ? `${url.slice(0, q)}?${rewritten.join('&')}` : url;
}
