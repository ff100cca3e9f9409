/**
 * The GitHub Action (action.yml) end to end: its composite steps run as the runner runs them —
 * `${{ inputs.* }}` filled in, each step a bash script with the variables GitHub sets
 * (GITHUB_EVENT_PATH with recorded `pull_request` payloads, GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY files, GITHUB_REPOSITORY, GITHUB_SHA, ...), the action's outputs read back
 * from the step's output file — against a real platform and engine. GitHub itself is not
 * reachable here: the comment goes to a stand-in on 127.0.0.1 that answers the three REST calls
 * octokit makes (list, create, update issue comments) in GitHub's shape; the comment's body is
 * also checked as a pure function.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { removeTree } from '../../scripts/reaper.ts';
import { commentMarker, previewCommentBody, type PreviewReport } from '../github/comment.ts';
import { escapeCommandData, parseOutputFile } from '../github/workflow.ts';
import { appModelToYaml } from '../platform/postgres/app-model.ts';
import { readEncoreApp } from '../platform/postgres/encore-app.ts';
import { startTestPlatform, type TestPlatform } from '../platform/test-support.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = join(ROOT, 'src/github/fixtures');
const MODEL = 'app: shop\ndatabases:\n  - name: main\n    migrations: migrations/main\nservices:\n  - name: orders\n    databases: [main]\n';
const USERS = 'CREATE TABLE users (id serial PRIMARY KEY, email text);';
const ORDERS = 'CREATE TABLE orders (id serial PRIMARY KEY, user_id int REFERENCES users (id), total numeric(10,2) NOT NULL DEFAULT 0);\nCREATE INDEX orders_user ON orders (user_id);';
const ITEMS = 'CREATE TABLE items (id serial PRIMARY KEY, order_id int NOT NULL REFERENCES orders (id));\nALTER TABLE users ALTER COLUMN email SET NOT NULL;';

let t: TestPlatform;
let token: string;
let developerToken: string;
let work: string;
let workspace: string;
let github: GithubStandIn;

// ---------------------------------------------------------------------------------------------
// A composite action run as the runner runs it.

interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The action's outputs (`outputs.*.value` evaluated). */
  outputs: Record<string, string>;
  /** The raw GITHUB_OUTPUT file of the step `preview`. */
  outputFile: string;
  summary: string;
}

const action = parseYaml(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { default?: string; required?: boolean }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: { id?: string; shell: string; run: string; env?: Record<string, string> }[] };
};

let runs = 0;
async function runAction(inputs: Record<string, string>, event: 'opened' | 'synchronize' | 'closed', options: { outputToStdout?: boolean } = {}): Promise<ActionRun> {
  const dir = join(work, `run-${++runs}`);
  mkdirSync(dir);
  const payload = JSON.parse(readFileSync(join(FIXTURES, `pull_request.${event}.json`), 'utf8'));
  const githubEnv: Record<string, string> = {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_ACTION_PATH: ROOT,
    GITHUB_WORKSPACE: workspace,
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: join(FIXTURES, `pull_request.${event}.json`),
    GITHUB_REPOSITORY: payload.repository.full_name,
    GITHUB_REPOSITORY_OWNER: payload.repository.owner.login,
    // On pull_request, GITHUB_SHA is the merge commit GitHub made; the head is in the payload.
    GITHUB_SHA: 'e7d1c2b3a4f5061728394a5b6c7d8e9f0a1b2c3d',
    GITHUB_REF: `refs/pull/${payload.number}/merge`,
    GITHUB_HEAD_REF: payload.pull_request.head.ref,
    GITHUB_BASE_REF: payload.pull_request.base.ref,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: github.url,
    GITHUB_RUN_ID: '12034567890',
    GITHUB_RUN_NUMBER: String(runs),
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_JOB: 'preview',
    GITHUB_WORKFLOW: 'Preview',
    GITHUB_ACTOR: payload.sender.login,
    GITHUB_ENV: join(dir, 'env'),
    GITHUB_PATH: join(dir, 'path'),
    GITHUB_STATE: join(dir, 'state'),
    RUNNER_OS: 'Linux',
    RUNNER_TEMP: dir,
    HOME: process.env.HOME ?? dir,
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    TMPDIR: process.env.TMPDIR ?? tmpdir(),
  };
  const context = { 'github.token': github.token };
  const evaluate = (text: string, steps: Record<string, Record<string, string>>): string =>
    text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
      const input = /^inputs\.([\w-]+)$/.exec(expr);
      if (input) {
        const def = action.inputs[input[1]];
        assert.ok(def, `action.yml declares input ${input[1]}`);
        return inputs[input[1]] ?? evaluate(def.default ?? '', steps);
      }
      const output = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expr);
      if (output) return steps[output[1]]?.[output[2]] ?? '';
      if (expr in context) return context[expr as keyof typeof context];
      throw new Error(`the test's runner does not know the expression ${expr}`);
    });
  for (const [name, def] of Object.entries(action.inputs)) if (def.required) assert.ok(name in inputs, `required input ${name} given`);
  assert.equal(action.runs.using, 'composite');
  const stepOutputs: Record<string, Record<string, string>> = {};
  let stdout = '';
  let stderr = '';
  let summary = '';
  let outputFile = '';
  let code = 0;
  for (const [i, step] of action.runs.steps.entries()) {
    const output = options.outputToStdout && step.id === 'preview' ? '/dev/stdout' : join(dir, `output-${i}`);
    const summaryFile = join(dir, `summary-${i}`);
    writeFileSync(summaryFile, '');
    if (output !== '/dev/stdout') writeFileSync(output, '');
    const script = join(dir, `step-${i}.sh`);
    writeFileSync(script, evaluate(step.run, stepOutputs));
    assert.equal(step.shell, 'bash');
    const env = { ...githubEnv, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summaryFile };
    for (const [k, v] of Object.entries(step.env ?? {})) env[k as keyof typeof env] = evaluate(v, stepOutputs);
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      // Node's stdio 'pipe' is a socket, which /dev/stdout cannot be opened on: through `| cat` it is a pipe.
      const args = output === '/dev/stdout' ? ['-o', 'pipefail', '-c', 'bash --noprofile --norc -eo pipefail "$0" | cat', script] : ['--noprofile', '--norc', '-eo', 'pipefail', script];
      const child = spawn('bash', args, { cwd: workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (c) => done({ code: c ?? 1, stdout: out, stderr: err }));
    });
    stdout += result.stdout;
    stderr += result.stderr;
    summary += readFileSync(summaryFile, 'utf8');
    const text = output === '/dev/stdout' ? result.stdout.split('\n').filter((l) => !l.startsWith('::')).join('\n') : readFileSync(output, 'utf8');
    if (step.id) {
      stepOutputs[step.id] = parseOutputFile(text);
      if (step.id === 'preview') outputFile = text;
    }
    if (result.code !== 0) {
      code = result.code;
      break;
    }
  }
  const outputs = Object.fromEntries(Object.entries(action.outputs).map(([name, o]) => [name, evaluate(o.value, stepOutputs)]));
  return { code, stdout, stderr, outputs, outputFile, summary };
}

// ---------------------------------------------------------------------------------------------
// GitHub's issue comments API, as a stand-in on 127.0.0.1 (GitHub is not reachable from tests).

interface GithubStandIn {
  url: string;
  token: string;
  comments: { id: number; body: string; updated: number }[];
  requests: string[];
  server: Server;
}

async function startGithubStandIn(): Promise<GithubStandIn> {
  const state: GithubStandIn = { url: '', token: 'ghs_16C7e42F292c6912E7710c838347Ae178B4a', comments: [], requests: [], server: undefined as unknown as Server };
  let next = 1_982_345_001;
  const view = (c: { id: number; body: string }) => ({
    url: `https://api.github.com/repos/octo-org/shop/issues/comments/${c.id}`,
    html_url: `https://github.com/octo-org/shop/pull/42#issuecomment-${c.id}`,
    issue_url: 'https://api.github.com/repos/octo-org/shop/issues/42',
    id: c.id,
    node_id: 'IC_kwDOMGs0Ts6WYc3p',
    user: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' },
    created_at: '2026-12-02T14:00:00Z',
    updated_at: '2026-12-02T14:00:00Z',
    author_association: 'NONE',
    body: c.body,
  });
  state.server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      state.requests.push(`${req.method} ${req.url}`);
      const reply = (status: number, data: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(data));
      };
      if (req.headers.authorization !== `token ${state.token}`) return reply(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/repos/octo-org/shop/issues/42/comments' && req.method === 'GET') return reply(200, state.comments.map(view));
      if (url.pathname === '/repos/octo-org/shop/issues/42/comments' && req.method === 'POST') {
        const c = { id: next++, body: JSON.parse(body).body, updated: 0 };
        state.comments.push(c);
        return reply(201, view(c));
      }
      const update = /^\/repos\/octo-org\/shop\/issues\/comments\/(\d+)$/.exec(url.pathname);
      const c = update && state.comments.find((x) => x.id === Number(update[1]));
      if (c && req.method === 'PATCH') {
        c.body = JSON.parse(body).body;
        c.updated++;
        return reply(200, view(c));
      }
      reply(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
    });
  });
  await new Promise<void>((r) => state.server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  // A comment of someone else's is left alone.
  state.comments.push({ id: next++, body: 'Looks good to me!', updated: 0 });
  return state;
}

// ---------------------------------------------------------------------------------------------

function writeMigrations(files: Record<string, string>): void {
  const dir = join(workspace, 'migrations/main');
  mkdirSync(dir, { recursive: true });
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
}

async function query(uri: string, text: string): Promise<any[]> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

const reveal = async (env: string, role = 'svc_orders') => (await t.call('POST', `/apps/shop/environments/${env}/users/${role}/reveal`)).body.user;

before(async () => {
  t = await startTestPlatform();
  github = await startGithubStandIn();
  work = mkdtempSync(join(tmpdir(), 'arbor-action-test-'));
  workspace = join(work, 'workspace');
  mkdirSync(workspace);
  writeFileSync(join(workspace, 'arbor.yaml'), MODEL);
  writeMigrations({ '1_users.up.sql': USERS });
  // db_url is a reveal: an admin token gets it; a developer token opens the preview without it (below).
  token = (await t.call('POST', '/tokens', { name: 'github-actions', role: 'admin' })).body.token;
  developerToken = (await t.call('POST', '/tokens', { name: 'github-actions-dev', role: 'developer' })).body.token;
  assert.ok(token && developerToken);
  await t.call('POST', '/accounts', { name: 'engine', apiKey: t.engine.apiKey, apiUrl: t.engine.url, plan: 'scale', allowInsecureUrl: true });
  assert.equal((await t.call('POST', '/apps', { model: MODEL, migrations: { main: [{ file: '1_users.up.sql', sql: USERS }] } })).status, 201);
  await t.call('POST', '/apps/shop/environments', { name: 'staging', account: 'engine', mode: 'new-project' });
  await t.waitFor('shop', 'staging', 'ready');
  assert.equal((await t.call('PATCH', '/apps/shop/previews', { parentEnvironment: 'staging' })).status, 200);
  await query((await reveal('staging')).connectionUri, "INSERT INTO users (email) VALUES ('ada@example.com')");
});

after(async () => {
  await new Promise((r) => github?.server.close(r));
  await t?.close();
  if (work) await removeTree(work);
});

let firstUrl = '';

test('opened: the preview is made with the pull request migrations; outputs, mask, summary and one comment', async () => {
  writeMigrations({ '2_orders.up.sql': ORDERS });
  const run = await runAction({ url: t.platform.url, token, comment: 'true' }, 'opened');
  assert.equal(run.code, 0, run.stderr);
  const { environment, status, host, db_url, schema_diff } = run.outputs;
  assert.equal(environment, 'pr:42');
  assert.equal(status, 'ready');
  assert.match(host, /^127\.0\.0\.1:\d+$/);
  const url = new URL(db_url);
  assert.equal(url.username, 'svc_orders', "the first service's role by default");
  assert.equal(url.host, host);
  firstUrl = db_url;
  // The URL works, and it is the preview's: the pull request's table is there, the parent's row too.
  assert.deepEqual((await query(db_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map((r) => r.tablename), ['orders', 'schema_migrations', 'users']);
  assert.deepEqual((await query(db_url, 'SELECT email FROM users')).map((r) => r.email), ['ada@example.com']);

  // Masked before it is written anywhere: the first line of stdout that holds it (or its password) is the mask.
  const password = decodeURIComponent(url.password);
  const lines = run.stdout.split('\n');
  const first = lines.findIndex((l) => l.includes(password));
  assert.ok(first >= 0 && lines[first] === `::add-mask::${password}`, 'the password is masked first');
  assert.ok(lines.includes(`::add-mask::${escapeCommandData(db_url)}`), 'the URL is masked');
  assert.ok(!run.stderr.includes(password), 'the password is in no log line');

  // Outputs: the multiline one in the delimiter form.
  assert.match(run.outputFile, /^schema_diff<<(ghadelimiter_[0-9a-f-]{36})\n[\s\S]*\n\1$/m);
  assert.match(run.outputFile, /^environment=pr:42$/m);
  assert.match(schema_diff, /➕ added table `public\.orders`/);
  assert.match(schema_diff, /➕ added index `public\.orders_user`/);
  assert.match(schema_diff, /against `staging`/);

  // The job summary: status, timings, the schema diff; never the password.
  assert.match(run.summary, /### Arbor preview `pr:42` of `shop`: 🟢 ready/);
  assert.match(run.summary, /\| open to ready \| \d+\.\d \|/);
  assert.ok(run.summary.includes(schema_diff));
  assert.ok(!run.summary.includes(password));

  // One comment by the action, with its marker; someone else's untouched.
  assert.equal(github.comments.length, 2);
  const mine = github.comments.find((c) => c.body.includes(commentMarker('shop', 42)))!;
  assert.ok(mine);
  assert.match(mine.body, /🟢 ready/);
  assert.match(mine.body, /table `public\.orders`/);
  assert.ok(!mine.body.includes(password) && !mine.body.includes(db_url));
  assert.equal(github.comments[0].body, 'Looks good to me!');
});

test('synchronize: new migrations apply; the same credentials; the mask line comes before the output is written; the comment is updated', async () => {
  writeMigrations({ '3_items.up.sql': ITEMS });
  // GITHUB_OUTPUT on the same stream as stdout: the order of mask and output is the order written.
  const run = await runAction({ url: t.platform.url, token, comment: 'true' }, 'synchronize', { outputToStdout: true });
  assert.equal(run.code, 0, run.stderr);
  const password = decodeURIComponent(new URL(run.outputs.db_url).password);
  const mask = run.stdout.indexOf(`::add-mask::${password}`);
  const written = run.stdout.indexOf('db_url=');
  assert.ok(mask >= 0 && written > mask, 'the mask is on stdout before the output is written');
  assert.equal(run.stdout.indexOf(password), mask + '::add-mask::'.length, 'nothing before the mask holds the password');
  assert.equal(run.outputs.db_url, firstUrl, 'a push keeps the preview and its passwords');
  assert.match(run.outputs.schema_diff, /➕ added table `public\.items`/);
  assert.match(run.outputs.schema_diff, /✏️ changed column `public\.users\.email`: `text` → `text NOT NULL`/);
  assert.deepEqual((await query(run.outputs.db_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map((r) => r.tablename), ['items', 'orders', 'schema_migrations', 'users']);
  const mine = github.comments.filter((c) => c.body.includes(commentMarker('shop', 42)));
  assert.equal(mine.length, 1, 'still one comment');
  assert.equal(mine[0].updated, 1);
  assert.match(mine[0].body, /table `public\.items`/);
  assert.match(mine[0].body, /at a1b2c3d/, "the head commit of the event's payload");
});

test("a developer's token updates the preview and gets every output but db_url (a reveal: app admins), with a warning saying why", async () => {
  const run = await runAction({ url: t.platform.url, token: developerToken, comment: 'true' }, 'synchronize');
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.outputs.status, 'ready');
  assert.equal(run.outputs.db_url, '', 'no db_url');
  assert.match(run.outputs.schema_diff, /➕ added table `public\.items`/);
  assert.match(run.stdout, /::warning::db_url is not set: revealing credentials needs the app's admin role \(app shop\); token:github-actions-dev is a developer there/);
  const password = decodeURIComponent(new URL(firstUrl).password);
  for (const text of [run.stdout, run.stderr, run.outputFile, run.summary]) assert.ok(!text.includes(password) && !text.includes(firstUrl), 'no credential anywhere');
  assert.doesNotMatch(run.summary, /db_url/, 'the summary does not name a db_url the job lacks');
});

test('arbor previews diff: the same diff from the command line, as markdown and JSON', async () => {
  const cli = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/arbor.js'), ...args], { env: { ...process.env, ARBOR_URL: t.platform.url, ARBOR_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
    });
  const api = (await t.call('GET', '/apps/shop/previews/42/schema-diff', undefined, { token })).body;
  const text = await cli('previews', 'diff', '--app', 'shop', '--pr', '42');
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout, `${api.markdown}\n`);
  const json = await cli('previews', 'diff', '--app', 'shop', '--pr', '42', '--json');
  assert.deepEqual(JSON.parse(json.stdout), api.diff);
});

test("reset: the parent's current data, the same URL and host, the pull request's migrations again", async () => {
  await query(firstUrl, "INSERT INTO users (email) VALUES ('only-in-preview@example.com')");
  await query((await reveal('staging')).connectionUri, "INSERT INTO users (email) VALUES ('grace@example.com')");
  const before = (await t.call('GET', '/apps/shop/environments/pr:42')).body.environment;
  const run = await runAction({ url: t.platform.url, token, action: 'reset' }, 'synchronize');
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.outputs.status, 'ready');
  assert.equal(run.outputs.db_url, firstUrl, 'passwords kept');
  assert.equal(run.outputs.host, before.neon.host, 'host kept');
  assert.deepEqual((await query(run.outputs.db_url, 'SELECT email FROM users ORDER BY id')).map((r) => r.email), ['ada@example.com', 'grace@example.com']);
  assert.deepEqual((await query(run.outputs.db_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map((r) => r.tablename), ['items', 'orders', 'schema_migrations', 'users']);
  const env = (await t.call('GET', '/apps/shop/environments/pr:42')).body.environment;
  assert.equal(env.neon.branchId, before.neon.branchId, 'the same branch');
  const steps = env.steps.filter((s: { generation: number }) => s.generation === env.generation).map((s: { step: string }) => s.step);
  assert.deepEqual(steps, ['neon-resources', 'operations', 'reset-from-parent', 'superuser', 'roles', 'settings', 'migrations']);
  const audit = (await t.call('GET', '/audit')).body.entries;
  assert.ok(audit.some((e: { action: string; target: string }) => e.action === 'preview.reset' && e.target === 'shop/pr:42'));
  assert.match(run.summary, /reset to its parent \(branch of `staging`\)/);
});

test('closed: the preview is closed; the comment says so', async () => {
  const run = await runAction({ url: t.platform.url, token, comment: 'true' }, 'closed');
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.outputs.environment, 'pr:42');
  assert.equal(run.outputs.status, 'deleting');
  assert.equal(run.outputs.db_url, '');
  const deadline = Date.now() + 60_000;
  while ((await t.call('GET', '/apps/shop/environments/pr:42')).status !== 404) {
    assert.ok(Date.now() < deadline, 'closed in time');
    await new Promise((r) => setTimeout(r, 100));
  }
  const mine = github.comments.filter((c) => c.body.includes(commentMarker('shop', 42)));
  assert.equal(mine.length, 1);
  assert.match(mine[0].body, /⚪ closed/);
  assert.ok(!mine[0].body.includes('Schema changes'));
  // Closing again: nothing to close, not an error.
  const again = await runAction({ url: t.platform.url, token }, 'closed');
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.outputs.status, 'absent');
});

test('a failing migration: status failed, exit 1, the error in the summary and as an annotation', async () => {
  writeMigrations({ '4_broken.up.sql': 'ALTER TABLE nowhere ADD COLUMN x int;' });
  try {
    const run = await runAction({ url: t.platform.url, token, pr: '43' }, 'opened');
    assert.equal(run.code, 1);
    assert.equal(run.outputs.environment, 'pr:43');
    assert.equal(run.outputs.status, 'failed');
    assert.match(run.summary, /🔴 failed/);
    assert.match(run.summary, /\*\*Error:\*\*.*nowhere/);
    assert.match(run.stdout, /^::error::Arbor preview pr:43: /m);
  } finally {
    await t.call('DELETE', '/apps/shop/previews/43', undefined, { token });
  }
});

test('model: an Encore app folder (encore.app, SQLDatabase declarations) instead of arbor.yaml', async () => {
  // An Encore app as `encore app create` lays it out, with one service and its database.
  const root = join(work, 'encore-app');
  const files: Record<string, string> = {
    'encore.app': '{\n\t// The app ID\n\t"id": "enc-shop",\n\t"lang": "typescript"\n}\n',
    'package.json': '{ "name": "enc-shop", "type": "module", "dependencies": { "encore.dev": "^1.46.0" } }\n',
    'orders/encore.service.ts': 'import { Service } from "encore.dev/service";\n\nexport default new Service("orders");\n',
    'orders/db.ts': 'import { SQLDatabase } from "encore.dev/storage/sqldb";\n\nexport const db = new SQLDatabase("orders", { migrations: "./migrations" });\n',
    'orders/orders.ts': 'import { api } from "encore.dev/api";\nimport { db } from "./db";\n\nexport const count = api({ expose: true, method: "GET", path: "/orders/count" }, async () => {\n  const row = await db.queryRow<{ n: number }>`SELECT count(*)::int AS n FROM orders`;\n  return { n: row!.n };\n});\n',
    'orders/migrations/1_create_orders.up.sql': 'CREATE TABLE orders (id BIGSERIAL PRIMARY KEY, total INT NOT NULL);\n',
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  const { model } = await readEncoreApp(root);
  assert.deepEqual(model.databases.map((d) => d.name), ['orders']);
  const created = await t.call('POST', '/apps', { model: appModelToYaml(model), migrations: { orders: [{ file: '1_create_orders.up.sql', sql: files['orders/migrations/1_create_orders.up.sql'] }] } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await t.call('POST', '/apps/enc-shop/environments', { name: 'staging', account: 'engine', mode: 'new-project' });
  await t.waitFor('enc-shop', 'staging', 'ready');
  await t.call('PATCH', '/apps/enc-shop/previews', { parentEnvironment: 'staging' });
  // The pull request adds a migration in the Encore app's folder.
  writeFileSync(join(root, 'orders/migrations/2_add_note.up.sql'), 'ALTER TABLE orders ADD COLUMN note TEXT;\n');
  const run = await runAction({ url: t.platform.url, token, model: root, pr: '5' }, 'opened');
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.outputs.environment, 'pr:5');
  assert.equal(run.outputs.status, 'ready');
  assert.equal(new URL(run.outputs.db_url).username, 'svc_orders');
  assert.match(run.outputs.schema_diff, /➕ added column `public\.orders\.note`: `text`/);
  const closed = await runAction({ url: t.platform.url, token, app: 'enc-shop', pr: '5' }, 'closed');
  assert.equal(closed.outputs.status, 'deleting');
});

test('the comment body: marker first, no credential, close without a schema diff', () => {
  const report: PreviewReport = {
    app: 'shop',
    pr: 7,
    action: 'open',
    environment: 'pr:7',
    status: 'ready',
    parent: 'staging',
    sha: '3f4e5d6c7b8a99887766554433221100ffeeddcc',
    role: 'svc_orders',
    schemaDiff: 'No schema changes: `pr:7` has the schema of `staging`.',
    timings: [{ step: 'open to ready', seconds: 1.234 }],
    runUrl: 'https://github.com/octo-org/shop/actions/runs/1',
  };
  const body = previewCommentBody(report);
  assert.equal(body.split('\n')[0], '<!-- arbor-preview app=shop pr=7 -->');
  assert.equal(
    body,
    [
      '<!-- arbor-preview app=shop pr=7 -->',
      '### Arbor preview `pr:7` of `shop`: 🟢 ready',
      '',
      "opened (branch of `staging`) · at 3f4e5d6 · the job's `db_url` is for role `svc_orders`",
      '',
      '| step | seconds |',
      '| --- | ---: |',
      '| open to ready | 1.2 |',
      '',
      '#### Schema changes',
      '',
      'No schema changes: `pr:7` has the schema of `staging`.',
      '',
      '[workflow run](https://github.com/octo-org/shop/actions/runs/1)',
      '',
    ].join('\n'),
  );
  const closed = previewCommentBody({ ...report, action: 'close', status: 'deleting', timings: [] });
  assert.ok(!closed.includes('Schema changes'));
  assert.match(closed, /⚪ closed \(being deleted\)/);
  assert.equal(commentMarker('we"ird-->', 1), '<!-- arbor-preview app=weird-- pr=1 -->', 'nothing of the app name can end the comment');
});
