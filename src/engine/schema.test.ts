/**
 * Schema: `GET /projects/{id}/branches/{id}/schema` answers `{ sql }` in pg_dump's shape, the same
 * text for the same schema (deterministic), at the head or at a past LSN/timestamp of the
 * branch's history; `neonctl branches schema-diff` (the real CLI) reports a real difference and
 * none between equal schemas.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect, rejects, sleep, startTestProject, type TestEngine } from './test-support.ts';

const cliPath = createRequire(import.meta.url).resolve('neonctl/bin/cli.js');
let engine: TestEngine;
let projectId: string;
let mainId: string;
let mainUri: string;
let scratch: string;

before(async () => {
  ({ engine, projectId, mainId, mainUri } = await startTestProject({ name: 'schemas' }));
  scratch = mkdtempSync(join(tmpdir(), 'arbor-schema-test-'));
});

after(async () => {
  await engine.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function run(uri: string, sql: string): Promise<void> {
  const client = await connect(uri);
  await client.query(sql);
  await client.end();
}

function neonctl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    for (const k of Object.keys(env)) if (k.startsWith('NEON_') || k.startsWith('PG')) delete env[k];
    const child = spawn(
      process.execPath,
      [cliPath, ...args, '--api-host', engine.url, '--api-key', engine.apiKey, '--no-analytics', '--config-dir', join(scratch, 'config'), '--context-file', join(scratch, '.neon')],
      { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const schemaOf = async (branchId: string, extra: { lsn?: string; timestamp?: string } = {}) =>
  (await engine.api.getProjectBranchSchema({ projectId, branchId, db_name: 'neondb', ...extra })).data.sql!;

test('the schema at the head: tables, constraints, indexes, views, functions, types, sequences; deterministic', async () => {
  await run(
    mainUri,
    `CREATE TYPE mood AS ENUM ('sad', 'happy');
     CREATE TABLE authors (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE, mood mood DEFAULT 'happy');
     CREATE TABLE books (id serial PRIMARY KEY, author_id bigint REFERENCES authors (id) ON DELETE CASCADE, title text CHECK (title <> ''), pages int);
     CREATE INDEX books_title ON books (lower(title));
     CREATE VIEW long_books AS SELECT id, title FROM books WHERE pages > 500;
     CREATE FUNCTION shout(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(t) $$;
     CREATE SCHEMA audit;
     CREATE TABLE audit.log (at timestamptz DEFAULT now(), what text);`,
  );
  const sql = await schemaOf(mainId);
  for (const expected of [
    /CREATE TYPE public\.mood AS ENUM \(\n {4}'sad',\n {4}'happy'\n\);/,
    /CREATE TABLE public\.authors \(\n {4}id bigint NOT NULL GENERATED ALWAYS AS IDENTITY,\n {4}name text NOT NULL,\n {4}mood public\.mood DEFAULT 'happy'::public\.mood\n\);/,
    /id integer DEFAULT nextval\('public\.books_id_seq'::regclass\) NOT NULL/,
    /CREATE SEQUENCE public\.books_id_seq\n {4}AS integer/,
    /ALTER SEQUENCE public\.books_id_seq OWNED BY public\.books\.id;/,
    /ADD CONSTRAINT authors_pkey PRIMARY KEY \(id\);/,
    /ADD CONSTRAINT authors_name_key UNIQUE \(name\);/,
    /ADD CONSTRAINT books_title_check CHECK \(\(title <> ''::text\)\);/,
    /ADD CONSTRAINT books_author_id_fkey FOREIGN KEY \(author_id\) REFERENCES public\.authors\(id\) ON DELETE CASCADE;/,
    /CREATE INDEX books_title ON public\.books USING btree \(lower\(title\)\);/,
    /CREATE VIEW public\.long_books AS\n SELECT id,\n {4}title\n {3}FROM public\.books/,
    /CREATE OR REPLACE FUNCTION public\.shout\(t text\)/,
    /CREATE SCHEMA audit;/,
    /CREATE TABLE audit\.log \(/,
    /ALTER TABLE public\.books OWNER TO neondb_owner;/,
  ]) {
    assert.match(sql, expected);
  }
  // Foreign keys come after the keys they reference; nothing of the system catalogs.
  assert.ok(sql.indexOf('books_author_id_fkey') > sql.indexOf('authors_pkey'));
  assert.doesNotMatch(sql, /pg_catalog\.|information_schema\.|neon_superuser/);
  assert.equal(await schemaOf(mainId), sql, 'the same schema gives the same text');

  await rejects(engine.api.getProjectBranchSchema({ projectId, branchId: mainId, db_name: 'nope' }), 404, /database nope not found/);
  await rejects(engine.api.getProjectBranchSchema({ projectId, branchId: mainId, db_name: 'neondb', lsn: '0/1', timestamp: new Date().toISOString() }), 400, /not both/);
  assert.deepEqual(engine.specProblems, []);
});

test('a branch has its parent schema; neonctl branches schema-diff shows a real difference, and none for equal schemas', async () => {
  const { data } = await engine.api.createProjectBranch(projectId, { branch: { name: 'feature' }, endpoints: [{ type: 'read_write' as never }] });
  await engine.settle(projectId);
  assert.equal(await schemaOf(data.branch.id), await schemaOf(mainId));
  const same = await neonctl(['branches', 'schema-diff', 'main', 'feature', '--project-id', projectId, '--database', 'neondb']);
  assert.equal(same.code, 0, same.stderr);
  assert.doesNotMatch(same.stdout, /^[+-](?![+-])/m, `no difference: ${same.stdout}`);

  await run(data.connection_uris![0].connection_uri, 'CREATE TABLE extra (id int PRIMARY KEY, note text); ALTER TABLE books ADD COLUMN isbn text');
  const diff = await neonctl(['branches', 'schema-diff', 'main', 'feature', '--project-id', projectId, '--database', 'neondb']);
  assert.equal(diff.code, 0, diff.stderr);
  assert.match(diff.stdout, /^\+CREATE TABLE public\.extra \($/m);
  assert.match(diff.stdout, /^\+ {4}isbn text$/m);
  assert.match(diff.stdout, /^\+ {4}ADD CONSTRAINT extra_pkey PRIMARY KEY \(id\);$/m);
  assert.doesNotMatch(diff.stdout, /^-CREATE/m, 'nothing was removed');
  assert.deepEqual(engine.specProblems, []);
});

test('the schema at a past timestamp and LSN of the branch, from its history', async () => {
  await engine.engine.history.settled();
  const client = await connect(mainUri);
  const lsn = (await client.query('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0].l as string;
  await sleep(1100);
  const at = new Date().toISOString();
  await sleep(1100);
  await client.query('CREATE TABLE later (id int)');
  await client.end();
  const head = await schemaOf(mainId);
  assert.match(head, /CREATE TABLE public\.later/);
  for (const point of [{ timestamp: at }, { lsn }]) {
    const past = await schemaOf(mainId, point);
    assert.doesNotMatch(past, /later/, `at ${JSON.stringify(point)}`);
    assert.match(past, /CREATE TABLE public\.authors/);
  }
  await rejects(engine.api.getProjectBranchSchema({ projectId, branchId: mainId, db_name: 'neondb', timestamp: '2020-01-01T00:00:00Z' }), 400, /retention window/);
  // The ephemeral computes are gone.
  const { readdirSync } = await import('node:fs');
  assert.deepEqual(readdirSync(join(engine.home, 'clusters')).filter((n) => n.includes('.')), []);
  assert.deepEqual(engine.specProblems, []);
});
