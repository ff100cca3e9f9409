/**
 * @module Loading state and form helpers shared by the pages: `useData` (load, reload, poll while
 * the caller says so), `Field` (a labelled input with the API's error for that field under it),
 * `FormError` (errors no field on the form claims), `useAction` (a submit's busy and error state)
 * and `Status`.
 */
import { cloneElement, useEffect, useId, useRef, useState, type ReactElement, type ReactNode } from 'react';
import { ApiError, messageOf, type EnvironmentStatus } from './api.ts';

export interface Action {
  busy: boolean;
  error?: unknown;
  /** Runs `work` with busy set and the last error cleared; a failure is kept in `error`. */
  run(work: () => Promise<void>): Promise<void>;
}

/**
 * The busy flag and the API error of one form or button. `stayBusy`: stay busy after success, for
 * actions that leave the page (the form must not be sent twice while it goes).
 */
export function useAction(options: { stayBusy?: boolean } = {}): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  async function run(work: () => Promise<void>): Promise<void> {
    setBusy(true);
    setError(undefined);
    try {
      await work();
      if (!options.stayBusy) setBusy(false);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  }
  return { busy, error, run };
}

export interface Data<T> {
  data?: T;
  error?: unknown;
  reload(): void;
}

/**
 * Loads on mount and whenever `deps` change (earlier data is dropped then); `pollMs(data)` returning
 * a number loads again after that many ms. Polling goes on after a failed load unless the answer was
 * 401/403/404.
 */
export function useData<T>(load: () => Promise<T>, deps: unknown[], pollMs?: (data: T) => number | undefined): Data<T> {
  const key = JSON.stringify(deps);
  const [state, setState] = useState<{ key: string; data?: T; error?: unknown }>({ key });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const pollRef = useRef(pollMs);
  pollRef.current = pollMs;
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last: T | undefined;
    const run = async () => {
      try {
        const data = await loadRef.current();
        if (!live) return;
        last = data;
        setState({ key, data });
        const ms = pollRef.current?.(data);
        if (ms) timer = setTimeout(run, ms);
      } catch (error) {
        if (!live) return;
        setState((s) => ({ key, data: s.key === key ? s.data : undefined, error }));
        const final = error instanceof ApiError && [401, 403, 404].includes(error.status);
        const ms = last !== undefined && !final ? pollRef.current?.(last) : undefined;
        if (ms) timer = setTimeout(run, Math.max(ms, 2000));
      }
    };
    void run();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [key, tick]);
  const current = state.key === key ? state : { key };
  return { data: current.data, error: current.error, reload: () => setTick((t) => t + 1) };
}

function claims(field: string | undefined, name: string): boolean {
  return !!field && (field === name || field.endsWith(`.${name}`));
}

/** A labelled control; shows the API's message under it when the error names this field. */
export function Field({ label, name, error, hint, children }: { label: string; name: string; error?: unknown; hint?: ReactNode; children: ReactElement<{ id?: string; 'aria-invalid'?: boolean; 'aria-describedby'?: string }> }) {
  const id = useId();
  const message = error instanceof ApiError && claims(error.field, name) ? error.message : undefined;
  return (
    <div className={message ? 'field invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id, 'aria-invalid': message ? true : undefined, 'aria-describedby': message ? `${id}-error` : undefined })}
      {hint && <div className="hint">{hint}</div>}
      {message && (
        <div className="field-error" role="alert" id={`${id}-error`} data-field={name}>
          {message}
        </div>
      )}
    </div>
  );
}

/** An error no field of the form shows (no field, or one the form does not have). */
export function FormError({ error, fields = [] }: { error?: unknown; fields?: string[] }) {
  if (!error) return null;
  if (error instanceof ApiError && fields.some((f) => claims(error.field, f))) return null;
  return (
    <div className="error" role="alert">
      {messageOf(error)}
    </div>
  );
}

export function Status({ status }: { status: EnvironmentStatus | string }) {
  return <span className={`status status-${status}`}>{status}</span>;
}

export function Loading({ what }: { what: string }) {
  return <p className="muted">Loading {what}…</p>;
}

const UNITS: [number, string][] = [
  [86400, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
  [1, 'second'],
];

/** `604800` → `7 days`, `3000000` → `34.7 days`, `90` → `1.5 minutes`; `-1` → `never`. */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  if (!Number.isFinite(seconds)) return 'not a number of seconds';
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
