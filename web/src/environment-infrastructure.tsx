/**
 * @module An environment's Infrastructure, as the seed lays it out: the Neon project (name, region,
 * Postgres version, history retention and who shares it), the Neon endpoint (compute and suspend),
 * and the Database Cluster (databases, and the USERS with their credentials).
 */
import { useQuery } from '@tanstack/react-query';
import { CredentialsSection } from './credentials-section.tsx';
import { useEnvironment, usePowers } from './environment-page.tsx';
import { q } from './queries.ts';
import { ComputeForm, RetentionForm } from './settings-form.tsx';

export function EnvironmentInfrastructure() {
  const { app, env } = useEnvironment();
  const e = env.data!;
  const { admin, mayChange } = usePowers(e);
  // The project's facts as Neon has them (name, region, version), else what the creation asked for.
  const projects = useQuery({ ...q.projects(e.account ?? ''), enabled: !!e.account && !!e.neon.projectId });
  const project = projects.data?.find((p) => p.id === e.neon.projectId);
  const branch = project?.branches.find((b) => b.id === e.neon.branchId);
  const model = useQuery(q.app(app)).data?.model as { databases?: { name: string }[] } | undefined;
  const users = useQuery({ ...q.users(app, e.name), enabled: e.status !== 'pending' }).data;
  const databases = model?.databases?.map((d) => d.name) ?? [...new Set(users?.flatMap((u) => u.databases) ?? [])];
  return (
    <>
      <section className="panel" aria-labelledby="project-heading">
        <h2 id="project-heading">Neon project</h2>
        <dl className="facts">
          <dt>Project</dt>
          <dd>
            {project?.name ?? e.source.projectName ?? '—'} <span className="mono hint">{e.neon.projectId ?? ''}</span>
          </dd>
          <dt>Region</dt>
          <dd>{project?.regionId ?? e.source.regionId ?? '—'}</dd>
          <dt>Postgres version</dt>
          <dd>{project?.pgVersion ?? e.source.pgVersion ?? '—'}</dd>
          <dt>Branch</dt>
          <dd>
            {branch?.name ?? e.source.branchName ?? '—'} <span className="mono hint">{e.neon.branchId ?? ''}</span>
          </dd>
          <dt>Shared with</dt>
          <dd data-testid="shared-with">{e.project?.sharedWith.length || e.project?.sharedWithOtherApps ? [...e.project.sharedWith, ...(e.project.sharedWithOtherApps ? [`${e.project.sharedWithOtherApps} of other apps`] : [])].join(', ') : 'no other environment'}</dd>
        </dl>
        <RetentionForm app={app} env={e} mayChange={mayChange} />
      </section>
      <section className="panel" aria-labelledby="endpoint-heading">
        <h2 id="endpoint-heading">Neon endpoint</h2>
        <dl className="facts">
          <dt>Endpoint</dt>
          <dd className="mono">{e.neon.endpointId ?? '—'}</dd>
          <dt>Host</dt>
          <dd className="mono">{e.neon.host ?? '—'}</dd>
        </dl>
        <ComputeForm app={app} env={e} mayChange={mayChange} />
      </section>
      <section className="panel" aria-labelledby="cluster-heading">
        <h2 id="cluster-heading">Database Cluster</h2>
        <h3>Databases</h3>
        <ul className="inline-list" data-testid="databases">
          {databases.map((d) => (
            <li key={d} className="mono">
              {d}
            </li>
          ))}
        </ul>
        <CredentialsSection app={app} env={e} mayReveal={admin} mayRotate={mayChange} />
      </section>
    </>
  );
}
