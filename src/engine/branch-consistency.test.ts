/**
 * A branch taken while the parent is busy is a consistent copy: writers on the parent never
 * pause or fail, the child holds exactly a prefix of the committed writes, and multi-row
 * transactions are never torn.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { connect, startTestEngine, waitFor, type TestEngine } from './test-support.ts';

let engine: TestEngine;
let projectId: string;
let uri: string;

before(async () => {
  engine = await startTestEngine();
  const { data } = await engine.api.createProject({ project: { name: 'busy' } });
  projectId = data.project.id;
  uri = data.connection_uris![0].connection_uri;
  await engine.settle(projectId);
});

after(() => engine.close());

for (const path of ['promoting a spare', 'copying the running parent'] as const) {
  test(`a write stream on the parent during branching loses nothing and tears nothing (${path})`, async () => {
    const mainId = (await engine.api.listProjectBranches({ projectId, search: 'main' })).data.branches[0].id;
    const spares = engine.engine.spares;
    if (path === 'promoting a spare') {
      spares.setEnabled(true);
      spares.replenish(engine.engine.branch(projectId, mainId));
      await spares.settled(mainId);
      assert.ok(spares.hasReady(mainId), 'a spare is ready');
    } else {
      spares.setEnabled(false);
      await spares.discard(mainId);
      assert.ok(!spares.hasReady(mainId));
    }
    const setup = await connect(uri);
    await setup.query('DROP TABLE IF EXISTS log, accounts');
    await setup.query('CREATE TABLE log (seq int PRIMARY KEY)');
    await setup.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)');
    await setup.query('INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 10) g');
    await setup.end();

    let running = true;
    let acknowledged = 0;
    const errors: unknown[] = [];
    async function appender(client: pg.Client) {
      let seq = 0;
      while (running) {
        await client.query('INSERT INTO log VALUES ($1)', [++seq]);
        acknowledged = seq;
      }
    }
    async function transferrer(client: pg.Client) {
      while (running) {
        const from = 1 + Math.floor(Math.random() * 10);
        const to = 1 + ((from + Math.floor(Math.random() * 9)) % 10);
        await client.query('BEGIN');
        await client.query('UPDATE accounts SET balance = balance - 7 WHERE id = $1', [from]);
        await client.query('UPDATE accounts SET balance = balance + 7 WHERE id = $1', [to]);
        await client.query('COMMIT');
      }
    }
    const writers = [await connect(uri), await connect(uri)];
    const work = [appender(writers[0]), transferrer(writers[1])].map((p) => p.catch((e) => errors.push(e)));
    await new Promise((r) => setTimeout(r, 200));
    const before = acknowledged;
    const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: `snapshot-${path.split(' ')[0]}` }, endpoints: [{ type: 'read_write' as never }] });
    assert.equal(data.branch.id === undefined, false);
    await engine.settle(projectId);
    const afterBranch = acknowledged;
    // The writers were not blocked by the branching: they go on (how many writes fit inside the
    // branching itself depends on the machine's load, so that count is not asserted).
    await waitFor('the parent to take writes after the branch', () => acknowledged > afterBranch);
    running = false;
    await Promise.all(work);
    for (const w of writers) await w.end();
    assert.deepEqual(errors, [], 'the parent kept serving writes');

    const child = await connect(data.connection_uris![0].connection_uri);
    const { rows } = await child.query('SELECT count(*)::int AS n, coalesce(max(seq), 0) AS max FROM log');
    assert.equal(rows[0].n, rows[0].max, 'the child holds a gap-free prefix of the log');
    assert.ok(rows[0].n >= before && rows[0].n <= afterBranch, `child prefix ${rows[0].n} within [${before}, ${afterBranch}]`);
    const sum = (await child.query('SELECT sum(balance)::int AS s FROM accounts')).rows[0].s;
    assert.equal(sum, 10_000, 'no transfer is torn on the child');
    await child.end();

    const parent = await connect(uri);
    const parentLog = (await parent.query('SELECT count(*)::int AS n, max(seq) AS max FROM log')).rows[0];
    assert.ok(parentLog.n >= acknowledged && parentLog.n === parentLog.max, 'the parent lost no acknowledged write');
    assert.equal((await parent.query('SELECT sum(balance)::int AS s FROM accounts')).rows[0].s, 10_000);
    await parent.end();
  });
}

test('every response the official client received matched Neon\'s OpenAPI spec', () => {
  assert.deepEqual(engine.specProblems, []);
});
