/**
 * @module Neon accounts: everyone sees them; admins connect one (the key is checked by the API
 * with a real call) or remove one (refused, with the reason, while environments use it).
 */
import { useState, type FormEvent } from 'react';
import { api, seg, type AccountInput, type AccountView, type Plan, type UserView } from './api.ts';
import { Field, FormError, Loading, time, useAction, useData } from './data.tsx';

const FIELDS = ['name', 'apiKey', 'apiUrl', 'allowInsecureUrl', 'plan'];

function ConnectForm({ onConnected }: { onConnected: () => void }) {
  const [name, setName] = useState('');
  const [apiKey, setApiKey] = useState('');
  const [apiUrl, setApiUrl] = useState('');
  const [allowInsecureUrl, setAllowInsecureUrl] = useState(false);
  const [plan, setPlan] = useState<Plan>('free');
  const { busy, error, run } = useAction();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const body: AccountInput = { name, apiKey, plan, apiUrl: apiUrl.trim() || undefined, ...(allowInsecureUrl ? { allowInsecureUrl: true } : {}) };
    await run(async () => {
      await api('POST', '/accounts', body);
      setName('');
      setApiKey('');
      setApiUrl('');
      setAllowInsecureUrl(false);
      onConnected();
    });
  }

  return (
    <section className="panel">
      <h2>Connect a Neon account</h2>
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
          <Field label="Plan" name="plan" error={error}>
            <select value={plan} onChange={(e) => setPlan(e.target.value as Plan)}>
              <option value="free">free</option>
              <option value="launch">launch</option>
              <option value="scale">scale</option>
            </select>
          </Field>
        </div>
        <FormError error={error} fields={FIELDS} />
        <button type="submit" disabled={busy}>
          {busy ? 'Checking the key…' : 'Connect'}
        </button>
      </form>
    </section>
  );
}

/** Remove, after typing the account's name (the API still refuses while environments use it). */
function RemoveButton({ name, onRemoved }: { name: string; onRemoved: () => void }) {
  const { busy, error, run } = useAction();
  const [confirming, setConfirming] = useState(false);
  const [typed, setTyped] = useState('');
  async function remove() {
    await run(async () => {
      await api('DELETE', `/accounts/${seg(name)}`);
      setConfirming(false);
      onRemoved();
    });
  }
  if (!confirming) {
    return (
      <button type="button" className="danger" onClick={() => (setTyped(''), setConfirming(true))}>
        Remove
      </button>
    );
  }
  return (
    <div className="confirm" role="group" aria-label={`Confirm removing ${name}`}>
      <label>
        Type <b>{name}</b> to remove this account{' '}
        <input value={typed} onChange={(e) => setTyped(e.target.value)} aria-label={`Type ${name} to confirm`} autoComplete="off" />
      </label>{' '}
      <button type="button" className="danger" onClick={remove} disabled={busy || typed !== name}>
        Remove account
      </button>{' '}
      <button type="button" onClick={() => setConfirming(false)}>
        Cancel
      </button>
      <FormError error={error} />
    </div>
  );
}

export function AccountsPage({ me }: { me: UserView }) {
  const accounts = useData(() => api<{ accounts: AccountView[] }>('GET', '/accounts').then((r) => r.accounts), []);
  const admin = me.role === 'admin';
  return (
    <>
      <h1>Neon accounts</h1>
      <FormError error={accounts.error} />
      {!accounts.data ? (
        !accounts.error && <Loading what="accounts" />
      ) : accounts.data.length === 0 ? (
        <p className="muted">No Neon account is connected yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Account</th>
              <th>Plan</th>
              <th>API URL</th>
              <th>Key</th>
              <th>Connected</th>
              {admin && <th />}
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
                {admin && (
                  <td className="actions">
                    <RemoveButton name={a.name} onRemoved={accounts.reload} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin ? <ConnectForm onConnected={accounts.reload} /> : <p className="hint">Only admins connect and remove accounts.</p>}
    </>
  );
}
