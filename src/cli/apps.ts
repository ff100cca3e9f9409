/**
 * @module `arbor apps`: create or update an app on the platform from its arbor.yaml (and the
 * migration folders it names), list apps; a developer's change waiting for approval for the
 * protected environments (`changes`, `approve`, `reject`); who belongs to the app (`members`,
 * `add-member`, `remove-member`).
 */
import { writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { deriveEncoreApp } from '../platform/apps/encore.ts';
import { appModelToYaml, parseAppModel, type AppModel } from '../platform/postgres/app-model.ts';
import { PlatformClient, print, readAppFile, urlOption } from './client.ts';

/**
 * The derived model as an arbor.yaml written at `target`: migration folders are relative to the
 * Encore app's root, and arbor.yaml's are relative to its own folder, so they are rebased.
 */
function yamlFor(yaml: string, root: string, target: string): string {
  const model = parseAppModel(yaml, 'the derived model');
  const from = dirname(resolve(target));
  const rebased: AppModel = { ...model, databases: model.databases.map((d) => (d.migrations ? { ...d, migrations: relative(from, resolve(root, d.migrations)) || '.' } : d)) };
  return `# Derived from the Encore app at ${relative(from, resolve(root)) || '.'} by arbor apps apply --encore; edit it, or derive it again.\n${appModelToYaml(rebased)}`;
}

/** --dry-run: the model, the migration files per database, and what could not be resolved. */
function printDryRun(model: AppModel, yaml: string, migrations: Record<string, { file: string }[]>, notes: string[], json: boolean | undefined, source: string): void {
  const files = Object.fromEntries(Object.entries(migrations).map(([db, list]) => [db, list.map((f) => f.file)]));
  print({ model, yaml, migrations: files, notes }, json, () => {
    const lines = [`# The model of ${source} (dry run: nothing was sent)`, yaml.trimEnd(), '', '# Migrations'];
    for (const db of model.databases) lines.push(`#   ${db.name}: ${files[db.name]?.length ? files[db.name].join(', ') : 'none'}`);
    lines.push('', notes.length ? '# Not resolved (left out of the model; see the WARNING lines):' : '# Everything was resolved.');
    for (const note of notes) lines.push(`#   ${note}`);
    return lines.join('\n') + '\n';
  });
}

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
    .description('create the app from arbor.yaml or an Encore app, or update it (its environments are then reconciled)')
    .addOption(urlOption())
    .option('--file <path>', 'the app model (default arbor.yaml)')
    .option('--encore <dir>', "an Encore app's folder (where encore.app is): the model is derived from its source code")
    .option('--dry-run', 'print the model (as arbor.yaml) and its migrations, and what could not be resolved; change nothing')
    .option('--write-yaml <file>', 'with --encore: also write the derived model to this arbor.yaml (its migration paths relative to the app)')
    .option('--json', 'print JSON')
    .action(async (o: { url: string; file?: string; encore?: string; dryRun?: boolean; writeYaml?: string; json?: boolean }) => {
      if (o.file && o.encore) throw new Error('--file and --encore cannot be used together; give one');
      if (o.writeYaml && !o.encore) throw new Error('--write-yaml writes a model derived with --encore; with --file the model is already arbor.yaml');
      let body: { model: string; migrations: Record<string, { file: string; sql: string }[]> };
      let name: string;
      if (o.encore) {
        const derived = await deriveEncoreApp(o.encore);
        for (const note of derived.notes) process.stderr.write(`WARNING: not resolved: ${note}\n`);
        if (o.writeYaml) {
          await writeFile(o.writeYaml, yamlFor(derived.yaml, o.encore, o.writeYaml));
          process.stderr.write(`INFO: wrote ${o.writeYaml}\n`);
        }
        body = { model: derived.yaml, migrations: derived.migrations };
        name = derived.model.app;
        if (o.dryRun) return printDryRun(derived.model, derived.yaml, body.migrations, derived.notes, o.json, `the ${derived.language === 'go' ? 'Go' : 'TypeScript'} Encore app at ${o.encore}`);
      } else {
        const file = o.file ?? 'arbor.yaml';
        body = await readAppFile(file);
        const model = parseAppModel(body.model, file);
        name = model.app;
        if (o.dryRun) return printDryRun(model, body.model, body.migrations, [], o.json, file);
      }
      const client = new PlatformClient(o.url);
      const { apps: list } = await client.call('GET', '/apps');
      const exists = list.some((a: { name: string }) => a.name === name);
      const { app, pending } = exists ? await client.call('PATCH', `/apps/${encodeURIComponent(name)}`, body) : await client.call('POST', '/apps', body);
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
