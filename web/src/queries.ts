/**
 * @module What the dashboard reads, as TanStack Query options (one key per API resource, so a
 * change invalidates exactly what it touches), and how live status is kept: an environment that
 * is not settled is asked again every second, a settled list every few seconds (a preview opened
 * by CI appears by itself); failed reads back off (2, 4, 8… up to 30 s).
 */
import { QueryClient, queryOptions, useMutation, useQueryClient, type QueryKey } from '@tanstack/react-query';
import {
  api,
  ApiError,
  seg,
  type AccountDetailView,
  type AccountView,
  type AppView,
  type ChangeView,
  type CredentialView,
  type EnvironmentView,
  type HistoryView,
  type MemberView,
  type NeonProjectView,
  type TokenView,
  type UserView,
} from './api.ts';

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // 4xx answers are final (no such thing, not allowed): shown at once, not retried.
      retry: (count, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
      refetchOnWindowFocus: false,
      staleTime: 2000,
    },
  },
});

export const settled = (e: EnvironmentView) => (e.status === 'ready' || e.status === 'failed' || e.status === 'awaiting_confirmation') && e.observedGeneration >= e.generation;

/** Polling: fast while something is on its way, slow when settled, backing off while reads fail. */
function poll(busy: boolean) {
  return (query: { state: { fetchFailureCount: number; error: unknown } }) => {
    const { error, fetchFailureCount } = query.state;
    if (error instanceof ApiError && [401, 403, 404].includes(error.status)) return false;
    if (fetchFailureCount > 0) return Math.min(30_000, 1000 * 2 ** fetchFailureCount);
    return busy ? 1000 : 5000;
  };
}

const appPath = (app: string) => `/apps/${seg(app)}`;
export const envPath = (app: string, env: string) => `${appPath(app)}/environments/${seg(env)}`;

export const q = {
  me: () => queryOptions({ queryKey: ['me'], queryFn: () => api<{ user: UserView }>('GET', '/me').then((r) => r.user), staleTime: Infinity }),
  apps: () => queryOptions({ queryKey: ['apps'], queryFn: () => api<{ apps: AppView[] }>('GET', '/apps').then((r) => r.apps) }),
  app: (app: string) => queryOptions({ queryKey: ['apps', app], queryFn: () => api<{ app: AppView }>('GET', appPath(app)).then((r) => r.app) }),
  environments: (app: string) =>
    queryOptions({
      queryKey: ['apps', app, 'environments'],
      queryFn: () => api<{ environments: EnvironmentView[] }>('GET', `${appPath(app)}/environments`).then((r) => r.environments),
      refetchInterval: (query) => poll(!(query.state.data ?? []).every(settled))(query),
    }),
  environment: (app: string, env: string) =>
    queryOptions({
      queryKey: ['apps', app, 'environments', env],
      queryFn: () => api<{ environment: EnvironmentView }>('GET', envPath(app, env)).then((r) => r.environment),
      refetchInterval: (query) => poll(!query.state.data || !settled(query.state.data))(query),
    }),
  neonBranchHistory: (account: string, project: string, branch: string) =>
    queryOptions({
      queryKey: ['accounts', account, 'projects', project, 'branches', branch, 'history'],
      queryFn: () => api<{ history: HistoryView }>('GET', `/accounts/${encodeURIComponent(account)}/projects/${encodeURIComponent(project)}/branches/${encodeURIComponent(branch)}/history`).then((r) => r.history),
      staleTime: 10_000,
    }),
  history: (app: string, env: string) =>
    queryOptions({ queryKey: ['apps', app, 'environments', env, 'history'], queryFn: () => api<{ history: HistoryView }>('GET', `${envPath(app, env)}/history`).then((r) => r.history), staleTime: 10_000 }),
  users: (app: string, env: string) =>
    queryOptions({ queryKey: ['apps', app, 'environments', env, 'users'], queryFn: () => api<{ users: CredentialView[] }>('GET', `${envPath(app, env)}/users`).then((r) => r.users) }),
  previews: (app: string) =>
    queryOptions({
      queryKey: ['apps', app, 'previews'],
      queryFn: () => api<{ previews: EnvironmentView[] }>('GET', `${appPath(app)}/previews`).then((r) => r.previews),
      refetchInterval: (query) => poll(!(query.state.data ?? []).every(settled))(query),
    }),
  members: (app: string) => queryOptions({ queryKey: ['apps', app, 'members'], queryFn: () => api<{ members: MemberView[] }>('GET', `${appPath(app)}/members`).then((r) => r.members) }),
  changes: (app: string) => queryOptions({ queryKey: ['apps', app, 'changes'], queryFn: () => api<{ changes: ChangeView[] }>('GET', `${appPath(app)}/changes`).then((r) => r.changes) }),
  accounts: () => queryOptions({ queryKey: ['accounts'], queryFn: () => api<{ accounts: AccountView[] }>('GET', '/accounts').then((r) => r.accounts) }),
  account: (name: string) =>
    queryOptions({ queryKey: ['accounts', name], queryFn: () => api<{ account: AccountDetailView }>('GET', `/accounts/${seg(name)}`).then((r) => r.account), staleTime: 60_000 }),
  projects: (name: string) =>
    queryOptions({ queryKey: ['accounts', name, 'projects'], queryFn: () => api<{ projects: NeonProjectView[] }>('GET', `/accounts/${seg(name)}/projects`).then((r) => r.projects) }),
  tokens: () => queryOptions({ queryKey: ['tokens'], queryFn: () => api<{ tokens: TokenView[] }>('GET', '/tokens').then((r) => r.tokens) }),
};

/**
 * A change through the API; on success the given keys (and everything under them) are read again.
 * `mutate` errors stay in `error` for the form to show at its fields.
 */
export function useChange<I, O>(run: (input: I) => Promise<O>, invalidates: QueryKey[], onSuccess?: (result: O, input: I) => void) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: run,
    onSuccess: async (result, input) => {
      await Promise.all(invalidates.map((queryKey) => client.invalidateQueries({ queryKey })));
      onSuccess?.(result, input);
    },
  });
}
