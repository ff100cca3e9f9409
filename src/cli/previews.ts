/**
 * @module `arbor previews`: what a CI job runs for a pull request — `open` when it is opened or
 * pushed (with the pull request's migrations from arbor.yaml's folders), `close` when it closes;
 * `reset` to the parent's current data, `diff` for what it changes in the database.
 */
import type { Command } from 'commander';
import { PlatformClient, print, readAppFile, urlOption, waitReady } from './client.ts';

function prNumber(value: string): number {
  if (!/^[0-9]{1,9}$/.test(value)) throw new Error(`--pr ${value} is not a pull request number`);
  return Number(value);
}

export function registerPreviews(program: Command): void {
  const previews = program.command('previews').alias('preview').description('preview environments, one per pull request');
  previews
    .command('open')
    .description("create or update the pull request's preview and wait until it is ready")
    .addOption(urlOption())
    .requiredOption('--pr <number>', 'pull request number')
    .option('--file <path>', 'arbor.yaml of the pull request (its migrations are applied)', 'arbor.yaml')
    .option('--no-wait', 'return at once')
    .option('--json', 'print JSON')
    .action(async (o: { url: string; pr: string; file: string; wait: boolean; json?: boolean }) => {
      const client = new PlatformClient(o.url);
      const { model, migrations } = await readAppFile(o.file);
      const app = /^app:\s*(\S+)/m.exec(model)?.[1]!;
      const number = prNumber(o.pr);
      let { environment } = await client.call('PUT', `/apps/${encodeURIComponent(app)}/previews/${number}`, { migrations });
      if (o.wait) environment = await waitReady(client, app, environment.name);
      print(environment, o.json, () => `${environment.name}\t${environment.status}\t${environment.neon.host ?? ''}\n`);
    });
  previews
    .command('close')
    .description("delete the pull request's preview and its branch")
    .addOption(urlOption())
    .requiredOption('--app <name>', 'app')
    .requiredOption('--pr <number>', 'pull request number')
    .action(async (o: { url: string; app: string; pr: string }) => {
      const { deleted } = await new PlatformClient(o.url).call('DELETE', `/apps/${encodeURIComponent(o.app)}/previews/${prNumber(o.pr)}`);
      process.stderr.write(deleted ? `INFO: preview pr:${o.pr} is being deleted\n` : `INFO: pr:${o.pr} has no preview\n`);
    });
  previews
    .command('reset')
    .description("reset the preview to its parent's current data, keeping its passwords; the pull request's migrations are applied again")
    .addOption(urlOption())
    .requiredOption('--app <name>', 'app')
    .requiredOption('--pr <number>', 'pull request number')
    .option('--no-wait', 'return at once')
    .option('--json', 'print JSON')
    .action(async (o: { url: string; app: string; pr: string; wait: boolean; json?: boolean }) => {
      const client = new PlatformClient(o.url);
      let { environment } = await client.call('POST', `/apps/${encodeURIComponent(o.app)}/previews/${prNumber(o.pr)}/reset`);
      if (o.wait) environment = await waitReady(client, o.app, environment.name);
      print(environment, o.json, () => `${environment.name}\t${environment.status}\t${environment.neon.host ?? ''}\n`);
    });
  previews
    .command('diff')
    .description("what the pull request changes in the database: the preview's schema against its parent's")
    .addOption(urlOption())
    .requiredOption('--app <name>', 'app')
    .requiredOption('--pr <number>', 'pull request number')
    .option('--json', 'print the changes as JSON')
    .action(async (o: { url: string; app: string; pr: string; json?: boolean }) => {
      const { diff, markdown } = await new PlatformClient(o.url).call('GET', `/apps/${encodeURIComponent(o.app)}/previews/${prNumber(o.pr)}/schema-diff`);
      print(diff, o.json, () => `${markdown}\n`);
    });
}
