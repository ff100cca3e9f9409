/**
 * @module The platform's secrets at rest: Neon API keys and role passwords are sealed with
 * AES-256-GCM under a master key from ARBOR_MASTER_KEY, or from `master.key` (mode 0600, made on
 * first start) under ARBOR_HOME.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class Secrets {
  private constructor(private readonly key: Buffer) {}

  static fromEnvironment(home: string, env: NodeJS.ProcessEnv = process.env): Secrets {
    // Processes sharing one DATABASE_URL must share this key too.
    if (env.ARBOR_MASTER_KEY) return new Secrets(createHash('sha256').update(env.ARBOR_MASTER_KEY).digest());
    const path = join(home, 'master.key');
    if (!existsSync(path)) writeFileSync(path, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    if ((statSync(path).mode & 0o077) !== 0) throw new Error(`${path} is readable by others; run chmod 600 ${path}`);
    return new Secrets(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64'));
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v1.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
  }

  /** A stable value derived from the master key for `label` (e.g. a per-app masking salt); not reversible. */
  derive(label: string): string {
    return createHmac('sha256', this.key).update(label).digest('hex');
  }

  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1') throw new Error('unknown secret format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function last4(secret: string): string {
  return secret.slice(-4);
}
