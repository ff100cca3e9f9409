/**
 * The engine key of `arbor engine serve` as a user meets it: printed on the first start of a home
 * only, never on later starts, never on stderr (the log), kept in no file in plain text, and
 * printed on demand by `arbor engine key`.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { createApiClient } from '@neondatabase/api-client';
import { removeTree } from '../../scripts/reaper.ts';
import { exited } from './test-process.ts';

const execFileAsync = promisify(execFile);
const home = mkdtempSync(join(tmpdir(), 'arbor-engine-key-'));
let running: ChildProcess | undefined;

after(async () => {
  if (running) await stop(running);
  await removeTree(home);
});

interface Start {
  url: string;
  stdout: string;
  stderr: string;
  child: ChildProcess;
}

/** `arbor engine serve` on `home` without `--api-key`; resolves once it has printed its whole banner. */
function serve(): Promise<Start> {
  const child = spawn(process.execPath, ['bin/arbor.js', 'engine', 'serve', '--home', home, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  running = child;
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const url = /listening: (\S+)/.exec(stdout);
      if (url && /^Try: .*\n/m.test(stdout)) resolve({ url: url[1], stdout, get stderr() { return stderr; }, child });
    });
    child.once('exit', (code) => reject(new Error(`engine exited with ${code}: ${stdout}${stderr}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const gone = exited(child);
  child.kill('SIGTERM');
  await gone;
  running = undefined;
}

async function engineKey(): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, ['bin/arbor.js', 'engine', 'key', '--home', home]);
  return stdout.trim();
}

/** Every file under `dir` whose bytes contain `secret`. */
function filesHolding(dir: string, secret: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) found.push(...filesHolding(path, secret));
    else if (stat.isFile() && readFileSync(path).includes(secret)) found.push(path);
  }
  return found;
}

test('the key is printed on the first start only, by `arbor engine key` on demand, and logged nowhere', async () => {
  await assert.rejects(engineKey(), /no engine state in/, 'before the first start there is no key to print');

  const first = await serve();
  const printed = /^API key: (\S+)\s+\(shown once/m.exec(first.stdout);
  assert.ok(printed, `the first start prints the key:\n${first.stdout}`);
  const key = printed[1];
  const { status } = await createApiClient({ apiKey: key, baseURL: first.url }).listProjects({});
  assert.equal(status, 200, 'the printed key is the engine key');
  await stop(first.child);
  assert.ok(!first.stderr.includes(key), `the log (stderr) carries the key:\n${first.stderr}`);

  const second = await serve();
  assert.ok(!second.stdout.includes(key), `a later start prints the key:\n${second.stdout}`);
  assert.ok(!second.stderr.includes(key), `a later start logs the key:\n${second.stderr}`);
  assert.match(second.stdout, /^API key: not shown again; print it with: npx arbor engine key --home /m);
  assert.equal((await createApiClient({ apiKey: key, baseURL: second.url }).listProjects({})).status, 200, 'the key stays the same');

  assert.equal(await engineKey(), key, '`arbor engine key` prints it');
  await stop(second.child);
  assert.deepEqual(filesHolding(home, key), [], 'no file of the home holds the key in plain text');
});
