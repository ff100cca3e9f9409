/**
 * The test runner (scripts/test.mjs) as CI kills it: a run killed with SIGKILL in the middle of a
 * test leaves no postmaster running and no folder behind, and a finished run removes its folder.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { alive, postmastersUnder, removeTree, RUN_PREFIX } from '../scripts/reaper.ts';
import { waitFor } from '../src/engine/test-support.ts';

const scratch = mkdtempSync(join(tmpdir(), 'arbor-runner-test-'));
after(() => removeTree(scratch));

/** Runs scripts/test.mjs on `file` with TMPDIR = `parent`; resolves with the runner process. */
function runner(file: string, parent: string, readyFile: string) {
  // Without NODE_TEST_CONTEXT, which would make the inner `node --test` report to this one.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return spawn(process.execPath, ['scripts/test.mjs', file], {
    stdio: 'ignore',
    env: { ...env, TMPDIR: parent, ARBOR_READY_FILE: readyFile },
  });
}

const runsUnder = (parent: string) => readdirSync(parent).filter((n) => n.startsWith(RUN_PREFIX));

test('kill -9 of the runner mid-test: its tests, postmasters and folder are gone', async () => {
  const parent = mkdtempSync(join(scratch, 'killed-'));
  const ready = join(parent, 'ready');
  const run = runner('test/fixtures/leaves-a-postmaster.ts', parent, ready);
  await waitFor('the fixture to start its engine', () => existsSync(ready), 120_000);
  const home = readFileSync(ready, 'utf8');
  assert.ok(home.startsWith(parent), 'the fixture made its home inside the run folder');
  assert.ok(postmastersUnder(parent).length >= 1, 'a postmaster runs');
  const [runDir] = runsUnder(parent);
  assert.ok(runDir, 'the run has its folder');

  run.kill('SIGKILL');
  await waitFor('the reaper to stop the postmasters', () => postmastersUnder(parent).length === 0, 60_000);
  await waitFor('the reaper to remove the run folder', () => !existsSync(join(parent, runDir)), 60_000);
  assert.deepEqual(runsUnder(parent), []);
});

test('a finished run removes its folder; a run reaps the folders of killed runs first', async () => {
  const parent = mkdtempSync(join(scratch, 'finished-'));
  // What a runner killed together with its reaper leaves: a folder signed by a process that is gone.
  const gone = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => gone.once('exit', r));
  assert.equal(alive(gone.pid!), false);
  const abandoned = mkdtempSync(join(parent, RUN_PREFIX));
  writeFileSync(join(abandoned, 'runner.pid'), String(gone.pid));

  const run = runner('test/fixtures/passes.ts', parent, join(parent, 'unused'));
  const code = await new Promise((r) => run.once('exit', r));
  assert.equal(code, 0);
  await waitFor('the finished run folder to be removed', () => runsUnder(parent).length === 0, 60_000);
});
