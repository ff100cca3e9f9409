/**
 * @module Where the data lives: the clusters and their history (`<home>/clusters`,
 * `<home>/history`) may be put in another directory (`arbor engine serve --data DIR`,
 * `ARBOR_ENGINE_DATA`), e.g. on a filesystem that clones files (XFS with reflink, btrfs), where a
 * branch then costs only what it writes. The home keeps its catalog, keys and logs and points at
 * the data with two symbolic links, so every path the engine computes stays under the home.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeTraversable, ownedDir } from './os-user.ts';

const DATA_PARTS = ['clusters', 'history'] as const;

/** Links `<home>/clusters` and `<home>/history` to `dataDir` (made if absent); refuses to hide data already in the home. */
export function linkDataDir(home: string, dataDir: string): void {
  const target = resolve(dataDir);
  mkdirSync(target, { recursive: true, mode: 0o711 });
  makeTraversable(target);
  for (const part of DATA_PARTS) {
    const link = join(home, part);
    const dest = join(target, part);
    ownedDir(dest, 0o711);
    if (isLink(link)) {
      const current = resolve(home, readlinkSync(link));
      if (current === dest) continue;
      throw new Error(`${link} already points at ${current}, not ${dest}: start the engine with --data ${resolve(current, '..')} (or move that data first)`);
    }
    if (existsSync(link)) {
      if (readdirSync(link).length) {
        throw new Error(`${link} already holds this engine's ${part}; move it to ${dest} first (with the engine stopped), then start it with --data ${target}`);
      }
      // An empty directory the engine made on an earlier start: replaced by the link.
      rmdirSync(link);
    }
    symlinkSync(dest, link);
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
