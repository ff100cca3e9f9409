/**
 * The listen shim hands clients to the postmaster without leaking them into its other children:
 * bursts of concurrent connections (while a spare's walsender and autovacuum run beside them)
 * all close cleanly when their clients end — a leaked socket in another child kept a server end
 * open, so `end()` never returned (seen as a hanging concurrent migration test).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startTestProject, type TestEngine } from '../test-support.ts';

let engine: TestEngine;
let uri: string;
let mainId: string;

before(async () => {
  ({ engine, mainId, mainUri: uri } = await startTestProject({ name: 'handoff' }));
});
after(() => engine.close());

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

test('bursts of concurrent connections open and close cleanly', async () => {
  const spares = engine.engine.spares;
  const main = engine.engine.data.branches.find((b) => b.id === mainId)!;
  spares.replenish(main);
  await spares.settled(mainId);
  for (let round = 0; round < 10; round++) {
    // Plain TCP: with TLS the backend's close_notify ends the client's side even if the socket leaked.
    const plain = uri.replace(/\?.*$/, '');
    const clients = Array.from({ length: 8 }, () => new pg.Client({ connectionString: plain }));
    await within(Promise.all(clients.map((c) => c.connect())), 10_000, `round ${round}: connecting`);
    const pids = await Promise.all(clients.map(async (c) => (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid));
    assert.equal(new Set(pids).size, 8, 'each client has its own backend');
    // Every client but the first ends while the first stays: its backend, forked during the
    // burst, must not hold the others' sockets.
    const [first, ...rest] = round % 2 ? [...clients].reverse() : clients;
    await within(Promise.all(rest.map((c) => c.end())), 3000, `round ${round}: closing while one stays`);
    await within(first.end(), 3000, `round ${round}: closing the last`);
  }
});
