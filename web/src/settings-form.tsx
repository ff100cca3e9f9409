/**
 * @module An environment's Neon settings: history retention, compute size, suspend timeout.
 * Read-only for imported environments; the API checks the account's plan and names the field.
 */
import { useState, type FormEvent } from 'react';
import { api, seg, type EnvironmentView, type NeonSettings } from './api.ts';
import { duration, Field, FormError, useAction } from './data.tsx';

const FIELDS = ['historyRetentionSeconds', 'minCu', 'maxCu', 'suspendTimeoutSeconds'];
const text = (n: number | undefined) => (n === undefined ? '' : String(n));

export function SettingsForm({ app, env, onChange }: { app: string; env: EnvironmentView; onChange: () => void }) {
  const s = env.settings;
  const [retention, setRetention] = useState(text(s.historyRetentionSeconds));
  const [minCu, setMinCu] = useState(text(s.minCu));
  const [maxCu, setMaxCu] = useState(text(s.maxCu));
  const [never, setNever] = useState(s.suspendTimeoutSeconds === -1);
  const [suspend, setSuspend] = useState(s.suspendTimeoutSeconds === -1 ? '' : text(s.suspendTimeoutSeconds));
  const [saved, setSaved] = useState(false);
  const { busy, error, run } = useAction();
  const readOnly = env.imported;

  async function submit(event: FormEvent) {
    event.preventDefault();
    const patch: NeonSettings = {};
    if (retention.trim()) patch.historyRetentionSeconds = Number(retention);
    if (minCu.trim()) patch.minCu = Number(minCu);
    if (maxCu.trim()) patch.maxCu = Number(maxCu);
    if (never) patch.suspendTimeoutSeconds = -1;
    else if (suspend.trim()) patch.suspendTimeoutSeconds = Number(suspend);
    setSaved(false);
    await run(async () => {
      await api('PATCH', `/apps/${seg(app)}/environments/${seg(env.name)}/neon`, patch);
      setSaved(true);
      onChange();
    });
  }

  return (
    <section className="panel">
      <h2>Neon settings</h2>
      {readOnly && <p className="hint">Imported environments are read-only here: Arbor does not change the Neon settings of a branch it shares with others.</p>}
      <form onSubmit={submit} aria-label="Neon settings">
        <fieldset disabled={readOnly || busy}>
          <div className="row">
            <Field label="History retention (seconds)" name="historyRetentionSeconds" error={error} hint={retention ? duration(Number(retention)) : 'plan default'}>
              <input inputMode="numeric" value={retention} onChange={(e) => setRetention(e.target.value)} placeholder="default" />
            </Field>
            <Field label="Min compute (CU)" name="minCu" error={error}>
              <input inputMode="decimal" value={minCu} onChange={(e) => setMinCu(e.target.value)} placeholder="0.25" />
            </Field>
            <Field label="Max compute (CU)" name="maxCu" error={error}>
              <input inputMode="decimal" value={maxCu} onChange={(e) => setMaxCu(e.target.value)} placeholder="0.25" />
            </Field>
            <Field
              label="Suspend after (seconds)"
              name="suspendTimeoutSeconds"
              error={error}
              hint={
                <label className="check">
                  <input type="checkbox" checked={never} onChange={(e) => setNever(e.target.checked)} /> never suspend
                  {!never && <span> · {suspend ? duration(Number(suspend)) : 'default (300 s)'}</span>}
                </label>
              }
            >
              <input inputMode="numeric" value={never ? '' : suspend} disabled={never} onChange={(e) => setSuspend(e.target.value)} placeholder={never ? 'never' : '300'} />
            </Field>
          </div>
          <FormError error={error} fields={FIELDS} />
          <button type="submit">Save settings</button>
          {saved && <span className="ok"> Saved; applying to Neon…</span>}
        </fieldset>
      </form>
    </section>
  );
}
