/**
 * @module Create an app from its arbor.yaml and migration files, or from an Encore app's folder
 * (see encore-create.tsx); its creator becomes its admin.
 */
import { useNavigate } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { api, type AppView } from './api.ts';
import { EncoreCreate } from './encore-create.tsx';
import { ModelEditor, type Migrations } from './model-editor.tsx';
import { useChange } from './queries.ts';
import { Crumbs, FormError } from './ui.tsx';
import { Link } from '@tanstack/react-router';

const EXAMPLE = `app: shop
databases:
  - name: main
services:
  - name: orders
    databases: [main]
`;

export function AppCreatePage() {
  const navigate = useNavigate();
  const [model, setModel] = useState('');
  const [migrations, setMigrations] = useState<Migrations>({});
  const create = useChange(
    () => api<{ app: AppView }>('POST', '/apps', { model, migrations }),
    [['apps']],
    (r) => void navigate({ to: '/apps/$app', params: { app: r.app.name } }),
  );
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate(undefined);
  }
  return (
    <>
      <Crumbs>
        <Link to="/">Apps</Link> / <span aria-current="page">Create app</span>
      </Crumbs>
      <h1>Create app</h1>
      <form onSubmit={submit} aria-label="Create app" className="panel">
        <p className="hint">
          Paste or upload the app&apos;s <code>arbor.yaml</code>, for example:
        </p>
        <pre className="example">{EXAMPLE}</pre>
        <ModelEditor model={model} setModel={setModel} migrations={migrations} setMigrations={setMigrations} error={create.error} />
        <FormError error={create.error} fields={['model']} labels={{ model: 'arbor.yaml' }} />
        <button type="submit" disabled={create.isPending || !model.trim()}>
          Create app
        </button>
      </form>
      <EncoreCreate />
    </>
  );
}
