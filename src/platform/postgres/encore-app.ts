/**
 * @module Derives the app model from an Encore app's source, as Encore's parsers read it:
 * - the app name from `encore.app` (`id`, else `name`, else the folder's name);
 * - TypeScript (the compiler API, symbols resolved through imports): databases from
 *   `new SQLDatabase("name", { migrations })` (a folder, or `{ path, source }`) and references
 *   from `SQLDatabase.named("name")` (both from `encore.dev/storage/sqldb`); services are folders
 *   with `encore.service.ts` (`new Service("name")`); a service uses a database when an expression
 *   inside its folder uses the database object (Encore's `Usage::AccessDatabase`: `db.query`,
 *   `db.connectionString`, `f(db)`, ...), wherever the object was declared;
 * - Go (a precise scanner: comments and strings are skipped, the `sqldb` import alias is
 *   followed): `sqldb.NewDatabase("name", sqldb.DatabaseConfig{Migrations: "./migrations"})` and
 *   `sqldb.Named("name")`; services are packages with `//encore:api`, `//encore:service`,
 *   `//encore:authhandler` or `pubsub.NewSubscription`; the legacy `migrations/` folder of a
 *   service package declares a database named after the package. A Go service uses the databases
 *   its package declares or names.
 * Whatever cannot be resolved (a name that is not a string literal, a use outside any service)
 * is explained in `notes`, never guessed.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { validateAppModel, type AppModel, type DatabaseModel, type MigrationSource, MIGRATION_SOURCES } from './app-model.ts';

export interface EncoreApp {
  model: AppModel;
  language: 'typescript' | 'go';
  /** What could not be resolved, with file and line. */
  notes: string[];
}

const SKIP_DIRS = new Set(['node_modules', '.git', '.encore', 'encore.gen', 'dist', 'build', 'vendor', '.next']);

/**
 * Called around the TypeScript compiler's synchronous parse, the long stretch of reading a large
 * app (derive-pool.ts reports it, and its test orders other requests against it).
 */
export type ParsePhase = (phase: 'parsing' | 'parsed') => void;

/** Reads the Encore app at `root` (the folder holding `encore.app`). */
export async function readEncoreApp(root: string, onParse?: ParsePhase): Promise<EncoreApp> {
  root = resolve(root);
  const appFile = join(root, 'encore.app');
  let text: string;
  try {
    text = await readFile(appFile, 'utf8');
  } catch (error) {
    throw new Error(`${root} is not an Encore app: cannot read encore.app (${(error as Error).message})`, { cause: error });
  }
  const config = parseEncoreAppFile(text, appFile);
  const name = (typeof config.id === 'string' && config.id) || (typeof config.name === 'string' && config.name) || basename(root);
  const files = await walk(root);
  const isTs = config.lang === 'typescript' || (!existsSync(join(root, 'go.mod')) && files.some((f) => f.endsWith('encore.service.ts')));
  const derived = isTs ? await readTypeScript(root, files, onParse) : await readGo(root, files);
  const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const model = validateAppModel({ app: appName(name), databases: derived.databases.sort(byName), services: derived.services.sort(byName) }, `the Encore app at ${root}`);
  return { model, language: isTs ? 'typescript' : 'go', notes: derived.notes };
}

/** encore.app is JSON with comments and trailing commas allowed (HuJSON). */
function parseEncoreAppFile(text: string, file: string): Record<string, unknown> {
  const stripped = stripJsonComments(text).replace(/,(\s*[}\]])/g, '$1');
  if (!stripped.trim()) return {};
  try {
    const data = JSON.parse(stripped);
    return data && typeof data === 'object' ? data : {};
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

function stripJsonComments(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      out += text.slice(start, i + 1);
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      i += 2;
      while (i < text.length && !(text[i] === '*' && text[i + 1] === '/')) i++;
      i++;
    } else out += c;
  }
  return out;
}

/** Encore app ids are lowercase with dashes (`my-app-x2ai`); Arbor's app name is taken as it is. */
function appName(id: string): string {
  return id.trim();
}

async function walk(root: string, dir = root, out: string[] = []): Promise<string[]> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) await walk(root, join(dir, entry.name), out);
    } else out.push(join(dir, entry.name));
  }
  return out;
}

interface Derived {
  databases: DatabaseModel[];
  services: { name: string; databases: string[] }[];
  notes: string[];
}

const rel = (root: string, path: string) => relative(root, path).split(sep).join('/') || '.';

/** `migrations` as Encore takes it: a relative folder that must exist inside the app. */
async function migrationsFolder(root: string, fromDir: string, path: string, where: string, notes: string[]): Promise<string | null> {
  const dir = resolve(fromDir, path);
  const inside = relative(root, dir);
  if (inside.startsWith('..') || resolve(root, inside) !== dir) {
    notes.push(`${where}: the migrations folder ${path} is outside the app; Encore refuses it`);
    return null;
  }
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) {
    notes.push(`${where}: the migrations folder ${path} does not exist (Encore: "migrations directory does not exist")`);
    return null;
  }
  return rel(root, dir);
}

// ---------------------------------------------------------------------------------------------
// TypeScript

async function readTypeScript(root: string, files: string[], onParse?: ParsePhase): Promise<Derived> {
  const ts = (await import('typescript')).default;
  const sources = files.filter((f) => /\.(ts|tsx|mts|cts)$/.test(f) && !f.endsWith('.d.ts'));
  onParse?.('parsing');
  const program = ts.createProgram(sources, { allowJs: false, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, allowImportingTsExtensions: true, skipLibCheck: true, noLib: true, types: [] });
  const checker = program.getTypeChecker();
  onParse?.('parsed');
  const notes: string[] = [];
  const at = (node: import('typescript').Node) => {
    const sf = node.getSourceFile();
    return `${rel(root, sf.fileName)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  };

  // Services: folders with encore.service.ts, named by `new Service("name")`.
  const services: { name: string; dir: string }[] = [];
  for (const file of sources.filter((f) => basename(f) === 'encore.service.ts')) {
    const sf = program.getSourceFile(file)!;
    const local = importedNames(ts, sf, 'encore.dev/service', 'Service');
    let name: string | null = null;
    const visit = (node: import('typescript').Node) => {
      if (ts.isNewExpression(node) && isImported(ts, node.expression, local)) {
        const arg = node.arguments?.[0];
        if (arg && ts.isStringLiteralLike(arg)) name = arg.text;
        else notes.push(`${at(node)}: the service name is not a string literal; Encore needs one`);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
    if (name) services.push({ name, dir: dirname(file) });
    else if (!notes.some((n) => n.startsWith(rel(root, file)))) notes.push(`${rel(root, file)}: no new Service("name") found; the folder is not counted as a service`);
  }
  const serviceOf = (file: string) =>
    services.filter((s) => file === s.dir || file.startsWith(s.dir + sep)).sort((a, b) => b.dir.length - a.dir.length)[0] ?? null;

  const uses = new Map<string, Set<string>>();
  const useOf = (service: string, db: string) => uses.set(service, (uses.get(service) ?? new Set()).add(db));

  // Databases: the declarations, and every variable bound to a database object.
  const databases = new Map<string, DatabaseModel & { where: string }>();
  const bindings = new Map<import('typescript').Symbol, string>();
  const named: { name: string; where: string }[] = [];
  const sqldbCalls: { call: import('typescript').NewExpression | import('typescript').CallExpression; kind: 'new' | 'named' }[] = [];
  for (const file of sources) {
    const sf = program.getSourceFile(file);
    if (!sf) continue;
    const local = importedNames(ts, sf, 'encore.dev/storage/sqldb', 'SQLDatabase');
    if (!local.size) continue;
    const visit = (node: import('typescript').Node) => {
      if (ts.isNewExpression(node) && isImported(ts, node.expression, local)) sqldbCalls.push({ call: node, kind: 'new' });
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'named' && isImported(ts, node.expression.expression, local)) sqldbCalls.push({ call: node, kind: 'named' });
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  for (const { call, kind } of sqldbCalls) {
    const where = at(call);
    const arg = call.arguments?.[0];
    if (!arg || !ts.isStringLiteralLike(arg)) {
      notes.push(`${where}: the database name is not a string literal; Encore needs one, so it is left out`);
      continue;
    }
    const name = arg.text;
    if (kind === 'new') {
      if (databases.has(name)) notes.push(`${where}: database ${name} is declared again (first at ${databases.get(name)!.where})`);
      else databases.set(name, { name, where, ...(await tsMigrations(ts, root, call as import('typescript').NewExpression, where, notes)) });
    } else named.push({ name, where });
    // The variable the object is bound to: `const db = new SQLDatabase(...)`.
    const parent = call.parent;
    if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) {
      const symbol = checker.getSymbolAtLocation(parent.name);
      if (symbol) bindings.set(symbol, name);
    } else if (parent && ts.isExportAssignment(parent)) {
      // `export default new SQLDatabase(...)`: the module's default export is the object.
      const symbol = checker.getSymbolAtLocation(parent.getSourceFile())?.exports?.get('default' as import('typescript').__String);
      if (symbol) bindings.set(symbol, name);
    } else if (parent && !ts.isExpressionStatement(parent)) {
      // Used in place (`new SQLDatabase("x", ...).query`), which counts for the service it is in.
      const svc = serviceOf(call.getSourceFile().fileName);
      if (svc) useOf(svc.name, name);
    }
  }
  for (const n of named) if (!databases.has(n.name)) notes.push(`${n.where}: SQLDatabase.named("${n.name}") refers to a database no new SQLDatabase declares`);

  // Uses: identifiers resolving (through imports and re-exports) to a database binding.
  for (const file of sources) {
    const sf = program.getSourceFile(file);
    if (!sf) continue;
    const svc = serviceOf(file);
    const visit = (node: import('typescript').Node) => {
      if (ts.isIdentifier(node) && isUse(ts, node)) {
        let symbol = checker.getSymbolAtLocation(node);
        if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
        const db = symbol && bindings.get(symbol);
        if (db) {
          if (svc) useOf(svc.name, db);
          else notes.push(`${at(node)}: database ${db} is used outside any service (no encore.service.ts above it); Encore cannot tell which service accesses it`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }

  return {
    databases: [...databases.values()].map(({ where: _where, ...db }) => db),
    services: services.map((s) => ({ name: s.name, databases: [...(uses.get(s.name) ?? [])].filter((d) => databases.has(d)).sort() })),
    notes,
  };
}

/** Local names under which `module` exports `name` are imported in `sf`; a namespace import counts as `ns.name`. */
function importedNames(ts: typeof import('typescript'), sf: import('typescript').SourceFile, module: string, name: string): Set<string> {
  const names = new Set<string>();
  for (const statement of sf.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier) || statement.moduleSpecifier.text !== module) continue;
    const bindings = statement.importClause?.namedBindings;
    if (bindings && ts.isNamedImports(bindings)) {
      for (const element of bindings.elements) if ((element.propertyName ?? element.name).text === name) names.add(element.name.text);
    } else if (bindings && ts.isNamespaceImport(bindings)) names.add(`${bindings.name.text}.${name}`);
  }
  return names;
}

/** `SQLDatabase` or `ns.SQLDatabase` as imported. */
function isImported(ts: typeof import('typescript'), expression: import('typescript').Expression, local: Set<string>): boolean {
  if (ts.isIdentifier(expression)) return local.has(expression.text);
  return ts.isPropertyAccessExpression(expression) && ts.isIdentifier(expression.expression) && local.has(`${expression.expression.text}.${expression.name.text}`);
}

/** An identifier in an expression (not a declaration, import or export name): Encore's usage kinds. */
function isUse(ts: typeof import('typescript'), node: import('typescript').Identifier): boolean {
  const p = node.parent;
  if (!p) return false;
  if (ts.isVariableDeclaration(p) && p.name === node) return false;
  if (ts.isImportSpecifier(p) || ts.isImportClause(p) || ts.isNamespaceImport(p) || ts.isExportSpecifier(p)) return false;
  if (ts.isPropertyAccessExpression(p) && p.name === node) return false;
  if (ts.isPropertyAssignment(p) && p.name === node) return false;
  if (ts.isExportAssignment(p)) return false;
  return true;
}

async function tsMigrations(ts: typeof import('typescript'), root: string, call: import('typescript').NewExpression, where: string, notes: string[]): Promise<Partial<DatabaseModel>> {
  const config = call.arguments?.[1];
  if (!config) return {};
  if (!ts.isObjectLiteralExpression(config)) {
    notes.push(`${where}: the database config is not an object literal; its migrations are not known`);
    return {};
  }
  const prop = config.properties.find((p) => ts.isPropertyAssignment(p) && propName(ts, p.name) === 'migrations') as import('typescript').PropertyAssignment | undefined;
  if (!prop) return {};
  const fromDir = dirname(call.getSourceFile().fileName);
  let path: string | null = null;
  let source: MigrationSource = 'sql';
  const value = prop.initializer;
  if (ts.isStringLiteralLike(value)) path = value.text;
  else if (ts.isObjectLiteralExpression(value)) {
    for (const p of value.properties) {
      if (!ts.isPropertyAssignment(p)) continue;
      const key = propName(ts, p.name);
      if (key === 'path' && ts.isStringLiteralLike(p.initializer)) path = p.initializer.text;
      else if (key === 'source' && ts.isStringLiteralLike(p.initializer)) {
        const s = p.initializer.text;
        if ((MIGRATION_SOURCES as readonly string[]).includes(s) && s !== 'sql') source = s as MigrationSource;
        else {
          notes.push(`${where}: unexpected value for migration file source: ${s} (Encore takes prisma, drizzle, drizzle/v1)`);
          return {};
        }
      } else if (key === 'path' || key === 'source') notes.push(`${where}: migrations.${key} is not a string literal`);
    }
  }
  if (path === null) {
    notes.push(`${where}: migrations is not a string literal or { path, source } literal; its migrations are not known`);
    return {};
  }
  const folder = await migrationsFolder(root, fromDir, path, where, notes);
  if (!folder) return {};
  return { migrations: folder, ...(source !== 'sql' ? { migrationsSource: source } : { migrationsNaming: 'ts' as const }) };
}

function propName(ts: typeof import('typescript'), name: import('typescript').PropertyName): string | null {
  return ts.isIdentifier(name) || ts.isStringLiteralLike(name) ? name.text : null;
}

// ---------------------------------------------------------------------------------------------
// Go

interface GoToken {
  kind: 'ident' | 'string' | 'punct' | 'comment';
  text: string;
  line: number;
}

/** Go's tokens, enough to read calls with literal arguments: identifiers, strings (raw and interpreted), punctuation. */
export function goTokens(src: string): GoToken[] {
  const out: GoToken[] = [];
  let line = 1;
  for (let i = 0; i < src.length; ) {
    const c = src[i];
    if (c === '\n') (line++, i++);
    else if (/\s/.test(c)) i++;
    else if (c === '/' && src[i + 1] === '/') {
      const end = src.indexOf('\n', i);
      out.push({ kind: 'comment', text: src.slice(i, end < 0 ? src.length : end), line });
      i = end < 0 ? src.length : end;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const text = src.slice(i, end < 0 ? src.length : end + 2);
      out.push({ kind: 'comment', text, line });
      line += text.split('\n').length - 1;
      i += text.length;
    } else if (c === '`') {
      const end = src.indexOf('`', i + 1);
      const text = src.slice(i + 1, end < 0 ? src.length : end);
      out.push({ kind: 'string', text, line });
      line += text.split('\n').length - 1;
      i = end < 0 ? src.length : end + 1;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let value = '';
      while (j < src.length && src[j] !== c && src[j] !== '\n') {
        if (src[j] === '\\') {
          const e = src[j + 1];
          value += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
        } else value += src[j++];
      }
      out.push({ kind: 'string', text: value, line });
      i = j + 1;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      const m = /^[\p{L}_][\p{L}\p{N}_]*/u.exec(src.slice(i, i + 200))!;
      out.push({ kind: 'ident', text: m[0], line });
      i += m[0].length;
    } else {
      out.push({ kind: 'punct', text: c, line });
      i++;
    }
  }
  return out;
}

interface GoFile {
  path: string;
  pkg: string;
  tokens: GoToken[];
  text: string;
}

async function readGo(root: string, files: string[]): Promise<Derived> {
  const notes: string[] = [];
  const goFiles: GoFile[] = [];
  for (const path of files.filter((f) => f.endsWith('.go') && !f.endsWith('_test.go'))) {
    const text = await readFile(path, 'utf8');
    const tokens = goTokens(text);
    const code = tokens.filter((t) => t.kind !== 'comment');
    const pkg = code[0]?.text === 'package' ? code[1]?.text ?? '' : '';
    goFiles.push({ path, pkg, tokens, text });
  }
  const packages = new Map<string, GoFile[]>();
  for (const f of goFiles) packages.set(dirname(f.path), [...(packages.get(dirname(f.path)) ?? []), f]);

  const databases = new Map<string, DatabaseModel & { where: string }>();
  const services: { name: string; databases: Set<string> }[] = [];
  const namedRefs: { name: string; where: string }[] = [];
  for (const [dir, pkgFiles] of packages) {
    const isService = pkgFiles.some((f) => f.tokens.some((t) => t.kind === 'comment' && /^\/\/encore:(api|service|authhandler)\b/.test(t.text)) || /\bpubsub\.NewSubscription\b/.test(f.text));
    const used = new Set<string>();
    for (const f of pkgFiles) {
      const alias = goImportAlias(f.tokens, 'encore.dev/storage/sqldb');
      if (!alias) continue;
      const code = f.tokens.filter((t) => t.kind !== 'comment');
      for (let i = 0; i + 3 < code.length; i++) {
        if (code[i].text !== alias || code[i + 1].text !== '.' || code[i + 3].text !== '(') continue;
        const fn = code[i + 2].text;
        if (fn !== 'NewDatabase' && fn !== 'Named') continue;
        const where = `${rel(root, f.path)}:${code[i].line}`;
        const arg = code[i + 4];
        if (arg?.kind !== 'string' || code[i + 5]?.text !== (fn === 'Named' ? ')' : ',')) {
          notes.push(`${where}: the database name of sqldb.${fn} is not a string literal; Encore needs one, so it is left out`);
          continue;
        }
        used.add(arg.text);
        if (fn === 'Named') {
          namedRefs.push({ name: arg.text, where });
          continue;
        }
        if (databases.has(arg.text)) {
          notes.push(`${where}: database ${arg.text} is declared again (first at ${databases.get(arg.text)!.where})`);
          continue;
        }
        // sqldb.DatabaseConfig{Migrations: "./migrations"}: find Migrations inside the call's parentheses.
        let depth = 0;
        let migrations: string | null = null;
        for (let j = i + 3; j < code.length; j++) {
          if (code[j].text === '(' || code[j].text === '{') depth++;
          else if (code[j].text === ')' || code[j].text === '}') {
            if (--depth === 0) break;
          } else if (code[j].text === 'Migrations' && code[j + 1]?.text === ':') {
            if (code[j + 2]?.kind === 'string') migrations = code[j + 2].text;
            else notes.push(`${where}: Migrations is not a string literal; its migrations are not known`);
          }
        }
        const db: DatabaseModel & { where: string } = { name: arg.text, where };
        if (migrations !== null) {
          const folder = await migrationsFolder(root, dir, migrations, where, notes);
          if (folder) Object.assign(db, { migrations: folder, migrationsNaming: 'go' as const });
        } else notes.push(`${where}: sqldb.NewDatabase without Migrations (Encore requires it)`);
        databases.set(arg.text, db);
      }
    }
    // Legacy: a service package with a migrations/ folder declares a database named after the package.
    const legacy = join(dir, 'migrations');
    const pkg = pkgFiles[0].pkg;
    if (isService && !used.size && existsSync(legacy) && (await readdir(legacy)).some((n) => /\.sql$/i.test(n))) {
      if (!databases.has(pkg)) databases.set(pkg, { name: pkg, where: rel(root, legacy), migrations: rel(root, legacy), migrationsNaming: 'go' });
      used.add(pkg);
    }
    if (isService) services.push({ name: pkg, databases: used });
    else if (used.size) notes.push(`${rel(root, dir)}: package ${pkg} declares or names database(s) ${[...used].join(', ')} but is not a service (no //encore:api, //encore:service, //encore:authhandler or pubsub.NewSubscription)`);
  }
  for (const n of namedRefs) if (!databases.has(n.name)) notes.push(`${n.where}: sqldb.Named("${n.name}") refers to a database no sqldb.NewDatabase declares`);
  return {
    databases: [...databases.values()].map(({ where: _where, ...db }) => db),
    services: services.map((s) => ({ name: s.name, databases: [...s.databases].filter((d) => databases.has(d)).sort() })),
    notes,
  };
}

/** The name under which a Go file imports `path` (its last element by default); null when it does not. */
function goImportAlias(tokens: GoToken[], path: string): string | null {
  const code = tokens.filter((t) => t.kind !== 'comment');
  for (let i = 0; i < code.length; i++) {
    if (code[i].kind !== 'string' || code[i].text !== path) continue;
    const before = code[i - 1];
    if (before?.kind === 'ident' && before.text !== 'import') return before.text === '_' ? null : before.text;
    if (before?.text === '.') return null;
    return path.split('/').at(-1)!;
  }
  return null;
}
