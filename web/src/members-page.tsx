/**
 * @module App Settings › Members: who belongs to the app with which role (viewer: reads status, no
 * credentials; developer: unprotected environments and previews; admin: everything of the app).
 * App admins add, change and remove members; the API decides again.
 */
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, seg, type AppRole } from './api.ts';
import { useApp, useAppRole } from './app-layout.tsx';
import { useMe } from './shell.tsx';
import { q, useChange } from './queries.ts';
import { Done, Field, FormError, Loading, time } from './ui.tsx';

const ROLES: { role: AppRole; text: string }[] = [
  { role: 'viewer', text: 'viewer: reads status, no credentials' },
  { role: 'developer', text: 'developer: unprotected environments, previews, credentials there' },
  { role: 'admin', text: 'admin: everything of this app' },
];

export function MembersPage() {
  const app = useApp();
  const admin = useAppRole(app) === 'admin';
  const me = useMe();
  const members = useQuery(q.members(app));
  const [name, setName] = useState('');
  const [role, setRole] = useState<AppRole>('developer');
  const [done, setDone] = useState<string>();
  const key = [['apps', app, 'members']];
  const set = useChange((m: { user: string; role: AppRole }) => api('PUT', `/apps/${seg(app)}/members/${seg(m.user)}`, { role: m.role }), key, (_r, m) => setDone(`${m.user} is ${m.role}.`));
  const remove = useChange((user: string) => api('DELETE', `/apps/${seg(app)}/members/${seg(user)}`), key, (_r, user) => setDone(`${user} removed.`));

  function add(event: FormEvent) {
    event.preventDefault();
    setDone(undefined);
    set.mutate({ user: name.trim(), role }, { onSuccess: () => setName('') });
  }
  return (
    <section aria-label="Members">
      <h2>Members</h2>
      <p className="hint">Instance admins are admins of every app without being listed. {me.role === 'admin' ? 'Users are added to the platform with arbor users add (or POST /team).' : ''}</p>
      <FormError error={members.error ?? remove.error} />
      {!members.data ? (
        !members.error && <Loading what="members" />
      ) : (
        <div className="scroll" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th>User</th>
                <th>Role</th>
                <th>Since</th>
                {admin && <th>Remove</th>}
              </tr>
            </thead>
            <tbody>
              {members.data.map((m) => (
                <tr key={m.name} data-member={m.name}>
                  <td>{m.name}</td>
                  <td>
                    {admin ? (
                      <select aria-label={`Role of ${m.name}`} value={m.role} disabled={set.isPending} onChange={(e) => (setDone(undefined), set.mutate({ user: m.name, role: e.target.value as AppRole }))}>
                        {ROLES.map((r) => (
                          <option key={r.role} value={r.role}>
                            {r.role}
                          </option>
                        ))}
                      </select>
                    ) : (
                      m.role
                    )}
                  </td>
                  <td>{time(m.since)}</td>
                  {admin && (
                    <td>
                      <button type="button" className="danger" disabled={remove.isPending} onClick={() => (setDone(undefined), remove.mutate(m.name))} aria-label={`Remove ${m.name}`}>
                        Remove
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Done message={done} />
      {admin ? (
        <form aria-label="Add a member" onSubmit={add} className="panel">
          <h3>Add a member</h3>
          <div className="row">
            <Field label="User" name="user" error={set.error} hint="the name of a platform user">
              <input value={name} onChange={(e) => setName(e.target.value)} required />
            </Field>
            <Field label="Role" name="role" error={set.error}>
              <select value={role} onChange={(e) => setRole(e.target.value as AppRole)}>
                {ROLES.map((r) => (
                  <option key={r.role} value={r.role}>
                    {r.text}
                  </option>
                ))}
              </select>
            </Field>
          </div>
          <FormError error={set.error} fields={['user', 'role']} />
          <button type="submit" disabled={set.isPending || !name.trim()}>
            Add member
          </button>
        </form>
      ) : (
        <p className="hint">Only app admins add, change and remove members.</p>
      )}
    </section>
  );
}
