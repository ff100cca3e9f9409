// Unit tests of previews.mask in arbor.yaml: parsing, the problems a model save reports, which names look personal (no server).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppModelError, appModelToYaml, parseAppModel } from '../postgres/app-model.ts';
import { looksPersonal, maskExpression, parseMaskRules } from './mask-rules.ts';

const yaml = (previews: string) => `app: shop\ndatabases:\n  - name: main\nprevious: x\n`.replace('previous: x\n', `previews:\n${previews}`);

test('rules of every kind parse, and the model reads back the same', () => {
  const model = parseAppModel(yaml(`  requireMasking: true\n  mask:\n    main.customers.email: email\n    main.billing.cards.number: redact\n    main.customers.notes: "null"\n    main.customers.phone: "'+1-555-' || id"\n`));
  assert.deepEqual(
    parseMaskRules(model.previews).map((r) => [r.database, r.schema, r.table, r.column, r.rule, r.sql]),
    [
      ['main', 'public', 'customers', 'email', 'email', undefined],
      ['main', 'billing', 'cards', 'number', 'redact', undefined],
      ['main', 'public', 'customers', 'notes', 'null', undefined],
      ['main', 'public', 'customers', 'phone', 'sql', `'+1-555-' || id`],
    ],
  );
  assert.deepEqual(parseAppModel(appModelToYaml(model)), model);
  assert.equal(parseAppModel('app: shop\n').previews, undefined);
});

test('a typo, a bad column name, an unknown database and two statements are refused when the model is saved', () => {
  try {
    parseAppModel(yaml(`  mask:\n    main.customers.email: emial\n    main.email: email\n    other.t.c: "null"\n    main.t.c: "1; DROP TABLE t"\n    main.t.d: ""\n`));
    assert.fail('expected a refusal');
  } catch (error) {
    assert.ok(error instanceof AppModelError);
    const text = error.problems.map((p) => `${p.path}: ${p.reason}`).join('\n');
    assert.match(text, /previews\.mask\.main\.customers\.email: "emial" is not a masking rule; use one of email, redact, fake-name, null, keep/);
    assert.match(text, /previews\.mask\.main\.email: name a column as <database>\.<table>\.<column>/);
    assert.match(text, /previews\.mask\.other\.t\.c: database "other" is not under databases/);
    assert.match(text, /previews\.mask\.main\.t\.c: a SQL expression is one expression, without ;/);
    assert.match(text, /previews\.mask\.main\.t\.d: the rule is empty/);
  }
});

test('personal-looking names: one list, matched by name part', () => {
  for (const name of ['email', 'contact_email', 'emailAddress', 'phone_number', 'first_name', 'username', 'home_address', 'birthdate', 'ssn', 'card_number', 'iban', 'password_hash', 'api_token'])
    assert.ok(looksPersonal(name), name);
  for (const name of ['id', 'total', 'created_at', 'city', 'status', 'kind', 'amount_cents']) assert.ok(!looksPersonal(name), name);
});

test('keep changes nothing; the built-in rules keep NULL and never put the salt in the SQL text', () => {
  const [keep, email] = parseMaskRules({ mask: { 'main.t.a': 'keep', 'main.t.b': 'email' } });
  assert.equal(maskExpression(keep), null);
  assert.match(maskExpression(email)!, /^CASE WHEN "b" IS NULL THEN NULL/);
  assert.match(maskExpression(email)!, /\$1::text/);
});
