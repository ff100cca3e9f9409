/**
 * @module Integrations › Neon: the connected Neon accounts with their plans. Everyone sees them and
 * can check one (a real call: the versions and regions it offers); instance admins connect one
 * (the key is checked by the API first) and remove one after typing its name (refused, with the
 * reason, while environments use it). Shown at /accounts and in every app's settings.
 */
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, seg, type AccountDetailView, type AccountInput, type Plan } from './api.ts';
import { q, useChange } from './queries.ts';
import { useMe } from './shell.tsx';
import { ConfirmByName, duration, Field, FormError, Loading, time } from './ui.tsx';

const LABELS = { name: 'Name', apiKey: 'API key', apiUrl: 'API URL', allowInsecureUrl: 'Allow plain http', plan: 'Plan' };

function ConnectForm() {
  const [name, setName] = useState('');
  const [apiKey, setApiKey] = useState('');
  const [apiUrl, setApiUrl] = useState('');
  const [allowInsecureUrl, setAllowInsecureUrl] = useState(false);
  const [plan, setPlan] = useState<Plan>('free');
  const connect = useChange(
    (body: AccountInput) => api('POST', '/accounts', body),
    [['accounts']],
    () => (setName(''), setApiKey(''), setApiUrl(''), setAllowInsecureUrl(false)),
  );
  function submit(event: FormEvent) {
    event.preventDefault();
    connect.mutate({ name, apiKey, plan, apiUrl: apiUrl.trim() || undefined, ...(allowInsecureUrl ? { allowInsecureUrl: true } : {}) });
  }
  const error = connect.error;
  return (
    <section className="panel">
      <h2>Connect Account</h2>
      <form onSubmit={submit} aria-label="Connect a Neon account">
        <div className="row">
          <Field label="Name" name="name" error={error}>
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="neon" required />
          </Field>
          <Field label="API key" name="apiKey" error={error} hint="checked with a real call, stored encrypted">
            <input type="password" value={apiKey} onChange={(e) => setApiKey(e.target.value)} autoComplete="off" required />
          </Field>
          <Field label="API URL" name="apiUrl" error={error} hint="empty: Neon's cloud; or an Arbor engine's URL">
            <input value={apiUrl} onChange={(e) => setApiUrl(e.target.value)} placeholder="https://console.neon.tech/api/v2" />
          </Field>
          <Field label="Allow plain http" name="allowInsecureUrl" error={error} hint="only to an engine on this machine (127.0.0.1, localhost)">
            <input type="checkbox" checked={allowInsecureUrl} onChange={(e) => setAllowInsecureUrl(e.target.checked)} />
          </Field>
          <Field label="Plan" name="plan" error={error} hint="the Neon plan of the account: it sets the limits Arbor checks">
            <select value={plan} onChange={(e) => setPlan(e.target.value as Plan)}>
              <option value="free">free</option>
              <option value="launch">launch</option>
              <option value="scale">scale</option>
            </select>
          </Field>
        </div>
        <FormError error={error} fields={Object.keys(LABELS)} labels={LABELS} />
        <button type="submit" disabled={connect.isPending}>
          {connect.isPending ? 'Checking the key…' : 'Connect'}
        </button>
      </form>
    </section>
  );
}

function describe(a: AccountDetailView): string {
  return `works: Postgres ${a.pgVersions.join(', ') || '(none)'}${a.defaultPgVersion ? ` (default ${a.defaultPgVersion})` : ''}; ${a.regions.length} region(s); plan limits: retention up to ${duration(a.limits.maxHistoryRetentionSeconds)}, compute up to ${a.limits.maxCu} CU`;
}

function AccountActions({ name, admin }: { name: string; admin: boolean }) {
  const [removing, setRemoving] = useState(false);
  const [checked, setChecked] = useState<string>();
  const check = useChange(() => api<{ account: AccountDetailView }>('GET', `/accounts/${seg(name)}`), [], (r) => setChecked(describe(r.account)));
  const remove = useChange(() => api('DELETE', `/accounts/${seg(name)}`), [['accounts']], () => setRemoving(false));
  return (
    <>
      <div className="buttons">
        <button type="button" onClick={() => (setChecked(undefined), check.mutate(undefined))} disabled={check.isPending} aria-label={`Check ${name}`}>
          {check.isPending ? 'Checking…' : 'Check'}
        </button>
        {admin && !removing && (
          <button type="button" className="danger" onClick={() => setRemoving(true)}>
            Remove
          </button>
        )}
      </div>
      {checked && (
        <div className="ok" role="status" data-testid="account-check">
          {checked}
        </div>
      )}
      <FormError error={check.error} />
      {removing && (
        <ConfirmByName
          name={name}
          action="Remove account"
          what={<>Arbor forgets the key; nothing on Neon is deleted. Refused while environments use it.</>}
          busy={remove.isPending}
          error={remove.error}
          onConfirm={() => remove.mutate(undefined)}
          onCancel={() => (remove.reset(), setRemoving(false))}
        />
      )}
    </>
  );
}

export function AccountsPage() {
  const me = useMe();
  const accounts = useQuery(q.accounts());
  const admin = me.role === 'admin';
  return (
    <>
      <h1 className="sub">Neon accounts</h1>
      <p className="hint">Integrations › Neon: the accounts environments are made in. Accounts belong to the platform; every app can use them.</p>
      <FormError error={accounts.error} />
      {!accounts.data ? (
        !accounts.error && <Loading what="accounts" />
      ) : accounts.data.length === 0 ? (
        <p className="muted">No Neon account is connected yet.</p>
      ) : (
        <div className="scroll" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th>Account</th>
                <th>Plan</th>
                <th>API URL</th>
                <th>Key</th>
                <th>Connected</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {accounts.data.map((a) => (
                <tr key={a.name} data-account={a.name}>
                  <td>{a.name}</td>
                  <td>{a.plan}</td>
                  <td className="mono">{a.apiUrl}</td>
                  <td className="mono">…{a.keyLast4}</td>
                  <td>{time(a.createdAt)}</td>
                  <td className="actions">
                    <AccountActions name={a.name} admin={admin} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {admin ? <ConnectForm /> : <p className="hint">Only instance admins connect and remove accounts.</p>}
    </>
  );
}
