/**
 * @module Log in with a name and password; the platform sets an HttpOnly session cookie.
 */
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, type UserView } from './api.ts';
import { Field, FormError } from './ui.tsx';

export function LoginPage({ onLogin, problem }: { onLogin: (user: UserView) => void; problem?: string }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const login = useMutation({ mutationFn: () => api<{ user: UserView }>('POST', '/auth/login', { name, password }), onSuccess: (r) => onLogin(r.user) });

  function submit(event: FormEvent) {
    event.preventDefault();
    login.mutate();
  }

  return (
    <main className="login" id="main">
      <h1>Arbor</h1>
      {problem && <div className="error">{problem}</div>}
      <form onSubmit={submit} aria-label="Log in">
        <Field label="Name" name="name" error={login.error}>
          <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="username" autoFocus required />
        </Field>
        <Field label="Password" name="password" error={login.error}>
          <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" required />
        </Field>
        <FormError error={login.error} fields={['name', 'password']} />
        <button type="submit" disabled={login.isPending || login.isSuccess}>
          Log in
        </button>
      </form>
      <p className="hint">
        The first admin&apos;s password is printed once by <code>arbor up</code>.
      </p>
    </main>
  );
}
