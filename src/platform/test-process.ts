/**
 * @module Test fixture: the platform as a real child process (`arbor serve`), for tests that kill
 * it at a failpoint (`ARBOR_FAILPOINT`) and start it again on the same home; and plain JSON calls
 * to its API.
 */
import { spawn } from 'node:child_process';

export interface ServedPlatform {
  /** The API's base URL (`…/api/v1`). */
  url: string;
  /** What it printed until it listened (the first start prints the admin's password). */
  output: string;
  /** Its exit code; 137 when it was killed with SIGKILL (at a failpoint). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts `arbor serve --home <home>` on a free port; resolves once it listens and says how to log in. */
export function servePlatform(home: string, failpoint?: string): Promise<ServedPlatform> {
  const child = spawn(process.execPath, ['bin/arbor.js', 'serve', '--home', home, '--port', '0'], {
    env: { ...process.env, ARBOR_FAILPOINT: failpoint ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal === 'SIGKILL' ? 137 : code)));
  return new Promise((resolve, reject) => {
    let output = '';
    child.stderr!.resume();
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      const match = /listening: (\S+)/.exec(output);
      if (match && /Log in/.test(output)) {
        resolve({
          url: `${match[1]}/api/v1`,
          output,
          exited,
          async stop() {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
    exited.then((code) => reject(new Error(`arbor serve exited (${code}) before listening: ${output}`)));
  });
}

/** One JSON request to the platform's API; the body parsed when there is one. */
export async function callPlatform(url: string, method: string, path: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(url + path, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}
