/**
 * @module The engine's TLS: a local certificate authority made once per home (`tls/ca.crt`, its
 * key never leaves the home and is readable by the engine only) and one server certificate it
 * signs for `localhost` and `127.0.0.1`, shared by every endpoint. Clients that verify — psql with
 * `sslmode=verify-full sslrootcert=<home>/tls/ca.crt`, node-postgres (which treats
 * `sslmode=require` as verify-full) with `NODE_EXTRA_CA_CERTS=<home>/tls/ca.crt`, neonctl with
 * `PGSSLROOTCERT` — then trust the endpoints; Neon's default `sslmode=require&channel_binding=require`
 * works as before. A home made before the CA existed gets one, and a new server certificate, on
 * its next start.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { ownedDir, ownFile } from '../clusters/os-user.ts';

export interface TlsFiles {
  cert: string;
  key: string;
  /** The local CA that signed `cert`: what clients are given to verify endpoints. */
  ca: string;
}

const TEN_YEARS_MS = 3650 * 86_400_000;

type Options = Parameters<typeof generate>[1];

export async function ensureTls(home: string): Promise<TlsFiles> {
  const dir = join(home, 'tls');
  const files = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt') };
  const caKey = join(dir, 'ca.key');
  ownedDir(dir, 0o700);
  if (!existsSync(files.ca) || !existsSync(caKey)) {
    const ca = await generate([{ name: 'commonName', value: `Arbor engine local CA ${new Date().toISOString().slice(0, 10)}` }], {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + TEN_YEARS_MS),
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    } as Options);
    await fs.writeFile(caKey, ca.private, { mode: 0o600 });
    await fs.writeFile(files.ca, ca.cert, { mode: 0o644 });
    await fs.rm(files.cert, { force: true });
  }
  if (existsSync(files.cert) && existsSync(files.key) && signedBy(files.cert, files.ca)) return files;
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + TEN_YEARS_MS),
    ca: { key: readFileSync(caKey, 'utf8'), cert: readFileSync(files.ca, 'utf8') },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  } as Options);
  await fs.writeFile(files.key, pems.private, { mode: 0o600 });
  await fs.writeFile(files.cert, pems.cert, { mode: 0o644 });
  // PostgreSQL refuses a key that others can read or that its user does not own.
  ownFile(files.key, 0o600);
  ownFile(files.cert, 0o644);
  return files;
}

function signedBy(certPath: string, caPath: string): boolean {
  try {
    return new X509Certificate(readFileSync(certPath)).checkIssued(new X509Certificate(readFileSync(caPath)));
  } catch {
    return false;
  }
}
