/**
 * @module The pull request's one Arbor comment: its body (a pure function of the run's result,
 * never a credential: the comment is as public as the pull request) and its posting through
 * octokit — the comment carrying this app's hidden marker is updated, or one is created, so a
 * pull request has one comment per app however often the workflow runs.
 */
import { Octokit } from '@octokit/rest';

export type PreviewAction = 'open' | 'close' | 'reset';

export interface PreviewReport {
  app: string;
  pr: number;
  action: PreviewAction;
  /** `pr:<n>`. */
  environment: string;
  /** ready, failed, deleting, absent. */
  status: string;
  /** The parent environment, when known. */
  parent?: string;
  /** The commit the run was for. */
  sha?: string;
  /** The role whose URL the job has (never the URL). */
  role?: string;
  error?: string;
  /** Markdown of the schema diff (previews/schema-diff.ts). */
  schemaDiff?: string;
  timings: { step: string; seconds: number }[];
  /** Link to the workflow run. */
  runUrl?: string;
}

/** The hidden marker that finds the comment again: one per app and pull request. */
export function commentMarker(app: string, pr: number): string {
  return `<!-- arbor-preview app=${app.replace(/[^a-z0-9_-]/gi, '')} pr=${pr} -->`;
}

const STATUS_WORDS: Record<string, string> = {
  ready: '🟢 ready',
  failed: '🔴 failed',
  deleting: '⚪ closed (being deleted)',
  absent: '⚪ closed',
};

/** The markdown table of timings (summary and comment). */
export function timingsTable(timings: PreviewReport['timings']): string {
  if (!timings.length) return '';
  return ['| step | seconds |', '| --- | ---: |', ...timings.map((t) => `| ${t.step} | ${t.seconds.toFixed(1)} |`)].join('\n');
}

/** The status lines and schema diff, shared by the comment and the job summary. */
export function reportMarkdown(r: PreviewReport): string {
  const lines: string[] = [];
  const verb = r.action === 'close' ? 'closed' : r.action === 'reset' ? 'reset to its parent' : 'opened';
  lines.push(`### Arbor preview \`${r.environment}\` of \`${r.app}\`: ${STATUS_WORDS[r.status] ?? r.status}`);
  lines.push('');
  const facts = [
    `${verb}${r.parent ? ` (branch of \`${r.parent}\`)` : ''}`,
    r.sha ? `at ${r.sha.slice(0, 7)}` : '',
    r.role && r.action !== 'close' ? `the job's \`db_url\` is for role \`${r.role}\`` : '',
  ].filter(Boolean);
  lines.push(facts.join(' · '));
  if (r.error) lines.push('', `> **Error:** ${r.error.replace(/\n/g, ' ')}`);
  if (r.timings.length) lines.push('', timingsTable(r.timings));
  if (r.schemaDiff !== undefined && r.action !== 'close') lines.push('', '#### Schema changes', '', r.schemaDiff);
  if (r.runUrl) lines.push('', `[workflow run](${r.runUrl})`);
  return lines.join('\n');
}

/** The comment's whole body: the marker, then the report. */
export function previewCommentBody(r: PreviewReport): string {
  return `${commentMarker(r.app, r.pr)}\n${reportMarkdown(r)}\n`;
}

export interface CommentTarget {
  /** `owner/repo`. */
  repository: string;
  pr: number;
  token: string;
  /** GITHUB_API_URL: https://api.github.com, or a GitHub Enterprise Server's. */
  apiUrl?: string;
}

/** Creates the app's comment on the pull request, or updates the one carrying its marker. */
export async function upsertPreviewComment(target: CommentTarget, body: string, marker: string): Promise<{ id: number; created: boolean; url: string }> {
  const [owner, repo] = target.repository.split('/');
  if (!owner || !repo) throw new Error(`GITHUB_REPOSITORY ${target.repository} is not owner/repo`);
  const octokit = new Octokit({ auth: target.token, baseUrl: target.apiUrl ?? 'https://api.github.com', userAgent: 'arbor-preview-action' });
  const comments = await octokit.paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: target.pr, per_page: 100 });
  const mine = comments.find((c) => c.body?.includes(marker));
  if (mine) {
    const { data } = await octokit.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body });
    return { id: data.id, created: false, url: data.html_url };
  }
  const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: target.pr, body });
  return { id: data.id, created: true, url: data.html_url };
}
