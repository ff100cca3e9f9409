/**
 * @module LSNs, WAL segment names and PostgreSQL's timestamp text: the small conversions point-in-
 * time work needs.
 */

export const LSN_PATTERN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;

/** `0/1DE2850` → a number that orders like the WAL. */
export function lsnValue(lsn: string): bigint {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

/** A fixed-width, sortable form of an LSN for file names. */
export function lsnKey(lsn: string): string {
  return lsnValue(lsn).toString(16).toUpperCase().padStart(16, '0');
}

/** The part of a segment file name (`TTTTTTTTXXXXXXXXYYYYYYYY`) that orders segments whatever the timeline. */
export function segmentOrder(name: string): string {
  return name.slice(8, 24);
}

export function isSegmentName(name: string): boolean {
  return /^[0-9A-F]{24}$/.test(name);
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * An RFC 3339 timestamp as PostgreSQL's own text (`2024-02-26 12:00:00.123456+00`), keeping every
 * fractional digit up to microseconds: `recovery_target_time` refuses JavaScript's ISO form.
 */
export function pgTimestamp(rfc3339: string): string {
  const m = RFC3339.exec(rfc3339);
  if (!m) throw new Error(`not an RFC 3339 timestamp: ${rfc3339}`);
  const fraction = m[3] ? m[3].slice(0, 7) : '';
  const zone = m[4].toUpperCase() === 'Z' ? '+00' : m[4];
  return `${m[1]} ${m[2]}${fraction}${zone}`;
}

/** A timestamp in microseconds since the epoch, from RFC 3339 text (Date keeps only milliseconds). */
export function micros(rfc3339: string): bigint {
  const m = RFC3339.exec(rfc3339);
  if (!m) return BigInt(Date.parse(rfc3339)) * 1000n;
  const wholeSeconds = Date.parse(`${m[1]}T${m[2]}${m[4]}`);
  const fraction = (m[3] ?? '.').slice(1).padEnd(6, '0').slice(0, 6);
  return BigInt(wholeSeconds) * 1000n + BigInt(fraction);
}

/** Neon's timestamp form: RFC 3339 in UTC, seconds precision. */
export function neonTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
