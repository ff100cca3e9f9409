/**
 * @module An Encore app as the platform takes it: the model derived from its source
 * (postgres/encore-app.ts), its arbor.yaml form, and the migration files of every database, read
 * with the source and filename rules the app declares. From a folder (the CLI) or from files sent
 * to the API (the dashboard's create-app form, which uploads the app's folder): the files are
 * written to a private temporary folder, read exactly as a folder is (in a worker thread), and removed.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { appModelToYaml, type AppModel } from '../postgres/app-model.ts';
import { readEncoreApp, type ParsePhase } from '../postgres/encore-app.ts';
import { readMigrationTexts } from '../postgres/migrate.ts';
import { invalid } from '../errors.ts';
import { deriveInWorker, type DeriveJob } from './derive-pool.ts';

export interface DerivedApp {
  model: AppModel;
  /** The model as arbor.yaml text (what `--write-yaml` writes). */
  yaml: string;
  language: 'typescript' | 'go';
  /** What the reader could not resolve, with file and line. */
  notes: string[];
  /** Per database, its migration files as the API's `migrations` takes them. */
  migrations: Record<string, { file: string; sql: string }[]>;
}

/** Derives the app at `root` (the folder holding encore.app) and reads its migrations. */
export async function deriveEncoreApp(root: string, onParse?: ParsePhase): Promise<DerivedApp> {
  const found = await readEncoreApp(root, onParse);
  const migrations: DerivedApp['migrations'] = {};
  for (const db of found.model.databases) if (db.migrations) migrations[db.name] = await readMigrationTexts(root, db);
  return { model: found.model, yaml: appModelToYaml(found.model), language: found.language, notes: found.notes, migrations };
}

/** At most this many files per upload: an app's sources and migrations, not its node_modules. */
export const MAX_UPLOADED_FILES = 5000;

/** A relative path inside the app: no `..`, `.`, empty or hidden-only tricks, no absolute path, no backslash. */
function uploadPathProblem(path: string): string | null {
  if (!path || path.length > 1000) return 'must be a relative path of at most 1000 characters';
  if (path.startsWith('/') || path.includes('\\') || /^[A-Za-z]:/.test(path)) return 'must be a relative path with / separators';
  if (path.split('/').some((part) => part === '' || part === '.' || part === '..')) return 'must not contain empty, . or .. segments';
  return null;
}

/**
 * Derives an app from uploaded files (`path` relative to the app's root, where encore.app is).
 * Every path is checked here, before anything is written or a worker is asked; the reading itself
 * (the TypeScript compiler on every file: seconds for a large app) runs in a worker thread
 * (derive-pool.ts), so it never holds up the platform's other requests. The temporary folder is
 * made and removed here, so a worker stopped at the time limit leaves nothing behind.
 */
export async function deriveEncoreUpload(files: { path: string; text: string }[], folder = 'app'): Promise<DerivedApp> {
  checkUpload(files, folder);
  const tmp = await mkdtemp(join(tmpdir(), 'arbor-encore-upload-'));
  try {
    return await deriveInWorker({ root: join(tmp, folder), folder, files });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function checkUpload(files: { path: string; text: string }[], folder: string): void {
  // The folder's name is the app's name when encore.app has no id (as for a folder on disk).
  if (uploadPathProblem(folder) || folder.includes('/')) throw invalid('folder', `folder ${JSON.stringify(folder.slice(0, 200))} must be one path segment: the name of the app's folder`);
  if (files.length > MAX_UPLOADED_FILES) throw invalid('files', `${files.length} files sent; at most ${MAX_UPLOADED_FILES} (leave out node_modules and build output)`);
  const seen = new Set<string>();
  files.forEach((f, i) => {
    const problem = uploadPathProblem(f.path);
    if (problem) throw invalid(`files[${i}].path`, `file path ${JSON.stringify(f.path.slice(0, 200))} ${problem}`);
    if (seen.has(f.path)) throw invalid(`files[${i}].path`, `file ${f.path} is sent twice`);
    seen.add(f.path);
  });
  if (!seen.has('encore.app')) throw invalid('files', 'no encore.app among the files: send the folder that holds encore.app, with paths relative to it');
}

/** What a worker runs (derive-worker.ts): writes checked `files` under `root` (which does not exist yet), then derives. */
export async function deriveWrittenUpload({ root, folder, files }: DeriveJob, onParse?: ParsePhase): Promise<DerivedApp> {
  for (const [i, f] of files.entries()) {
    const target = join(root, f.path);
    try {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.text, { flag: 'wx' });
    } catch {
      // e.g. both `a` and `a/b`: one is a file, the other needs it to be a folder.
      throw invalid(`files[${i}].path`, `file ${f.path} cannot be placed: another file's path makes one of its folders a file`);
    }
  }
  try {
    const derived = await deriveEncoreApp(root, onParse);
    // Notes name files relative to the app already; never the temporary folder.
    return { ...derived, notes: derived.notes.map((n) => n.split(root + '/').join('').split(root).join(folder)) };
  } catch (error) {
    // The app's own problem (a bad migration folder, an invalid model): a 400 naming it, without the temporary path.
    throw invalid('files', (error as Error).message.split(root + '/').join('').split(root).join(folder));
  }
}
