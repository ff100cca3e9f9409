/**
 * @module How CLI commands reach the platform: its HTTP API at `--url` / ARBOR_URL (default
 * http://127.0.0.1:4400) with the token in ARBOR_TOKEN. Failures become errors that repeat the
 * API's message and the field it names.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Option } from 'commander';
import { readMigrationTexts } from '../platform/postgres/migrate.ts';
import { parseAppModel } from '../platform/postgres/app-model.ts';

export const urlOption = () => new Option('--url <url>', 'the platform').env('ARBOR_URL').default('http://127.0.0.1:4400');

export class PlatformClient {
  constructor(
    private readonly url: string,
    private readonly token = process.env.ARBOR_TOKEN,
  ) {
    if (!token) throw new Error('ARBOR_TOKEN is not set: make a platform API token where `arbor up` keeps its state (`npx arbor tokens create --role admin`, with the same ARBOR_HOME or --home) and export ARBOR_TOKEN=<it>');
  }

  async call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.url.replace(/\/+$/, '')}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new Error(`cannot reach the platform at ${this.url}: ${(error as Error).message} (is \`npx arbor up\` running? set --url or ARBOR_URL)`);
    }
    const text = await response.text();
    const data = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const e = data?.error;
      // The status goes along for callers that treat a refusal differently (github.ts: db_url).
      throw Object.assign(new Error(e ? `${e.message}${e.field ? ` (field: ${e.field})` : ''}` : `the platform answered ${response.status}`), { status: response.status });
    }
    return data as T;
  }
}

/** An arbor.yaml and the migration files its databases point at, as the API takes them. */
export async function readAppFile(file: string): Promise<{ model: string; migrations: Record<string, { file: string; sql: string }[]> }> {
  const path = resolve(file);
  const text = await readFile(path, 'utf8');
  const model = parseAppModel(text, file);
  const migrations: Record<string, { file: string; sql: string }[]> = {};
  for (const db of model.databases) {
    if (!db.migrations) continue;
    migrations[db.name] = await readMigrationTexts(dirname(path), db);
  }
  return { model: text, migrations };
}

/** Polls an environment until it is ready (progress on stderr), failing on `failed`. */
export async function waitReady(client: PlatformClient, app: string, env: string, timeoutMs = 600_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let shown = 0;
  for (;;) {
    const { environment } = await client.call('GET', `/apps/${encodeURIComponent(app)}/environments/${encodeURIComponent(env)}`);
    const steps = environment.steps.filter((s: { generation: number }) => s.generation === environment.generation);
    for (const step of steps.slice(shown)) if (step.status !== 'running') process.stderr.write(`INFO: ${step.step}: ${step.status}${step.detail ? ` (${step.detail})` : ''}\n`);
    shown = steps.filter((s: { status: string }) => s.status !== 'running').length;
    if (environment.status === 'ready' && environment.generation === environment.observedGeneration) return environment;
    // An import's listed changes wait for an app admin: nothing more happens until then.
    if (environment.status === 'awaiting_confirmation' && environment.generation === environment.observedGeneration) {
      process.stderr.write(`INFO: ${app}/${env} awaits confirmation of ${environment.pendingChanges.length} change(s): npx arbor environments confirm-import --app ${app} --env ${env}\n`);
      return environment;
    }
    if (environment.status === 'failed') throw new Error(`environment ${app}/${env} failed: ${environment.error}`);
    if (Date.now() > deadline) throw new Error(`environment ${app}/${env} is still ${environment.status} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function print(data: unknown, json: boolean | undefined, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(data, null, 2) + '\n' : text());
}
