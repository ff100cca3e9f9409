/**
 * @module Connections to a branch given by URL: the same URL with another database, a count of
 * round trips (for benchmarks), and errors that never repeat the password.
 */
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { explicitSslMode } from './ssl-mode.ts';

/** What a run cost on the wire. */
export interface RoundTrips {
  connections: number;
  queries: number;
}

export function newRoundTrips(): RoundTrips {
  return { connections: 0, queries: 0 };
}

/** One connection; every `query` is one round trip. */
export class Session {
  constructor(
    private readonly client: pg.Client,
    readonly database: string,
    private readonly stats: RoundTrips,
  ) {}

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    this.stats.queries++;
    return this.client.query<R>(text, params);
  }

  /** A multi-statement text sent with the simple protocol: one round trip, one implicit transaction. */
  async batch(text: string): Promise<void> {
    this.stats.queries++;
    await this.client.query(text);
  }

  async end(): Promise<void> {
    await this.client.end().catch(() => {});
  }
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '*****';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** The user and database a URL names (database defaults to the user, as libpq does). */
export function urlTarget(url: string): { user: string; database: string } {
  const config = parseIntoClientConfig(explicitSslMode(url));
  const user = config.user ?? '';
  return { user, database: config.database ?? user };
}

/**
 * Opens a session on `url`, or on another database of the same server when `database` is given.
 * The name is set on the parsed config, never spliced into the URL, so any name works.
 */
export async function openSession(url: string, stats: RoundTrips, database?: string): Promise<Session> {
  let config: pg.ClientConfig;
  try {
    config = parseIntoClientConfig(explicitSslMode(url));
  } catch (error) {
    throw new Error(`the connection URL ${redactUrl(url)} cannot be parsed: ${(error as Error).message}`, { cause: error });
  }
  if (database !== undefined) config.database = database;
  const client = new pg.Client({ ...config, application_name: 'arbor' });
  stats.connections++;
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    const target = `database ${JSON.stringify(config.database ?? config.user)} as ${JSON.stringify(config.user)}`;
    throw Object.assign(new Error(`cannot connect to ${target} at ${redactUrl(url)}: ${(error as Error).message}`, { cause: error }), {
      code: (error as { code?: string }).code,
    });
  }
  return new Session(client, config.database ?? config.user ?? '', stats);
}
