/**
 * @module `arbor github preview`: what the GitHub Action (action.yml at the repository's root)
 * runs. It opens, resets or closes the pull request's preview through the platform's API, then
 * writes the step's outputs (`environment`, `status`, `host`, `db_url` masked first,
 * `schema_diff`), the job summary, and with `--comment` one comment on the pull request. Every
 * option also comes from the `INPUT_*` variable action.yml sets; the pull request number and
 * the action from the event payload (GITHUB_EVENT_PATH) when not given.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { parseAppModel, type AppModel } from '../platform/postgres/app-model.ts';
import { readEncoreApp } from '../platform/postgres/encore-app.ts';
import { listMigrations } from '../platform/postgres/migrate.ts';
import { roleNames } from '../platform/postgres/names.ts';
import { previewCommentBody, commentMarker, reportMarkdown, upsertPreviewComment, type PreviewAction, type PreviewReport } from '../github/comment.ts';
import { readPullRequestEvent, WorkflowStep } from '../github/workflow.ts';
import { PlatformClient, readAppFile, urlOption, waitReady } from './client.ts';
import { readFile } from 'node:fs/promises';

interface Options {
  url: string;
  app?: string;
  model: string;
  pr?: string;
  action?: string;
  role?: string;
  comment?: string;
  timeout: string;
}

/** The app's model and the pull request's migrations: from arbor.yaml (or a folder holding one), or an Encore app's folder. */
async function readModel(path: string): Promise<{ model: AppModel; migrations: () => Promise<Record<string, { file: string; sql: string }[]>> }> {
  const workspace = process.env.GITHUB_WORKSPACE;
  const full = resolve(workspace && !isAbsolute(path) ? workspace : '.', path);
  if (!existsSync(full)) throw new Error(`the model ${path} does not exist (input "model": arbor.yaml, or the app's folder)`);
  let file = full;
  if (statSync(full).isDirectory()) {
    if (existsSync(join(full, 'arbor.yaml'))) file = join(full, 'arbor.yaml');
    else if (existsSync(join(full, 'encore.app'))) {
      const encore = await readEncoreApp(full);
      for (const note of encore.notes) process.stderr.write(`WARN: ${note}\n`);
      return {
        model: encore.model,
        migrations: async () => {
          const migrations: Record<string, { file: string; sql: string }[]> = {};
          for (const db of encore.model.databases) {
            if (!db.migrations) continue;
            const files = await listMigrations(resolve(full, db.migrations), { source: db.migrationsSource, naming: db.migrationsNaming });
            migrations[db.name] = await Promise.all(files.map(async (f) => ({ file: f.file, sql: await readFile(f.path, 'utf8') })));
          }
          return migrations;
        },
      };
    } else throw new Error(`${path} holds neither arbor.yaml nor encore.app`);
  }
  return { model: parseAppModel(await readFile(file, 'utf8'), file), migrations: async () => (await readAppFile(file)).migrations };
}

const truthy = (v: string | undefined) => /^(true|yes|1|on)$/i.test((v ?? '').trim());

export function registerGithub(program: Command): void {
  const github = program.command('github').description('GitHub Actions: the preview of a pull request (see docs/github.md)');
  github
    .command('preview')
    .description("open, reset or close the pull request's preview; write the step's outputs, the job summary and (--comment) the pull request's comment")
    .addOption(urlOption())
    .addOption(new Option('--app <name>', 'app (default: the model\'s)').env('INPUT_APP'))
    .addOption(new Option('--model <path>', 'arbor.yaml, or the folder holding it').env('INPUT_MODEL').default('arbor.yaml'))
    .addOption(new Option('--pr <number>', "pull request number (default: the event's)").env('INPUT_PR'))
    .addOption(new Option('--action <action>', 'open, close or reset (default: close for a closed pull request, else open)').env('INPUT_ACTION'))
    .addOption(new Option('--role <role>', "login role whose URL is output as db_url (default: the first service's)").env('INPUT_ROLE'))
    .addOption(new Option('--comment <bool>', 'create or update one comment on the pull request (needs GITHUB_TOKEN)').env('INPUT_COMMENT'))
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the preview to be ready').default('600'))
    .action(async (o: Options) => {
      const step = new WorkflowStep();
      const event = readPullRequestEvent();
      const prText = (o.pr ?? '').trim() || (event ? String(event.number) : '');
      if (!/^[0-9]{1,9}$/.test(prText) || Number(prText) < 1) {
        throw new Error(prText ? `pr ${prText} is not a pull request number` : 'no pull request: run on a pull_request event, or give the input pr');
      }
      const pr = Number(prText);
      const action = ((o.action ?? '').trim() || (event?.action === 'closed' ? 'close' : 'open')) as PreviewAction;
      if (!['open', 'close', 'reset'].includes(action)) throw new Error(`action ${action} must be open, close or reset`);

      const client = new PlatformClient(o.url);
      const source = action === 'close' && (o.app ?? '').trim() ? undefined : await readModel(o.model);
      const model = source?.model;
      const app = (o.app ?? '').trim() || model!.app;
      const names = roleNames(model?.prefix);
      const service = model?.services.find((s) => s.databases.length);
      const role = (o.role ?? '').trim() || (service ? names.service(service.name) : names.writer);
      const base = `/apps/${encodeURIComponent(app)}/previews/${pr}`;
      const timings: PreviewReport['timings'] = [];
      const timed = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
        const started = performance.now();
        try {
          return await run();
        } finally {
          timings.push({ step: label, seconds: (performance.now() - started) / 1000 });
        }
      };
      const report: PreviewReport = { app, pr, action, environment: `pr:${pr}`, status: 'failed', sha: event?.headSha ?? process.env.GITHUB_SHA, role, timings, runUrl: runUrl() };
      let failure: Error | undefined;
      try {
        if (action === 'close') {
          const { deleted } = await timed('close', () => client.call('DELETE', base));
          report.status = deleted ? 'deleting' : 'absent';
          step.output('environment', report.environment);
          step.output('status', report.status);
        } else {
          const started = performance.now();
          if (action === 'open') {
            const migrations = await source!.migrations();
            await timed('request', () => client.call('PUT', base, { migrations }));
          } else {
            await timed('request', () => client.call('POST', `${base}/reset`));
          }
          const environment = await timed('provisioning', () => waitReady(client, app, report.environment, Number(o.timeout) * 1000));
          timings.push({ step: 'open to ready', seconds: (performance.now() - started) / 1000 });
          // db_url is a reveal, an app admin's (docs/security.md): a developer token opens the
          // preview and gets every other output; db_url stays unset, with a warning saying why.
          const user = await revealFor(client, app, report.environment, role).catch((error: Error & { status?: number }) => {
            if (error.status !== 403) throw error;
            step.annotate('warning', `db_url is not set: ${error.message}. Give the action a token with the app's admin role (arbor tokens create --role admin --app ${app}) to get it.`);
            report.role = undefined;
            return undefined;
          });
          // Masked before it is written anywhere (outputs, logs).
          if (user) {
            step.mask(user.password);
            step.mask(user.connectionUri);
          }
          report.status = environment.status;
          const { diff, markdown } = await timed('schema diff', () => client.call('GET', `${base}/schema-diff`));
          report.schemaDiff = markdown;
          report.parent = diff.parent;
          step.output('environment', report.environment);
          step.output('status', report.status);
          step.output('host', environment.neon.host ?? '');
          if (user) step.output('db_url', user.connectionUri, { secret: true });
          step.output('schema_diff', markdown);
        }
      } catch (error) {
        failure = error as Error;
        report.status = 'failed';
        report.error = failure.message;
        step.output('environment', report.environment);
        step.output('status', 'failed');
        step.annotate('error', `Arbor preview ${report.environment}: ${failure.message}`);
      }
      step.summary(`${reportMarkdown(report)}\n`);
      if (truthy(o.comment)) {
        const token = process.env.GITHUB_TOKEN;
        const repository = process.env.GITHUB_REPOSITORY ?? event?.repository;
        if (!token || !repository) step.annotate('warning', 'comment: true needs GITHUB_TOKEN (the input github-token) and GITHUB_REPOSITORY; no comment was posted');
        else {
          try {
            const posted = await upsertPreviewComment({ repository, pr, token, apiUrl: process.env.GITHUB_API_URL }, previewCommentBody(report), commentMarker(app, pr));
            process.stderr.write(`INFO: ${posted.created ? 'commented on' : 'updated the comment on'} the pull request: ${posted.url}\n`);
          } catch (error) {
            step.annotate('warning', `the pull request comment could not be posted: ${(error as Error).message}`);
          }
        }
      }
      if (failure) throw failure;
    });
}

function runUrl(): string | undefined {
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID } = process.env;
  return GITHUB_SERVER_URL && GITHUB_REPOSITORY && GITHUB_RUN_ID ? `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}` : undefined;
}

/** The role's password and URI on the preview (a reveal: app admins; audited). */
async function revealFor(client: PlatformClient, app: string, env: string, role: string): Promise<{ password: string; connectionUri: string }> {
  const path = `/apps/${encodeURIComponent(app)}/environments/${encodeURIComponent(env)}/users/${encodeURIComponent(role)}/reveal`;
  return (await client.call('POST', path)).user;
}
