/**
 * @module An environment's Neon settings: history retention, compute size, suspend timeout.
 * Retention is the Neon project's: shown with the environments that share it, changed only on the
 * environment that created the project (after a confirmation naming the others), read-only with
 * the reason elsewhere. Imported environments are read-only; the API checks the plan and names the field.
 */
import { useState, type FormEvent } from 'react';
import { api, seg, type EnvironmentView, type NeonSettings } from './api.ts';
import { duration, Field, FormError, useAction } from './data.tsx';

const FIELDS = ['historyRetentionSeconds', 'minCu', 'maxCu', 'suspendTimeoutSeconds'];
const text = (n: number | undefined) => (n === undefined ? '' : String(n));
/** `0.25` → `0.25 CU ≈ 1 GB RAM` (a Neon compute unit is 1 vCPU with 4 GB). */
const memory = (cu: string) => {
  if (!cu.trim()) return undefined;
  const n = Number(cu);
  return Number.isFinite(n) && n > 0 ? `≈ ${Math.round(n * 4 * 100) / 100} GB RAM` : 'not a number of CU';
};

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
  if (env.imported) return undefined; // the whole form is read-only
  const owner = env.project?.retentionSetBy;
  const where = owner && owner !== env.name ? ` Change it on ${owner}, which created the project.` : owner ? '' : ' Arbor did not create that project and leaves its retention as it is.';
  if (env.type === 'preview') return `A preview never changes retention: it belongs to the Neon project it is branched in.${where}`;
  if (env.mode !== 'new-project') return `Retention belongs to the Neon project, which this branch shares; a branch environment never changes it.${where}`;
  return undefined;
}

export function SettingsForm({ app, env, onChange }: { app: string; env: EnvironmentView; onChange: () => void }) {
  const s = env.settings;
  const [retention, setRetention] = useState(text(s.historyRetentionSeconds));
  const [minCu, setMinCu] = useState(text(s.minCu));
  const [maxCu, setMaxCu] = useState(text(s.maxCu));
  const [never, setNever] = useState(s.suspendTimeoutSeconds === -1);
  const [suspend, setSuspend] = useState(s.suspendTimeoutSeconds === -1 ? '' : text(s.suspendTimeoutSeconds));
  /** The generation our save asked for: "applying" until the environment is ready at it. */
  const [savedGeneration, setSavedGeneration] = useState<number>();
  const [confirming, setConfirming] = useState(false);
  const { busy, error, run } = useAction();
  const readOnly = env.imported;
  const locked = retentionLocked(env);
  const shared = sharers(env);
  const retentionChanged = retention.trim() !== '' && Number(retention) !== s.historyRetentionSeconds;
  const applying = savedGeneration !== undefined && !(env.status === 'ready' && env.observedGeneration >= savedGeneration);

  async function save() {
    const patch: NeonSettings = {};
    if (!locked && retention.trim()) patch.historyRetentionSeconds = Number(retention);
    if (minCu.trim()) patch.minCu = Number(minCu);
    if (maxCu.trim()) patch.maxCu = Number(maxCu);
    if (never) patch.suspendTimeoutSeconds = -1;
    else if (suspend.trim()) patch.suspendTimeoutSeconds = Number(suspend);
    setConfirming(false);
    setSavedGeneration(undefined);
    await run(async () => {
      const r = await api<{ environment: EnvironmentView }>('PATCH', `/apps/${seg(app)}/environments/${seg(env.name)}/neon`, patch);
      setSavedGeneration(r.environment.generation);
      onChange();
    });
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    // Retention is the project's: changing it changes it for every environment on the project.
    if (!locked && retentionChanged && shared) setConfirming(true);
    else await save();
  }

  const retentionHint = (
    <>
      {retention ? duration(Number(retention)) : 'plan default'}
      {env.project && <> · the Neon project&apos;s setting{shared ? <>, shared with {shared}</> : ', used by this environment only'}</>}
      {locked && <div data-testid="retention-locked">{locked}</div>}
    </>
  );

  return (
    <section className="panel">
      <h2>Neon settings</h2>
      {readOnly && <p className="hint">Imported environments are read-only here: Arbor does not change the Neon settings of a branch it shares with others.</p>}
      <form onSubmit={submit} aria-label="Neon settings">
        <fieldset disabled={readOnly || busy}>
          <div className="row">
            <Field label="History retention (seconds)" name="historyRetentionSeconds" error={error} hint={retentionHint}>
              <input inputMode="numeric" value={retention} onChange={(e) => (setRetention(e.target.value), setConfirming(false))} placeholder="default" readOnly={!!locked} />
            </Field>
            <Field label="Min compute (CU)" name="minCu" error={error} hint={memory(minCu)}>
              <input inputMode="decimal" value={minCu} onChange={(e) => setMinCu(e.target.value)} placeholder="0.25" />
            </Field>
            <Field label="Max compute (CU)" name="maxCu" error={error} hint={memory(maxCu)}>
              <input inputMode="decimal" value={maxCu} onChange={(e) => setMaxCu(e.target.value)} placeholder="0.25" />
            </Field>
            <Field
              label="Suspend after (seconds)"
              name="suspendTimeoutSeconds"
              error={error}
              hint={
                <label className="check">
                  <input type="checkbox" checked={never} onChange={(e) => setNever(e.target.checked)} /> never suspend
                  {!never && <span> · {suspend ? duration(Number(suspend)) : 'default (5 minutes)'}</span>}
                </label>
              }
            >
              <input inputMode="numeric" value={never ? '' : suspend} disabled={never} onChange={(e) => setSuspend(e.target.value)} placeholder={never ? 'never' : '300'} />
            </Field>
          </div>
          <FormError error={error} fields={FIELDS} />
          {confirming ? (
            <div className="warning confirm" role="alertdialog" aria-label="Confirm the retention change">
              <p>
                History retention belongs to Neon project <span className="mono">{env.project?.id}</span>: changing it from {duration(s.historyRetentionSeconds)} to {duration(Number(retention))} changes it
                for {shared} too.
              </p>
              <button type="button" className="danger" onClick={save}>
                Change it for all of them
              </button>{' '}
              <button type="button" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </div>
          ) : (
            <button type="submit">Save settings</button>
          )}
          {applying &&
            (env.status === 'failed' ? <span className="error-inline"> Saved, but applying it failed: see the failure above.</span> : <span className="ok"> Saved; applying to Neon…</span>)}
        </fieldset>
      </form>
    </section>
  );
}
