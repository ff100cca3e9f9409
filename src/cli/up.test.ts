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

function tokensCreate(role: string): Promise<string> {
  const child = spawn(process.execPath, ['bin/arbor.js', 'tokens', 'create', '--role', role, '--home', home], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 && /^arbor_pat_\S+\n$/.test(out) ? resolve(out.trim()) : reject(new Error(`tokens create exited ${code}: ${out} ${err}`)))),
  );
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
  // A token made while the platform runs (handed over through ARBOR_HOME) works at once.
  const live = await tokensCreate('developer');
  const me = await (await fetch(`${api}/me`, { headers: { authorization: `Bearer ${live}` } })).json();
  assert.deepEqual(me.user, { name: 'token:cli', role: 'member', token: { scope: 'instance', role: 'developer' } });
  assert.equal(await first.stop(), 0);
  // …and one made while it is stopped (written to the store directly) works after the restart.
  const offline = await tokensCreate('admin');

  const second = await up();
  assert.doesNotMatch(second.output, /Log in as/);
  assert.match(second.output, /arbor tokens create/);
  const api2 = /API:\s+(\S+)/.exec(second.output)![1];
  const audit = await fetch(`${api2}/audit`, { headers: { authorization: `Bearer ${offline}` } });
  assert.equal(audit.status, 200, 'an admin token');
  assert.equal(await second.stop(), 0);
});
