/**
 * @module App Settings › API tokens: create one for this app (or the instance) with a role and an
 * expiry — its secret is shown once — list them (never the secret) and revoke them.
 */
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, type AppRole, type TokenView } from './api.ts';
import { useApp, useAppRole } from './app-layout.tsx';
import { useMe } from './shell.tsx';
import { q, useChange } from './queries.ts';
import { CopyButton, Field, FormError, Loading, time } from './ui.tsx';

const DAY = 86400;
const EXPIRIES = [
  { days: 1, text: '1 day' },
  { days: 7, text: '7 days' },
  { days: 30, text: '30 days' },
  { days: 90, text: '90 days (default)' },
  { days: 365, text: '1 year' },
];

export function TokensPage() {
  const app = useApp();
  const me = useMe();
  const appRole = useAppRole(app);
  const tokens = useQuery(q.tokens());
  const [name, setName] = useState('');
  const [role, setRole] = useState<AppRole>('developer');
  const [scope, setScope] = useState<'app' | 'instance'>('app');
  const [days, setDays] = useState(90);
  const [created, setCreated] = useState<{ token: string; info: TokenView }>();
  const create = useChange(
    () => api<{ token: string; info: TokenView }>('POST', '/tokens', { name: name.trim(), role: chosenRole, ...(scope === 'app' ? { app } : {}), expiresInSeconds: days * DAY }),
    [['tokens']],
    (r) => (setCreated(r), setName('')),
  );
  const revoke = useChange((id: number) => api('DELETE', `/tokens/${id}`), [['tokens']]);
  // A role above the caller's on the app cannot be given (the API refuses it too).
  const rank = { viewer: 0, developer: 1, admin: 2 } as const;
  const roles = (['viewer', 'developer', 'admin'] as AppRole[]).filter((r) => (scope === 'instance' ? r !== 'admin' || me.role === 'admin' : !appRole || rank[r] <= rank[appRole]));
  const chosenRole = roles.includes(role) ? role : roles[0];
  const shown = (tokens.data ?? []).filter((t) => t.scope === app || t.scope === 'instance');

  function submit(event: FormEvent) {
    event.preventDefault();
    setCreated(undefined);
    create.mutate(undefined);
  }
  return (
    <section aria-label="API tokens">
      <h2>API tokens</h2>
      <p className="hint">For CI and scripts (the GitHub action, arbor --token). A token acts with its role on its scope until it expires or is revoked.</p>
      {created && (
        <div className="warning" role="status" data-testid="new-token">
          <p>
            Token <b>{created.info.name}</b> is shown this once; store it now:
          </p>
          <code className="secret">{created.token}</code> <CopyButton value={created.token} what="the new token" />{' '}
          <button type="button" onClick={() => setCreated(undefined)}>
            Done
          </button>
        </div>
      )}
      <form aria-label="Create a token" onSubmit={submit} className="panel">
        <h3>Create a token</h3>
        <div className="row">
          <Field label="Token name" name="name" error={create.error} hint="what uses it, e.g. github-ci">
            <input value={name} onChange={(e) => setName(e.target.value)} required />
          </Field>
          <Field label="Scope" name="app" error={create.error}>
            <select value={scope} onChange={(e) => setScope(e.target.value as 'app' | 'instance')}>
              <option value="app">this app ({app})</option>
              <option value="instance">every app I belong to (instance)</option>
            </select>
          </Field>
          <Field label="Role" name="role" error={create.error}>
            <select value={chosenRole} onChange={(e) => setRole(e.target.value as AppRole)}>
              {roles.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Expires after" name="expiresInSeconds" error={create.error}>
            <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
              {EXPIRIES.map((x) => (
                <option key={x.days} value={x.days}>
                  {x.text}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <FormError error={create.error} fields={['name', 'app', 'role', 'expiresInSeconds']} labels={{ name: 'Token name' }} />
        <button type="submit" disabled={create.isPending || !name.trim()}>
          Create token
        </button>
      </form>
      <FormError error={tokens.error ?? revoke.error} />
      {!tokens.data ? (
        !tokens.error && <Loading what="tokens" />
      ) : shown.length === 0 ? (
        <p className="muted">No token reaches this app yet.</p>
      ) : (
        <div className="scroll" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Scope</th>
                <th>Role</th>
                <th>Created</th>
                <th>Last used</th>
                <th>Expires</th>
                <th>Revoke</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((t) => (
                <tr key={t.id} data-token={t.name}>
                  <td>{t.name}</td>
                  <td>{t.scope}</td>
                  <td>{t.role}</td>
                  <td>
                    {time(t.createdAt)} by {t.createdBy}
                  </td>
                  <td>{t.lastUsedAt ? time(t.lastUsedAt) : 'never'}</td>
                  <td>{t.expired ? 'expired' : time(t.expiresAt)}</td>
                  <td>
                    <button type="button" className="danger" onClick={() => revoke.mutate(t.id)} disabled={revoke.isPending} aria-label={`Revoke ${t.name}`}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
