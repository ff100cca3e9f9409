/**
 * The CLI as a newcomer meets it, through the real binary (bin/arbor.js): every command's help has
 * an example; the problems of a first start (a port in use, no C compiler, a state directory of
 * another user, a machine that is not linux-x64) end with one sentence and exit code 1, never a
 * stack trace; a normal `arbor up`, up to a ready environment, prints no library warning.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Command } from 'commander';
import { createProgram } from './program.ts';

const homes: string[] = [];
after(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'arbor-newcomer-'));
  homes.push(home);
  return home;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function arbor(args: string[], options: { env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): Promise<Run> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), 'bin/arbor.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** Exit code 1, and stderr is a single `ERROR:` sentence (after any progress lines), no stack frames. */
function assertOneSentence(run: Run, pattern: RegExp): void {
  assert.equal(run.code, 1, run.stderr);
  const lines = run.stderr.trim().split('\n');
  const errors = lines.filter((l) => !l.startsWith('INFO: '));
  assert.equal(errors.length, 1, `one line besides progress: ${run.stderr}`);
  assert.match(errors[0], /^ERROR: [^\n]+\.$/);
  assert.match(errors[0], pattern);
  assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack frames');
  assert.doesNotMatch(run.stdout, /Arbor is up/);
}

function holdPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, server })));
}

describe('help', () => {
  /** What `--help` prints for `command`, captured in-process (the tree is built as main.ts builds it). */
  function helpOf(command: Command): string {
    let out = '';
    command.configureOutput({ writeOut: (s) => (out += s) });
    command.outputHelp();
    return out;
  }

  test('every command has an example after its help', () => {
    const seen: string[] = [];
    const visit = (command: Command, path: string[]) => {
      const help = helpOf(command);
      assert.match(help, /\nExamples?:\n {2}\$ \S/, `arbor ${path.join(' ')} --help has an example:\n${help}`);
      seen.push(path.join(' '));
      for (const sub of command.commands) visit(sub, [...path, sub.name()]);
    };
    visit(createProgram(), []);
    for (const command of ['', 'up', 'serve', 'engine serve', 'roles apply', 'migrate', 'tokens create', 'apps apply', 'previews open', 'db shell']) assert.ok(seen.includes(command), `${command} was visited: ${seen.join(', ')}`);
  });

  test('the binary prints it: arbor --help and arbor up --help', async () => {
    for (const args of [['--help'], ['up', '--help']]) {
      const run = await arbor(args);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /\nExamples?:\n {2}\$ npx arbor up/);
    }
  });
});

describe('a first start that cannot work says why in one sentence', () => {
  test('the platform port is in use', async () => {
    const held = await holdPort();
    try {
      const run = await arbor(['up', '--home', newHome(), '--port', String(held.port), '--engine-port', '0']);
      assertOneSentence(run, new RegExp(`port ${held.port} .*in use.*--port N.*npm start -- --port N`));
    } finally {
      held.server.close();
    }
  });

  test('the engine port is in use (arbor up and arbor engine serve)', async () => {
    const held = await holdPort();
    try {
      assertOneSentence(await arbor(['up', '--home', newHome(), '--port', '0', '--engine-port', String(held.port)]), /in use.*--engine-port N/);
      assertOneSentence(await arbor(['engine', 'serve', '--home', newHome(), '--port', String(held.port)]), /in use.*--port N/);
    } finally {
      held.server.close();
    }
  });

  test('there is no C compiler for the listen shim', async () => {
    const run = await arbor(['up', '--home', newHome(), '--port', '0', '--engine-port', '0'], { env: { CC: 'arbor-test-no-such-compiler', ARBOR_ENGINE_NO_SHIM: '' } });
    assertOneSentence(run, /no C compiler.*arbor-test-no-such-compiler.*apt-get install gcc libc6-dev.*ARBOR_ENGINE_NO_SHIM=1/);
  });

  test('the state directory belongs to another user', { skip: process.getuid?.() !== 0 && 'needs root to give a directory away' }, async () => {
    const home = newHome();
    chownSync(home, 65534, 65534);
    const run = await arbor(['up', '--home', home, '--port', '0', '--engine-port', '0']);
    assertOneSentence(run, new RegExp(`${home} belongs to .*uid 65534.*not to you.*--home DIR`));
  });

  test('the machine is not linux-x64', async () => {
    // The CLI sees another platform, as it would on a Mac.
    const pretend = 'data:text/javascript,Object.defineProperty(process,"platform",{value:"darwin"});Object.defineProperty(process,"arch",{value:"arm64"})';
    const run = await arbor(['up', '--home', newHome(), '--port', '0', '--engine-port', '0'], { nodeArgs: ['--import', pretend] });
    assertOneSentence(run, /needs Linux on x64 .*darwin-arm64: run it on a Linux x64 machine/);
  });
});

describe('a normal start', () => {
  test('arbor up, an environment, a resize and a branch of it: progress lines and no warning', async () => {
    const home = newHome();
    const child = spawn(process.execPath, ['bin/arbor.js', 'up', '--home', home, '--port', '0', '--engine-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (c) => {
          stdout += c;
          if (stdout.includes('Press Ctrl-C')) resolve();
        });
        exited.then((code) => reject(new Error(`arbor up exited with ${code}: ${stdout} ${stderr}`)));
      });
      const api = /API:\s+(\S+)/.exec(stdout)![1];
      const password = /Log in as:\s+admin \/ (\S+)/.exec(stdout)![1];
      const login = await fetch(`${api}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password }) });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
      const call = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`${api}${path}`, { method, headers: { cookie, 'content-type': 'application/json', origin: new URL(api).origin }, body: body === undefined ? undefined : JSON.stringify(body) });
        const data = await response.json();
        assert.ok(response.ok, `${method} ${path}: ${JSON.stringify(data)}`);
        return data;
      };
      const model = 'app: shop\ndatabases:\n  - name: main\nservices:\n  - name: orders\n    databases: [main]\n';
      await call('POST', '/apps', { model, migrations: { main: [{ file: '1_init.up.sql', sql: 'CREATE TABLE orders (id serial PRIMARY KEY);' }] } });
      await call('POST', '/apps/shop/environments', { name: 'staging', type: 'production', account: 'local', mode: 'new-project', regionId: 'aws-us-east-2', pgVersion: 17 });
      const ready = async (name: string) => {
        for (;;) {
          const { environment } = await call('GET', `/apps/shop/environments/${name}`);
          assert.notEqual(environment.status, 'failed', environment.error);
          if (environment.status === 'ready' && environment.generation === environment.observedGeneration) return;
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      // The platform connects to the branch (roles, migrations) with the engine's sslmode=require URI.
      await ready('staging');
      // The README's next steps: a bigger compute (the branch's spare is made again at that size), then a branch of it.
      await call('PATCH', '/apps/shop/environments/staging/neon', { minCu: 0.5, maxCu: 2 });
      await ready('staging');
      await call('POST', '/apps/shop/environments', { name: 'dev', mode: 'branch-environment', parentEnvironment: 'staging' });
      await ready('dev');
      // A second arbor on the same state directory stops before it touches anything.
      const second = await arbor(['up', '--home', home, '--port', '0', '--engine-port', '0']);
      assertOneSentence(second, new RegExp(`${home} is in use by another arbor \\(process ${child.pid}\\): .*--home DIR`));
      assertOneSentence(await arbor(['engine', 'serve', '--home', join(home, 'engine'), '--port', '0']), /is in use by another arbor/);
      await ready('dev');
    } finally {
      child.kill('SIGINT');
      await exited;
    }
    assert.match(stderr, /^INFO: starting the engine/m);
    assert.match(stderr, /^INFO: starting the platform/m);
    assert.doesNotMatch(stderr, /WARNING|DeprecationWarning|Warning:/, stderr);
  });
});
