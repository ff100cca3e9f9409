/**
 * @module Self-hosting an Encore app on an environment: the `sql_servers` part of Encore's
 * `infra.config.json`, one login per database, passwords only as `{"$env": VAR}` references, and
 * (revealed, audited) the values of those variables.
 *
 * Which login a database gets: with a service (`--service S`, or an app with one service), S's
 * `svc_S` role for each database S declares. Without one (all services in one process, as
 * `encore build docker` builds by default), each database gets the `svc_` role of the first
 * service in the model that declares it: a member of `db_<db>_writer` and `encore_services`, so it
 * has exactly the rights service code has, which no other login role of the hierarchy does
 * (`encore_writer` reaches every database and lacks `encore_services`; `db_<db>_admin` owns the
 * schema). A database no hosted service declares is left out: Encore only asks for the databases
 * of the services it hosts (`cli/daemon/export/infra_config.go`).
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { audit } from '../audit.ts';
import type { Actor, Context } from '../context.ts';
import { branchUri, credentialContext, storedPassword } from '../credentials/credentials.ts';
import { PlatformError, invalid } from '../errors.ts';

/**
 * The part of Encore's infra config this writes, re-typed from encoredev/encore (commit 2b626e8):
 * `runtimes/go/appruntime/exported/config/infra/config.go` (SQLServer, TLSConfig, SQLDatabase,
 * EnvString/EnvRef) and `runtimes/core/src/infracfg.rs` (the TS runtime's reader: `username` a
 * plain string, `password` a string or `{"$env"}`). The published JSON schema
 * (https://encore.dev/schemas/infra.schema.json) is not in the repository.
 */
const envString = z.union([z.string().min(1), z.strictObject({ $env: z.string().min(1) })]);
const clientCert = z.strictObject({ cert: z.string(), key: envString });
export const encoreSqlServer = z.strictObject({
  host: z.string().min(1),
  tls_config: z
    .strictObject({
      disabled: z.boolean().optional(),
      ca: z.string().optional(),
      client_cert: clientCert.optional(),
      disable_tls_hostname_verification: z.boolean().optional(),
      disable_ca_validation: z.boolean().optional(),
    })
    .optional(),
  databases: z.record(
    z.string().min(1),
    z.strictObject({
      name: z.string().optional(),
      max_connections: z.number().int().min(0).optional(),
      min_connections: z.number().int().min(0).optional(),
      username: z.string().min(1),
      password: envString,
      client_cert: clientCert.optional(),
    }),
  ),
});
export const encoreInfraConfig = z.looseObject({ $schema: z.string().optional(), sql_servers: z.array(encoreSqlServer) });
export type EncoreInfraConfig = z.infer<typeof encoreInfraConfig>;

export interface InfraConfigResult {
  config: EncoreInfraConfig;
  /** The variables the config refers to, with the role whose password each holds (and its value when revealed). */
  env: { name: string; role: string; databases: string[]; value?: string }[];
  /** What was left out, and why. */
  notes: string[];
}

/** `svc_orders` → `SVC_ORDERS_PASSWORD`; names that only differ in other characters get a suffix. */
function envNames(roles: string[]): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const role of roles) {
    const base = `${role.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}_PASSWORD`;
    let name = base;
    for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    names.set(role, name);
  }
  return names;
}

/**
 * The engine names its local CA in the URI (`sslrootcert`); Neon's endpoints use public CAs. Only
 * a file that parses as a certificate is read back, re-encoded, so nothing else can leave.
 */
async function serverCa(uri: URL): Promise<string | undefined> {
  const path = uri.searchParams.get('sslrootcert');
  if (!path || path === 'system') return undefined;
  try {
    return new X509Certificate(await readFile(path)).toString();
  } catch {
    return undefined;
  }
}

export async function infraConfig(ctx: Context, actor: Actor, appName: string, envName: string, options: { service?: string; reveal?: boolean } = {}): Promise<InfraConfigResult> {
  const { app, env, model, api, names } = await credentialContext(ctx, appName, envName);
  if (!env.neon.branchId || !env.neon.host) throw new PlatformError(409, 'not_provisioned', `environment ${app.name}/${env.name} has no branch yet; wait until it is ready`);
  const service = options.service ?? (model.services.length === 1 ? model.services[0].name : undefined);
  if (service !== undefined && !model.services.some((s) => s.name === service)) {
    throw invalid('service', `app ${app.name} has no service ${JSON.stringify(service)}; its services: ${model.services.map((s) => s.name).join(', ') || '(none)'}`);
  }
  const notes: string[] = [];
  const logins: { database: string; role: string }[] = [];
  for (const db of model.databases) {
    const user = model.services.find((s) => (service === undefined || s.name === service) && s.databases.includes(db.name));
    if (user) logins.push({ database: db.name, role: names.service(user.name) });
    else notes.push(service === undefined ? `database ${db.name}: no service declares it, so no service needs it at run time` : `database ${db.name}: service ${service} does not declare it`);
  }
  if (!logins.length) throw new PlatformError(409, 'no_databases', `no ${service === undefined ? 'service' : `service ${service}`} of app ${app.name} declares a database: there is nothing to configure`);

  const base = new URL(await branchUri(api, env, names.platform, names.platform, 'x', logins[0].database));
  const ca = await serverCa(base);
  const variables = envNames([...new Set(logins.map((l) => l.role))]);
  const config = encoreInfraConfig.parse({
    $schema: 'https://encore.dev/schemas/infra.schema.json',
    sql_servers: [
      {
        host: base.host,
        // Neon's endpoints take TLS only; Encore's runtimes verify against `ca` when given, else the system roots.
        tls_config: { disabled: false, ...(ca ? { ca } : {}) },
        // The key is the database's name on the server; `name` is Encore's (the same in Arbor).
        databases: Object.fromEntries(logins.map((l) => [l.database, { name: l.database, username: l.role, password: { $env: variables.get(l.role)! } }])),
      },
    ],
  });
  const envList: InfraConfigResult['env'] = [...variables].map(([role, name]) => ({ name, role, databases: logins.filter((l) => l.role === role).map((l) => l.database) }));
  if (options.reveal) {
    for (const entry of envList) {
      const password = await storedPassword(ctx, env.id, entry.role);
      if (!password) throw new PlatformError(409, 'not_provisioned', `no password is known for ${entry.role} on ${app.name}/${env.name} yet; wait until the environment is ready`);
      entry.value = password;
    }
    await audit(ctx, actor, 'credentials.reveal', `${app.name}/${env.name}/infra-config`, { roles: envList.map((e) => e.role) });
  }
  return { config, env: envList, notes };
}
