/**
 * Upgrading a store made before per-app access (migration 0004_access) keeps everyone working
 * (docs/security.md, "Upgrading"): production environments become protected, instance members
 * become developers of every existing app, member tokens instance-scoped developer tokens owned by
 * the user who made them, and what runs everywhere today is what is approved.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

test('a store from before 0004_access migrates with its data', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-access-migration-'));
  const client = new PGlite();
  try {
    // The migrations as they were before 0004.
    const before = join(dir, 'migrations');
    cpSync(MIGRATIONS, before, { recursive: true });
    const journal = JSON.parse(readFileSync(join(before, 'meta', '_journal.json'), 'utf8'));
    const index = journal.entries.findIndex((e: { tag: string }) => e.tag === '0004_access');
    assert.ok(index > 0);
    journal.entries = journal.entries.slice(0, index);
    writeFileSync(join(before, 'meta', '_journal.json'), JSON.stringify(journal));
    const db = drizzle(client);
    await migrate(db, { migrationsFolder: before, migrationsSchema: 'arbor' });

    await client.exec(`
      INSERT INTO users (name, role, password_hash) VALUES ('admin', 'admin', 'x'), ('dana', 'member', 'x');
      INSERT INTO api_tokens (name, role, token_hash, last4, created_by) VALUES ('ci', 'member', 'h1', 'aaaa', 'admin'), ('boot', 'admin', 'h2', 'bbbb', 'cli');
      INSERT INTO accounts (name, api_url, api_key_sealed, key_last4, plan) VALUES ('local', 'http://127.0.0.1:1/api/v2', 's', 'kkkk', 'scale');
      INSERT INTO apps (name, model, migrations) VALUES ('shop', '{"app":"shop"}', '{"main":[{"file":"1_a.up.sql","sql":"SELECT 1"}]}');
      INSERT INTO environments (app_id, name, type, account_id, spec) VALUES (1, 'prod', 'production', 1, '{"mode":"new-project","settings":{}}'), (1, 'dev', 'development', 1, '{"mode":"new-project","settings":{}}');
      INSERT INTO audit_log (actor, action, target) VALUES ('admin', 'environment.create', 'shop/prod'), ('admin', 'account.connect', 'local');
    `);
    await migrate(db, { migrationsFolder: MIGRATIONS, migrationsSchema: 'arbor' });

    const rows = async (sql: string) => (await client.query(sql)).rows;
    assert.deepEqual(await rows('SELECT name, protected FROM environments ORDER BY id'), [{ name: 'prod', protected: true }, { name: 'dev', protected: false }]);
    assert.deepEqual(await rows('SELECT u.name, m.role FROM app_members m JOIN users u ON u.id = m.user_id'), [{ name: 'dana', role: 'developer' }]);
    const tokens = await rows(`SELECT name, role, app_id, user_id, expires_at > now() + interval '89 days' AS ninety FROM api_tokens ORDER BY id`);
    assert.deepEqual(tokens, [
      { name: 'ci', role: 'developer', app_id: null, user_id: 1, ninety: true },
      { name: 'boot', role: 'admin', app_id: null, user_id: null, ninety: true },
    ]);
    const [app] = await rows('SELECT approved_model = model AS model, approved_migrations = migrations AS migrations FROM apps');
    assert.deepEqual(app, { model: true, migrations: true });
    assert.deepEqual(await rows('SELECT action, app FROM audit_log ORDER BY id'), [{ action: 'environment.create', app: 'shop' }, { action: 'account.connect', app: null }]);
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
