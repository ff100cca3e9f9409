/**
 * @module An environment's database users. Admins may reveal a password with its connection URI
 * (each reveal is written to the audit log) and rotate it; members see no such buttons.
 */
import { useState } from 'react';
import { api, seg, type CredentialView, type EnvironmentView, type RevealedCredential } from './api.ts';
import { FormError, Loading, useData } from './data.tsx';

/** Copies `value` (the clipboard API, or a selection where it is not allowed) and says so. */
function CopyButton({ value, what }: { value: string; what: string }) {
  const [done, setDone] = useState<string>();
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setDone('copied');
    } catch {
      const area = document.createElement('textarea');
      area.value = value;
      document.body.append(area);
      area.select();
      const ok = document.execCommand('copy');
      area.remove();
      setDone(ok ? 'copied' : 'could not copy: select it and copy by hand');
    }
    setTimeout(() => setDone(undefined), 2000);
  }
  return (
    <>
      <button type="button" className="copy" onClick={copy} aria-label={`Copy ${what}`}>
        Copy
      </button>
      {done && (
        <span className="ok" role="status">
          {' '}
          {done}
        </span>
      )}
    </>
  );
}

function CredentialRow({ base, user, admin }: { base: string; user: CredentialView; admin: boolean }) {
  const [revealed, setRevealed] = useState<RevealedCredential>();
  const [confirming, setConfirming] = useState(false);
  const [note, setNote] = useState<string>();
  const [error, setError] = useState<unknown>();

  async function run(action: () => Promise<void>) {
    setError(undefined);
    setNote(undefined);
    try {
      await action();
    } catch (e) {
      setError(e);
    }
  }
  const reveal = () => run(async () => setRevealed((await api<{ user: RevealedCredential }>('POST', `${base}/users/${seg(user.username)}/reveal`)).user));
  const rotate = () =>
    run(async () => {
      setConfirming(false);
      await api('POST', `${base}/users/rotate`, { role: user.username });
      setRevealed(undefined);
      setNote('password rotated');
    });

  return (
    <>
      <tr data-user={user.username}>
        <td className="mono">{user.username}</td>
        <td className="mono">{user.host ?? '—'}</td>
        <td>{user.port ?? '—'}</td>
        <td>{user.databases.join(', ')}</td>
        <td className="muted">{user.purpose}</td>
        {admin && (
          <td className="actions">
            {revealed ? (
              <button type="button" onClick={() => setRevealed(undefined)}>
                Hide
              </button>
            ) : (
              <button type="button" onClick={reveal} disabled={!user.hasPassword} title={user.hasPassword ? 'Show the password (audited)' : 'no password yet'}>
                Reveal
              </button>
            )}
            {confirming ? (
              <>
                <button type="button" className="danger" onClick={rotate}>
                  Yes, rotate
                </button>
                <button type="button" onClick={() => setConfirming(false)}>
                  Cancel
                </button>
              </>
            ) : (
              <button type="button" onClick={() => setConfirming(true)} disabled={!user.hasPassword}>
                Rotate
              </button>
            )}
            {note && <span className="ok"> {note}</span>}
          </td>
        )}
      </tr>
      {confirming && (
        <tr>
          <td colSpan={6} className="warning">
            Rotating gives {user.username} a new password now; whatever connects with the old one stops working.
          </td>
        </tr>
      )}
      {revealed && (
        <tr className="revealed" data-revealed={user.username}>
          <td colSpan={6}>
            <div>
              Password: <code className="secret">{revealed.password}</code> <CopyButton value={revealed.password} what={`the password of ${user.username}`} />
            </div>
            <div>
              Connection URI: <code className="secret">{revealed.connectionUri}</code> <CopyButton value={revealed.connectionUri} what={`the connection URI of ${user.username}`} />
            </div>
          </td>
        </tr>
      )}
      {!!error && (
        <tr>
          <td colSpan={6}>
            <FormError error={error} />
          </td>
        </tr>
      )}
    </>
  );
}

/** `mayManage`: the caller may reveal and rotate here (an app admin; a developer on an unprotected environment). */
export function CredentialsSection({ app, env, mayManage }: { app: string; env: EnvironmentView; mayManage: boolean }) {
  const base = `/apps/${seg(app)}/environments/${seg(env.name)}`;
  const ready = env.status === 'ready';
  const users = useData(() => api<{ users: CredentialView[] }>('GET', `${base}/users`).then((r) => r.users), [base, ready]);
  const admin = mayManage;
  return (
    <section className="panel">
      <h2>Credentials</h2>
      <FormError error={users.error} />
      {!users.data ? (
        !users.error && <Loading what="users" />
      ) : (
        <table className="credentials">
          <thead>
            <tr>
              <th>User</th>
              <th>Host</th>
              <th>Port</th>
              <th>Databases</th>
              <th>For</th>
              {admin && <th />}
            </tr>
          </thead>
          <tbody>
            {users.data.map((u) => (
              <CredentialRow key={u.username} base={base} user={u} admin={admin} />
            ))}
          </tbody>
        </table>
      )}
      {!admin && <p className="hint">{env.protected ? 'Only app admins can reveal or rotate the passwords of a protected environment.' : 'Only developers and admins of the app can reveal or rotate passwords.'}</p>}
    </section>
  );
}
