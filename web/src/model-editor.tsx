/**
 * @module The app's model as people have it: arbor.yaml pasted or uploaded, and migration files
 * uploaded per database (`1_orders.up.sql`, as Encore and golang-migrate name them). Used to create
 * an app and to change its model later.
 */
import { useId, useState, type ChangeEvent } from 'react';
import { Field } from './ui.tsx';

export type Migrations = Record<string, { file: string; sql: string }[]>;

/** The database names of an arbor.yaml's `databases:` list, read loosely (the API reads it for real). */
export function databasesOf(yaml: string): string[] {
  try {
    const data = JSON.parse(yaml) as { databases?: { name?: unknown }[] };
    return (data.databases ?? []).map((d) => String(d.name));
  } catch {
    /* not JSON: read as YAML below */
  }
  const block = /^databases:\s*\n((?:[ \t]+.*\n?|\s*\n)*)/m.exec(yaml)?.[1] ?? '';
  return [...block.matchAll(/-\s*name:\s*["']?([A-Za-z0-9_-]+)/g)].map((m) => m[1]);
}

async function readFiles(list: FileList | null): Promise<{ file: string; sql: string }[]> {
  const files = [...(list ?? [])].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  return Promise.all(files.map(async (f) => ({ file: f.name, sql: await f.text() })));
}

export function ModelEditor({ model, setModel, migrations, setMigrations, error, existing }: { model: string; setModel: (v: string) => void; migrations: Migrations; setMigrations: (m: Migrations) => void; error?: unknown; existing?: Record<string, string[]> }) {
  const uploadId = useId();
  const [extra, setExtra] = useState('');
  const databases = [...new Set([...databasesOf(model), ...Object.keys(migrations)])];

  async function upload(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    if (file) setModel(await file.text());
  }
  async function addFiles(db: string, list: FileList | null) {
    setMigrations({ ...migrations, [db]: await readFiles(list) });
  }
  return (
    <>
      <Field label="arbor.yaml" name="model" error={error} hint="The app's model: its name, databases and services (YAML, or JSON).">
        <textarea value={model} onChange={(e) => setModel(e.target.value)} rows={12} spellCheck={false} className="mono" />
      </Field>
      <div className="field">
        <label htmlFor={uploadId}>Or upload arbor.yaml</label>
        <input id={uploadId} type="file" accept=".yaml,.yml,.json,text/yaml" onChange={upload} />
      </div>
      <fieldset className="migrations">
        <legend>Migration files per database</legend>
        {databases.length === 0 && <p className="hint">The databases of arbor.yaml appear here once it names some.</p>}
        {databases.map((db) => (
          <div key={db} className="row migration-row">
            <MigrationFiles db={db} files={migrations[db]} existing={existing?.[db]} onFiles={(list) => addFiles(db, list)} />
          </div>
        ))}
        <div className="row">
          <Field label="Another database" name="extraDatabase">
            <input value={extra} onChange={(e) => setExtra(e.target.value)} placeholder="billing" />
          </Field>
          <button type="button" disabled={!extra.trim()} onClick={() => (setMigrations({ ...migrations, [extra.trim()]: [] }), setExtra(''))}>
            Add database
          </button>
        </div>
      </fieldset>
    </>
  );
}

function MigrationFiles({ db, files, existing, onFiles }: { db: string; files?: { file: string }[]; existing?: string[]; onFiles: (list: FileList | null) => void }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>Migrations of {db}</label>
      <input id={id} type="file" multiple accept=".sql" onChange={(e) => onFiles(e.target.files)} aria-describedby={`${id}-files`} />
      <div className="hint" id={`${id}-files`}>
        {files?.length ? `${files.length} file(s): ${files.map((f) => f.file).join(', ')}` : existing?.length ? `keeps ${existing.join(', ')} unless you upload new ones` : 'no files yet'}
      </div>
    </div>
  );
}
