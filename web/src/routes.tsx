/**
 * @module The dashboard's screens as a TanStack Router route tree (code-based). The platform answers
 * every non-API path with index.html, so deep links and reloads work. Per app, the seed's
 * navigation: Environments (list, Create Environment; each with Overview and Infrastructure),
 * Previews, and App Settings (General, Integrations > Neon, Preview Environments, Members, API tokens).
 */
import { createRootRoute, createRoute, createRouter, Link } from '@tanstack/react-router';
import { AccountsPage } from './accounts-page.tsx';
import { AppCreatePage } from './app-create-page.tsx';
import { AppLayout, AppSettingsLayout } from './app-layout.tsx';
import { AppGeneralSettings } from './app-settings.tsx';
import { AppsPage } from './apps-page.tsx';
import { AuditPage } from './audit-page.tsx';
import { EnvironmentInfrastructure } from './environment-infrastructure.tsx';
import { CreateEnvironmentPage } from './environment-form.tsx';
import { EnvironmentLayout, EnvironmentOverview } from './environment-page.tsx';
import { EnvironmentsPage } from './environments-page.tsx';
import { MembersPage } from './members-page.tsx';
import { PreviewSettingsPage, PreviewsPage } from './previews-page.tsx';
import { Shell } from './shell.tsx';
import { TokensPage } from './tokens-page.tsx';

const root = createRootRoute({
  component: Shell,
  notFoundComponent: () => (
    <p>
      No page here. <Link to="/">Back to the apps</Link>
    </p>
  ),
});
const apps = createRoute({ getParentRoute: () => root, path: '/', component: AppsPage });
const newApp = createRoute({ getParentRoute: () => root, path: '/apps/new', component: AppCreatePage });
const accounts = createRoute({ getParentRoute: () => root, path: '/accounts', component: AccountsPage });
const audit = createRoute({ getParentRoute: () => root, path: '/audit', component: AuditPage });

const app = createRoute({ getParentRoute: () => root, path: '/apps/$app', component: AppLayout });
const environments = createRoute({ getParentRoute: () => app, path: '/', component: EnvironmentsPage });
const newEnvironment = createRoute({ getParentRoute: () => app, path: '/environments/new', component: CreateEnvironmentPage });
const environment = createRoute({ getParentRoute: () => app, path: '/environments/$env', component: EnvironmentLayout });
const overview = createRoute({ getParentRoute: () => environment, path: '/', component: EnvironmentOverview });
const infrastructure = createRoute({ getParentRoute: () => environment, path: '/infrastructure', component: EnvironmentInfrastructure });
const previews = createRoute({ getParentRoute: () => app, path: '/previews', component: PreviewsPage });
const settings = createRoute({ getParentRoute: () => app, path: '/settings', component: AppSettingsLayout });
const general = createRoute({ getParentRoute: () => settings, path: '/', component: AppGeneralSettings });
const neon = createRoute({ getParentRoute: () => settings, path: '/integrations/neon', component: AccountsPage });
const previewSettings = createRoute({ getParentRoute: () => settings, path: '/previews', component: PreviewSettingsPage });
const members = createRoute({ getParentRoute: () => settings, path: '/members', component: MembersPage });
const tokens = createRoute({ getParentRoute: () => settings, path: '/tokens', component: TokensPage });

const tree = root.addChildren([
  apps,
  newApp,
  accounts,
  audit,
  app.addChildren([environments, newEnvironment, environment.addChildren([overview, infrastructure]), previews, settings.addChildren([general, neon, previewSettings, members, tokens])]),
]);

export const router = createRouter({ routeTree: tree, defaultPreload: false, scrollRestoration: true });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
