/**
 * @module What a step of a GitHub Actions job reads and writes, as the runner defines it: the
 * event payload at GITHUB_EVENT_PATH, outputs appended to GITHUB_OUTPUT (multiline values in the
 * `name<<delimiter` form with a random delimiter, as @actions/core writes them), the job summary
 * appended to GITHUB_STEP_SUMMARY, and workflow commands on stdout (`::add-mask::` before a
 * secret is written anywhere). Without GITHUB_OUTPUT (a run on a laptop) outputs go to stdout as
 * `name: value`, secrets left out.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';

/** The parts of a `pull_request` (or `pull_request_target`) webhook payload the action uses. */
export interface PullRequestEvent {
  action: string;
  number: number;
  title?: string;
  htmlUrl?: string;
  headSha?: string;
  headRef?: string;
  baseRef?: string;
  merged?: boolean;
  /** `owner/repo`. */
  repository?: string;
}

/** The pull request of the event that started the job, or undefined when it is no pull request event. */
export function readPullRequestEvent(path: string | undefined = process.env.GITHUB_EVENT_PATH): PullRequestEvent | undefined {
  if (!path) return undefined;
  let payload: any;
  try {
    payload = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the event payload at GITHUB_EVENT_PATH (${path}): ${(error as Error).message}`);
  }
  const pr = payload?.pull_request;
  const number = pr?.number ?? payload?.number;
  if (!pr || !Number.isInteger(number)) return undefined;
  return {
    action: String(payload.action ?? ''),
    number,
    title: pr.title,
    htmlUrl: pr.html_url,
    headSha: pr.head?.sha,
    headRef: pr.head?.ref,
    baseRef: pr.base?.ref,
    merged: pr.merged === true,
    repository: payload.repository?.full_name,
  };
}

/** A workflow command's data, escaped as the runner reads it (`%`, CR, LF). */
export function escapeCommandData(value: string): string {
  return value.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

export class WorkflowStep {
  private readonly secrets = new Set<string>();

  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly stdout: (text: string) => void = (t) => void process.stdout.write(t),
  ) {}

  get inActions(): boolean {
    return !!this.env.GITHUB_OUTPUT;
  }

  /** `::add-mask::` for the value (and its URL-decoded form): the runner hides it in every log line after this. */
  mask(value: string): void {
    if (!value) return;
    for (const v of new Set([value, safeDecode(value)])) {
      this.secrets.add(v);
      this.stdout(`::add-mask::${escapeCommandData(v)}\n`);
    }
  }

  /** Sets an output; a `secret` one is masked first. */
  output(name: string, value: string, options: { secret?: boolean } = {}): void {
    if (options.secret) this.mask(value);
    const file = this.env.GITHUB_OUTPUT;
    if (!file) {
      if (!options.secret) this.stdout(`${name}: ${value.includes('\n') ? `\n${value}` : value}\n`);
      return;
    }
    // One line: `name=value`; more: `name<<delimiter`, the delimiter random and not in the value.
    if (!/[\r\n]/.test(value)) appendFileSync(file, `${name}=${value}\n`);
    else {
      let delimiter: string;
      do delimiter = `ghadelimiter_${randomUUID()}`;
      while (value.includes(delimiter));
      appendFileSync(file, `${name}<<${delimiter}\n${value}\n${delimiter}\n`);
    }
  }

  /** Appends markdown to the job summary (ignored outside Actions); never a masked value. */
  summary(markdown: string): void {
    for (const s of this.secrets) if (markdown.includes(s)) throw new Error('refusing to write a secret to the job summary');
    const file = this.env.GITHUB_STEP_SUMMARY;
    if (file) appendFileSync(file, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  }

  /** `::error::` / `::notice::` annotations. */
  annotate(kind: 'error' | 'warning' | 'notice', message: string): void {
    this.stdout(`::${kind}::${escapeCommandData(message)}\n`);
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Reads GITHUB_OUTPUT's format back (tests, and anyone checking a file): `name=value` and `name<<DELIM` blocks. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line) continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc;
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) body.push(lines[i]);
      if (i >= lines.length) throw new Error(`output ${name}: no closing delimiter ${delimiter}`);
      outputs[name] = body.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`not an output line: ${line}`);
    outputs[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return outputs;
}
