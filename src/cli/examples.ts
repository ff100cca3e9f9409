/**
 * @module An example for every command's `--help`, keyed by the command's path ('' is `arbor`
 * itself). program.ts adds them after the commands are registered; src/cli/newcomer.test.ts checks
 * that every command shown in a help has one.
 */
import type { Command } from 'commander';

export const EXAMPLES: Record<string, string[]> = {
  '': [
    'npx arbor up                                   # engine + platform + dashboard on http://127.0.0.1:4400',
    'npx arbor up --port 4500 --engine-port 4699    # other ports (through npm: npm start -- --port 4500 --engine-port 4699)',
    'ARBOR_TOKEN=$(npx arbor tokens create --role admin) npx arbor apps apply --file arbor.yaml',
    'npx arbor <command> --help                     # each command has its own example',
  ],
  up: ['npx arbor up', 'npx arbor up --home /srv/arbor --port 4500 --engine-port 4699', 'npm start -- --port 4500 --engine-port 4699   # the same through npm'],
  serve: ['DATABASE_URL=postgres://arbor@db.internal/arbor ARBOR_MASTER_KEY=... npx arbor serve --host 0.0.0.0 --port 4400'],
  tokens: ['npx arbor tokens create --role admin   # run where the platform keeps its state (same ARBOR_HOME / --home)'],
  'tokens create': [
    'export ARBOR_TOKEN=$(npx arbor tokens create --role admin --name ci)',
    'npx arbor tokens create --role admin --home /srv/arbor   # --home (or ARBOR_HOME) as the running `arbor up` has it',
    'npx arbor tokens create --role developer --app shop --expires-in 30d --name deploy   # one app, 30 days (default 90d)',
  ],
  'tokens list': ['ARBOR_TOKEN=arbor_pat_... npx arbor tokens list'],
  'tokens revoke': ['ARBOR_TOKEN=arbor_pat_... npx arbor tokens revoke <id>'],
  apps: ['npx arbor apps apply --file arbor.yaml', 'npx arbor apps apply --encore ./my-app', 'npx arbor apps list --json'],
  'apps list': ['ARBOR_TOKEN=arbor_pat_... npx arbor apps list'],
  'apps changes': ['npx arbor apps changes shop'],
  'apps approve': ['npx arbor apps approve shop 12   # an app admin: the protected environments get change 12'],
  'apps reject': ['npx arbor apps reject shop 12'],
  'apps members': ['npx arbor apps members shop --json'],
  'apps add-member': ['npx arbor apps add-member shop dana --role developer'],
  'apps remove-member': ['npx arbor apps remove-member shop dana'],
  'apps apply': [
    'ARBOR_TOKEN=arbor_pat_... npx arbor apps apply --file arbor.yaml   # also sends the migration folders arbor.yaml names',
    'npx arbor apps apply --encore ./my-app --dry-run                  # the model derived from the Encore app, and what it could not resolve',
    'npx arbor apps apply --encore ./my-app --write-yaml arbor.yaml     # create or update the app, and keep the model as arbor.yaml',
  ],
  environments: ['npx arbor environments history --app shop --env staging', 'npx arbor env infra-config --app shop --env prod --out infra.config.json', 'npx arbor environments restore --app shop --env staging --at 2026-05-01T12:00:00Z --confirm staging'],
  'environments confirm-import': ['npx arbor environments confirm-import --app shop --env legacy   # an app admin: the listed changes are made, then migrations run'],
  'environments history': ['npx arbor environments history --app shop --env staging --json   # from, to, and why it begins there'],
  'environments infra-config': [
    'npx arbor env infra-config --app shop --env prod --out infra.config.json                    # Encore\'s sql_servers, passwords as {"$env": ...}',
    'npx arbor env infra-config --app shop --env prod --service orders --out infra.config.json --reveal > db.env   # app admins: NAME=password lines (audited)',
  ],
  'environments restore': [
    'npx arbor environments restore --app shop --env dev --at 2026-05-01T12:00:00Z           # same passwords and host',
    'npx arbor environments restore --app shop --env staging --at 0/1A2B3C8 --confirm staging   # protected: confirm with its name',
  ],
  previews: ['npx arbor previews open --pr 42 --file arbor.yaml', 'npx arbor previews close --app shop --pr 42'],
  'previews open': ['ARBOR_URL=https://arbor.example.com ARBOR_TOKEN=$ARBOR_TOKEN npx arbor previews open --pr 42 --file arbor.yaml'],
  'previews close': ['ARBOR_TOKEN=$ARBOR_TOKEN npx arbor previews close --app shop --pr 42'],
  'previews diff': ['ARBOR_TOKEN=$ARBOR_TOKEN npx arbor previews diff --app shop --pr 42            # markdown; --json for the objects'],
  'previews reset': ['ARBOR_TOKEN=$ARBOR_TOKEN npx arbor previews reset --app shop --pr 42           # back to the parent\'s data, same passwords'],
  github: ['# in a workflow: uses: <owner>/arbor@main (action.yml; docs/github.md)'],
  'github preview': ['ARBOR_URL=https://arbor.example.com ARBOR_TOKEN=$ARBOR_TOKEN GITHUB_EVENT_PATH=event.json npx arbor github preview --model arbor.yaml'],
  db: ['npx arbor db shell main --app shop --env staging', 'npx arbor db proxy --app shop --env staging --port 5433'],
  'db shell': [
    'npx arbor db shell main --app shop --env staging                  # psql on database main as encore_reader',
    "npx arbor db shell main --app shop -e pr:42 --write -- -c 'select 1'  # as encore_writer; arguments after -- go to psql",
    'cd shop && npx arbor db shell billing -e dev --admin              # --app from ./arbor.yaml; --write, --admin, --superuser: one at most',
  ],
  'db conn-uri': [
    'DATABASE_URL=$(npx arbor db conn-uri main --app shop --env dev --write) npx prisma migrate status   # the real password (a reveal: app admins; audited)',
  ],
  'db proxy': [
    'npx arbor db proxy --app shop --env staging --port 5433   # prints postgresql://encore_reader:<run password>@127.0.0.1:5433/main?sslmode=disable',
    'npx arbor db proxy --app shop --env prod --admin          # any client, any of the app\'s databases; the real password stays in the proxy',
  ],
  engine: ['npx arbor engine serve --port 4599'],
  'engine serve': [
    'npx arbor engine serve --home /tmp/neon --port 4599',
    'NEON_API_HOST=http://127.0.0.1:4599/api/v2 NEON_API_KEY=<key> npx neonctl projects list --no-analytics',
  ],
  'engine key': ['NEON_API_HOST=http://127.0.0.1:4599/api/v2 NEON_API_KEY=$(npx arbor engine key) npx neonctl projects list --no-analytics'],
  'engine ca': ['NODE_EXTRA_CA_CERTS=$(npx arbor engine ca) node app.js', 'PGSSLROOTCERT=$(npx arbor engine ca) psql "postgresql://…@127.0.0.1:<port>/neondb?sslmode=verify-full"'],
  roles: ['npx arbor roles check --url "$PLATFORM_URL" --app arbor.yaml'],
  'roles apply': ['npx arbor roles apply --url "postgresql://encore_platform:$PW@127.0.0.1:5432/neondb" --app arbor.yaml'],
  'roles check': ['ARBOR_DATABASE_URL="$PLATFORM_URL" npx arbor roles check --app arbor.yaml --json   # exit 2 when the branch deviates'],
  migrate: ['npx arbor migrate --url "postgresql://db_main_admin:$PW@127.0.0.1:5432/main" --dir migrations/main'],
};

function path(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Adds "Example(s):" after the help of `program` and of every command below it that has one. */
export function addExamples(program: Command): void {
  const visit = (command: Command) => {
    const lines = EXAMPLES[path(command)];
    if (lines) command.addHelpText('after', `\n${lines.length > 1 ? 'Examples' : 'Example'}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
    command.commands.forEach(visit);
  };
  visit(program);
}
