/**
 * @module What a test run leaves behind, found and stopped. Engines run their postmasters detached
 * (so endpoints survive an engine crash), which means a test run killed from outside — a CI
 * timeout, Ctrl-C of the runner — would leave postmasters running. Every run gets its own
 * temporary folder (scripts/test.ts points TMPDIR at it), so "everything under that folder" is
 * exactly what the run made: the reaper stops those postmasters and removes the folder, and never
 * touches another run's.
 *
 * `node --import tsx scripts/reaper.ts watch <dir> <pid> <group>` waits for `pid` (the runner) to
 * exit, then kills process group `group` (the tests, if still running) and reaps `dir`.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const RUN_PREFIX = 'arbor-test-run-';
export const RUNNER_PID_FILE = 'runner.pid';

/** Postmasters whose data directory (`-D`) lies under `dir`, scanning /proc as `ps` would. */
export function postmastersUnder(dir: string): { pid: number; dataDir: string }[] {
  const found: { pid: number; dataDir: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const dataDir = cmd.includes('-D') ? cmd[cmd.indexOf('-D') + 1] : undefined;
      if (cmd[0].endsWith('/postgres') && dataDir?.startsWith(dir)) found.push({ pid: Number(entry), dataDir });
    } catch {
      // gone
    }
  }
  return found;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stops every postmaster under `dir` (SIGQUIT, then SIGKILL after `graceMs`) and waits until
 * they are gone, so nothing writes into `dir` any more. Returns how many it stopped.
 */
export async function stopPostmastersUnder(dir: string, graceMs = 10_000): Promise<number> {
  const found = postmastersUnder(dir);
  for (const { pid } of found) signal(pid, 'SIGQUIT');
  const deadline = Date.now() + graceMs;
  while (postmastersUnder(dir).length) {
    if (Date.now() > deadline) for (const { pid } of postmastersUnder(dir)) signal(pid, 'SIGKILL');
    await sleep(50);
  }
  return found.length;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** Removes `dir` once nothing runs in it; retries while a process that just died still flushes. */
export async function removeTree(dir: string): Promise<void> {
  await stopPostmastersUnder(dir);
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

/** Reaps the folders of earlier runs whose runner is gone (killed with SIGKILL, say). */
export async function reapAbandonedRuns(parent = tmpdir()): Promise<string[]> {
  const reaped: string[] = [];
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(RUN_PREFIX)) continue;
    const dir = join(parent, name);
    const pidFile = join(dir, RUNNER_PID_FILE);
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : NaN;
    if (Number.isInteger(pid) && alive(pid)) continue;
    // A folder a runner made a moment ago and has not yet signed.
    if (Number.isNaN(pid) && Date.now() - statSync(dir).mtimeMs < 60_000) continue;
    await removeTree(dir);
    reaped.push(dir);
  }
  return reaped;
}

if (process.argv[2] === 'watch') {
  const [dir, pid, group] = [process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
  while (alive(pid)) await sleep(500);
  signal(-group, 'SIGKILL');
  await removeTree(dir);
}
