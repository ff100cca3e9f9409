/**
 * @module `arbor roles apply|check`: the least-privilege role hierarchy on any branch, given a URL
 * that connects as the platform role. Data on stdout, messages on stderr.
 */
import { Command, Option } from 'commander';
import { loadAppModel } from '../platform/postgres/app-model.ts';
import { applyRoles, RolesApplyError } from '../platform/postgres/roles-apply.ts';
import { checkRoles } from '../platform/postgres/roles-check.ts';
import type { Secret } from '../platform/postgres/roles-plan.ts';

/** Exit code when the branch deviates from the model (1 is kept for errors). */
export const EXIT_DEVIATIONS = 2;

interface RolesOptions {
  url: string;
  app: string;
  json?: boolean;
}

const info = (line: string) => process.stderr.write(`INFO: ${line}\n`);
const warn = (line: string) => process.stderr.write(`WARNING: ${line}\n`);

function scopeOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'branch connection URL, as the platform role (e.g. encore_platform)').env('ARBOR_DATABASE_URL').makeOptionMandatory())
    .option('--app <file>', 'the app model', 'arbor.yaml')
    .option('--json', 'print JSON for machines');
}

function printSecrets(secrets: Secret[]): void {
  if (!secrets.length) return;
  process.stdout.write('role\tpassword\n');
  for (const s of secrets) process.stdout.write(`${s.role}\t${s.password}\n`);
}

export function registerRoles(program: Command): void {
  const roles = program.command('roles').alias('role').description('the least-privilege role hierarchy of a branch (docs/roles.md)');

  scopeOptions(roles.command('apply').description('create what is missing and repair deviations; new passwords are printed once')).action(async (options: RolesOptions) => {
    const model = await loadAppModel(options.app);
    try {
      const result = await applyRoles(options.url, model, { log: options.json ? undefined : info });
      if (options.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else {
        if (!result.changed) info(`nothing to do: the branch already matches ${options.app}`);
        else info(`${result.operations.length} change(s) applied in ${result.ms.toFixed(0)} ms`);
        if (result.secrets.length) info(`new passwords for ${result.secrets.length} login role(s) follow; they are shown only this once`);
        printSecrets(result.secrets);
      }
      for (const d of result.remaining) warn(`not repaired: ${d.message}`);
      if (result.remaining.length) process.exitCode = EXIT_DEVIATIONS;
    } catch (error) {
      if (error instanceof RolesApplyError && error.secrets.length) {
        warn('apply stopped part way; passwords of the roles it did create follow, shown only this once');
        if (options.json) process.stdout.write(JSON.stringify({ secrets: error.secrets }, null, 2) + '\n');
        else printSecrets(error.secrets);
      }
      throw error;
    }
  });

  scopeOptions(roles.command('check').description(`list every deviation from the model; exits ${EXIT_DEVIATIONS} when there is any`)).action(async (options: RolesOptions) => {
    const model = await loadAppModel(options.app);
    const result = await checkRoles(options.url, model);
    if (options.json) process.stdout.write(JSON.stringify({ ok: result.ok, deviations: result.deviations, appRoles: result.appRoles }, null, 2) + '\n');
    else for (const d of result.deviations) process.stdout.write(`${d.kind}\t${d.message}\n`);
    for (const r of result.appRoles) if (!options.json) info(`app-made role ${r.role} (created by ${r.createdBy} in a migration${r.members.length ? `; granted to ${r.members.join(', ')}` : ''}): not a deviation`);
    if (result.ok) info(`the branch matches ${options.app}`);
    else {
      info(`${result.deviations.length} deviation(s); \`npx arbor roles apply\` repairs them`);
      process.exitCode = EXIT_DEVIATIONS;
    }
  });
}
