/**
 * @module The GitHub webhook, `POST /api/v1/github/webhook`: GitHub's deliveries of
 * `pull_request` events, so a closed pull request's preview goes even when no workflow ran.
 *
 * - Configured by the platform's environment: `ARBOR_GITHUB_WEBHOOK_SECRET` (the webhook's
 *   secret) and `ARBOR_GITHUB_REPOSITORIES` (`owner/repo=app`, comma-separated: which app a
 *   repository's pull requests belong to). Read on every delivery. Without a secret the route
 *   answers 404 and does nothing.
 * - `X-Hub-Signature-256` is verified with `@octokit/webhooks` before the body is even parsed; a
 *   bad or missing signature is a 401 that leaves no trace but a counter (GET /github/webhook).
 * - Idempotent per `X-GitHub-Delivery`: a delivery already handled (recorded in the audit log)
 *   answers `{duplicate: true}` and does nothing again.
 * - `pull_request` `closed` closes the preview (absent is fine); `opened`, `reopened` and
 *   `synchronize` are recorded in the audit log (the action delivers the migrations and opens
 *   the preview); everything else is acknowledged and ignored. No body gives a 5xx.
 */
import { Webhooks } from '@octokit/webhooks';
import { and, eq, like, sql } from 'drizzle-orm';
import { audit } from '../audit.ts';
import type { Actor, Context } from '../context.ts';
import { PlatformError } from '../errors.ts';
import type { Api } from '../http/api.ts';
import { WebhookAnswer, WebhookStatus } from '../http/responses.ts';
import { closePreview } from '../previews/previews.ts';
import { auditLog } from '../store/schema.ts';

const WEBHOOK_ACTOR: Actor = { name: 'github-webhook', role: 'member' };
const RECORDED = new Set(['opened', 'reopened', 'synchronize']);

export interface GithubWebhookSettings {
  secret?: string;
  /** `owner/repo` (lower case) → app name. */
  repositories: Map<string, string>;
}

/** The settings from the platform's environment (see the module comment). */
export function githubWebhookSettings(env: NodeJS.ProcessEnv = process.env): GithubWebhookSettings {
  const repositories = new Map<string, string>();
  for (const entry of (env.ARBOR_GITHUB_REPOSITORIES ?? '').split(',')) {
    const [repo, app] = entry.split('=').map((s) => s.trim());
    if (repo && app) repositories.set(repo.toLowerCase(), app);
  }
  return { secret: env.ARBOR_GITHUB_WEBHOOK_SECRET || undefined, repositories };
}

const SIGNATURE = /^sha256=[0-9a-f]{64}$/;

export function githubWebhookRoutes(api: Api, ctx: Context, onChange: () => void): void {
  const stats = { rejectedSignatures: 0, deliveries: 0, duplicates: 0 };

  api.route({
    method: 'post', path: '/github/webhook', summary: "GitHub's webhook (pull_request events): the signature is checked with the configured secret; a closed pull request's preview is closed", access: 'public', response: WebhookAnswer, alsoStatus: [202],
    async handler({ c }) {
      const accepted = <T>(value: T): T => (c.status(202), value);
      const settings = githubWebhookSettings();
      if (!settings.secret) throw new PlatformError(404, 'github_webhook_off', 'the GitHub webhook is not configured on this platform: set ARBOR_GITHUB_WEBHOOK_SECRET and ARBOR_GITHUB_REPOSITORIES (docs/github.md)');
      const payload = await c.req.text();
      const signature = c.req.header('x-hub-signature-256') ?? '';
      const valid = SIGNATURE.test(signature) && (await new Webhooks({ secret: settings.secret }).verify(payload, signature).catch(() => false));
      if (!valid) {
        stats.rejectedSignatures++;
        throw new PlatformError(401, 'bad_signature', 'X-Hub-Signature-256 is missing or does not match the body for the configured secret');
      }
      stats.deliveries++;
      const event = c.req.header('x-github-event') ?? '';
      // A GUID from GitHub; anything else is treated as no delivery id (nothing else reaches the audit log).
      const delivery = /^[0-9A-Za-z-]{1,100}$/.test(c.req.header('x-github-delivery') ?? '') ? c.req.header('x-github-delivery')! : '';
      let body: any;
      try {
        body = JSON.parse(payload);
      } catch {
        throw new PlatformError(400, 'invalid_json', 'the delivery is not JSON: set the webhook\'s content type to application/json');
      }
      if (event === 'ping') return { pong: true as const };
      if (event !== 'pull_request') return accepted({ ignored: `event ${event.slice(0, 100) || '(none)'} is not handled` });
      const repository = typeof body?.repository?.full_name === 'string' ? body.repository.full_name : '';
      const app = settings.repositories.get(repository.toLowerCase());
      if (!app) return accepted({ ignored: `repository ${repository.slice(0, 200) || '(none)'} is mapped to no app (ARBOR_GITHUB_REPOSITORIES)` });
      const number = body?.pull_request?.number ?? body?.number;
      if (!Number.isInteger(number) || number < 1 || number > 999_999_999) throw new PlatformError(400, 'invalid_input', 'the delivery names no pull request number', 'pull_request.number');
      const action = typeof body.action === 'string' ? body.action : '';
      if (delivery) {
        const [seen] = await ctx.db
          .select({ id: auditLog.id })
          .from(auditLog)
          .where(and(like(auditLog.action, 'preview.github.%'), eq(sql`${auditLog.detail}->>'delivery'`, delivery)))
          .limit(1);
        if (seen) {
          stats.duplicates++;
          return { duplicate: true as const };
        }
      }
      const target = `${app}/pr:${number}`;
      const sha = body.pull_request?.head?.sha;
      const detail = { delivery, repository: repository.toLowerCase(), sha: typeof sha === 'string' && /^[0-9a-f]{40,64}$/.test(sha) ? sha : undefined };
      if (action === 'closed') {
        const closed = await closePreview(ctx, WEBHOOK_ACTOR, app, number);
        if (closed) onChange();
        await audit(ctx, WEBHOOK_ACTOR, 'preview.github.closed', target, { ...detail, merged: body.pull_request?.merged === true, closed });
        return accepted({ app, preview: `pr:${number}`, closed });
      }
      if (RECORDED.has(action)) {
        await audit(ctx, WEBHOOK_ACTOR, `preview.github.${action}`, target, detail);
        return accepted({ app, preview: `pr:${number}`, recorded: action });
      }
      return accepted({ ignored: `pull_request action ${action.slice(0, 100) || '(none)'} is not handled` });
    },
  });

  api.route({
    method: 'get', path: '/github/webhook', summary: "The GitHub webhook's configuration (repositories → apps, never the secret) and counters, rejected signatures among them", access: 'admin', response: WebhookStatus,
    handler: async () => {
      const settings = githubWebhookSettings();
      return { configured: !!settings.secret, repositories: Object.fromEntries(settings.repositories), ...stats };
    },
  });
}
