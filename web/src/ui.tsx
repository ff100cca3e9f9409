/**
 * @module Small pieces every screen uses: `Field` (a labelled control with the API's error for
 * that field, in the form's words), `FormError`, `Status`, `Loading`, `Tabs`, `ConfirmByName`,
 * `CopyButton` and people's units (durations, relative times).
 */
import { Link } from '@tanstack/react-router';
import { cloneElement, useEffect, useId, useState, type ReactElement, type ReactNode } from 'react';
import { ApiError, messageOf, type EnvironmentStatus } from './api.ts';

function claims(field: string | undefined, name: string): boolean {
  return !!field && (field === name || field.endsWith(`.${name}`));
}

/** The API's message with its field names (`ttlSeconds`) replaced by the form's labels ("Time to live"). */
export function inWords(message: string, labels: Record<string, string>): string {
  let out = message;
  for (const [name, label] of Object.entries(labels)) out = out.replace(new RegExp(`\\b${name}\\b`, 'g'), `“${label}”`);
  return out;
}

/** A labelled control; shows the API's message under it when the error names this field. */
export function Field({ label, name, error, hint, children }: { label: string; name: string; error?: unknown; hint?: ReactNode; children: ReactElement<{ id?: string; 'aria-invalid'?: boolean; 'aria-describedby'?: string }> }) {
  const id = useId();
  const message = error instanceof ApiError && claims(error.field, name) ? inWords(error.message, { [name]: label }) : undefined;
  const described = [hint ? `${id}-hint` : '', message ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={message ? 'field invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id, 'aria-invalid': message ? true : undefined, 'aria-describedby': described })}
      {hint && (
        <div className="hint" id={`${id}-hint`}>
          {hint}
        </div>
      )}
      {message && (
        <div className="field-error" role="alert" id={`${id}-error`} data-field={name}>
          {message}
        </div>
      )}
    </div>
  );
}

/** An error no field of the form shows (no field, or one the form does not have); `labels` words field names. */
export function FormError({ error, fields = [], labels = {} }: { error?: unknown; fields?: string[]; labels?: Record<string, string> }) {
  if (!error) return null;
  if (error instanceof ApiError && fields.some((f) => claims(error.field, f))) return null;
  return (
    <div className="error" role="alert">
      {inWords(messageOf(error), labels)}
    </div>
  );
}

export function Status({ status }: { status: EnvironmentStatus | string }) {
  return <span className={`status status-${status}`}>{status}</span>;
}

export function Loading({ what }: { what: string }) {
  return <p className="muted">Loading {what}…</p>;
}

/** A success message that ends: shown for a few seconds each time `message` changes to a value. */
export function Done({ message }: { message?: string }) {
  const [shown, setShown] = useState(message);
  useEffect(() => {
    setShown(message);
    if (!message) return;
    const timer = setTimeout(() => setShown(undefined), 4000);
    return () => clearTimeout(timer);
  }, [message]);
  return (
    <span className="ok" role="status">
      {shown ? ` ${shown}` : ''}
    </span>
  );
}

/** Sub-navigation between the screens of one thing (links, so each screen has its address). */
export function Tabs({ label, tabs }: { label: string; tabs: { to: string; params: Record<string, string>; title: string; exact?: boolean }[] }) {
  return (
    <nav className="tabs" aria-label={label}>
      {tabs.map((t) => (
        <Link key={t.to} to={t.to} params={t.params} activeOptions={{ exact: t.exact ?? false }} activeProps={{ className: 'active', 'aria-current': 'page' }}>
          {t.title}
        </Link>
      ))}
    </nav>
  );
}

export function Crumbs({ children }: { children: ReactNode }) {
  return (
    <nav className="crumbs" aria-label="Breadcrumb">
      {children}
    </nav>
  );
}

/**
 * A dangerous action confirmed by typing `name`: the button stays disabled until it matches.
 * `what` says what happens; `onConfirm` runs it.
 */
export function ConfirmByName({ name, action, what, busy, error, onConfirm, onCancel }: { name: string; action: string; what?: ReactNode; busy?: boolean; error?: unknown; onConfirm: () => void; onCancel: () => void }) {
  const [typed, setTyped] = useState('');
  const id = useId();
  return (
    <div className="confirm warning" role="group" aria-label={`Confirm: ${action}`}>
      {what && <div className="confirm-what">{what}</div>}
      <label htmlFor={id}>
        Type <b>{name}</b> to confirm
      </label>{' '}
      <input id={id} value={typed} onChange={(e) => setTyped(e.target.value)} aria-label={`Type ${name} to confirm`} autoComplete="off" autoFocus />{' '}
      <button type="button" className="danger" onClick={onConfirm} disabled={busy || typed !== name}>
        {action}
      </button>{' '}
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      <FormError error={error} />
    </div>
  );
}

/** Copies `value` (the clipboard API, or a selection where it is not allowed) and says so. */
export function CopyButton({ value, what }: { value: string; what: string }) {
  const [done, setDone] = useState<string>();
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setDone('copied');
    } catch {
      const area = document.createElement('textarea');
      area.value = value;
      document.body.append(area);
      area.select();
      const ok = document.execCommand('copy');
      area.remove();
      setDone(ok ? 'copied' : 'could not copy: select it and copy by hand');
    }
  }
  return (
    <>
      <button type="button" className="copy" onClick={copy} aria-label={`Copy ${what}`}>
        Copy
      </button>
      <Done message={done} />
    </>
  );
}

const UNITS: [number, string][] = [
  [86400, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
  [1, 'second'],
];

/** `604800` → `7 days`, `3000000` → `about 34.7 days`, `90` → `about 1.5 minutes`; `-1` → `never`. */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  if (!Number.isFinite(seconds)) return 'not a number';
  if (seconds === -1) return 'never';
  if (seconds < 0) return 'a negative time';
  if (seconds === 0) return '0 seconds';
  const [size, unit] = UNITS.find(([size]) => seconds >= size) ?? UNITS[UNITS.length - 1];
  const n = Math.round((seconds / size) * 10) / 10;
  return `${Number.isInteger(seconds / size) ? '' : 'about '}${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** How far `iso` is from now, in words: `in 12 s`, `in 3 min`, `2 min ago`, `now`. */
export function relative(iso: string, now = Date.now()): string {
  const s = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(s);
  const amount = abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 86400 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} days`;
  if (abs < 1) return 'now';
  return s > 0 ? `in ${amount}` : `${amount} ago`;
}

/** The current time, updated every `ms`: for texts like "next attempt in 12 s". */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

export function time(iso: string | undefined): string {
  return iso ? new Date(iso).toLocaleString() : '';
}

/** `0.25` → `0.25 CU (1 GB RAM)`: a Neon compute unit is about 1 vCPU with 4 GB of memory. */
export function cu(n: number): string {
  return `${n} CU (${Math.round(n * 4 * 100) / 100} GB RAM)`;
}
