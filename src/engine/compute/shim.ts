/**
 * @module The listen shim (listen-shim.c): compiled on first use with the system C compiler into
 * `<home>/lib`, cached by the source's hash. Without a compiler the engine still works, with a
 * short window at each wake and suspend where the port is closed (see listeners.ts).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'listen-shim.c');

/**
 * The path of the compiled shim, building it if needed (`onBuild` is told first: it takes about a
 * second); null (with the reason) when it cannot be built.
 */
export async function buildShim(home: string, onBuild?: () => void): Promise<{ path: string | null; reason?: string; noCompiler?: boolean }> {
  if (process.env.ARBOR_ENGINE_NO_SHIM === '1') return { path: null, reason: 'ARBOR_ENGINE_NO_SHIM=1' };
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const dir = join(home, 'lib');
  const path = join(dir, `arbor-listen-${hash}.so`);
  if (existsSync(path)) return { path };
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const partial = `${path}.${process.pid}.tmp`;
  const compiler = process.env.CC ?? 'cc';
  onBuild?.();
  try {
    await execFileAsync(compiler, ['-shared', '-fPIC', '-O2', '-Wall', '-o', partial, SOURCE, '-ldl', '-lpthread']);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { path: null, reason: `there is no C compiler: ${compiler} was not found (install gcc and libc6-dev)`, noCompiler: true };
    const stderr = (error as { stderr?: string }).stderr ?? (error as Error).message;
    return { path: null, reason: `${compiler} failed: ${stderr.trim().split('\n').slice(-3).join(' ')} (install gcc and libc6-dev)` };
  }
  chmodSync(partial, 0o755);
  renameSync(partial, path);
  return { path };
}
