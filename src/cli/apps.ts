/**
 * @module `arbor apps`: create or update an app on the platform from its arbor.yaml (and the
 * migration folders it names), list apps; a developer's change waiting for approval for the
 * protected environments (`changes`, `approve`, `reject`); who belongs to the app (`members`,
 * `add-member`, `remove-member`).
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
      const { app, pending } = exists ? await client.call('PATCH', `/apps/${encodeURIComponent(name!)}`, body) : await client.call('POST', '/apps', body);
      process.stderr.write(`INFO: app ${app.name} ${exists ? 'updated' : 'created'}\n`);
      if (pending) process.stderr.write(`INFO: protected environments keep the approved model until an app admin approves change ${pending.id} (arbor apps approve ${app.name} ${pending.id})\n`);
      print(pending ? { ...app, pending } : app, o.json, () => `${app.name}\n`);
    });
  apps
    .command('changes')
    .description("a developer's model changes: pending (for the protected environments), approved, rejected, superseded")
    .argument('<app>', 'the app')
    .addOption(urlOption())
    .option('--json', 'print JSON')
    .action(async (app: string, o: { url: string; json?: boolean }) => {
      const { changes } = await new PlatformClient(o.url).call('GET', `/apps/${encodeURIComponent(app)}/changes`);
      print(changes, o.json, () =>
        changes.length
          ? changes.map((c: { id: number; status: string; requestedBy: string; createdAt: string; decidedBy?: string }) => `${c.id}\t${c.status}\t${c.requestedBy}\t${c.createdAt}${c.decidedBy ? `\t${c.decidedBy}` : ''}\n`).join('')
          : 'no changes\n',
      );
    });
  for (const decision of ['approve', 'reject'] as const) {
    apps
      .command(decision)
      .description(decision === 'approve' ? 'approve a pending model change: the protected environments get it (app admins; audited)' : 'reject a pending model change: the protected environments keep the approved model (app admins; audited)')
      .argument('<app>', 'the app')
      .argument('<change>', 'the change id (arbor apps changes <app>)')
      .addOption(urlOption())
      .action(async (app: string, change: string, o: { url: string }) => {
        const { change: decided } = await new PlatformClient(o.url).call('POST', `/apps/${encodeURIComponent(app)}/changes/${encodeURIComponent(change)}/${decision}`);
        process.stdout.write(`${decided.id}\t${decided.status}\n`);
      });
  }
  apps
    .command('members')
    .description("the app's members and their roles")
    .argument('<app>', 'the app')
    .addOption(urlOption())
    .option('--json', 'print JSON')
    .action(async (app: string, o: { url: string; json?: boolean }) => {
      const { members } = await new PlatformClient(o.url).call('GET', `/apps/${encodeURIComponent(app)}/members`);
      print(members, o.json, () => members.map((m: { name: string; role: string }) => `${m.name}\t${m.role}\n`).join('') || 'no members\n');
    });
  apps
    .command('add-member')
    .description("add a user to the app, or change their role (app admins)")
    .argument('<app>', 'the app')
    .argument('<user>', 'the user')
    .requiredOption('--role <role>', 'viewer, developer or admin')
    .addOption(urlOption())
    .action(async (app: string, user: string, o: { url: string; role: string }) => {
      const { member } = await new PlatformClient(o.url).call('PUT', `/apps/${encodeURIComponent(app)}/members/${encodeURIComponent(user)}`, { role: o.role });
      process.stdout.write(`${member.name}\t${member.role}\n`);
    });
  apps
    .command('remove-member')
    .description('remove a user from the app (app admins)')
    .argument('<app>', 'the app')
    .argument('<user>', 'the user')
    .addOption(urlOption())
    .action(async (app: string, user: string, o: { url: string }) => {
      await new PlatformClient(o.url).call('DELETE', `/apps/${encodeURIComponent(app)}/members/${encodeURIComponent(user)}`);
      process.stderr.write(`INFO: ${user} removed from ${app}\n`);
    });
}
