/**
 * @module The apps the caller belongs to, and the way to create one.
 */
import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { q } from './queries.ts';
import { FormError, Loading, time } from './ui.tsx';

export function AppsPage() {
  const apps = useQuery(q.apps());
  return (
    <>
      <div className="title-row">
        <h1>Apps</h1>
        <Link to="/apps/new" className="button primary">
          Create app
        </Link>
      </div>
      <FormError error={apps.error} />
      {!apps.data ? (
        !apps.error && <Loading what="apps" />
      ) : apps.data.length === 0 ? (
        <p className="muted">No apps yet: create one from its arbor.yaml and migration files.</p>
      ) : (
        <div className="scroll" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th>App</th>
                <th>Your role</th>
                <th>Databases (migrations)</th>
                <th>Previews from</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {apps.data.map((a) => (
                <tr key={a.name} data-app={a.name}>
                  <td>
                    <Link to="/apps/$app" params={{ app: a.name }}>
                      {a.name}
                    </Link>
                  </td>
                  <td>{a.role ?? 'admin'}</td>
                  <td>
                    {Object.entries(a.migrations)
                      .sort(([x], [y]) => x.localeCompare(y))
                      .map(([db, files]) => `${db} (${files.length})`)
                      .join(', ') || '—'}
                  </td>
                  <td>{a.previews.parentEnvironment ?? 'off'}</td>
                  <td>{time(a.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
