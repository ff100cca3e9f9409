/**
 * @module App Settings › General: the app's model (arbor.yaml and migrations), edited in place, and
 * the developers' model changes waiting for an app admin's approval for the protected environments.
 */
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, seg, type AppView, type ChangeView } from './api.ts';
import { useApp, useAppRole } from './app-layout.tsx';
import { ModelEditor, type Migrations } from './model-editor.tsx';
import { q, useChange } from './queries.ts';
import { Done, FormError, Loading, time } from './ui.tsx';

function PendingChanges({ app, admin }: { app: string; admin: boolean }) {
  const changes = useQuery(q.changes(app));
  const decide = useChange((d: { id: number; decision: 'approve' | 'reject' }) => api('POST', `/apps/${seg(app)}/changes/${d.id}/${d.decision}`), [['apps', app]]);
  const pending = (changes.data ?? []).filter((c: ChangeView) => c.status === 'pending');
  return (
    <section className="panel" aria-label="Pending changes">
      <h2>Waiting for approval</h2>
      <p className="hint">A developer&apos;s model change reaches the unprotected environments at once; the protected ones keep the approved model until an app admin approves it.</p>
      <FormError error={changes.error ?? decide.error} />
      {pending.length === 0 ? (
        <p className="muted">No change is waiting.</p>
      ) : (
        <div className="scroll" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th>Change</th>
                <th>By</th>
                <th>When</th>
                <th>Migrations</th>
                {admin && <th>Decision</th>}
              </tr>
            </thead>
            <tbody>
              {pending.map((c) => (
                <tr key={c.id} data-change={c.id}>
                  <td>change {c.id}</td>
                  <td>{c.requestedBy}</td>
                  <td>{time(c.createdAt)}</td>
                  <td className="mono">
                    {Object.entries(c.migrations)
                      .map(([db, files]) => `${db}: ${files.join(', ')}`)
                      .join('; ')}
                  </td>
                  {admin && (
                    <td className="actions">
                      <button type="button" disabled={decide.isPending} onClick={() => decide.mutate({ id: c.id, decision: 'approve' })}>
                        Approve
                      </button>{' '}
                      <button type="button" className="danger" disabled={decide.isPending} onClick={() => decide.mutate({ id: c.id, decision: 'reject' })}>
                        Reject
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function EditModel({ app, mayEdit, admin }: { app: AppView; mayEdit: boolean; admin: boolean }) {
  // JSON is YAML: the stored model is shown as JSON, and may be replaced by a pasted arbor.yaml.
  const [model, setModel] = useState(() => JSON.stringify(app.model, null, 2));
  const [migrations, setMigrations] = useState<Migrations>({});
  const [done, setDone] = useState<string>();
  const save = useChange(
    // Databases without new files keep theirs: only a full set is sent, else the stored migrations stay.
    () => api<{ pending?: ChangeView }>('PATCH', `/apps/${seg(app.name)}`, { model, ...(Object.keys(migrations).length ? { migrations } : {}) }),
    [['apps']],
    (r) => setDone(r.pending ? `Saved: the unprotected environments get it now; change ${r.pending.id} waits for an app admin for the protected ones.` : 'Saved: every environment gets it.'),
  );
  function submit(event: FormEvent) {
    event.preventDefault();
    setDone(undefined);
    save.mutate(undefined);
  }
  return (
    <form onSubmit={submit} aria-label="Model" className="panel">
      <h2>Model</h2>
      <fieldset disabled={!mayEdit || save.isPending}>
        <ModelEditor model={model} setModel={setModel} migrations={migrations} setMigrations={setMigrations} error={save.error} existing={app.migrations} />
        <p className="hint">Uploading files for a database replaces all the migrations Arbor has; without uploads the current ones stay.</p>
        <FormError error={save.error} fields={['model']} labels={{ model: 'arbor.yaml' }} />
        {mayEdit ? <button type="submit">{admin ? 'Save model' : 'Propose model change'}</button> : <p className="hint">Viewers cannot change the model.</p>}
        <Done message={done} />
      </fieldset>
    </form>
  );
}

export function AppGeneralSettings() {
  const name = useApp();
  const role = useAppRole(name);
  const app = useQuery(q.app(name)).data;
  if (!app) return <Loading what="the app" />;
  return (
    <>
      <EditModel app={app} mayEdit={role === 'admin' || role === 'developer'} admin={role === 'admin'} />
      <PendingChanges app={name} admin={role === 'admin'} />
    </>
  );
}
