/**
 * @module One environment: status, Neon resources, the reconciler's recorded steps (refreshing
 * every second until ready), errors, an import's warnings and deviations with "Fix roles", the
 * Neon settings and the credentials.
 */
import { api, seg, type AppView, type EnvironmentView, type StepView, type UserView } from './api.ts';
import { settled } from './app-page.tsx';
import { CredentialsSection } from './credentials-section.tsx';
import { FormError, Loading, Status, useAction, useData } from './data.tsx';
import { Link } from './router.tsx';
import { SettingsForm } from './settings-form.tsx';

function took(step: StepView): string {
  if (!step.finishedAt) return 'running';
  const ms = new Date(step.finishedAt).getTime() - new Date(step.startedAt).getTime();
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function StepsTable({ steps }: { steps: StepView[] }) {
  return (
    <table className="steps">
      <thead>
        <tr>
          <th>Step</th>
          <th>Status</th>
          <th>Detail</th>
          <th>Started</th>
          <th>Took</th>
        </tr>
      </thead>
      <tbody>
        {steps.map((s, i) => (
          <tr key={i} className={`step-${s.status}`}>
            <td className="mono">{s.step}</td>
            <td>
              <Status status={s.status} />
            </td>
            <td className="detail">{s.detail ?? ''}</td>
            <td>{new Date(s.startedAt).toLocaleTimeString()}</td>
            <td>{took(s)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Steps({ env }: { env: EnvironmentView }) {
  if (env.steps.length === 0) return <p className="muted">No step has run yet.</p>;
  const latest = Math.max(...env.steps.map((s) => s.generation));
  const current = env.steps.filter((s) => s.generation === latest);
  const earlier = env.steps.filter((s) => s.generation !== latest);
  return (
    <>
      <StepsTable steps={current} />
      {earlier.length > 0 && (
        <details>
          <summary>Earlier runs ({earlier.length} steps)</summary>
          <StepsTable steps={earlier} />
        </details>
      )}
    </>
  );
}

function Imported({ env, app, onChange }: { env: EnvironmentView; app: string; onChange: () => void }) {
  const { busy, error, run } = useAction();
  async function fix() {
    await run(async () => {
      await api('POST', `/apps/${seg(app)}/environments/${seg(env.name)}/fix-roles`);
      onChange();
    });
  }
  return (
    <>
      {env.warnings.map((w) => (
        <div key={w} className="warning" role="note">
          {w}
        </div>
      ))}
      {env.deviations.length > 0 && (
        <section className="panel">
          <h2>Deviations from the role hierarchy</h2>
          <ul>
            {env.deviations.map((d, i) => (
              <li key={i}>
                <span className="mono">{d.kind}</span>: {d.message}
              </li>
            ))}
          </ul>
          <FormError error={error} />
          <button type="button" onClick={fix} disabled={busy}>
            Fix roles
          </button>
        </section>
      )}
    </>
  );
}

export function EnvironmentPage({ app, env: name, me }: { app: string; env: string; me: UserView }) {
  const path = `/apps/${seg(app)}/environments/${seg(name)}`;
  const env = useData(
    () => api<{ environment: EnvironmentView }>('GET', path).then((r) => r.environment),
    [path],
    (e) => (settled(e) ? undefined : 1000),
  );
  const e = env.data;
  // The caller's role on the app decides what the page offers (the API checks it again).
  const appRole = useData(() => api<{ app: AppView }>('GET', `/apps/${seg(app)}`).then((r) => r.app.role), [app]).data;
  const mayManageCredentials = !!e && (me.role === 'admin' || appRole === 'admin' || (appRole === 'developer' && !e.protected));
  return (
    <>
      <p className="crumbs">
        <Link to="/">Apps</Link> / <Link to={`/apps/${seg(app)}`}>{app}</Link> /
      </p>
      <h1>
        {name} {e && <Status status={e.status} />}
      </h1>
      <FormError error={env.error} />
      {!e ? (
        !env.error && <Loading what="the environment" />
      ) : (
        <>
          {e.error && (
            <div className="error" role="alert">
              <b>{e.status === 'failed' ? 'Failed' : 'Last error'}:</b> {e.error}
            </div>
          )}
          <dl className="facts">
            <dt>Type</dt>
            <dd>
              {e.type}
              {e.protected ? ' (protected: app admins change it; it runs the approved model)' : ''}
            </dd>
            <dt>Mode</dt>
            <dd>{e.mode}</dd>
            <dt>Account</dt>
            <dd>{e.account ?? '—'}</dd>
            <dt>Neon project</dt>
            <dd className="mono">{e.neon.projectId ?? '—'}</dd>
            <dt>Neon branch</dt>
            <dd className="mono">{e.neon.branchId ?? '—'}</dd>
            <dt>Endpoint</dt>
            <dd className="mono">{e.neon.endpointId ?? '—'}</dd>
            <dt>Host</dt>
            <dd className="mono">{e.neon.host ?? '—'}</dd>
            <dt>Generation</dt>
            <dd>
              {e.observedGeneration} of {e.generation} applied
            </dd>
          </dl>
          <Imported env={e} app={app} onChange={env.reload} />
          <h2>Steps</h2>
          <Steps env={e} />
          <SettingsForm app={app} env={e} onChange={env.reload} />
          <CredentialsSection app={app} env={e} mayManage={mayManageCredentials} />
        </>
      )}
    </>
  );
}
