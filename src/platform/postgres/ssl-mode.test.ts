// Unit tests of the SSL mode passed to node-postgres (no server).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIntoClientConfig } from 'pg-connection-string';
import { explicitSslMode } from './ssl-mode.ts';

test("Neon's sslmode=require becomes verify-full; the rest of the URL stays as it was", () => {
  const neon = 'postgresql://u:p%40ss@ep-x.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require';
  assert.equal(explicitSslMode(neon), 'postgresql://u:p%40ss@ep-x.us-east-2.aws.neon.tech/neondb?sslmode=verify-full&channel_binding=require');
  for (const mode of ['prefer', 'verify-ca']) assert.equal(explicitSslMode(`postgres://h/db?sslmode=${mode}`), 'postgres://h/db?sslmode=verify-full');
});

test('modes that mean something else, libpq-compatible URLs and URLs without a mode are left alone', () => {
  for (const url of [
    'postgres://h/db',
    'postgres://h/db?sslmode=disable',
    'postgres://h/db?sslmode=no-verify',
    'postgres://h/db?sslmode=verify-full',
    'postgres://h/db?uselibpqcompat=true&sslmode=require',
    'postgres://h/db?application_name=require',
  ])
    assert.equal(explicitSslMode(url), url);
});

test('TLS is not weakened: the parsed config is the one the library made of sslmode=require', () => {
  const url = 'postgresql://u:p@127.0.0.1:5432/neondb?sslmode=require';
  const before = parseIntoClientConfig(url);
  const after = parseIntoClientConfig(explicitSslMode(url));
  assert.deepEqual(after.ssl, before.ssl);
  assert.notEqual(after.ssl, false);
});
