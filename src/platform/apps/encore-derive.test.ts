/**
 * POST /encore-apps/derive reads the upload in a worker thread (derive-pool.ts): the answer is the
 * one the CLI's in-process derive gives; while a large generated app is being parsed, another
 * request is answered (an ordering, not a timing); past the time limit the worker is stopped, the
 * answer is a 413 naming the limit, no temporary folder is left, and the next upload is read.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../test-support.ts';
import { deriveEvents, type DeriveJob } from './derive-pool.ts';
import { deriveEncoreApp } from './encore.ts';

const FIXTURES = new URL('../../../test/fixtures/encore', import.meta.url).pathname;
let t: TestPlatform;

before(async () => {
  t = await startTestPlatform();
});
after(() => t?.close());

function upload(root: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push({ path: relative(root, full), text: readFileSync(full, 'utf8') });
    }
  };
  walk(root);
  return out;
}

/** An Encore app of `n` services, each with its database, a migration and forty typed functions. */
function generatedApp(n: number): { path: string; text: string }[] {
  const files = [{ path: 'encore.app', text: '{"id": "big", "lang": "typescript"}' }];
  for (let i = 0; i < n; i++) {
    const fns = Array.from({ length: 40 }, (_, k) => `export async function f${k}(x: number): Promise<{ v: number; s: string }> {\n  const r = await DB${i}.queryRow<{ v: number }>\`SELECT \${x} + ${k} AS v\`;\n  return { v: r!.v, s: String(x).padStart(${k % 7}, "0") };\n}\n`).join('\n');
    files.push(
      { path: `svc${i}/encore.service.ts`, text: `import { Service } from "encore.dev/service";\nexport default new Service("svc${i}");\n` },
      { path: `svc${i}/db.ts`, text: `import { SQLDatabase } from "encore.dev/storage/sqldb";\nexport const DB${i} = new SQLDatabase("db${i}", { migrations: "./migrations" });\n` },
      { path: `svc${i}/migrations/1_init.up.sql`, text: `CREATE TABLE t${i} (id serial PRIMARY KEY);\n` },
      { path: `svc${i}/api.ts`, text: `import { DB${i} } from "./db";\n${fns}` },
    );
  }
  return files;
}

test('the upload is read in a worker and answers as the in-process derive does', async () => {
  const derived = await t.call('POST', '/encore-apps/derive', { folder: 'ts-shop', files: upload(join(FIXTURES, 'ts-shop')) });
  assert.equal(derived.status, 200, JSON.stringify(derived.body));
  assert.deepEqual(derived.body, JSON.parse(JSON.stringify(await deriveEncoreApp(join(FIXTURES, 'ts-shop')))));
  // An error of the app's own is the same 400, field kept, without the temporary folder.
  const bad = await t.call('POST', '/encore-apps/derive', { files: [{ path: 'encore.app', text: '{"id": "x"}' }, { path: 'a', text: '' }, { path: 'a/b.ts', text: '' }] });
  assert.equal(bad.status, 400, JSON.stringify(bad.body));
  assert.equal(bad.body.error.field, 'files[2].path');
  assert.match(bad.body.error.message, /cannot be placed/);
});

test("while a large app is parsed in the worker, another request is answered before the parse ends", async () => {
  // The compiler's parse is one synchronous stretch: on the request handler, nothing else would be
  // answered until it ended ('parsed' before 'me'); in the worker, the platform answers meanwhile.
  const order: string[] = [];
  const parsing = once(deriveEvents, 'parsing');
  const parsed = once(deriveEvents, 'parsed').then(() => order.push('parsed'));
  const derive = t.call('POST', '/encore-apps/derive', { files: generatedApp(300) });
  await parsing;
  const me = await t.call('GET', '/me');
  order.push('me');
  assert.equal(me.status, 200);
  await parsed;
  const derived = await derive;
  assert.equal(derived.status, 200, JSON.stringify(derived.body).slice(0, 500));
  assert.equal(derived.body.model.databases.length, 300);
  assert.deepEqual(order, ['me', 'parsed'], 'the platform answered while the app was being parsed');
});

test('past the time limit the worker is stopped: a 413 naming the limit, no temporary folder left; the next upload is read', async () => {
  process.env.ARBOR_DERIVE_TIME_LIMIT_SECONDS = '0.001';
  try {
    const started = once(deriveEvents, 'start');
    const slow = await t.call('POST', '/encore-apps/derive', { files: generatedApp(100) });
    const [job] = (await started) as [DeriveJob];
    assert.equal(slow.status, 413, JSON.stringify(slow.body));
    assert.equal(slow.body.error.code, 'too_large');
    assert.match(slow.body.error.message, /^the Encore app took longer than 0\.001 s to read \(the limit of POST \/encore-apps\/derive\): .*arbor apps apply --encore DIR/);
    assert.ok(!existsSync(dirname(job.root)), 'the temporary folder is removed');
  } finally {
    delete process.env.ARBOR_DERIVE_TIME_LIMIT_SECONDS;
  }
  const again = await t.call('POST', '/encore-apps/derive', { folder: 'ts-shop', files: upload(join(FIXTURES, 'ts-shop')) });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body.model.app, 'ts-shop');
});
