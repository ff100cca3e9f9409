/**
 * @module One environment: its frame (status, Overview / Infrastructure) and the Overview — what it
 * is and where it came from, the reconciler's steps (live until settled), a failure with its cause,
 * kind, next retry and Retry, an import's changes to confirm and what to do by hand, Restore to a point in time,
 * and Delete (its name typed to confirm, saying what goes on Neon and what stays).
 */
import { useQuery } from '@tanstack/react-query';
import { Link, Outlet, useNavigate, useParams } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { api, type EnvironmentView, type ErrorDetailView, type StepView } from './api.ts';
import { useApp, useAppRole } from './app-layout.tsx';
import { sourceOf } from './environments-page.tsx';
import { envPath, q, useChange } from './queries.ts';
import { ConfirmByName, Crumbs, Field, FormError, Loading, relative, Status, Tabs, time, useNow } from './ui.tsx';

export function useEnvironmentName(): string {
  return (useParams({ strict: false }) as { env: string }).env;
}

/** The environment of the current route, live. */
export function useEnvironment() {
  const app = useApp();
  const name = useEnvironmentName();
  return { app, name, env: useQuery(q.environment(app, name)) };
}

/** What the caller may do here: change it (app admins; developers on unprotected ones), admin it. */
export function usePowers(env?: EnvironmentView) {
  const app = useApp();
  const role = useAppRole(app);
  const admin = role === 'admin';
  return { role, admin, mayChange: !!env && (admin || (role === 'developer' && !env.protected)) };
}

export function EnvironmentLayout() {
  const { app, name, env } = useEnvironment();
  return (
    <>
      <Crumbs>
        <Link to="/">Apps</Link> / <Link to="/apps/$app" params={{ app }}>{app}</Link> / <span aria-current="page">{name}</span>
      </Crumbs>
      <h1>
        {name} {env.data && <Status status={env.data.status} />}
      </h1>
      <Tabs
        label="Environment"
        tabs={[
          { to: '/apps/$app/environments/$env', params: { app, env: name }, title: 'Overview', exact: true },
          { to: '/apps/$app/environments/$env/infrastructure', params: { app, env: name }, title: 'Infrastructure' },
        ]}
      />
      <FormError error={env.error} />
      {env.data ? <Outlet /> : !env.error && <Loading what="the environment" />}
    </>
  );
}

function took(step: StepView): string {
  if (!step.finishedAt) return 'running';
  const ms = new Date(step.finishedAt).getTime() - new Date(step.startedAt).getTime();
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function StepsTable({ steps }: { steps: StepView[] }) {
  return (
    <div className="scroll" tabIndex={0}>
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
    </div>
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

function NextAttempt({ at }: { at?: string }) {
  const now = useNow();
  if (!at) return <>It is retried automatically.</>;
  const due = new Date(at).getTime() <= now;
  return (
    <>
      It is retried automatically: {due ? 'next attempt any moment now' : `next attempt ${relative(at, now)}`} (next retry at <time dateTime={at}>{new Date(at).toLocaleTimeString()}</time>).
    </>
  );
}

/** The full text of the failure (app admins), once asked; kept by the page across automatic retries. */
type FullError = ErrorDetailView['failure'] | null | undefined;

/**
 * A failed environment: the step, the cause as the API gives it, transient (next retry at) or
 * permanent (what to change), Retry for those who may, and the full text for app admins.
 */
function Failure({ app, env, mayRetry, appAdmin, full, setFull }: { app: string; env: EnvironmentView; mayRetry: boolean; appAdmin: boolean; full: FullError; setFull: (f: FullError) => void }) {
  const base = envPath(app, env.name);
  const retry = useChange(() => api('POST', `${base}/retry`), [['apps', app, 'environments']]);
  const detail = useChange(() => api<{ errorDetail: ErrorDetailView }>('GET', `${base}/error-detail`), [], (r) => setFull(r.errorDetail.failure));
  const step = [...env.steps].reverse().find((s) => s.status === 'failed');
  const permanent = env.retry?.permanent ?? false;
  return (
    <section className="panel failure" aria-label="Failure">
      <h2>
        Failed
        {step ? (
          <>
            {' '}
            at step <span className="mono">{step.step}</span>
          </>
        ) : (
          ''
        )}
      </h2>
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
          <button type="button" onClick={() => retry.mutate(undefined)} disabled={retry.isPending}>
            {permanent ? 'Retry' : 'Retry now'}
          </button>
        ) : (
          <span className="hint">{env.protected ? 'Only app admins can retry a protected environment.' : 'Only developers and admins of the app can retry.'}</span>
        )}
        {appAdmin &&
          (full === undefined ? (
            <button type="button" onClick={() => detail.mutate(undefined)} disabled={detail.isPending} title="The full text may carry row data; each read is audited">
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

function Imported({ env, app, admin }: { env: EnvironmentView; app: string; admin: boolean }) {
  const confirm = useChange(() => api('POST', `${envPath(app, env.name)}/confirm-import`), [['apps', app, 'environments']]);
  const manual = env.deviations.filter((d) => d.manual);
  const fixable = env.deviations.filter((d) => !d.manual);
  return (
    <>
      {env.warnings.map((w) => (
        <div key={w} className="warning" role="note">
          {w}
        </div>
      ))}
      {env.status === 'awaiting_confirmation' && (
        <section className="panel" aria-label="Changes to confirm">
          <h2>Changes Arbor will make to this branch</h2>
          <p className="hint">Nothing has been changed yet. Confirming lets Arbor make these changes and then run the app's migrations.</p>
          <ol>
            {env.pendingChanges.map((c, i) => (
              <li key={i}>{c}</li>
            ))}
          </ol>
          <FormError error={confirm.error} />
          {admin ? (
            <button type="button" onClick={() => confirm.mutate(undefined)} disabled={confirm.isPending}>
              Confirm changes
            </button>
          ) : (
            <p className="hint">An app admin confirms these changes.</p>
          )}
        </section>
      )}
      {fixable.length > 0 && (
        <section className="panel" aria-label="Deviations">
          <h2>Deviations from the role hierarchy</h2>
          <ul>
            {fixable.map((d, i) => (
              <li key={i}>
                <span className="mono">{d.kind}</span>: {d.message}
              </li>
            ))}
          </ul>
        </section>
      )}
      {manual.length > 0 && (
        <section className="panel" aria-label="To do by hand">
          <h2>What Arbor cannot fix by itself</h2>
          <p className="hint">Run these as the role named, then press Retry.</p>
          <ul>
            {manual.map((d, i) => (
              <li key={i}>
                <span className="mono">{d.kind}</span>: {d.message}
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

/** A preview's pull request number, from its name `pr:<n>`. */
export const prNumber = (name: string) => (/^pr:([0-9]+)$/.exec(name) ?? [])[1];

function Facts({ app, env }: { app: string; env: EnvironmentView }) {
  const pr = prNumber(env.name);
  const parent = env.source.parentEnvironment;
  return (
    <dl className="facts">
      <dt>Type</dt>
      <dd>
        {env.type}
        {env.protected ? ' (protected: app admins change it; it runs the approved model)' : ''}
      </dd>
      {pr && env.type === 'preview' && (
        <>
          <dt>Pull request</dt>
          <dd>#{pr}</dd>
        </>
      )}
      <dt>Source</dt>
      <dd data-testid="source">
        {parent ? (
          <>
            branch of{' '}
            <Link to="/apps/$app/environments/$env" params={{ app, env: parent }}>
              {parent}
            </Link>
          </>
        ) : (
          sourceOf(env)
        )}
        {env.at ? <> at {env.at}</> : parent ? <> as of {time(env.createdAt)}</> : ''}
      </dd>
      <dt>Created</dt>
      <dd>{time(env.createdAt)}</dd>
      {env.source.expiresAt && (
        <>
          <dt>Expires</dt>
          <dd>{time(env.source.expiresAt)}</dd>
        </>
      )}
      {env.restore && (
        <>
          <dt>Restored</dt>
          <dd>
            to {env.restore.at} (asked {time(env.restore.requestedAt)})
          </dd>
        </>
      )}
      <dt>Account</dt>
      <dd>{env.account ?? '—'}</dd>
      <dt>Generation</dt>
      <dd>
        {env.observedGeneration} of {env.generation} applied
      </dd>
    </dl>
  );
}

/** Restore to a point in time (app admins): the window shown; protected ones ask for the name. */
function Restore({ app, env }: { app: string; env: EnvironmentView }) {
  const [open, setOpen] = useState(false);
  const [at, setAt] = useState('');
  const [confirm, setConfirm] = useState('');
  const history = useQuery({ ...q.history(app, env.name), enabled: open && !!env.neon.branchId });
  const restore = useChange(
    () => api('POST', `${envPath(app, env.name)}/restore`, { at: at.trim(), ...(env.protected ? { confirm } : {}) }),
    [['apps', app, 'environments']],
    () => setOpen(false),
  );
  if (!env.neon.branchId || env.imported) return null;
  function submit(event: FormEvent) {
    event.preventDefault();
    restore.mutate(undefined);
  }
  return (
    <section className="panel" aria-label="Restore to a point in time">
      <h2>Restore to a point in time</h2>
      {!open ? (
        <button type="button" onClick={() => setOpen(true)}>
          Restore to a point in time…
        </button>
      ) : (
        <form onSubmit={submit} aria-label="Restore">
          <p className="hint">
            The data goes back to that moment; passwords and host stay. The state before is kept on Neon as a branch (deleted with the environment).{' '}
            {history.data ? (
              <span data-testid="restore-window">
                It can go back to {time(history.data.from)} ({history.data.why}).
              </span>
            ) : history.error ? (
              <FormError error={history.error} />
            ) : null}
          </p>
          <Field label="Restore to" name="at" error={restore.error} hint="a timestamp (2026-12-03T10:00:00Z) or an LSN (0/1A2B3C)">
            <input value={at} onChange={(e) => setAt(e.target.value)} required placeholder={history.data?.to} />
          </Field>
          {env.protected && (
            <Field label={`Type ${env.name} to confirm`} name="confirm" error={restore.error} hint="it is protected">
              <input value={confirm} onChange={(e) => setConfirm(e.target.value)} autoComplete="off" />
            </Field>
          )}
          <FormError error={restore.error} fields={['at', 'confirm']} labels={{ at: 'Restore to' }} />
          <div className="buttons">
            <button type="submit" className="danger" disabled={restore.isPending || !at.trim() || (env.protected && confirm !== env.name)}>
              Restore
            </button>
            <button type="button" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

/** What deleting removes on Neon, and what it leaves. */
function deletes(env: EnvironmentView): string {
  if (env.imported) return `Nothing on Neon is deleted: the imported branch ${env.neon.branchId ?? ''} stays as it is (Arbor never deletes what it imported). Only Arbor's record and stored passwords go.`;
  const preserved = env.restore ? ' and the branches a restore kept' : '';
  if (env.mode === 'new-project') return `Deleted on Neon: project ${env.neon.projectId ?? '(not made yet)'} with all its branches and data${preserved}. ${env.project?.sharedWith.length ? `Environments on it (${env.project.sharedWith.join(', ')}) must be deleted first.` : ''}`;
  return `Deleted on Neon: branch ${env.neon.branchId ?? '(not made yet)'} and its compute endpoint${preserved}. The project ${env.neon.projectId ?? ''} and its other branches stay.`;
}

function Delete({ app, env }: { app: string; env: EnvironmentView }) {
  const navigate = useNavigate();
  const [confirming, setConfirming] = useState(false);
  const remove = useChange(
    () => api('DELETE', `${envPath(app, env.name)}?confirm=${encodeURIComponent(env.name)}`),
    [['apps', app]],
    () => void navigate({ to: '/apps/$app', params: { app } }),
  );
  return (
    <section className="panel danger-zone" aria-label="Delete environment">
      <h2>Delete environment</h2>
      <p data-testid="deletes">{deletes(env)}</p>
      {confirming ? (
        <ConfirmByName name={env.name} action="Delete environment" busy={remove.isPending} error={remove.error} onConfirm={() => remove.mutate(undefined)} onCancel={() => setConfirming(false)} />
      ) : (
        <button type="button" className="danger" onClick={() => setConfirming(true)} disabled={env.status === 'deleting'}>
          {env.status === 'deleting' ? 'Deleting…' : 'Delete…'}
        </button>
      )}
    </section>
  );
}

export function EnvironmentOverview() {
  const { app, env } = useEnvironment();
  const e = env.data!;
  const { admin, mayChange } = usePowers(e);
  const [full, setFull] = useState<FullError>();
  return (
    <>
      {e.status === 'failed' && <Failure app={app} env={e} mayRetry={mayChange} appAdmin={admin} full={full} setFull={setFull} />}
      {e.error && e.status !== 'failed' && (
        <div className="error" role="alert">
          <b>Last error:</b> {e.error}
        </div>
      )}
      <Facts app={app} env={e} />
      <Imported env={e} app={app} admin={admin} />
      <h2>Steps</h2>
      <Steps env={e} />
      {admin && <Restore app={app} env={e} />}
      {mayChange && <Delete app={app} env={e} />}
    </>
  );
}
