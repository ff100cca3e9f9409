/**
 * @module The Database Cluster's USERS: each role with its databases and purpose; app admins
 * reveal a password with the connection string of each database (every reveal is audited) and
 * copy them; those who may change the environment (app admins; developers on unprotected ones)
 * rotate the password. The platform refuses a developer's reveal anyway: the button is not offered.
 */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, seg, type CredentialView, type EnvironmentView, type RevealedCredential } from './api.ts';
import { envPath, q, useChange } from './queries.ts';
import { CopyButton, Done, FormError, Loading } from './ui.tsx';

/** The connection URI for `db` (the revealed one names the role's first database). */
function uriFor(uri: string, db: string): string {
  try {
    const u = new URL(uri);
    u.pathname = `/${encodeURIComponent(db)}`;
    return u.toString();
  } catch {
    return uri;
  }
}

function UserCard({ app, env, user, mayReveal, mayRotate }: { app: string; env: EnvironmentView; user: CredentialView; mayReveal: boolean; mayRotate: boolean }) {
  const base = envPath(app, env.name);
  const [revealed, setRevealed] = useState<RevealedCredential>();
  const [confirming, setConfirming] = useState(false);
  const [note, setNote] = useState<string>();
  const reveal = useChange(() => api<{ user: RevealedCredential }>('POST', `${base}/users/${seg(user.username)}/reveal`), [], (r) => setRevealed(r.user));
  const rotate = useChange(
    () => api('POST', `${base}/users/rotate`, { role: user.username }),
    [['apps', app, 'environments', env.name, 'users']],
    () => (setConfirming(false), setRevealed(undefined), setNote('password rotated')),
  );
  return (
    <li className="user" data-user={user.username}>
      <div className="user-head">
        <span className="mono user-name">{user.username}</span>
        <span className="muted">{user.purpose}</span>
      </div>
      <div className="hint">
        databases: {user.databases.join(', ') || '—'} · host <span className="mono">{user.host ?? '—'}</span>
        {user.port ? `:${user.port}` : ''}
      </div>
      {(mayReveal || mayRotate) && (
        <div className="buttons">
          {!mayReveal ? null : revealed ? (
            <button type="button" onClick={() => setRevealed(undefined)}>
              Hide
            </button>
          ) : (
            <button type="button" onClick={() => (setNote(undefined), reveal.mutate(undefined))} disabled={!user.hasPassword || reveal.isPending} title={user.hasPassword ? 'Show the password (audited)' : 'no password yet'}>
              Reveal
            </button>
          )}
          {!mayRotate ? null : confirming ? (
            <>
              <button type="button" className="danger" onClick={() => rotate.mutate(undefined)} disabled={rotate.isPending}>
                Yes, rotate
              </button>
              <button type="button" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </>
          ) : (
            <button type="button" onClick={() => (setNote(undefined), setConfirming(true))} disabled={!user.hasPassword}>
              Rotate
            </button>
          )}
          <Done message={note} />
        </div>
      )}
      {confirming && (
        <p className="warning" role="note">
          Rotating gives {user.username} a new password now; whatever connects with the old one stops working.
        </p>
      )}
      {revealed && (
        <div className="revealed" data-revealed={user.username}>
          <div>
            Password: <code className="secret">{revealed.password}</code> <CopyButton value={revealed.password} what={`the password of ${user.username}`} />
          </div>
          {(user.databases.length ? user.databases : ['']).map((db) => {
            const uri = db ? uriFor(revealed.connectionUri, db) : revealed.connectionUri;
            return (
              <div key={db}>
                Connection string{db ? ` (${db})` : ''}: <code className="secret">{uri}</code> <CopyButton value={uri} what={`the connection string of ${user.username}${db ? ` for ${db}` : ''}`} />
              </div>
            );
          })}
        </div>
      )}
      <FormError error={reveal.error ?? rotate.error} />
    </li>
  );
}

/** `mayReveal`: an app admin (revealing is, on every environment); `mayRotate`: may change `env`. */
export function CredentialsSection({ app, env, mayReveal, mayRotate }: { app: string; env: EnvironmentView; mayReveal: boolean; mayRotate: boolean }) {
  const users = useQuery({ ...q.users(app, env.name), enabled: env.status !== 'pending' });
  return (
    <section aria-labelledby="users-heading">
      <h3 id="users-heading">USERS</h3>
      <FormError error={users.error} />
      {!users.data ? (
        !users.error && <Loading what="users" />
      ) : (
        <ul className="users">
          {users.data.map((u) => (
            <UserCard key={u.username} app={app} env={env} user={u} mayReveal={mayReveal} mayRotate={mayRotate} />
          ))}
        </ul>
      )}
      {!mayRotate ? (
        <p className="hint">{env.protected ? 'Only app admins can reveal or rotate the passwords of a protected environment.' : 'Only app admins can reveal passwords; developers and admins can rotate them.'}</p>
      ) : (
        !mayReveal && <p className="hint">Only app admins can reveal passwords (every reveal is audited); you can rotate them.</p>
      )}
    </section>
  );
}
