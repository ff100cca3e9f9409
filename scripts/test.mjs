// Runs every *.test.ts under src/ and test/ with Node's test runner (Node 20 has no --test globs).
//
// Each run gets its own temporary folder (TMPDIR for the tests), watched by a detached reaper:
// whatever ends the run — success, a failure, Ctrl-C, kill -9 of this process — the reaper then
// stops the test processes still running, the postmasters left under that folder, and removes it. Folders of earlier runs whose runner
// is gone are reaped first.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register } from 'tsx/esm/api';

register();
const { RUN_PREFIX, RUNNER_PID_FILE, reapAbandonedRuns } = await import('./reaper.ts');

function find(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const reaped = await reapAbandonedRuns();
if (reaped.length) console.log(`reaped what ${reaped.length} killed test run(s) left: ${reaped.join(', ')}`);

const runDir = mkdtempSync(join(tmpdir(), RUN_PREFIX));
writeFileSync(join(runDir, RUNNER_PID_FILE), String(process.pid));

const only = process.argv.slice(2);
const files = only.length ? only : [...find('src'), ...find('test')].sort();
// Its own process group, so the reaper can stop every test process at once if this runner dies.
// Files run side by side (each has its own homes and random ports): most of a test's time is
// PostgreSQL starting, copying and fsyncing, so two at a time fill a 2-core machine.
const concurrency = process.env.ARBOR_TEST_CONCURRENCY ?? '2';
const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=./scripts/file-times.mjs', '--test-reporter-destination=stdout', ...files], {
  stdio: 'inherit',
  detached: true,
  env: { ...process.env, TMPDIR: runDir },
});
spawn(process.execPath, ['--import', 'tsx', 'scripts/reaper.ts', 'watch', runDir, String(process.pid), String(child.pid)], {
  detached: true,
  stdio: 'ignore',
}).unref();
for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(name, () => {
    try {
      process.kill(-child.pid, name);
    } catch {
      // already gone
    }
  });
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
