/**
 * @module Previews: the app's pull-request environments (live, so one opened by CI appears by
 * itself) with number, branch, status, last push, expiry and Close; and App Settings › Preview
 * Environments (the environment they branch from — only Neon-backed ones — and their time to live).
 */
import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { api, seg, type AppView, type EnvironmentView } from './api.ts';
import { useApp, useAppRole } from './app-layout.tsx';
import { prNumber } from './environment-page.tsx';
import { q, useChange } from './queries.ts';
import { Crumbs, Done, duration, Field, FormError, Loading, relative, Status, time, useNow } from './ui.tsx';

function CloseButton({ app, number }: { app: string; number: string }) {
  const [confirming, setConfirming] = useState(false);
  const close = useChange(() => api('DELETE', `/apps/${seg(app)}/previews/${number}`), [['apps', app]]);
  if (!confirming)
    return (
      <button type="button" className="danger" onClick={() => setConfirming(true)} aria-label={`Close preview of pull request ${number}`}>
        Close
      </button>
    );
  return (
    <span role="group" aria-label={`Confirm closing pull request ${number}'s preview`}>
      <button type="button" className="danger" onClick={() => close.mutate(undefined)} disabled={close.isPending}>
        Yes, delete its branch
      </button>{' '}
      <button type="button" onClick={() => setConfirming(false)}>
        Cancel
      </button>
      <FormError error={close.error} />
    </span>
  );
}

export function PreviewsPage() {
  const app = useApp();
  const role = useAppRole(app);
  const now = useNow(5000);
  const previews = useQuery(q.previews(app));
  const settings = useQuery(q.app(app)).data?.previews;
  return (
    <>
      <Crumbs>
        <Link to="/">Apps</Link> / <Link to="/apps/$app" params={{ app }}>{app}</Link> / <span aria-current="page">Previews</span>
      </Crumbs>
      <h1>Previews</h1>
      <p className="hint">
        {settings?.parentEnvironment ? (
          <>
            Each pull request gets a branch of <b>{settings.parentEnvironment}</b>, deleted when it closes or {duration(settings.ttlSeconds)} after its last push.{' '}
          </>
        ) : (
          <>Previews are off: choose the environment they branch from. </>
        )}
        <Link to="/apps/$app/settings/previews" params={{ app }}>
          Preview settings
        </Link>
      </p>
      <FormError error={previews.error} />
      {!previews.data ? (
        !previews.error && <Loading what="previews" />
      ) : previews.data.length === 0 ? (
        <p className="muted">No open pull request has a preview.</p>
      ) : (
        <div className="scroll" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th>Pull request</th>
                <th>Branch</th>
                <th>Status</th>
                <th>Last push</th>
                <th>Expires</th>
                {role && role !== 'viewer' && <th>Close</th>}
              </tr>
            </thead>
            <tbody>
              {previews.data.map((p) => {
                const n = prNumber(p.name) ?? p.name;
                const pushed = p.source.pushedAt;
                return (
                  <tr key={p.name} data-preview={n}>
                    <td>
                      <Link to="/apps/$app/environments/$env" params={{ app, env: p.name }}>
                        #{n}
                      </Link>
                    </td>
                    <td className="mono">{p.source.branchName ?? '—'}</td>
                    <td>
                      <Status status={p.status} />
                    </td>
                    <td>{pushed ? relative(new Date(Math.min(Date.parse(pushed), now)).toISOString(), now) : '—'}</td>
                    <td>{p.source.expiresAt ? `${relative(p.source.expiresAt, now)} (${time(p.source.expiresAt)})` : '—'}</td>
                    {role && role !== 'viewer' && <td>{p.status !== 'deleting' && <CloseButton app={app} number={n} />}</td>}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

const HOUR = 3600;
const DAY = 86400;

export function PreviewSettingsPage() {
  const app = useApp();
  const appView = useQuery(q.app(app)).data;
  const environments = useQuery(q.environments(app)).data;
  const admin = useAppRole(app) === 'admin';
  if (!appView || !environments) return <Loading what="the preview settings" />;
  return <PreviewSettingsForm app={appView} environments={environments} admin={admin} />;
}

function PreviewSettingsForm({ app, environments, admin }: { app: AppView; environments: EnvironmentView[]; admin: boolean }) {
  // Only Neon-backed environments (a branch to branch from), never a preview.
  const offered = environments.filter((e) => e.type !== 'preview' && e.neon.branchId);
  const ttl = app.previews.ttlSeconds;
  const startUnit = ttl % DAY === 0 ? DAY : HOUR;
  const [parent, setParent] = useState(app.previews.parentEnvironment ?? '');
  const [value, setValue] = useState(String(ttl / startUnit));
  const [unit, setUnit] = useState(startUnit);
  const [saved, setSaved] = useState<string>();
  const save = useChange(
    (body: { parentEnvironment: string | null; ttlSeconds: number }) => api('PATCH', `/apps/${seg(app.name)}/previews`, body),
    [['apps']],
    () => setSaved('Saved.'),
  );
  function submit(event: FormEvent) {
    event.preventDefault();
    setSaved(undefined);
    save.mutate({ parentEnvironment: parent || null, ttlSeconds: Math.round(Number(value) * unit) });
  }
  const reason =
    offered.length === 0
      ? environments.length === 0
        ? 'This app has no environment yet: create one on Neon first, then choose it here.'
        : `None of this app's environments is on Neon yet (${environments.map((e) => `${e.name}: ${e.status}`).join(', ')}); previews branch from one that is.`
      : undefined;
  return (
    <form onSubmit={submit} aria-label="Preview Environments">
      <h2>Preview Environments</h2>
      <p className="hint">Each pull request gets its own Neon branch of the environment chosen here, with the pull request&apos;s migrations applied.</p>
      <fieldset disabled={!admin || save.isPending}>
        <Field label="Source environment" name="parentEnvironment" error={save.error} hint={reason ?? 'only environments on Neon are offered'}>
          <select value={parent} onChange={(e) => setParent(e.target.value)}>
            <option value="">none (previews off)</option>
            {offered.map((e) => (
              <option key={e.name} value={e.name}>
                {e.name} ({e.type})
              </option>
            ))}
          </select>
        </Field>
        <div className="row">
          <Field label="Time to live" name="ttlSeconds" error={save.error} hint={`after the last push: from 1 hour to 30 days · now ${duration(Math.round(Number(value) * unit))}`}>
            <input inputMode="decimal" value={value} onChange={(e) => setValue(e.target.value)} />
          </Field>
          <Field label="Time to live unit" name="ttlUnit">
            <select value={unit} onChange={(e) => setUnit(Number(e.target.value))}>
              <option value={HOUR}>hours</option>
              <option value={DAY}>days</option>
            </select>
          </Field>
        </div>
        <FormError error={save.error} fields={['parentEnvironment', 'ttlSeconds']} labels={{ ttlSeconds: 'Time to live', parentEnvironment: 'Source environment' }} />
        {admin ? <button type="submit">Save</button> : <p className="hint">Only app admins choose what previews branch from.</p>}
        <Done message={saved} />
      </fieldset>
    </form>
  );
}
