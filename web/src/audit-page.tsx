/**
 * @module The audit log (admins): who did what to which target, newest first.
 */
import { useQuery } from '@tanstack/react-query';
import { api, type AuditEntryView } from './api.ts';
import { FormError, Loading, time } from './ui.tsx';

export function AuditPage() {
  const entries = useQuery({ queryKey: ['audit'], queryFn: () => api<{ entries: AuditEntryView[] }>('GET', '/audit').then((r) => r.entries) });
  return (
    <>
      <h1>Audit log</h1>
      <FormError error={entries.error} />
      {!entries.data ? (
        !entries.error && <Loading what="the audit log" />
      ) : entries.data.length === 0 ? (
        <p className="muted">Nothing recorded yet.</p>
      ) : (
        <div className="scroll" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th>When</th>
                <th>Who</th>
                <th>Action</th>
                <th>Target</th>
                <th>Detail</th>
              </tr>
            </thead>
            <tbody>
              {entries.data.map((e, i) => (
                <tr key={i}>
                  <td>{time(e.at)}</td>
                  <td>{e.actor}</td>
                  <td className="mono">{e.action}</td>
                  <td className="mono">{e.target}</td>
                  <td className="mono detail">{e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
