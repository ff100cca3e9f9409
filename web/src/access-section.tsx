/**
 * @module An app's access on its page: model changes waiting for an app admin's approval (for the
 * protected environments), with Approve / Reject for app admins, and the app's members (app admins
 * add, change and remove them). The API decides; this only offers what the caller's role allows.
 */
import { useState } from 'react';
import { api, seg, type AppRole, type AppView, type ChangeView, type MemberView } from './api.ts';
import { Field, FormError, time, useAction, useData } from './data.tsx';

function PendingChanges({ app, admin }: { app: string; admin: boolean }) {
  const changes = useData(() => api<{ changes: ChangeView[] }>('GET', `/apps/${seg(app)}/changes`).then((r) => r.changes), [app]);
  const action = useAction();
  const pending = (changes.data ?? []).filter((c) => c.status === 'pending');
  if (!pending.length && !changes.error) return null;
  const decide = (id: number, decision: 'approve' | 'reject') =>
    action.run(async () => {
      await api('POST', `/apps/${seg(app)}/changes/${id}/${decision}`);
      changes.reload();
    });
  return (
    <section className="panel" aria-label="Pending changes">
      <h2>Waiting for approval</h2>
      <FormError error={changes.error ?? action.error} />
      <p className="hint">A developer's model change reaches the unprotected environments at once; the protected ones keep the approved model until an app admin approves it.</p>
      <table>
        <tbody>
          {pending.map((c) => (
            <tr key={c.id} data-change={c.id}>
              <td>change {c.id}</td>
              <td>by {c.requestedBy}</td>
              <td>{time(c.createdAt)}</td>
              <td className="mono">{Object.entries(c.migrations).map(([db, files]) => `${db}: ${files.join(', ')}`).join('; ')}</td>
              {admin && (
                <td>
                  <button type="button" disabled={action.busy} onClick={() => decide(c.id, 'approve')}>
                    Approve
                  </button>{' '}
                  <button type="button" disabled={action.busy} onClick={() => decide(c.id, 'reject')}>
                    Reject
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Members({ app, admin }: { app: string; admin: boolean }) {
  const members = useData(() => api<{ members: MemberView[] }>('GET', `/apps/${seg(app)}/members`).then((r) => r.members), [app]);
  const action = useAction();
  const [name, setName] = useState('');
  const [role, setRole] = useState<AppRole>('developer');
  const set = (user: string, to: AppRole) =>
    action.run(async () => {
      await api('PUT', `/apps/${seg(app)}/members/${seg(user)}`, { role: to });
      members.reload();
    });
  const remove = (user: string) =>
    action.run(async () => {
      await api('DELETE', `/apps/${seg(app)}/members/${seg(user)}`);
      members.reload();
    });
  return (
    <section className="panel" aria-label="Members">
      <h2>Members</h2>
      <FormError error={members.error ?? action.error} fields={['role']} />
      <table>
        <tbody>
          {(members.data ?? []).map((m) => (
            <tr key={m.name} data-member={m.name}>
              <td>{m.name}</td>
              <td>
                {admin ? (
                  <select aria-label={`Role of ${m.name}`} value={m.role} disabled={action.busy} onChange={(e) => set(m.name, e.target.value as AppRole)}>
                    <option value="viewer">viewer</option>
                    <option value="developer">developer</option>
                    <option value="admin">admin</option>
                  </select>
                ) : (
                  m.role
                )}
              </td>
              {admin && (
                <td>
                  <button type="button" disabled={action.busy} onClick={() => remove(m.name)}>
                    Remove
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {admin && (
        <form
          aria-label="Add a member"
          onSubmit={(e) => {
            e.preventDefault();
            void set(name, role).then(() => setName(''));
          }}
        >
          <Field label="User" name="user">
            <input value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
          <Field label="Role" name="role">
            <select value={role} onChange={(e) => setRole(e.target.value as AppRole)}>
              <option value="viewer">viewer</option>
              <option value="developer">developer</option>
              <option value="admin">admin</option>
            </select>
          </Field>
          <button type="submit" disabled={action.busy || !name}>
            Add member
          </button>
        </form>
      )}
    </section>
  );
}

export function AppAccess({ app }: { app: string }) {
  const role = useData(() => api<{ app: AppView }>('GET', `/apps/${seg(app)}`).then((r) => r.app.role), [app]).data;
  const admin = role === 'admin';
  return (
    <>
      <PendingChanges app={app} admin={admin} />
      <Members app={app} admin={admin} />
    </>
  );
}
