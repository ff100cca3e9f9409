/**
 * @module Checks answers of the platform's API against its own OpenAPI document
 * (`/api/v1/openapi.json`): the status must be one the route documents (or an error), and the
 * body must match the schema documented for it, with ajv (JSON Schema 2020-12, OpenAPI 3.1's
 * dialect). Used by tests only (ajv is a devDependency): `test-support.ts` checks every answer a
 * test gets through `call()`, the fuzz checks every generated one.
 */
import Ajv2020Module, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// CommonJS modules whose ESM default import is `module.exports`.
const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

interface Operation {
  method: string;
  segments: string[];
  /** Success status → its body's schema (null: no body). */
  success: Map<number, object | null>;
}

export interface OpenApiChecker {
  /** Problems with one answer (none: it matches the document); an unknown route has none. */
  check(method: string, path: string, status: number, text: string): string[];
  /** The documented route (`GET /apps/{app}`) a request goes to, or undefined. */
  routeOf(method: string, path: string): string | undefined;
}

const describe = (e: ErrorObject) => `${e.instancePath || '(body)'} ${e.message}${e.params && 'additionalProperty' in e.params ? `: ${String(e.params.additionalProperty)}` : ''}`;

export function openApiChecker(spec: any): OpenApiChecker {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const validators = new Map<object, ValidateFunction>();
  const validate = (schema: object, body: unknown): string[] => {
    let fn = validators.get(schema);
    if (!fn) validators.set(schema, (fn = ajv.compile(schema)));
    return fn(body) ? [] : [...new Set((fn.errors ?? []).map(describe))];
  };
  const errorSchema = spec.components.schemas.Error as object;
  const operations: (Operation & { template: string })[] = [];
  for (const [template, item] of Object.entries<any>(spec.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      const success = new Map<number, object | null>();
      for (const [status, response] of Object.entries<any>(op.responses ?? {})) {
        if (/^2\d\d$/.test(status)) success.set(Number(status), response.content?.['application/json']?.schema ?? null);
      }
      operations.push({ method: method.toUpperCase(), template, segments: template.split('/').filter(Boolean), success });
    }
  }
  /** The operation with the most literal segments matching (`/users/rotate` before `/users/{role}`). */
  const find = (method: string, path: string) => {
    const segments = path.split('?')[0].replace(/^\/api\/v1/, '').split('/').filter(Boolean);
    let best: (typeof operations)[number] | undefined;
    let bestLiterals = -1;
    for (const op of operations) {
      if (op.method !== method.toUpperCase() || op.segments.length !== segments.length) continue;
      let literals = 0;
      const matches = op.segments.every((s, i) => (s.startsWith('{') ? true : s === segments[i] && ++literals > 0));
      if (matches && literals > bestLiterals) [best, bestLiterals] = [op, literals];
    }
    return best;
  };
  return {
    routeOf(method, path) {
      const op = find(method, path);
      return op && `${op.method} ${op.template}`;
    },
    check(method, path, status, text) {
      const op = find(method, path);
      if (!op) return [];
      const where = `${op.method} ${op.template} ${status}`;
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        return [`${where}: the body is not JSON: ${text.slice(0, 100)}`];
      }
      if (status >= 400) return validate(errorSchema, body).map((p) => `${where}: ${p}`);
      if (!op.success.has(status)) return [`${where}: status ${status} is not documented (documented: ${[...op.success.keys()].join(', ')})`];
      const schema = op.success.get(status);
      if (!schema) return body === undefined ? [] : [`${where}: documented without a body, got ${text.slice(0, 100)}`];
      if (body === undefined) return [`${where}: documented with a body, got none`];
      return validate(schema, body).map((p) => `${where}: ${p}`);
    },
  };
}
