/**
 * @module The dashboard shell: who is logged in (or the login page), the header, and the routes.
 */
import { useEffect, useState } from 'react';
import { AccountsPage } from './accounts-page.tsx';
import { api, messageOf, whenUnauthorized, type UserView } from './api.ts';
import { AppPage } from './app-page.tsx';
import { AppsPage } from './apps-page.tsx';
import { AuditPage } from './audit-page.tsx';
import { EnvironmentPage } from './environment-page.tsx';
import { LoginPage } from './login-page.tsx';
import { Link, match, navigate, usePath } from './router.tsx';

/** Whether this browser logged in (and did not log out) since: a hint only, the cookie decides. */
const SESSION_HINT = 'arbor.loggedIn';
function rememberedSession(): boolean {
  try {
    return localStorage.getItem(SESSION_HINT) === '1';
  } catch {
    return true;
  }
}
function rememberSession(): void {
  try {
    localStorage.setItem(SESSION_HINT, '1');
  } catch {
    /* storage refused: /me is asked every time */
  }
}
function forgetSession(): void {
  try {
    localStorage.removeItem(SESSION_HINT);
  } catch {
    /* nothing kept */
  }
}

function Page({ path, me }: { path: string; me: UserView }) {
  if (path === '/' || path === '/apps') return <AppsPage />;
  let params = match('/apps/:app', path);
  if (params) return <AppPage app={params.app} />;
  params = match('/apps/:app/environments/:env', path);
  if (params) return <EnvironmentPage app={params.app} env={params.env} me={me} />;
  if (path === '/accounts') return <AccountsPage me={me} />;
  if (path === '/audit') return <AuditPage />;
  return (
    <p>
      No page at {path}. <Link to="/">Back to the apps</Link>
    </p>
  );
}

export function App() {
  /** undefined while asking who is logged in; null when nobody is. */
  const [me, setMe] = useState<UserView | null | undefined>(undefined);
  const [problem, setProblem] = useState<string>();
  const path = usePath();

  useEffect(() => {
    whenUnauthorized(() => (forgetSession(), setMe(null)));
    // Without a login remembered here, the login page shows at once: asking /me would only
    // answer 401 (the session cookie is HttpOnly, so the page cannot look for it).
    if (!rememberedSession()) {
      setMe(null);
      return;
    }
    api<{ user: UserView }>('GET', '/me').then(
      (r) => setMe(r.user),
      (error) => {
        if ((error as { status?: number }).status !== 401) setProblem(messageOf(error));
        else forgetSession();
        setMe(null);
      },
    );
  }, []);

  async function logout() {
    try {
      await api('POST', '/auth/logout');
    } finally {
      forgetSession();
      setMe(null);
      navigate('/');
    }
  }

  if (me === undefined) return <p className="muted">Loading…</p>;
  if (me === null) return <LoginPage problem={problem} onLogin={(user) => (rememberSession(), setProblem(undefined), setMe(user))} />;
  return (
    <>
      <header>
        <span className="brand">Arbor</span>
        <nav>
          <Link to="/">Apps</Link>
          <Link to="/accounts">Accounts</Link>
          {me.role === 'admin' && <Link to="/audit">Audit</Link>}
        </nav>
        <span className="who" data-testid="who">
          {me.name} <span className="role">{me.role}</span>
        </span>
        <button type="button" onClick={logout}>
          Log out
        </button>
      </header>
      <main>
        <Page key={path} path={path} me={me} />
      </main>
    </>
  );
}
