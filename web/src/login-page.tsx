/**
 * @module Log in with a name and password; the platform sets an HttpOnly session cookie.
 */
import { useState, type FormEvent } from 'react';
import { api, type UserView } from './api.ts';
import { Field, FormError, useAction } from './data.tsx';

export function LoginPage({ onLogin, problem }: { onLogin: (user: UserView) => void; problem?: string }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction({ stayBusy: true });

  async function submit(event: FormEvent) {
    event.preventDefault();
    await run(async () => onLogin((await api<{ user: UserView }>('POST', '/auth/login', { name, password })).user));
  }

  return (
    <main className="login">
      <h1>Arbor</h1>
      {problem && <div className="error">{problem}</div>}
      <form onSubmit={submit}>
        <Field label="Name" name="name" error={error}>
          <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="username" autoFocus required />
        </Field>
        <Field label="Password" name="password" error={error}>
          <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" required />
        </Field>
        <FormError error={error} fields={['name', 'password']} />
        <button type="submit" disabled={busy}>
          Log in
        </button>
      </form>
      <p className="hint">The first admin&apos;s password is printed once by <code>arbor up</code>.</p>
    </main>
  );
}
