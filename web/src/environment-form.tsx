/**
 * @module Create Environment, in the seed's four ways: a new Neon project, a branch of another
 * environment, a branch of any Neon branch, or an imported Neon branch. Regions and Postgres
 * versions are the account's; the branch modes take a point in time within the source's window.
 * API errors show at the field they name, in the form's words.
 */
import { useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { api, seg, type EnvironmentInput, type EnvironmentMode, type EnvironmentType, type EnvironmentView } from './api.ts';
import { useApp, useAppRole } from './app-layout.tsx';
import { q, useChange } from './queries.ts';
import { Crumbs, Field, FormError, Loading, time } from './ui.tsx';

const MODES: { mode: EnvironmentMode; title: string; text: string }[] = [
  { mode: 'new-project', title: 'New Neon project', text: 'a project of its own, in the account and region you choose' },
  { mode: 'branch-environment', title: 'Branch of an environment', text: 'a branch of another environment of this app: its data as of now (or a moment you choose), every password new' },
  { mode: 'branch-neon', title: 'Branch of a Neon branch', text: 'a new branch of any branch in the account' },
  { mode: 'import', title: 'Import a Neon branch', text: 'use an existing branch as it is' },
];
const LABELS: Record<string, string> = {
  name: 'Name',
  type: 'Type',
  account: 'Neon account',
  regionId: 'Region',
  pgVersion: 'Postgres version',
  projectName: 'Project name',
  branchName: 'Branch name',
  parentEnvironment: 'Parent environment',
  neonProjectId: 'Neon project',
  neonBranchId: 'Neon branch',
  at: 'Point in time',
};

/** The window a branch of `parent` may start in, as the API reports it. */
function Window({ app, parent }: { app: string; parent: string }) {
  const history = useQuery({ ...q.history(app, parent), enabled: !!parent });
  if (!parent) return null;
  if (history.error) return <>(its history window is not known yet)</>;
  if (!history.data) return <>…</>;
  return (
    <span data-testid="history-window">
      from {time(history.data.from)} to now ({history.data.why})
    </span>
  );
}

/** The window a branch of a Neon branch may start in. */
function NeonWindow({ account, project, branch }: { account: string; project?: string; branch?: string }) {
  const history = useQuery({ ...q.neonBranchHistory(account, project ?? '', branch ?? ''), enabled: !!project && !!branch });
  if (!project || !branch) return <>Within the Neon project&apos;s history retention.</>;
  if (history.error) return <>(its history window is not known yet)</>;
  if (!history.data) return <>…</>;
  return (
    <span data-testid="history-window">
      The branch can be branched from {time(history.data.from)} to now ({history.data.why}).
    </span>
  );
}

export function CreateEnvironmentPage() {
  const app = useApp();
  const role = useAppRole(app);
  const environments = useQuery(q.environments(app));
  return (
    <>
      <Crumbs>
        <Link to="/">Apps</Link> / <Link to="/apps/$app" params={{ app }}>{app}</Link> / <span aria-current="page">Create Environment</span>
      </Crumbs>
      <h1>Create Environment</h1>
      {!environments.data ? <Loading what="environments" /> : <CreateEnvironmentForm app={app} admin={role === 'admin'} environments={environments.data} />}
    </>
  );
}

function CreateEnvironmentForm({ app, admin, environments }: { app: string; admin: boolean; environments: EnvironmentView[] }) {
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [type, setType] = useState<EnvironmentType>('development');
  const [mode, setMode] = useState<EnvironmentMode>('new-project');
  const [chosenAccount, setAccount] = useState('');
  const [chosenRegion, setRegion] = useState('');
  /** null: follow the suggestion `<app>-<env>`. */
  const [projectName, setProjectName] = useState<string | null>(null);
  const [branchName, setBranchName] = useState('main');
  const [chosenVersion, setPgVersion] = useState<number>();
  const [chosenParent, setParent] = useState('');
  const [chosenProject, setProject] = useState('');
  const [chosenBranch, setBranch] = useState('');
  const [at, setAt] = useState('');

  const accounts = useQuery(q.accounts());
  const account = chosenAccount || accounts.data?.[0]?.name || '';
  const detail = useQuery({ ...q.account(account), enabled: !!account && mode === 'new-project' });
  const regions = detail.data?.regions;
  const regionId = regions?.some((r) => r.id === chosenRegion) ? chosenRegion : ((regions?.find((r) => r.default) ?? regions?.[0])?.id ?? '');
  const versions = detail.data?.pgVersions ?? [];
  const pgVersion = chosenVersion !== undefined && versions.includes(chosenVersion) ? chosenVersion : (detail.data?.defaultPgVersion ?? versions[versions.length - 1]);
  const needsProjects = (mode === 'branch-neon' || mode === 'import') && !!account;
  const projects = useQuery({ ...q.projects(account), enabled: needsProjects });
  const project = projects.data?.find((p) => p.id === chosenProject) ?? projects.data?.[0];
  const branch = project?.branches.find((b) => b.id === chosenBranch) ?? project?.branches.find((b) => b.default) ?? project?.branches[0];
  const parents = environments.filter((e) => e.neon.branchId);
  const parent = parents.some((e) => e.name === chosenParent) ? chosenParent : (parents[0]?.name ?? '');
  const suggestedProject = name ? `${app}-${name}` : '';
  const branchMode = mode === 'branch-environment' || mode === 'branch-neon';

  const create = useChange(
    (body: EnvironmentInput) => api('POST', `/apps/${seg(app)}/environments`, body),
    [['apps', app, 'environments']],
    (_r, body) => void navigate({ to: '/apps/$app/environments/$env', params: { app, env: body.name } }),
  );
  const error = create.error;

  function submit(event: FormEvent) {
    event.preventDefault();
    const body: EnvironmentInput = { name, type, mode };
    if (mode === 'new-project') Object.assign(body, { account, regionId: regionId || undefined, pgVersion, projectName: (projectName ?? suggestedProject) || undefined, branchName: branchName || undefined });
    if (mode === 'branch-environment') body.parentEnvironment = parent;
    if (mode === 'branch-neon' || mode === 'import') Object.assign(body, { account, neonProjectId: project?.id, neonBranchId: branch?.id });
    if (branchMode && at.trim()) body.at = at.trim();
    create.mutate(body);
  }

  const accountSelect = (
    <Field label="Neon account" name="account" error={error} hint={accounts.data?.length === 0 ? 'No Neon account is connected: an admin connects one in App Settings › Integrations › Neon.' : undefined}>
      <select value={account} onChange={(e) => setAccount(e.target.value)}>
        {accounts.data?.map((a) => (
          <option key={a.name} value={a.name}>
            {a.name} ({a.plan} plan)
          </option>
        ))}
      </select>
    </Field>
  );

  return (
    <form onSubmit={submit} aria-label="New environment" className="panel">
      <div className="row">
        <Field label="Name" name="name" error={error} hint="a-z, 0-9 and -, starting with a letter">
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="staging" required />
        </Field>
        <Field label="Type" name="type" error={error} hint={type === 'production' ? 'protected: only app admins change it' : undefined}>
          <select value={type} onChange={(e) => setType(e.target.value as EnvironmentType)}>
            <option value="development">development</option>
            <option value="production" disabled={!admin}>
              production{admin ? '' : ' (app admins)'}
            </option>
            <option value="preview">preview</option>
          </select>
        </Field>
      </div>
      <fieldset className="modes">
        <legend>Database: Neon database</legend>
        {MODES.map((m) => {
          const why =
            m.mode === 'branch-environment' && parents.length === 0
              ? 'not available yet: this app has no environment to branch from; create one first'
              : (m.mode === 'import' || m.mode === 'branch-neon') && !admin
                ? 'app admins only: it claims a Neon branch made outside Arbor'
                : undefined;
          return (
            <label key={m.mode} className={why ? 'mode disabled' : 'mode'}>
              <input type="radio" name="mode" value={m.mode} checked={mode === m.mode} disabled={!!why} onChange={() => setMode(m.mode)} />
              <span>
                <b>{m.title}</b> — {m.text}
                {why && <span className="hint"> ({why})</span>}
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
              <select value={regionId} onChange={(e) => setRegion(e.target.value)} disabled={!regions?.length}>
                {regions?.map((r) => (
                  <option key={r.id} value={r.id}>
                    {r.name} ({r.id})
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Postgres version" name="pgVersion" error={error} hint={detail.data ? `the versions ${account} offers` : undefined}>
              <select value={pgVersion ?? ''} onChange={(e) => setPgVersion(Number(e.target.value))} disabled={!versions.length}>
                {versions.map((v) => (
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
          <FormError error={detail.error} />
        </>
      )}

      {mode === 'branch-environment' && (
        <Field label="Parent environment" name="parentEnvironment" error={error}>
          <select value={parent} onChange={(e) => setParent(e.target.value)}>
            {parents.map((e) => (
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

      {branchMode && (
        <Field
          label="Point in time"
          name="at"
          error={error}
          hint={
            <>
              Optional: a timestamp (2026-12-03T10:00:00Z) or an LSN (0/1A2B3C); empty means now.{' '}
              {mode === 'branch-environment' ? (
                <>
                  {parent} can be branched <Window app={app} parent={parent} />
                </>
              ) : (
                <NeonWindow account={account} project={project?.id} branch={branch?.id} />
              )}
            </>
          }
        >
          <input value={at} onChange={(e) => setAt(e.target.value)} placeholder="now" />
        </Field>
      )}

      {mode === 'import' && (
        <div className="warning" role="note">
          The data is shared: an imported branch stays where it is, and whatever else uses it sees every change made through this environment. Arbor checks its roles
          (and fixes them when you ask), but never changes its Neon settings and never deletes it.
        </div>
      )}

      <FormError error={error} fields={Object.keys(LABELS)} labels={LABELS} />
      <button type="submit" disabled={create.isPending || create.isSuccess}>
        Create environment
      </button>
    </form>
  );
}
