/**
 * @module Create an environment in one of the four modes: a new Neon project, a branch of another
 * environment, a branch of any Neon branch, or an imported Neon branch. API errors show at the
 * field they name.
 */
import { useState, type FormEvent } from 'react';
import {
  api,
  seg,
  type AccountView,
  type EnvironmentInput,
  type EnvironmentMode,
  type EnvironmentType,
  type EnvironmentView,
  type NeonProjectView,
  type RegionView,
} from './api.ts';
import { Field, FormError, useAction, useData } from './data.tsx';
import { navigate } from './router.tsx';

const MODES: { mode: EnvironmentMode; title: string; text: string }[] = [
  { mode: 'new-project', title: 'New Neon project', text: 'a project of its own, in the account and region you choose' },
  { mode: 'branch-environment', title: 'Branch of an environment', text: "a branch of another environment of this app: its data as of now, every password new" },
  { mode: 'branch-neon', title: 'Branch of a Neon branch', text: 'a new branch of any branch in the account' },
  { mode: 'import', title: 'Import a Neon branch', text: 'use an existing branch as it is' },
];
const PG_VERSIONS = [14, 15, 16, 17, 18];
const FIELDS = ['name', 'type', 'mode', 'account', 'regionId', 'pgVersion', 'projectName', 'branchName', 'parentEnvironment', 'neonProjectId', 'neonBranchId'];

export function CreateEnvironmentForm({ app, environments }: { app: string; environments: EnvironmentView[] }) {
  const [name, setName] = useState('');
  const [type, setType] = useState<EnvironmentType>('development');
  const [mode, setMode] = useState<EnvironmentMode>('new-project');
  const [chosenAccount, setAccount] = useState('');
  const [chosenRegion, setRegion] = useState('');
  /** null: follow the suggestion `<app>-<env>`. */
  const [projectName, setProjectName] = useState<string | null>(null);
  const [branchName, setBranchName] = useState('main');
  const [pgVersion, setPgVersion] = useState(17);
  const [chosenParent, setParent] = useState('');
  const [chosenProject, setProject] = useState('');
  const [chosenBranch, setBranch] = useState('');
  const { busy, error, run } = useAction({ stayBusy: true });

  const accounts = useData(() => api<{ accounts: AccountView[] }>('GET', '/accounts').then((r) => r.accounts), []);
  const account = chosenAccount || accounts.data?.[0]?.name || '';
  const needsRegions = mode === 'new-project' && !!account;
  const regions = useData(
    () => (needsRegions ? api<{ regions: RegionView[] }>('GET', `/accounts/${seg(account)}/regions`).then((r) => r.regions) : Promise.resolve([])),
    [needsRegions, account],
  );
  const regionId = regions.data?.some((r) => r.id === chosenRegion) ? chosenRegion : ((regions.data?.find((r) => r.default) ?? regions.data?.[0])?.id ?? '');
  const needsProjects = (mode === 'branch-neon' || mode === 'import') && !!account;
  const projects = useData(
    () => (needsProjects ? api<{ projects: NeonProjectView[] }>('GET', `/accounts/${seg(account)}/projects`).then((r) => r.projects) : Promise.resolve([])),
    [needsProjects, account],
  );
  const project = projects.data?.find((p) => p.id === chosenProject) ?? projects.data?.[0];
  const branch = project?.branches.find((b) => b.id === chosenBranch) ?? project?.branches.find((b) => b.default) ?? project?.branches[0];
  const parent = environments.some((e) => e.name === chosenParent) ? chosenParent : (environments[0]?.name ?? '');
  const suggestedProject = name ? `${app}-${name}` : '';

  async function submit(event: FormEvent) {
    event.preventDefault();
    const body: EnvironmentInput = { name, type, mode };
    if (mode === 'new-project') Object.assign(body, { account, regionId: regionId || undefined, pgVersion, projectName: (projectName ?? suggestedProject) || undefined, branchName: branchName || undefined });
    if (mode === 'branch-environment') body.parentEnvironment = parent;
    if (mode === 'branch-neon' || mode === 'import') Object.assign(body, { account, neonProjectId: project?.id, neonBranchId: branch?.id });
    await run(async () => {
      await api('POST', `/apps/${seg(app)}/environments`, body);
      navigate(`/apps/${seg(app)}/environments/${seg(name)}`);
    });
  }

  const accountSelect = (
    <Field label="Neon account" name="account" error={error} hint={accounts.data?.length === 0 ? 'No Neon account is connected: an admin connects one on the Accounts page.' : undefined}>
      <select value={account} onChange={(e) => setAccount(e.target.value)}>
        {accounts.data?.map((a) => (
          <option key={a.name} value={a.name}>
            {a.name} ({a.plan})
          </option>
        ))}
      </select>
    </Field>
  );

  return (
    <section className="panel">
      <h2>New environment</h2>
      <form onSubmit={submit} aria-label="New environment">
        <div className="row">
          <Field label="Name" name="name" error={error} hint="a-z, 0-9 and -, starting with a letter">
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="staging" required />
          </Field>
          <Field label="Type" name="type" error={error}>
            <select value={type} onChange={(e) => setType(e.target.value as EnvironmentType)}>
              <option value="development">development</option>
              <option value="production">production</option>
              <option value="preview">preview</option>
            </select>
          </Field>
        </div>
        <fieldset className="modes">
          <legend>How</legend>
          {MODES.map((m) => {
            const disabled = m.mode === 'branch-environment' && environments.length === 0;
            return (
              <label key={m.mode} className={disabled ? 'mode disabled' : 'mode'}>
                <input type="radio" name="mode" value={m.mode} checked={mode === m.mode} disabled={disabled} onChange={() => setMode(m.mode)} />
                <span>
                  <b>{m.title}</b> — {m.text}
                  {disabled && <span className="hint"> (not available yet: this app has no environment to branch from; create one first)</span>}
                </span>
              </label>
            );
          })}
        </fieldset>

        {mode === 'new-project' && (
          <>
            <div className="row">
              {accountSelect}
              <Field label="Region" name="regionId" error={error}>
                <select value={regionId} onChange={(e) => setRegion(e.target.value)} disabled={!regions.data?.length}>
                  {regions.data?.map((r) => (
                    <option key={r.id} value={r.id}>
                      {r.name} ({r.id})
                    </option>
                  ))}
                </select>
              </Field>
              <Field label="Postgres version" name="pgVersion" error={error}>
                <select value={pgVersion} onChange={(e) => setPgVersion(Number(e.target.value))}>
                  {PG_VERSIONS.map((v) => (
                    <option key={v} value={v}>
                      {v}
                    </option>
                  ))}
                </select>
              </Field>
            </div>
            <div className="row">
              <Field label="Project name" name="projectName" error={error}>
                <input value={projectName ?? suggestedProject} placeholder={`${app}-<env>`} onChange={(e) => setProjectName(e.target.value)} />
              </Field>
              <Field label="Branch name" name="branchName" error={error}>
                <input value={branchName} onChange={(e) => setBranchName(e.target.value)} />
              </Field>
            </div>
            <FormError error={regions.error} />
          </>
        )}

        {mode === 'branch-environment' && (
          <Field label="Parent environment" name="parentEnvironment" error={error}>
            <select value={parent} onChange={(e) => setParent(e.target.value)}>
              {environments.map((e) => (
                <option key={e.name} value={e.name}>
                  {e.name} ({e.status})
                </option>
              ))}
            </select>
          </Field>
        )}

        {(mode === 'branch-neon' || mode === 'import') && (
          <>
            <div className="row">
              {accountSelect}
              <Field label="Neon project" name="neonProjectId" error={error}>
                <select value={project?.id ?? ''} onChange={(e) => (setProject(e.target.value), setBranch(''))} disabled={!projects.data?.length}>
                  {projects.data?.map((p) => (
                    <option key={p.id} value={p.id}>
                      {p.name} ({p.id})
                    </option>
                  ))}
                </select>
              </Field>
              <Field label={mode === 'import' ? 'Branch to import' : 'Parent branch'} name="neonBranchId" error={error}>
                <select value={branch?.id ?? ''} onChange={(e) => setBranch(e.target.value)} disabled={!project}>
                  {project?.branches.map((b) => (
                    <option key={b.id} value={b.id}>
                      {b.name} ({b.id}){b.default ? ' — default' : ''}
                    </option>
                  ))}
                </select>
              </Field>
            </div>
            {projects.data?.length === 0 && <p className="hint">This account has no projects.</p>}
            <FormError error={projects.error} />
          </>
        )}

        {mode === 'import' && (
          <div className="warning" role="note">
            The data is shared: an imported branch stays where it is, and whatever else uses it sees every change made through this
            environment. Arbor checks its roles (and fixes them when you ask), but never changes its Neon settings and never deletes it.
          </div>
        )}

        <FormError error={error} fields={FIELDS} />
        <button type="submit" disabled={busy}>
          Create environment
        </button>
      </form>
    </section>
  );
}
