/**
 * @module The catalog file: the whole state in one JSON document, replaced atomically
 * (write, fsync, rename, fsync directory) so a crash leaves either the old or the new version.
 */
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CatalogData } from './types.ts';

export class CatalogStore {
  readonly data: CatalogData;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(private readonly path: string) {
    this.data = existsSync(path)
      ? (JSON.parse(readFileSync(path, 'utf8')) as CatalogData)
      : { version: 1, api_keys: [], projects: [], branches: [], endpoints: [], operations: [], next_database_id: 1 };
  }

  /**
   * Persists the current state; concurrent calls coalesce into at most one extra write. A write
   * that fails (a full disk) rejects this call only: the state stays to be written, the file
   * keeps its previous version, and the next call tries again.
   */
  save(): Promise<void> {
    this.dirty = true;
    const write = this.writing.catch(() => {}).then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const tmp = `${this.path}.tmp`;
      try {
        const handle = await fs.open(tmp, 'w', 0o600);
        try {
          await handle.writeFile(JSON.stringify(this.data));
          await handle.sync();
        } finally {
          await handle.close();
        }
      } catch (error) {
        this.dirty = true;
        await fs.rm(tmp, { force: true }).catch(() => {});
        throw error;
      }
      await fs.rename(tmp, this.path);
      const dir = await fs.open(dirname(this.path), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    });
    this.writing = write;
    return write;
  }
}

export function catalogPath(home: string): string {
  return join(home, 'catalog.json');
}
