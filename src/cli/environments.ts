/**
 * @module `arbor environments`: `restore` an environment's data to a point in its history (an ISO
 * timestamp or an LSN within the retention window), keeping its passwords and host; `history`
 * shows that window. Restoring takes an app admin; a protected environment its name (--confirm).
 * `confirm-import` confirms the changes listed for an imported Neon branch (app admins).
 */
import type { Command } from 'commander';
import { PlatformClient, print, urlOption, waitReady } from './client.ts';

export function registerEnvironments(program: Command): void {
  const environments = program.command('environments').alias('env').description("an app's environments");
  const path = (app: string, env: string) => `/apps/${encodeURIComponent(app)}/environments/${encodeURIComponent(env)}`;
  environments
    .command('history')
    .description('the points in time the environment can be restored to (or branched from with at)')
    .addOption(urlOption())
    .requiredOption('--app <name>', 'app')
    .requiredOption('--env <name>', 'environment')
    .option('--json', 'print JSON')
    .action(async (o: { url: string; app: string; env: string; json?: boolean }) => {
      const { history } = await new PlatformClient(o.url).call('GET', `${path(o.app, o.env)}/history`);
      print(history, o.json, () => `${history.from}\t${history.to}\t${history.why}\n`);
    });
  environments
    .command('restore')
    .description("restore the environment's data to a point in time, keeping its passwords and host (app admins)")
    .addOption(urlOption())
    .requiredOption('--app <name>', 'app')
    .requiredOption('--env <name>', 'environment')
    .requiredOption('--at <point>', 'an ISO timestamp (2026-05-01T12:00:00Z) or an LSN (0/1A2B3C8) within the history window')
    .option('--confirm <name>', "the environment's name (required for protected environments)")
    .option('--no-wait', 'return at once')
    .option('--json', 'print JSON')
    .action(async (o: { url: string; app: string; env: string; at: string; confirm?: string; wait: boolean; json?: boolean }) => {
      const client = new PlatformClient(o.url);
      let { environment } = await client.call('POST', `${path(o.app, o.env)}/restore`, { at: o.at, ...(o.confirm !== undefined ? { confirm: o.confirm } : {}) });
      if (o.wait) environment = await waitReady(client, o.app, environment.name);
      print(environment, o.json, () => `${environment.name}\t${environment.status}\t${environment.neon.host ?? ''}\n`);
    });
  environments
    .command('confirm-import')
    .description('confirm the changes listed for an imported Neon branch; Arbor then applies them (app admins)')
    .addOption(urlOption())
    .requiredOption('--app <name>', 'app')
    .requiredOption('--env <name>', 'environment')
    .option('--no-wait', 'return at once')
    .option('--json', 'print JSON')
    .action(async (o: { url: string; app: string; env: string; wait: boolean; json?: boolean }) => {
      const client = new PlatformClient(o.url);
      const before = (await client.call('GET', path(o.app, o.env))).environment;
      if (!o.json) for (const change of before.pendingChanges ?? []) process.stderr.write(`INFO: confirming: ${change}\n`);
      let { environment } = await client.call('POST', `${path(o.app, o.env)}/confirm-import`);
      if (o.wait) environment = await waitReady(client, o.app, environment.name);
      const manual = (environment.deviations ?? []).filter((d: { manual?: boolean }) => d.manual);
      print(environment, o.json, () => `${environment.name}\t${environment.status}\n${manual.map((d: { message: string }) => `to do by hand: ${d.message}\n`).join('')}`);
    });
}
