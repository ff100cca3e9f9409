/**
 * @module The engine's TLS certificate, made once per home and shared by every endpoint, so that
 * clients using Neon's default `sslmode=require&channel_binding=require` connect.
 */
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { ownedDir, ownFile } from '../clusters/os-user.ts';

export interface TlsFiles {
  cert: string;
  key: string;
}

export async function ensureTls(home: string): Promise<TlsFiles> {
  const dir = join(home, 'tls');
  const files = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
  if (existsSync(files.cert) && existsSync(files.key)) return files;
  ownedDir(dir, 0o700);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    days: 3650,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  } as Parameters<typeof generate>[1]);
  await fs.writeFile(files.key, pems.private, { mode: 0o600 });
  await fs.writeFile(files.cert, pems.cert, { mode: 0o644 });
  // PostgreSQL refuses a key that others can read or that its user does not own.
  ownFile(files.key, 0o600);
  ownFile(files.cert, 0o644);
  return files;
}
