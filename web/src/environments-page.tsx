/**
 * @module An app's environments (live: polled while one is on its way), and the way to create one.
 */
import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import type { EnvironmentView } from './api.ts';
import { useApp, useAppRole } from './app-layout.tsx';
import { q } from './queries.ts';
import { Crumbs, FormError, Loading, Status } from './ui.tsx';

export const MODE_TITLES: Record<string, string> = {
  'new-project': 'new Neon project',
  'branch-environment': 'branch of an environment',
  'branch-neon': 'branch of a Neon branch',
  import: 'imported Neon branch',
};

export function sourceOf(e: EnvironmentView): string {
  if (e.mode === 'branch-environment') return `branch of ${e.source.parentEnvironment}`;
  return MODE_TITLES[e.mode] ?? e.mode;
}

export function EnvironmentsPage() {
  const app = useApp();
  const role = useAppRole(app);
  const environments = useQuery(q.environments(app));
  return (
    <>
      <Crumbs>
        <Link to="/">Apps</Link> / <span aria-current="page">{app}</span>
      </Crumbs>
      <div className="title-row">
        <h1>Environments</h1>
        {role && role !== 'viewer' && (
          <Link to="/apps/$app/environments/new" params={{ app }} className="button primary">
            Create Environment
          </Link>
        )}
      </div>
      <FormError error={environments.error} />
      {!environments.data ? (
        !environments.error && <Loading what="environments" />
      ) : environments.data.length === 0 ? (
        <p className="muted">No environments yet: create the first one.</p>
      ) : (
        <div className="scroll" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th>Environment</th>
                <th>Status</th>
                <th>Type</th>
                <th>Source</th>
                <th>Account</th>
                <th>Neon project</th>
              </tr>
            </thead>
            <tbody>
              {environments.data.map((e) => (
                <tr key={e.name} data-environment={e.name}>
                  <td>
                    <Link to="/apps/$app/environments/$env" params={{ app, env: e.name }}>
                      {e.name}
                    </Link>
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
                  <td>
                    {sourceOf(e)}
                    <div className="hint mono">{e.mode}</div>
                  </td>
                  <td>{e.account ?? '—'}</td>
                  <td>
                    <span className="mono">{e.neon.projectId ?? '—'}</span>
                    {!!e.project?.sharedWith.length && <div className="hint">shared with {e.project.sharedWith.join(', ')}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
