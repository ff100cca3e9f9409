/**
 * @module Request validation: zod schemas for Neon's request bodies, and one function that turns
 * every problem into a single 400 whose message names each bad field.
 */
import type { Context } from 'hono';
import { z } from 'zod';
import { badRequest } from '../errors.ts';

export async function readBody<T extends z.ZodType>(c: Context, schema: T, optional = false): Promise<z.infer<T>> {
  const text = await c.req.text();
  let json: unknown = {};
  if (text.trim()) {
    try {
      json = JSON.parse(text);
    } catch {
      throw badRequest('request body is not valid JSON');
    }
  } else if (!optional) {
    throw badRequest('request body is required');
  }
  return check(schema, json, 'request body');
}

export function check<T extends z.ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || where}: ${issue.message}`);
  throw badRequest(problems.join('; '));
}

export const nameBytes = (field: string, max: number) =>
  z
    .string({ error: `${field} must be a string` })
    .min(1, { error: `${field} must not be empty` })
    .refine((s) => Buffer.byteLength(s) <= max, { error: `${field} must be at most ${max} bytes` });

export const computeUnit = (field: string) =>
  z.number({ error: `${field} must be a number` }).min(0.25, { error: `${field} must be at least 0.25` }).max(56, { error: `${field} must be at most 56` });

export const suspendTimeout = z
  .number({ error: 'suspend_timeout_seconds must be a number' })
  .int({ error: 'suspend_timeout_seconds must be an integer' })
  .refine((v) => v >= -1 && v <= 604800, { error: 'suspend_timeout_seconds must be -1 (never), 0 (default) or at most 604800' });

/** Neon's rules for a compute's settings (the same for any caller: lifecycle/endpoints.ts). */
export { checkCuRange, checkSuspendTimeout } from '../lifecycle/endpoints.ts';

/** `pg_settings`: only the settings Neon accepts, with checked values (one allowlist: compute/pg-settings.ts). */
export { pgSettingsSchema as pgSettings } from '../compute/pg-settings.ts';

export const timestamp = (field: string) =>
  z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)), {
    error: `${field} must be an RFC 3339 timestamp, e.g. 2030-01-01T00:00:00Z`,
  });

export function queryInt(c: Context, name: string, min: number, max: number, fallback: number): number {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw badRequest(`${name} must be an integer between ${min} and ${max}`);
  return value;
}
