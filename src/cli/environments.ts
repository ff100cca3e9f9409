/**
 * @module `arbor environments`: `restore` an environment's data to a point in its history (an ISO
 * timestamp or an LSN within the retention window), keeping its passwords and host; `history`
 * shows that window. Restoring takes an app admin; a protected environment its name (--confirm).
 * `confirm-import` confirms the changes listed for an imported Neon branch (app admins).
 * `infra-config` writes Encore's infra.config.json for self-hosting the app on the environment
 * (environments/infra-config.ts), and with `--reveal` (app admins, audited) the password lines.
 */
import { writeFileSync } from 'node:fs';
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
  environments
    .command('infra-config')
    .description("Encore's infra.config.json (sql_servers) for self-hosting the app, or one service, on the environment: passwords as $env references")
    .addOption(urlOption())
    .requiredOption('--app <name>', 'app')
    .requiredOption('--env <name>', 'environment')
    .option('--service <name>', 'a service deployed alone: its svc_ role for each database it declares')
    .option('-o, --out <file>', 'write the config to this file (default: stdout)')
    .option('--reveal', 'print NAME=password lines for the variables the config refers to (app admins; audited)')
    .action(async (o: { url: string; app: string; env: string; service?: string; out?: string; reveal?: boolean }) => {
      const client = new PlatformClient(o.url);
      const result = o.reveal
        ? await client.call('POST', `${path(o.app, o.env)}/infra-config/reveal`, o.service === undefined ? {} : { service: o.service })
        : await client.call('GET', `${path(o.app, o.env)}/infra-config${o.service === undefined ? '' : `?service=${encodeURIComponent(o.service)}`}`);
      const json = `${JSON.stringify(result.config, null, 2)}\n`;
      for (const note of result.notes as string[]) process.stderr.write(`INFO: ${note}\n`);
      if (o.out) {
        writeFileSync(o.out, json);
        process.stderr.write(`INFO: wrote ${o.out}\n`);
      } else if (!o.reveal) process.stdout.write(json);
      const variables = result.env as { name: string; role: string; databases: string[]; value?: string }[];
      if (o.reveal) {
        // An env file (docker run --env-file, systemd EnvironmentFile): the passwords are base64url.
        for (const v of variables) process.stdout.write(`${v.name}=${v.value}\n`);
      } else {
        for (const v of variables) process.stderr.write(`INFO: set ${v.name} to the password of ${v.role} (${v.databases.join(', ')}); --reveal prints it\n`);
      }
    });
}
