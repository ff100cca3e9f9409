// Unit tests of the migration statement splitter (no server).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { splitStatements } from './sql-split.ts';

describe('splitStatements', () => {
  test('splits on top-level semicolons and records each start line', () => {
    const found = splitStatements('CREATE TABLE a (id int);\n\n-- note\nINSERT INTO a VALUES (1);\nSELECT 1');
    assert.deepEqual(found, [
      { text: 'CREATE TABLE a (id int)', line: 1, start: 0, end: 23 },
      { text: '-- note\nINSERT INTO a VALUES (1)', line: 3, start: 26, end: 58 },
      { text: 'SELECT 1', line: 5, start: 60, end: 68 },
    ]);
  });

  test('keeps semicolons inside strings, identifiers, comments and dollar quotes', () => {
    const sql = [
      "INSERT INTO t VALUES ('a;b', 'it''s;', E'x\\';y')",
      'CREATE TABLE "we;ird""x" (id int) /* a; /* nested; */ b; */',
      'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END; $body$',
      'DO $$ BEGIN PERFORM 1; END $$',
    ].join(';\n');
    assert.equal(splitStatements(sql).length, 4);
  });

  test('keeps a BEGIN ATOMIC body together', () => {
    const sql = 'CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;\nSELECT 2;';
    const found = splitStatements(sql);
    assert.equal(found.length, 2);
    assert.match(found[0].text, /END$/);
  });

  test('keeps a parenthesised rule action list together (CREATE RULE ... DO ALSO (INSERT ...; INSERT ...))', () => {
    const sql = 'CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\nSELECT 1;';
    const found = splitStatements(sql);
    assert.equal(found.length, 2);
    assert.match(found[0].text, /INSERT INTO b VALUES \(2\)\)$/);
  });

  test('drops empty statements and trailing comments', () => {
    assert.deepEqual(splitStatements(';;\n-- only a comment\n'), []);
  });
});
