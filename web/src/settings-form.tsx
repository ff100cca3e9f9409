/**
 * @module An environment's Neon settings in people's units, with the plan's limits next to each
 * field. Retention (hours or days) is the Neon project's: shown with the environments that share it,
 * changed only on the environment that created the project (after a confirmation naming the
 * others), read-only with the reason elsewhere. Compute (CU with the memory it means) and suspend
 * (minutes, hours or never) are the endpoint's. Imported environments are read-only.
 */
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, type AccountDetailView, type EnvironmentView, type NeonSettings } from './api.ts';
import { envPath, q, useChange } from './queries.ts';
import { cu, Done, duration, Field, FormError } from './ui.tsx';

const HOUR = 3600;
const DAY = 86400;
const LABELS: Record<string, string> = {
  historyRetentionSeconds: 'History retention',
  minCu: 'Minimum compute',
  maxCu: 'Maximum compute',
  suspendTimeoutSeconds: 'Suspend after',
};
const CU_SIZES = [0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16];

/** `staging, dev and 2 environments of other apps`, or '' when nothing else shares the project. */
export function sharers(env: EnvironmentView): string {
  const p = env.project;
  if (!p) return '';
  const names = [...p.sharedWith];
  if (p.sharedWithOtherApps) names.push(`${p.sharedWithOtherApps} environment${p.sharedWithOtherApps === 1 ? '' : 's'} of other apps`);
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** Why this environment may not change retention, or undefined when it may. */
function retentionLocked(env: EnvironmentView): string | undefined {
  if (env.imported) return 'Imported environments are read-only here: Arbor does not change the Neon settings of a branch it shares with others.';
  const owner = env.project?.retentionSetBy;
  const where = owner && owner !== env.name ? ` Change it on ${owner}, which created the project.` : owner ? '' : ' Arbor did not create that project and leaves its retention as it is.';
  if (env.type === 'preview') return `A preview never changes retention: it belongs to the Neon project it is branched in.${where}`;
  if (env.mode !== 'new-project') return `Retention belongs to the Neon project, which this branch shares; a branch environment never changes it.${where}`;
  return undefined;
}

/** "Saved; applying to Neon…" until the environment is ready at the saved generation; then it ends. */
function Applying({ env, generation }: { env: EnvironmentView; generation?: number }) {
  if (generation === undefined) return null;
  if (env.status === 'failed') return <span className="error-inline"> Saved, but applying it failed: see the failure on the Overview.</span>;
  // The success message ends by itself (Done), as success messages should.
  if (env.status === 'ready' && env.observedGeneration >= generation) return <Done message="Saved and applied on Neon." />;
  return (
    <span className="ok" role="status">
      {' '}
      Saved; applying to Neon…
    </span>
  );
}

function useSave(app: string, env: EnvironmentView) {
  const [generation, setGeneration] = useState<number>();
  const save = useChange(
    (patch: NeonSettings) => api<{ environment: EnvironmentView }>('PATCH', `${envPath(app, env.name)}/neon`, patch),
    [['apps', app, 'environments']],
    (r) => setGeneration(r.environment.generation),
  );
  return { save, generation, reset: () => setGeneration(undefined) };
}

function useLimits(env: EnvironmentView): AccountDetailView['limits'] | undefined {
  return useQuery({ ...q.account(env.account ?? ''), enabled: !!env.account }).data?.limits;
}

/** The Neon project's history retention, in hours or days. */
export function RetentionForm({ app, env, mayChange }: { app: string; env: EnvironmentView; mayChange: boolean }) {
  const current = env.settings.historyRetentionSeconds;
  const startUnit = current !== undefined && current % DAY === 0 && current > 0 ? DAY : HOUR;
  const [unit, setUnit] = useState(startUnit);
  const [value, setValue] = useState(current === undefined ? '' : String(current / startUnit));
  const [confirming, setConfirming] = useState(false);
  const { save, generation, reset } = useSave(app, env);
  const limits = useLimits(env);
  const locked = retentionLocked(env);
  const shared = sharers(env);
  const seconds = value.trim() === '' ? undefined : Math.round(Number(value) * unit);
  const changed = seconds !== undefined && seconds !== current;

  /** Checked here first, in the form's units (the API checks again). */
  const [local, setLocal] = useState<ApiError>();
  function send() {
    setConfirming(false);
    reset();
    setLocal(undefined);
    if (seconds !== undefined && (!Number.isInteger(seconds) || seconds < 0)) return setLocal(new ApiError(0, 'invalid', 'History retention must be a number of hours or days, 0 or more.', 'historyRetentionSeconds'));
    if (seconds !== undefined && limits && seconds > limits.maxHistoryRetentionSeconds)
      return setLocal(new ApiError(0, 'invalid', `History retention of ${duration(seconds)} is more than the ${env.account} account's plan allows (${duration(limits.maxHistoryRetentionSeconds)}).`, 'historyRetentionSeconds'));
    if (seconds !== undefined) save.mutate({ historyRetentionSeconds: seconds });
  }
  function submit(event: FormEvent) {
    event.preventDefault();
    // Retention is the project's: changing it changes it for every environment on the project.
    if (changed && shared) setConfirming(true);
    else send();
  }
  const readOnly = !!locked || !mayChange;
  const hint: ReactNode = (
    <>
      {seconds === undefined ? 'the plan default' : Number.isFinite(seconds) ? duration(seconds) : 'not a number'}
      {limits && <> · at most {duration(limits.maxHistoryRetentionSeconds)} on the {env.account} account&apos;s plan</>}
      {env.project && <> · the Neon project&apos;s setting{shared ? <>, shared with {shared}</> : ', used by this environment only'}</>}
      {locked && <div data-testid="retention-locked">{locked}</div>}
    </>
  );
  return (
    <form onSubmit={submit} aria-label="Retention settings">
      <fieldset disabled={save.isPending}>
        <div className="row">
          <Field label="History retention" name="historyRetentionSeconds" error={local ?? save.error} hint={hint}>
            <input inputMode="decimal" value={value} onChange={(e) => (setValue(e.target.value), setConfirming(false))} placeholder="default" readOnly={readOnly} />
          </Field>
          <Field label="Retention unit" name="retentionUnit">
            <select value={unit} onChange={(e) => setUnit(Number(e.target.value))} disabled={readOnly}>
              <option value={HOUR}>hours</option>
              <option value={DAY}>days</option>
            </select>
          </Field>
        </div>
        <FormError error={save.error} fields={['historyRetentionSeconds']} labels={LABELS} />
        {!readOnly &&
          (confirming ? (
            <div className="warning confirm" role="alertdialog" aria-label="Confirm the retention change">
              <p>
                History retention belongs to Neon project <span className="mono">{env.project?.id}</span>: changing it from {duration(current)} to {duration(seconds)} changes it for {shared} too.
              </p>
              <button type="button" className="danger" onClick={send}>
                Change it for all of them
              </button>{' '}
              <button type="button" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </div>
          ) : (
            <button type="submit">Save retention</button>
          ))}
        <Applying env={env} generation={generation} />
      </fieldset>
    </form>
  );
}

/** The endpoint's compute size (CU with the memory it means) and suspend timeout. */
export function ComputeForm({ app, env, mayChange }: { app: string; env: EnvironmentView; mayChange: boolean }) {
  const s = env.settings;
  const [minCu, setMinCu] = useState(s.minCu ?? 0.25);
  const [maxCu, setMaxCu] = useState(s.maxCu ?? 0.25);
  const t = s.suspendTimeoutSeconds;
  const startUnit = t !== undefined && t > 0 && t % HOUR === 0 ? HOUR : 60;
  const [never, setNever] = useState(t === -1);
  const [suspendUnit, setSuspendUnit] = useState(startUnit);
  const [suspend, setSuspend] = useState(t === undefined || t === -1 ? '5' : String(t / startUnit));
  const { save, generation, reset } = useSave(app, env);
  const limits = useLimits(env);
  const readOnly = env.imported || !mayChange;
  const sizes = CU_SIZES.filter((n) => !limits || n <= limits.maxCu);
  const suspendSeconds = never ? -1 : Math.round(Number(suspend) * suspendUnit);
  const suspendRule =
    limits?.suspend === 'fixed'
      ? `the ${env.account} account's plan suspends after 5 minutes and does not allow changing it`
      : limits?.suspend === 'default-or-never'
        ? `the ${env.account} account's plan allows 5 minutes or never`
        : 'from 1 minute to 7 days, or never';

  function submit(event: FormEvent) {
    event.preventDefault();
    reset();
    const patch: NeonSettings = { minCu, maxCu };
    if (limits?.suspend !== 'fixed') patch.suspendTimeoutSeconds = suspendSeconds;
    save.mutate(patch);
  }
  const sizeOptions = sizes.map((n) => (
    <option key={n} value={n}>
      {cu(n)}
    </option>
  ));
  return (
    <form onSubmit={submit} aria-label="Compute settings">
      {env.imported && <p className="hint">Imported environments are read-only here: Arbor does not change the Neon settings of a branch it shares with others.</p>}
      <fieldset disabled={readOnly || save.isPending}>
        <div className="row">
          <Field label="Minimum compute" name="minCu" error={save.error} hint="scaled down to this when idle">
            <select value={minCu} onChange={(e) => setMinCu(Number(e.target.value))}>
              {sizeOptions}
            </select>
          </Field>
          <Field label="Maximum compute" name="maxCu" error={save.error} hint={limits ? `at most ${cu(limits.maxCu)} on the plan; at most 8 CU above the minimum` : 'at most 8 CU above the minimum'}>
            <select value={maxCu} onChange={(e) => setMaxCu(Number(e.target.value))}>
              {sizeOptions}
            </select>
          </Field>
        </div>
        <div className="row">
          <Field label="Suspend after" name="suspendTimeoutSeconds" error={save.error} hint={<>{never ? 'never suspends (always running, always billed)' : duration(suspendSeconds)} · {suspendRule}</>}>
            <input inputMode="decimal" value={never ? '' : suspend} disabled={never || limits?.suspend === 'fixed'} onChange={(e) => setSuspend(e.target.value)} placeholder={never ? 'never' : '5'} />
          </Field>
          <Field label="Suspend unit" name="suspendUnit">
            <select value={suspendUnit} onChange={(e) => setSuspendUnit(Number(e.target.value))} disabled={never || limits?.suspend === 'fixed'}>
              <option value={60}>minutes</option>
              <option value={HOUR}>hours</option>
            </select>
          </Field>
          <label className="check never">
            <input type="checkbox" checked={never} onChange={(e) => setNever(e.target.checked)} disabled={limits?.suspend === 'fixed'} /> Never suspend
          </label>
        </div>
        <FormError error={save.error} fields={['minCu', 'maxCu', 'suspendTimeoutSeconds']} labels={LABELS} />
        {!readOnly && <button type="submit">Save compute</button>}
        <Applying env={env} generation={generation} />
      </fieldset>
    </form>
  );
}
