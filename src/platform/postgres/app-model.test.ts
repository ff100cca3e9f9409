// Unit tests of arbor.yaml parsing and validation (no server).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppModelError, migrationsOf, parseAppModel, validateAppModel } from './app-model.ts';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AppModelError, `expected AppModelError, got ${error}`);
    return error.problems.map((p) => `${p.path}: ${p.reason}`);
  }
  assert.fail('expected the model to be rejected');
}

describe('parseAppModel', () => {
  test('reads the model of docs/roles.md with the default prefix', () => {
    const model = parseAppModel('app: shop\ndatabases:\n  - name: main\n    migrations: migrations/main\nservices:\n  - name: orders\n    databases: [main]\n');
    assert.deepEqual(model, {
      app: 'shop',
      prefix: 'encore',
      databases: [{ name: 'main', migrations: 'migrations/main' }],
      services: [{ name: 'orders', databases: ['main'] }],
    });
  });

  test('reports invalid YAML and wrong shapes with the field path', () => {
    assert.match(problems(() => parseAppModel('app: [', 'x.yaml'))[0], /not valid YAML/);
    const found = problems(() => parseAppModel('app: shop\ndatabases:\n  - name: 3\nservices: {}\nextra: 1\n'));
    assert.ok(found.some((p) => p.startsWith('databases[0].name')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('services')), found.join('\n'));
    assert.ok(found.some((p) => /extra/.test(p)), found.join('\n'));
  });

  test('the error message names the file and every problem', () => {
    assert.throws(() => parseAppModel('app: shop\nservices:\n  - name: a\n    databases: [nope]\n', 'apps/arbor.yaml'), (error: Error) => {
      assert.match(error.message, /apps\/arbor\.yaml is not a valid app model/);
      assert.match(error.message, /services\[0\]\.databases\[0\]: .*"nope".*not under databases/);
      return true;
    });
  });
});

describe('validateAppModel', () => {
  test('reports every bad name at once, with the 63-byte limit counted after prefixes', () => {
    const found = problems(() =>
      validateAppModel({
        app: 'shop',
        databases: [{ name: 'd'.repeat(55) }, { name: 'ok' }, { name: 'ok' }, { name: '' }],
        services: [{ name: 's'.repeat(60), databases: ['ok'] }, { name: 'bad\nname', databases: [] }],
      }),
    );
    assert.ok(found.some((p) => p.startsWith('databases[0].name') && /db_d{55}_reader.*65 bytes long/.test(p)), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('databases[2].name') && /listed twice/.test(p)), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('databases[3].name') && /empty/.test(p)), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('services[0].name') && /svc_s{60}.*64 bytes/.test(p)), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('services[1].name') && /control character/.test(p)), found.join('\n'));
  });

  test('a 53-byte database name and a 59-byte service name still fit', () => {
    const model = validateAppModel({ app: 'a', databases: [{ name: 'd'.repeat(53) }], services: [{ name: 's'.repeat(59), databases: ['d'.repeat(53)] }] });
    assert.equal(model.databases[0].name.length, 53);
  });

  test('checks the prefix against the longest global role name', () => {
    const found = problems(() => validateAppModel({ app: 'a', prefix: 'p'.repeat(55) }));
    assert.ok(found.some((p) => p.startsWith('prefix') && /_platform/.test(p)), found.join('\n'));
  });

  test('refuses two model entries that would share a role', () => {
    const found = problems(() => validateAppModel({ app: 'a', prefix: 'svc', databases: [], services: [{ name: 'admin', databases: [] }] }));
    assert.ok(found.some((p) => /svc_admin/.test(p) && /rename/.test(p)), found.join('\n'));
  });

  test('accepts hostile but valid names as data: quotes, semicolons, unicode', () => {
    const model = validateAppModel({ app: 'a', databases: [{ name: `x"; DROP DATABASE postgres; --` }], services: [{ name: "o'rders ünï", databases: [`x"; DROP DATABASE postgres; --`] }] });
    assert.equal(model.services[0].name, "o'rders ünï");
  });
});

describe('migrations: { path, source }', () => {
  test('takes a plain folder, or { path, source, naming } as Encore declares it; the model keeps the folder and the source beside it', () => {
    const model = parseAppModel([
      'app: shop',
      'databases:',
      '  - name: main',
      '    migrations: migrations/main',
      '  - name: users',
      '    migrations: { path: prisma/migrations, source: prisma }',
      '  - name: posts',
      '    migrations:',
      '      path: drizzle',
      '      source: drizzle',
      '  - name: legacy',
      '    migrations: { path: legacy/migrations, source: sql, naming: go }',
      '  - name: empty',
    ].join('\n'));
    assert.deepEqual(model.databases, [
      { name: 'main', migrations: 'migrations/main' },
      { name: 'users', migrations: 'prisma/migrations', migrationsSource: 'prisma' },
      { name: 'posts', migrations: 'drizzle', migrationsSource: 'drizzle' },
      { name: 'legacy', migrations: 'legacy/migrations', migrationsNaming: 'go' },
      { name: 'empty' },
    ]);
    assert.deepEqual(model.databases.map(migrationsOf), [
      { path: 'migrations/main', source: 'sql', naming: 'any' },
      { path: 'prisma/migrations', source: 'prisma', naming: 'any' },
      { path: 'drizzle', source: 'drizzle', naming: 'any' },
      { path: 'legacy/migrations', source: 'sql', naming: 'go' },
      null,
    ]);
    // The model (as the platform stores it) validates to itself.
    assert.deepEqual(validateAppModel(JSON.parse(JSON.stringify(model))), model);
  });

  test('an unknown source, a missing path and a source without a folder are refused with their field', () => {
    const found = problems(() =>
      validateAppModel({
        app: 'a',
        databases: [
          { name: 'x', migrations: { path: 'm', source: 'flyway' } },
          { name: 'y', migrations: { source: 'prisma' } },
          { name: 'z', migrationsSource: 'prisma' },
        ],
      }),
    );
    assert.ok(found.some((p) => p.startsWith('databases[0].migrations')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('databases[1].migrations')), found.join('\n'));
    assert.ok(found.some((p) => /databases\[2\]\.migrations: a migrations source needs a migrations path/.test(p)), found.join('\n'));
  });
});
