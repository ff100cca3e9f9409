/**
 * @module The dashboard shell (the root route): who is logged in (or the login page), the header,
 * and the current screen. Any 401 shows the login page again.
 */
import { QueryClient, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, Outlet, useNavigate } from '@tanstack/react-router';
import { useEffect } from 'react';
import { api, ApiError, messageOf, whenUnauthorized, type UserView } from './api.ts';
import { LoginPage } from './login-page.tsx';
import { q } from './queries.ts';

/** Whether this browser logged in (and did not log out) since: a hint only, the cookie decides. */
const SESSION_HINT = 'arbor.loggedIn';
function rememberedSession(): boolean {
  try {
    return localStorage.getItem(SESSION_HINT) === '1';
  } catch {
    return true;
  }
}
function rememberSession(on: boolean): void {
  try {
    if (on) localStorage.setItem(SESSION_HINT, '1');
    else localStorage.removeItem(SESSION_HINT);
  } catch {
    /* storage refused: /me is asked every time */
  }
}

/** Nobody is logged in: the login page shows, and nothing read for the last user stays cached. */
function forget(client: QueryClient): void {
  client.setQueryData(q.me().queryKey, null as never);
  client.removeQueries({ predicate: (query) => query.queryKey[0] !== 'me' });
}

/** The logged-in user; only rendered under the shell, once someone is. */
export function useMe(): UserView {
  return useQuery(q.me()).data!;
}

export function Shell() {
  const client = useQueryClient();
  const navigate = useNavigate();
  // Without a login remembered here, the login page shows at once: asking /me would only answer
  // 401 (the session cookie is HttpOnly, so the page cannot look for it).
  const me = useQuery({ ...q.me(), enabled: rememberedSession(), retry: false });
  useEffect(
    () =>
      whenUnauthorized(() => {
        rememberSession(false);
        forget(client);
      }),
    [client],
  );

  async function logout() {
    try {
      await api('POST', '/auth/logout');
    } finally {
      rememberSession(false);
      forget(client);
      void navigate({ to: '/' });
    }
  }

  if (me.isLoading) return <p className="muted">Loading…</p>;
  if (!me.data) {
    const problem = me.error && !(me.error instanceof ApiError && me.error.status === 401) ? messageOf(me.error) : undefined;
    return (
      <LoginPage
        problem={problem}
        onLogin={(user) => {
          rememberSession(true);
          client.setQueryData(q.me().queryKey, user);
        }}
      />
    );
  }
  const user = me.data;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span className="brand">Arbor</span>
        <nav aria-label="Main">
          <Link to="/" activeOptions={{ exact: true }}>
            Apps
          </Link>
          <Link to="/accounts">Accounts</Link>
          {user.role === 'admin' && <Link to="/audit">Audit</Link>}
        </nav>
        <span className="who" data-testid="who">
          {user.name} <span className="role">{user.role}</span>
        </span>
        <button type="button" onClick={logout}>
          Log out
        </button>
      </header>
      <main id="main">
        <Outlet />
      </main>
    </>
  );
}
