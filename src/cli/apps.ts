/**
 * @module `arbor apps`: create or update an app on the platform from its arbor.yaml (and the
 * migration folders it names), list apps.
 */
import type { Command } from 'commander';
import { PlatformClient, print, readAppFile, urlOption } from './client.ts';

export function registerApps(program: Command): void {
  const apps = program.command('apps').alias('app').description('apps on the platform');
  apps
    .command('list')
    .addOption(urlOption())
    .option('--json', 'print JSON')
    .action(async (o: { url: string; json?: boolean }) => {
      const { apps: list } = await new PlatformClient(o.url).call('GET', '/apps');
      print(list, o.json, () => list.map((a: { name: string }) => `${a.name}\n`).join('') || 'no apps yet\n');
    });
  apps
    .command('apply')
    .description('create the app from arbor.yaml, or update it (its environments are then reconciled)')
    .addOption(urlOption())
    .option('--file <path>', 'the app model', 'arbor.yaml')
    .option('--json', 'print JSON')
    .action(async (o: { url: string; file: string; json?: boolean }) => {
      const client = new PlatformClient(o.url);
      const body = await readAppFile(o.file);
      const { apps: list } = await client.call('GET', '/apps');
      const name = /^app:\s*(\S+)/m.exec(body.model)?.[1];
      const exists = list.some((a: { name: string }) => a.name === name);
      const { app } = exists ? await client.call('PATCH', `/apps/${encodeURIComponent(name!)}`, body) : await client.call('POST', '/apps', body);
      process.stderr.write(`INFO: app ${app.name} ${exists ? 'updated' : 'created'}\n`);
      print(app, o.json, () => `${app.name}\n`);
    });
}
