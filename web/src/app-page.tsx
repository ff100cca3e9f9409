/**
 * @module One app: its environments (refreshing every second while one is not ready), the form
 * to create another, changes waiting for approval and the app's members.
 */
import { AppAccess } from './access-section.tsx';
import { api, seg, type EnvironmentView } from './api.ts';
import { FormError, Loading, Status, useData } from './data.tsx';
import { CreateEnvironmentForm } from './environment-form.tsx';
import { Link } from './router.tsx';

export const settled = (e: EnvironmentView) => e.status === 'ready' && e.observedGeneration >= e.generation;

export function AppPage({ app }: { app: string }) {
  const environments = useData(
    () => api<{ environments: EnvironmentView[] }>('GET', `/apps/${seg(app)}/environments`).then((r) => r.environments),
    [app],
    (list) => (list.every(settled) ? undefined : 1000),
  );
  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/">Apps</Link> / <span aria-current="page">{app}</span>
      </nav>
      <h1>{app}</h1>
      <FormError error={environments.error} />
      <h2>Environments</h2>
      {!environments.data ? (
        !environments.error && <Loading what="environments" />
      ) : environments.data.length === 0 ? (
        <p className="muted">No environments yet: create the first one below.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Environment</th>
              <th>Status</th>
              <th>Type</th>
              <th>Mode</th>
              <th>Account</th>
              <th>Neon project</th>
              <th>Neon branch</th>
            </tr>
          </thead>
          <tbody>
            {environments.data.map((e) => (
              <tr key={e.name}>
                <td>
                  <Link to={`/apps/${seg(app)}/environments/${seg(e.name)}`}>{e.name}</Link>
                </td>
                <td>
                  <Status status={e.status} />
                  {e.error && <div className="error-inline">{e.error}</div>}
                  {e.status === 'failed' && (
                    <div className="hint" data-testid="failure-kind">
                      {e.retry?.permanent ? 'permanent: change the cause, then Retry on its page' : 'transient: retried automatically (Retry now on its page)'}
                    </div>
                  )}
                </td>
                <td>
                  {e.type}
                  {e.protected ? ' (protected)' : ''}
                </td>
                <td>{e.mode}</td>
                <td>{e.account ?? '—'}</td>
                <td>
                  <span className="mono">{e.neon.projectId ?? '—'}</span>
                  {!!e.project?.sharedWith.length && <div className="hint">shared with {e.project.sharedWith.join(', ')}</div>}
                </td>
                <td className="mono">{e.neon.branchId ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {environments.data && <CreateEnvironmentForm app={app} environments={environments.data} />}
      <AppAccess app={app} />
    </>
  );
}
