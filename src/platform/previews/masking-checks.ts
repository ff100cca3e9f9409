/**
 * @module Test fixture for masked previews: everything a role can read (every relation's rows
 * and the planner statistics it may see), to scan for values that must never show.
 */
import assert from 'node:assert/strict';
import pg from 'pg';

export async function withClient<T>(uri: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Everything the client's role can read: every relation's rows as JSON, and the planner statistics it may see. */
export async function everythingReadable(client: pg.Client): Promise<string> {
  const relations = (
    await client.query(`SELECT format('%I.%I', n.nspname, c.relname) AS r FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND has_table_privilege(c.oid, 'SELECT')`)
  ).rows.map((r) => r.r as string);
  assert.ok(relations.includes('public.customers') && relations.includes('public.contacts') && relations.includes('public.emails'), relations.join());
  let text = '';
  for (const r of relations) text += JSON.stringify((await client.query(`SELECT row_to_json(x)::text AS j FROM ${r} x`)).rows);
  text += JSON.stringify((await client.query(`SELECT most_common_vals::text, histogram_bounds::text FROM pg_stats WHERE schemaname = 'public'`)).rows);
  return text;
}

/** Fails naming `where` and the first of `secrets` that `text` shows. */
export function assertShowsNone(secrets: readonly string[], text: string, where: string): void {
  for (const s of secrets) assert.ok(!text.includes(s), `${where} shows ${s}`);
}
