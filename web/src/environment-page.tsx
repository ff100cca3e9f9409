/**
 * @module One environment: status, Neon resources, the reconciler's recorded steps (refreshing
 * every second until ready), errors, an import's warnings and deviations with "Fix roles", the
 * Neon settings and the credentials.
 */
import { useState } from 'react';
import { api, seg, type AppView, type EnvironmentView, type ErrorDetailView, type StepView, type UserView } from './api.ts';
import { settled } from './app-page.tsx';
import { CredentialsSection } from './credentials-section.tsx';
import { FormError, Loading, relative, Status, time, useAction, useData, useNow } from './data.tsx';
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

/** The step the last run failed at: the latest failed step of the newest generation that has one. */
function failedStep(env: EnvironmentView): StepView | undefined {
  return [...env.steps].reverse().find((s) => s.status === 'failed');
}

function NextAttempt({ at }: { at?: string }) {
  const now = useNow();
  if (!at) return <>It is retried automatically.</>;
  const due = new Date(at).getTime() <= now;
  return <>It is retried automatically: {due ? 'next attempt any moment now' : `next attempt ${relative(at, now)}`} ({new Date(at).toLocaleTimeString()}).</>;
}

/**
 * A failed environment: the step, the cause as the API gives it, transient (next attempt) or
 * permanent (what to change), Retry for those who may, and the full text for app admins.
 */
function Failure({ app, env, mayRetry, appAdmin, onChange }: { app: string; env: EnvironmentView; mayRetry: boolean; appAdmin: boolean; onChange: () => void }) {
  const base = `/apps/${seg(app)}/environments/${seg(env.name)}`;
  const retry = useAction();
  const detail = useAction();
  const [full, setFull] = useState<ErrorDetailView['failure'] | null>();
  const step = failedStep(env);
  const permanent = env.retry?.permanent ?? false;
  async function retryNow() {
    await retry.run(async () => {
      await api('POST', `${base}/retry`);
      onChange();
    });
  }
  async function showFull() {
    await detail.run(async () => setFull((await api<{ errorDetail: ErrorDetailView }>('GET', `${base}/error-detail`)).errorDetail.failure));
  }
  return (
    <section className="panel failure" aria-label="Failure">
      <h2>Failed{step ? <> at step <span className="mono">{step.step}</span></> : ''}</h2>
      <p className="cause" data-testid="failure-cause">
        {env.error ?? 'no cause was recorded'}
      </p>
      <p data-testid="failure-kind">
        {permanent ? (
          <>
            <b>Permanent:</b> retrying as it is will not help. Change what the message names (the app&apos;s model or migrations, this environment&apos;s settings, or the Neon
            account), then Retry.
          </>
        ) : (
          <>
            <b>Transient:</b> <NextAttempt at={env.retry?.nextAttemptAt} />
          </>
        )}
      </p>
      <FormError error={retry.error} />
      <FormError error={detail.error} />
      <div className="buttons">
        {mayRetry ? (
          <button type="button" onClick={retryNow} disabled={retry.busy}>
            {permanent ? 'Retry' : 'Retry now'}
          </button>
        ) : (
          <span className="hint">{env.protected ? 'Only app admins can retry a protected environment.' : 'Only developers and admins of the app can retry.'}</span>
        )}
        {appAdmin &&
          (full === undefined ? (
            <button type="button" onClick={showFull} disabled={detail.busy} title="The full text may carry row data; each read is audited">
              Show full error
            </button>
          ) : (
            <button type="button" onClick={() => setFull(undefined)}>
              Hide full error
            </button>
          ))}
      </div>
      {full !== undefined && (
        <div className="full-error" data-testid="full-error">
          {full ? (
            <>
              <div className="hint">
                Step {full.step}, {time(full.at)} (this read is in the audit log)
              </div>
              <pre>{full.message}</pre>
            </>
          ) : (
            <p className="muted">No failure is recorded any more.</p>
          )}
        </div>
      )}
    </section>
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
  const appAdmin = me.role === 'admin' || appRole === 'admin';
  const failed = e?.status === 'failed';
  const mayChange = !!e && (appAdmin || (appRole === 'developer' && !e.protected));
  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/">Apps</Link> / <Link to={`/apps/${seg(app)}`}>{app}</Link> / <span aria-current="page">{name}</span>
      </nav>
      <h1>
        {name} {e && <Status status={e.status} />}
      </h1>
      <FormError error={env.error} />
      {!e ? (
        !env.error && <Loading what="the environment" />
      ) : (
        <>
          {failed && <Failure app={app} env={e} mayRetry={mayChange} appAdmin={appAdmin} onChange={env.reload} />}
          {e.error && !failed && (
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
          <CredentialsSection app={app} env={e} mayManage={mayChange} />
        </>
      )}
    </>
  );
}
