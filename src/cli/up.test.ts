/**
 * `arbor up` through the built binary (what `npm start` runs): it prints where the API is and a
 * one-time admin login that works, with the embedded engine connected as account `local`; the
 * second start reuses the state and prints no password.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const home = mkdtempSync(join(tmpdir(), 'arbor-up-test-'));
after(() => rmSync(home, { recursive: true, force: true }));

function up(): Promise<{ output: string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, ['bin/arbor.js', 'up', '--home', home, '--port', '0', '--engine-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let output = '';
    child.stderr!.resume();
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      if (output.includes('Press Ctrl-C')) resolve({ output, stop: async () => (child.kill('SIGINT'), exited) });
    });
    exited.then((code) => reject(new Error(`arbor up exited with ${code}: ${output}`)));
  });
}

test('arbor up prints the API and a working one-time login; the local account is connected', async () => {
  const first = await up();
  const api = /API:\s+(\S+)/.exec(first.output)?.[1];
  const password = /Log in as:\s+admin \/ (\S+)/.exec(first.output)?.[1];
  assert.ok(api && password, first.output);
  const login = await fetch(`${api}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password }) });
  assert.equal(login.status, 200);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
  assert.match(login.headers.get('set-cookie') ?? '', /HttpOnly/i);
  const accounts = await (await fetch(`${api}/accounts`, { headers: { cookie } })).json();
  assert.deepEqual(accounts.accounts.map((a: { name: string }) => a.name), ['local']);
  assert.equal(await first.stop(), 0);

  const second = await up();
  assert.doesNotMatch(second.output, /Log in as/);
  assert.match(second.output, /arbor tokens create/);
  assert.equal(await second.stop(), 0);
});
