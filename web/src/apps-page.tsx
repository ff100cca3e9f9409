/**
 * @module The apps. Apps are created from their arbor.yaml through the API or CLI.
 */
import { api, type AppView } from './api.ts';
import { FormError, Loading, time, useData } from './data.tsx';
import { Link } from './router.tsx';

export function AppsPage() {
  const apps = useData(() => api<{ apps: AppView[] }>('GET', '/apps').then((r) => r.apps), []);
  return (
    <>
      <h1>Apps</h1>
      <FormError error={apps.error} />
      {!apps.data ? (
        !apps.error && <Loading what="apps" />
      ) : apps.data.length === 0 ? (
        <p className="muted">
          No apps yet. Create one from its <code>arbor.yaml</code>: <code>POST /api/v1/apps</code> (see the README).
        </p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>App</th>
              <th>Databases (migrations)</th>
              <th>Previews from</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {apps.data.map((a) => (
              <tr key={a.name}>
                <td>
                  <Link to={`/apps/${encodeURIComponent(a.name)}`}>{a.name}</Link>
                </td>
                <td>
                  {Object.entries(a.migrations)
                    .map(([db, files]) => `${db} (${files.length})`)
                    .join(', ') || '—'}
                </td>
                <td>{a.previews.parentEnvironment ?? '—'}</td>
                <td>{time(a.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
