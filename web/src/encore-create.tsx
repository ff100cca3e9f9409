/**
 * @module Create an app from an Encore app's folder: the browser picks the folder, only the files
 * the platform's Encore reader uses are sent to POST /encore-apps/derive (sources, encore.app,
 * migration folders; never node_modules or build output), the derived arbor.yaml and its notes are
 * shown, and "Create app" sends them to POST /apps.
 */
import { useNavigate } from '@tanstack/react-router';
import { useState, type ChangeEvent } from 'react';
import { api, ApiError, type AppView, type EncoreDeriveInput, type EncoreDerivedView } from './api.ts';
import { useChange } from './queries.ts';
import { Field, FormError } from './ui.tsx';

/** Folders the Encore reader skips too: dependencies, generated code and build output. */
const SKIP_DIRS = new Set(['node_modules', '.git', '.encore', 'encore.gen', 'dist', 'build', 'vendor']);
const KEEP_NAMES = new Set(['encore.app', 'go.mod', 'package.json', 'migration_lock.toml']);

/** Whether the reader needs `path` (relative to encore.app's folder): sources, manifests, migrations. */
export function wanted(path: string): boolean {
  const parts = path.split('/');
  const name = parts[parts.length - 1];
  if (parts.slice(0, -1).some((p) => SKIP_DIRS.has(p))) return false;
  if (KEEP_NAMES.has(name) || name.endsWith('.go') || name.endsWith('.sql')) return true;
  if (name === '_journal.json') return parts[parts.length - 2] === 'meta';
  return /\.(ts|tsx|mts|cts)$/.test(name) && !/\.d\.(ts|mts|cts)$/.test(name);
}

/** A field error of the form's own (before anything is sent), shown where the API's would be. */
const refusal = (message: string) => new ApiError(400, 'invalid', message, 'files');

/**
 * The upload for a picked folder: the shallowest encore.app (outside node_modules and the like)
 * marks the app's folder (the picked folder or one inside it); paths become relative to it.
 */
async function upload(list: FileList): Promise<Required<EncoreDeriveInput>> {
  const files = [...list].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
  const apps = files.filter((f) => (f.path === 'encore.app' || f.path.endsWith('/encore.app')) && wanted(f.path)).sort((a, b) => a.path.split('/').length - b.path.split('/').length);
  if (!apps.length) throw refusal(`the folder holds no encore.app: pick the folder of the Encore app (the one with encore.app in it)`);
  const root = apps[0].path.slice(0, -'encore.app'.length);
  const folder = root.split('/').filter(Boolean).pop() ?? 'app';
  const chosen = files.filter((f) => f.path.startsWith(root)).map((f) => ({ file: f.file, path: f.path.slice(root.length) })).filter((f) => wanted(f.path));
  return { folder, files: await Promise.all(chosen.map(async (f) => ({ path: f.path, text: await f.file.text() }))) };
}

export function EncoreCreate() {
  const navigate = useNavigate();
  const [picked, setPicked] = useState<{ folder: string; count: number }>();
  const [local, setLocal] = useState<unknown>();
  const derive = useChange((body: Required<EncoreDeriveInput>) => api<EncoreDerivedView>('POST', '/encore-apps/derive', body), []);
  const create = useChange(
    (d: EncoreDerivedView) => api<{ app: AppView }>('POST', '/apps', { model: d.yaml, migrations: d.migrations }),
    [['apps']],
    (r) => void navigate({ to: '/apps/$app', params: { app: r.app.name } }),
  );
  const derived = derive.data;

  async function pick(event: ChangeEvent<HTMLInputElement>) {
    const list = event.target.files;
    setLocal(undefined);
    derive.reset();
    create.reset();
    setPicked(undefined);
    if (!list?.length) return;
    try {
      const body = await upload(list);
      setPicked({ folder: body.folder, count: body.files.length });
      derive.mutate(body);
    } catch (error) {
      setLocal(error);
    }
  }

  const error = local ?? derive.error;
  return (
    <section className="panel" aria-labelledby="encore-title">
      <h2 id="encore-title">From an Encore app folder</h2>
      <form aria-label="From an Encore app folder" onSubmit={(e) => (e.preventDefault(), derived && create.mutate(derived))}>
        <Field
          label="Encore app folder"
          name="files"
          error={error}
          hint="The folder holding encore.app. Only its sources (.ts, .go), encore.app, go.mod, package.json and migration files are sent; node_modules, .git, .encore, encore.gen, dist, build and vendor are left out."
        >
          {/* webkitdirectory is not in React's input props; every current browser supports it. */}
          <input type="file" {...{ webkitdirectory: '', directory: '' }} multiple onChange={pick} />
        </Field>
        <FormError error={error} fields={['files']} labels={{ folder: 'Encore app folder' }} />
        {derive.isPending && <p className="muted">Reading {picked?.folder}…</p>}
        {derived && (
          <div data-testid="encore-derived">
            <p>
              {picked?.count} file(s) of {picked?.folder} read: a {derived.language === 'go' ? 'Go' : 'TypeScript'} Encore app named <b>{derived.model.app}</b>.
            </p>
            <div className="scroll" tabIndex={0}>
              <table>
                <thead>
                  <tr>
                    <th>Service</th>
                    <th>Databases</th>
                  </tr>
                </thead>
                <tbody>
                  {derived.model.services.map((s) => (
                    <tr key={s.name} data-service={s.name}>
                      <td>{s.name}</td>
                      <td>{s.databases.join(', ') || '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <ul data-testid="encore-databases">
              {derived.model.databases.map((d) => (
                <li key={d.name} data-database={d.name}>
                  database <b>{d.name}</b>: {(derived.migrations[d.name] ?? []).length} migration file(s){d.migrationsSource ? ` (${d.migrationsSource})` : ''}
                </li>
              ))}
            </ul>
            <h3>arbor.yaml</h3>
            <pre className="example" data-testid="encore-yaml">{derived.yaml}</pre>
            <h3>Notes</h3>
            {derived.notes.length ? (
              <>
                <p className="hint">What could not be resolved (left out of the model; add it to arbor.yaml by hand if it matters):</p>
                <ul data-testid="encore-notes">
                  {derived.notes.map((n) => (
                    <li key={n}>{n}</li>
                  ))}
                </ul>
              </>
            ) : (
              <p data-testid="encore-notes">Everything was resolved.</p>
            )}
            <FormError error={create.error} labels={{ model: 'arbor.yaml' }} />
            <button type="submit" disabled={create.isPending || create.isSuccess}>
              Create app
            </button>
          </div>
        )}
      </form>
    </section>
  );
}
