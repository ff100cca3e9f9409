/**
 * @module An app's frame: its sections (Environments, Previews, App Settings) around the screen
 * shown, and App Settings' own sections.
 */
import { useQuery } from '@tanstack/react-query';
import { Link, Outlet, useParams } from '@tanstack/react-router';
import { q } from './queries.ts';
import { useMe } from './shell.tsx';
import { Crumbs, FormError, Tabs } from './ui.tsx';

export function useApp() {
  const { app } = useParams({ strict: false }) as { app: string };
  return app;
}

/** The caller's role on the app: `admin` for instance admins (the API decides again). */
export function useAppRole(app: string) {
  const me = useMe();
  const role = useQuery(q.app(app)).data?.role;
  return me.role === 'admin' ? 'admin' : role;
}

export function AppLayout() {
  const app = useApp();
  const found = useQuery(q.app(app));
  return (
    <>
      <div className="app-bar">
        <span className="app-name">{app}</span>
        <Tabs
          label="App"
          tabs={[
            { to: '/apps/$app', params: { app }, title: 'Environments', exact: true },
            { to: '/apps/$app/previews', params: { app }, title: 'Previews' },
            { to: '/apps/$app/settings', params: { app }, title: 'App Settings' },
          ]}
        />
      </div>
      {found.error ? <FormError error={found.error} /> : <Outlet />}
    </>
  );
}

export function AppSettingsLayout() {
  const app = useApp();
  return (
    <>
      <Crumbs>
        <Link to="/">Apps</Link> / <Link to="/apps/$app" params={{ app }}>{app}</Link> / <span aria-current="page">App Settings</span>
      </Crumbs>
      <h1>App Settings</h1>
      <div className="settings">
        <Tabs
          label="App settings"
          tabs={[
            { to: '/apps/$app/settings', params: { app }, title: 'General', exact: true },
            { to: '/apps/$app/settings/integrations/neon', params: { app }, title: 'Integrations › Neon' },
            { to: '/apps/$app/settings/previews', params: { app }, title: 'Preview Environments' },
            { to: '/apps/$app/settings/members', params: { app }, title: 'Members' },
            { to: '/apps/$app/settings/tokens', params: { app }, title: 'API tokens' },
          ]}
        />
        <div className="settings-body">
          <Outlet />
        </div>
      </div>
    </>
  );
}
