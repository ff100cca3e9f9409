/**
 * @module `/api_keys`: list, create and revoke the engine's API keys, as Neon's personal keys.
 * A key is shown once, at creation; only its hash is kept (Engine.addApiKey). Revoking the key a
 * request was made with is allowed, as on Neon: the next request with it gets a 401.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Engine } from '../engine.ts';
import { apiKey } from '../catalog/ids.ts';
import type { ApiKeyRecord } from '../catalog/types.ts';
import { notFound } from '../errors.ts';
import { LOCAL_USER_ID } from './account.ts';
import { readBody } from './validate.ts';

const createBody = z.object({ key_name: z.string().min(1, { error: 'key_name must not be empty' }).max(64, { error: 'key_name must be at most 64 characters' }) });

const creator = { id: LOCAL_USER_ID, name: 'Arbor engine', image: '' };

function listItem(k: ApiKeyRecord) {
  return { id: k.id, name: k.name, created_at: k.created_at, created_by: creator, last_used_at: null, last_used_from_addr: '' };
}

export function apiKeyRoutes(engine: Engine): Hono {
  const app = new Hono();

  app.get('/api_keys', (c) => c.json(engine.data.api_keys.map(listItem)));

  app.post('/api_keys', async (c) => {
    const body = await readBody(c, createBody);
    const key = apiKey();
    engine.addApiKey(body.key_name, key);
    const record = engine.data.api_keys[engine.data.api_keys.length - 1];
    await engine.save();
    return c.json({ id: record.id, key, name: record.name, created_at: record.created_at, created_by: LOCAL_USER_ID });
  });

  app.delete('/api_keys/:key_id', async (c) => {
    const id = Number(c.req.param('key_id'));
    const record = engine.data.api_keys.find((k) => k.id === id);
    if (!record) throw notFound(`API key ${c.req.param('key_id')} not found`);
    engine.data.api_keys = engine.data.api_keys.filter((k) => k !== record);
    await engine.save();
    return c.json({ id: record.id, name: record.name, created_at: record.created_at, created_by: LOCAL_USER_ID, last_used_at: null, last_used_from_addr: '', revoked: true });
  });

  return app;
}

