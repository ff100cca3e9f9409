/**
 * `arbor roles apply` for an app of 5 databases × 20 services on a Neon-like PostgreSQL 17 (run
 * as the API-created encore_platform): from nothing, and the no-op re-run, with round trips. The
 * alternative beside it: the same plan sent one statement per round trip.
 *
 * Run: npm run bench:roles -- [--runs 3] [--noop-runs 20]
 */
import os from 'node:os';
import { validateAppModel } from '../src/platform/postgres/app-model.ts';
import { newRoundTrips, openSession } from '../src/platform/postgres/connection.ts';
import { applyRoles, runOperations } from '../src/platform/postgres/roles-apply.ts';
import { checkRoles } from '../src/platform/postgres/roles-check.ts';
import { observeRoles } from '../src/platform/postgres/roles-observe.ts';
import { planRoles } from '../src/platform/postgres/roles-plan.ts';
import { startNeonLikeServer } from '../src/platform/postgres/test-server.ts';
import { median, minMedianMax, numberOption } from './support.ts';

const runs = numberOption('runs', 3);
const noopRuns = numberOption('noop-runs', 20);

const DATABASES = ['orders', 'billing', 'catalog', 'users', 'events'];
const MODEL = validateAppModel({
  app: 'bench',
  databases: DATABASES.map((name) => ({ name })),
  services: Array.from({ length: 20 }, (_, i) => ({
    name: `service${i + 1}`,
    databases: [...new Set([DATABASES[i % 5], ...(i % 2 ? [DATABASES[(i + 1) % 5]] : [])])],
  })),
});

const fmt = (xs: number[]) => minMedianMax(xs, 1);

const fresh: number[] = [];
const freshTrips: string[] = [];
const oneByOne: number[] = [];
const oneByOneTrips: string[] = [];
const noop: number[] = [];
const check: number[] = [];
let noopTrips = '';
let operations = 0;

for (let run = 0; run < runs; run++) {
  // Batched, as `arbor roles apply` does.
  const server = await startNeonLikeServer();
  try {
    const result = await applyRoles(server.platformUrl, MODEL);
    if (result.remaining.length) throw new Error(`apply left deviations: ${JSON.stringify(result.remaining)}`);
    fresh.push(result.ms);
    operations = result.operations.length;
    freshTrips.push(`${result.roundTrips.queries} queries, ${result.roundTrips.connections} connections`);
    for (let i = 0; i < noopRuns; i++) {
      const again = await applyRoles(server.platformUrl, MODEL);
      if (again.changed) throw new Error('the re-run changed something');
      noop.push(again.ms);
      noopTrips = `${again.roundTrips.queries} queries, ${again.roundTrips.connections} connections`;
      const started = performance.now();
      await checkRoles(server.platformUrl, MODEL);
      check.push(performance.now() - started);
    }
  } finally {
    await server.stop();
  }
  // The alternative: the same plan, one statement per round trip.
  const naive = await startNeonLikeServer();
  try {
    const stats = newRoundTrips();
    const started = performance.now();
    const session = await openSession(naive.platformUrl, stats);
    const plan = planRoles(MODEL, await observeRoles(session, naive.platformUrl, MODEL, stats));
    for (const o of plan.operations) await runOperations(session, naive.platformUrl, [{ ...o, standalone: true }], stats, () => {});
    await session.end();
    oneByOne.push(performance.now() - started);
    oneByOneTrips.push(`${stats.queries} queries, ${stats.connections} connections`);
  } finally {
    await naive.stop();
  }
}

console.log(`roles apply, ${MODEL.databases.length} databases × ${MODEL.services.length} services (${operations} operations); ms min / median / max`);
console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log(`  from nothing, batched (arbor)         ${fmt(fresh)}   [${freshTrips[0]}]`);
console.log(`  from nothing, one statement per trip  ${fmt(oneByOne)}   [${oneByOneTrips[0]}]   ratio ${(median(oneByOne) / median(fresh)).toFixed(2)}×`);
console.log(`  no-op re-run (${noop.length} runs)               ${fmt(noop)}   [${noopTrips}]`);
console.log(`  check (${check.length} runs)                     ${fmt(check)}`);
