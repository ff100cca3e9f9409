// Unit tests of name validation and quoting (no server).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { identifierProblem, quoteIdent, quoteLiteral, roleNameProblem, roleNames } from './names.ts';

describe('quoteIdent', () => {
  test('wraps in double quotes and doubles embedded ones, so a name cannot end the identifier', () => {
    assert.equal(quoteIdent('orders'), '"orders"');
    assert.equal(quoteIdent('a"; DROP ROLE x; --'), '"a""; DROP ROLE x; --"');
    assert.equal(quoteIdent('"'), '""""');
    assert.equal(quoteIdent('Ünïcødé 🚀'), '"Ünïcødé 🚀"');
  });

  test('refuses empty names and NUL bytes', () => {
    assert.throws(() => quoteIdent(''), /empty/);
    assert.throws(() => quoteIdent('a\0b'), /NUL/);
  });
});

describe('quoteLiteral', () => {
  test("doubles single quotes and uses E'' with doubled backslashes when a backslash is present", () => {
    assert.equal(quoteLiteral("it's"), "'it''s'");
    assert.equal(quoteLiteral("a\\'; DROP TABLE t; --"), "E'a\\\\''; DROP TABLE t; --'");
    assert.throws(() => quoteLiteral('\0'), /NUL/);
  });
});

describe('identifierProblem', () => {
  test('accepts plain and unicode names up to 63 bytes', () => {
    assert.equal(identifierProblem('main'), null);
    assert.equal(identifierProblem('x'.repeat(63)), null);
    assert.equal(identifierProblem('é'.repeat(31)), null); // 62 bytes
  });

  test('counts bytes, not characters, against the 63-byte limit', () => {
    assert.match(identifierProblem('x'.repeat(64))!, /64 bytes/);
    assert.match(identifierProblem('é'.repeat(32))!, /64 bytes/); // 32 characters
  });

  test('refuses empty, control characters and padding', () => {
    assert.match(identifierProblem('')!, /empty/);
    assert.match(identifierProblem('a\nb')!, /control/);
    assert.match(identifierProblem(' a')!, /white space/);
    assert.equal(identifierProblem('public'), null);
  });

  test('for roles, also refuses reserved names', () => {
    assert.match(roleNameProblem('PUBLIC')!, /reserved/);
    assert.match(roleNameProblem('pg_monitor2')!, /pg_/);
    assert.match(roleNameProblem('x'.repeat(64))!, /64 bytes/);
    assert.equal(roleNameProblem('svc_none'), null);
  });
});

describe('roleNames', () => {
  test('forms the hierarchy of docs/roles.md from the prefix', () => {
    const n = roleNames('acme');
    assert.deepEqual([n.platform, n.reader, n.writer, n.admin, n.services], ['acme_platform', 'acme_reader', 'acme_writer', 'acme_admin', 'acme_services']);
    assert.deepEqual([n.dbReader('main'), n.dbWriter('main'), n.dbAdmin('main'), n.service('orders')], ['db_main_reader', 'db_main_writer', 'db_main_admin', 'svc_orders']);
    assert.equal(roleNames().admin, 'encore_admin');
  });
});
