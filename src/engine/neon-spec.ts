/**
 * @module Validating engine responses against Neon's own OpenAPI spec.
 *
 * The spec (`public-v2-for-users.gen.yaml`, OpenAPI 3.0.3, licence "Proprietary") ships inside the
 * `@neondatabase/api-client` package; it is read from node_modules at run time and never copied
 * into this repository. Used by tests only (ajv is a devDependency).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

// ajv and ajv-formats are CommonJS modules whose ESM default import is `module.exports`.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Operation {
  method: string;
  template: string;
  segments: string[];
  operationId: string;
  /** status ("200", "default", …) → JSON schema, or null when the response has no JSON body. */
  responses: Map<string, JsonObject | null>;
}

interface CompiledSpec {
  ajv: InstanceType<typeof Ajv>;
  operations: Operation[];
  validators: Map<string, ValidateFunction>;
}

const SPEC_ID = 'neon-openapi';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

let cached: CompiledSpec | undefined;

/** Absolute path of the spec shipped in `@neondatabase/api-client`. */
export function neonSpecPath(): string {
  return createRequire(import.meta.url).resolve('@neondatabase/api-client/public-v2-for-users.gen.yaml');
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Turns an OpenAPI 3.0 schema into JSON Schema ajv understands: `nullable: true` becomes
 * `anyOf [schema, null]`, local `$ref`s become absolute refs into the spec document, and
 * vendor extensions / `example` are dropped.
 */
function convert(node: Json): Json {
  if (Array.isArray(node)) return node.map(convert);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-') || key === 'example' || key === 'discriminator') continue;
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#/')) {
      out[key] = `${SPEC_ID}${value}`;
    } else if (key === 'properties' && isObject(value)) {
      // Property names are data, not keywords: convert each property's schema but keep every name.
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v)]));
    } else {
      out[key] = convert(value);
    }
  }
  if (out.nullable === true) {
    delete out.nullable;
    return { anyOf: [out, { type: 'null' }] };
  }
  delete out.nullable;
  return out;
}

function resolveLocal(doc: JsonObject, ref: string): Json {
  let node: Json = doc;
  for (const part of ref.replace(/^#\//, '').split('/')) {
    if (!isObject(node)) throw new Error(`unresolvable $ref ${ref}`);
    node = node[part.replace(/~1/g, '/').replace(/~0/g, '~')] ?? null;
  }
  return node;
}

/**
 * The spec as a JSON object. Parsing its 430 kB of YAML takes 0.5 s idle and 1.7 s on a loaded
 * machine, in every test process that checks a response; so the parsed document is kept as JSON
 * in node_modules/.cache (the usual home of tools' caches), named by the YAML's hash so that an
 * upgraded api-client never meets a stale copy.
 */
function specDocument(): JsonObject {
  const path = neonSpecPath();
  const yaml = readFileSync(path, 'utf8');
  const hash = createHash('sha256').update(yaml).digest('hex').slice(0, 16);
  const nodeModules = path.slice(0, path.lastIndexOf('/node_modules/') + '/node_modules'.length);
  const file = join(nodeModules, '.cache', 'arbor', `neon-spec-${hash}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
  } catch {
    // Not cached yet (or unreadable): parse, then write it whole under a temporary name and rename,
    // so a concurrent reader sees the old state or the whole file, never a part.
  }
  const doc = parse(yaml, { intAsBigInt: false }) as JsonObject;
  try {
    mkdirSync(dirname(file), { recursive: true });
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, JSON.stringify(doc));
    renameSync(partial, file);
  } catch {
    // A read-only node_modules: parse every time.
  }
  return doc;
}

function loadSpec(): CompiledSpec {
  if (cached) return cached;
  const doc = specDocument();
  const components = (doc.components ?? {}) as JsonObject;
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    unicodeRegExp: false,
    validateFormats: true,
    // Integer size formats the spec uses beyond what ajv-formats knows; the type check still applies.
    formats: { uint64: true, int: true },
  });
  addFormats(ajv);
  ajv.addSchema({ $id: SPEC_ID, components: { schemas: convert(components.schemas ?? {}) } } as object);

  const operations: Operation[] = [];
  for (const [template, item] of Object.entries((doc.paths ?? {}) as JsonObject)) {
    if (!isObject(item)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const responses = new Map<string, JsonObject | null>();
      for (const [status, raw] of Object.entries((op.responses ?? {}) as JsonObject)) {
        let response = raw;
        if (isObject(response) && typeof response.$ref === 'string') response = resolveLocal(doc, response.$ref);
        const content = isObject(response) && isObject(response.content) ? response.content : undefined;
        const json = content?.['application/json'];
        const schema = isObject(json) && isObject(json.schema) ? (convert(json.schema) as JsonObject) : null;
        responses.set(String(status), schema);
      }
      operations.push({
        method: method.toUpperCase(),
        template,
        segments: template.split('/').filter(Boolean),
        operationId: String(op.operationId ?? `${method} ${template}`),
        responses,
      });
    }
  }
  // Literal segments win over `{param}` ones (`/branches/count` before `/branches/{branch_id}`).
  const literals = (o: Operation) => o.segments.filter((s) => !s.startsWith('{')).length;
  operations.sort((a, b) => literals(b) - literals(a));
  cached = { ajv, operations, validators: new Map() };
  return cached;
}

/** Strips scheme/host, the query string and the `/api/v2` prefix. */
function relativePath(path: string): string {
  let p = path.replace(/^[a-z]+:\/\/[^/]+/i, '').split('?')[0]!.split('#')[0]!;
  p = p.replace(/^\/api\/v2(?=\/|$)/, '');
  if (!p.startsWith('/')) p = `/${p}`;
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

function findOperation(spec: CompiledSpec, method: string, path: string): Operation | undefined {
  const segments = path.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
  return spec.operations.find(
    (op) =>
      op.method === method &&
      op.segments.length === segments.length &&
      op.segments.every((s, i) => s.startsWith('{') || s === segments[i]),
  );
}

function describe(error: ErrorObject): string {
  const at = error.instancePath || '(body)';
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${error.instancePath}/${String(p.missingProperty)}: required field is missing`;
    case 'additionalProperties':
      return `${at}: unexpected property ${String(p.additionalProperty)}`;
    case 'enum':
      return `${at}: ${error.message} (${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')})`;
    default:
      return `${at}: ${error.message ?? error.keyword}`;
  }
}

/**
 * Validates one API response against the spec. Returns human-readable problems, each naming the
 * offending field as a JSON pointer (`/project/owner_id: required field is missing`); an empty
 * array means the response conforms. `path` may be absolute or relative, with or without `/api/v2`
 * and a query string.
 */
export function validateNeonResponse(method: string, path: string, status: number, body: unknown): string[] {
  const spec = loadSpec();
  const m = method.toUpperCase();
  const rel = relativePath(path);
  const op = findOperation(spec, m, rel);
  if (!op) return [`no operation ${m} ${rel} in the Neon spec`];
  const key = op.responses.has(String(status)) ? String(status) : op.responses.has('default') ? 'default' : undefined;
  if (key === undefined) {
    return [`${op.operationId}: status ${status} is not declared (declared: ${[...op.responses.keys()].join(', ')})`];
  }
  const schema = op.responses.get(key) ?? null;
  const empty = body === undefined || body === null || body === '';
  if (schema === null) {
    return empty ? [] : [`${op.operationId} ${key}: spec declares no body, got ${JSON.stringify(body).slice(0, 200)}`];
  }
  if (status === 204 && empty) return [];
  if (empty) return [`(body): ${op.operationId} ${key} expects a JSON body, got none`];
  const cacheKey = `${op.method} ${op.template} ${key}`;
  let validate = spec.validators.get(cacheKey);
  if (!validate) {
    validate = spec.ajv.compile(schema);
    spec.validators.set(cacheKey, validate);
  }
  if (validate(body)) return [];
  return [...new Set((validate.errors ?? []).map(describe))];
}
