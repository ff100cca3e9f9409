/**
 * @module A database's schema as SQL text, for `GET .../branches/{id}/schema` (Neon answers it
 * with `pg_dump --schema-only`).
 *
 * A pg_dump of the server's own major version is used when one is installed (next to the
 * server's binaries, in `ARBOR_PG_BINARIES`, or Debian's `/usr/lib/postgresql/<major>/bin`): an
 * older pg_dump refuses a newer server, and the npm package ships none. Otherwise the schema is
 * built from the catalog in pg_dump's shape and order of sections — schemas, extensions, types,
 * functions, sequences, tables, views, then constraints, indexes, triggers and foreign keys —
 * each section sorted by schema and name, so equal schemas give equal text and `neonctl branches
 * schema-diff` shows only real differences. Objects that belong to an extension are left out, as
 * pg_dump does.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { binEnv, SUPERUSER } from './cluster.ts';
import type { PgBinaries } from './binaries.ts';

const execFileAsync = promisify(execFile);

/** Where a connection to the database goes (the engine's unix socket). */
export interface DumpTarget {
  host: string;
  port: number;
  password: string;
  database: string;
}

/** A pg_dump whose major version is `major`, or null. */
export async function findPgDump(bins: PgBinaries, major: number): Promise<string | null> {
  const candidates = [join(bins.bin, 'pg_dump'), ...(process.env.ARBOR_PG_BINARIES ? [join(process.env.ARBOR_PG_BINARIES, 'pg_dump')] : []), `/usr/lib/postgresql/${major}/bin/pg_dump`];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    try {
      const { stdout } = await execFileAsync(path, ['--version'], { env: binEnv(bins) });
      if (Number(/(\d+)(?:\.\d+)?/.exec(stdout)?.[1]) === major) return path;
    } catch {
      // not runnable here
    }
  }
  return null;
}

/** The schema of `target.database`: pg_dump's when a matching one exists, else from the catalog over `client`. */
export async function dumpSchema(bins: PgBinaries, major: number, target: DumpTarget, client: pg.Client): Promise<string> {
  const pgDump = await findPgDump(bins, major);
  if (pgDump) {
    const { stdout } = await execFileAsync(pgDump, ['--schema-only', '--exclude-schema=arbor_internal', '--no-password', '-h', target.host, '-p', String(target.port), '-U', SUPERUSER, target.database], {
      env: { ...binEnv(bins), PGPASSWORD: target.password },
      maxBuffer: 256 * 1024 * 1024,
    });
    // pg_dump 17.6+ wraps its output in \restrict <random key>; the key would make every dump differ.
    return stdout.split('\n').filter((line) => !/^\\(un)?restrict /.test(line)).join('\n');
  }
  return catalogSchema(client);
}

// arbor_internal: the engine's extension triggers (clusters/extensions.ts), not the user's schema.
const USER_NAMESPACES = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'arbor_internal') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;
/** Not a member of an extension (pg_dump leaves those to CREATE EXTENSION). */
const notInExtension = (classId: string, objId: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${classId}'::regclass AND d.objid = ${objId} AND d.deptype = 'e')`;

/** Builds the schema from the catalog (see the module comment). */
export async function catalogSchema(client: pg.Client): Promise<string> {
  const q = async (sql: string): Promise<Record<string, string>[]> => (await client.query(sql)).rows;
  // As pg_dump: an empty search_path, so every name in a definition comes schema-qualified.
  await client.query(`SELECT pg_catalog.set_config('search_path', '', false)`);
  const out: string[] = ['--', '-- PostgreSQL database dump', '--', ''];
  const section = (kind: string, name: string, schema: string, owner: string | null, body: string) => {
    out.push('--', `-- Name: ${name}; Type: ${kind}; Schema: ${schema}; Owner: ${owner ?? '-'}`, '--', '', body, '');
  };

  for (const r of await q(`SELECT n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner, quote_ident(n.nspname) AS q FROM pg_namespace n
                           WHERE ${USER_NAMESPACES} AND n.nspname <> 'public' AND ${notInExtension('pg_namespace', 'n.oid')} ORDER BY 1`)) {
    section('SCHEMA', r.name, '-', r.owner, `CREATE SCHEMA ${r.q};\n\n\nALTER SCHEMA ${r.q} OWNER TO ${quoteIdent(r.owner)};`);
  }
  for (const r of await q(`SELECT e.extname AS name, n.nspname AS schema, quote_ident(e.extname) AS q, quote_ident(n.nspname) AS qs FROM pg_extension e
                           JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql' ORDER BY 1`)) {
    section('EXTENSION', r.name, '-', null, `CREATE EXTENSION IF NOT EXISTS ${r.q} WITH SCHEMA ${r.qs};`);
  }
  // Types: enums, composites, domains.
  for (const r of await q(`SELECT n.nspname AS schema, t.typname AS name, pg_get_userbyid(t.typowner) AS owner, t.typtype AS kind,
                                  quote_ident(n.nspname) || '.' || quote_ident(t.typname) AS q,
                                  (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels,
                                  (SELECT string_agg('    ' || quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), E',\n' ORDER BY a.attnum)
                                     FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS fields,
                                  format_type(t.typbasetype, t.typtypmod) AS base, t.typnotnull AS notnull,
                                  (SELECT string_agg(' CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), '' ORDER BY c.conname) FROM pg_constraint c WHERE c.contypid = t.oid) AS checks
                           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                           WHERE ${USER_NAMESPACES} AND ${notInExtension('pg_type', 't.oid')}
                             AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
                           ORDER BY 1, 2`)) {
    const body =
      r.kind === 'e'
        ? `CREATE TYPE ${r.q} AS ENUM (\n    ${(r.labels ?? '').split(', ').join(',\n    ')}\n);`
        : r.kind === 'c'
          ? `CREATE TYPE ${r.q} AS (\n${r.fields ?? ''}\n);`
          : `CREATE DOMAIN ${r.q} AS ${r.base}${r.notnull ? ' NOT NULL' : ''}${r.checks ?? ''};`;
    section(r.kind === 'd' ? 'DOMAIN' : 'TYPE', r.name, r.schema, r.owner, `${body}\n\n\nALTER ${r.kind === 'd' ? 'DOMAIN' : 'TYPE'} ${r.q} OWNER TO ${quoteIdent(r.owner)};`);
  }
  for (const r of await q(`SELECT n.nspname AS schema, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name, pg_get_userbyid(p.proowner) AS owner,
                                  pg_get_functiondef(p.oid) AS def, p.prokind AS kind,
                                  quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS q
                           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                           WHERE ${USER_NAMESPACES} AND p.prokind IN ('f', 'p') AND ${notInExtension('pg_proc', 'p.oid')} ORDER BY 1, 2`)) {
    const kind = r.kind === 'p' ? 'PROCEDURE' : 'FUNCTION';
    section(kind, r.name, r.schema, r.owner, `${r.def.trim()};\n\n\nALTER ${kind} ${r.q} OWNER TO ${quoteIdent(r.owner)};`);
  }
  // Sequences (identity columns' own are part of their table).
  for (const r of await q(`SELECT n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS q,
                                  format_type(s.seqtypid, NULL) AS type, s.seqstart AS start, s.seqincrement AS inc, s.seqmin AS min, s.seqmax AS max, s.seqcache AS cache, s.seqcycle AS cycle,
                                  (SELECT quote_ident(tn.nspname) || '.' || quote_ident(t.relname) || '.' || quote_ident(a.attname)
                                     FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
                                     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
                                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' LIMIT 1) AS owned_by
                           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
                           WHERE c.relkind = 'S' AND ${USER_NAMESPACES} AND ${notInExtension('pg_class', 'c.oid')}
                             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')
                           ORDER BY 1, 2`)) {
    const body = [
      `CREATE SEQUENCE ${r.q}`,
      ...(r.type !== 'bigint' ? [`    AS ${r.type}`] : []),
      `    START WITH ${r.start}`,
      `    INCREMENT BY ${r.inc}`,
      `    MINVALUE ${r.min}`,
      `    MAXVALUE ${r.max}`,
      `    CACHE ${r.cache}${r.cycle ? '\n    CYCLE' : ''};`,
    ].join('\n');
    section('SEQUENCE', r.name, r.schema, r.owner, `${body}\n\n\nALTER SEQUENCE ${r.q} OWNER TO ${quoteIdent(r.owner)};${r.owned_by ? `\n\n\nALTER SEQUENCE ${r.q} OWNED BY ${r.owned_by};` : ''}`);
  }
  // Tables (plain, partitioned, partitions).
  for (const r of await q(`SELECT n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner, c.relkind AS kind, c.relispartition AS partition,
                                  quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS q, c.relpersistence AS persistence,
                                  CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partkey,
                                  CASE WHEN c.relispartition THEN (SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname) FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) END AS parent,
                                  CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound,
                                  (SELECT string_agg('    ' || quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                                            || CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN ' COLLATE ' || (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) ELSE '' END
                                            || CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') STORED'
                                                    WHEN ad.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid) ELSE '' END
                                            || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                                            || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END,
                                            E',\n' ORDER BY a.attnum)
                                     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND (NOT c.relispartition OR a.attislocal)) AS columns
                           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE c.relkind IN ('r', 'p') AND ${USER_NAMESPACES} AND ${notInExtension('pg_class', 'c.oid')}
                           ORDER BY 1, 2`)) {
    const unlogged = r.persistence === 'u' ? 'UNLOGGED ' : '';
    const body = r.partition
      ? `CREATE ${unlogged}TABLE ${r.q} PARTITION OF ${r.parent}${r.columns ? ` (\n${r.columns}\n)` : ''}\n${r.bound};`
      : `CREATE ${unlogged}TABLE ${r.q} (\n${r.columns ?? ''}\n)${r.partkey ? `\nPARTITION BY ${r.partkey}` : ''};`;
    section('TABLE', r.name, r.schema, r.owner, `${body}\n\n\nALTER TABLE ${r.q} OWNER TO ${quoteIdent(r.owner)};`);
  }
  for (const r of await q(`SELECT n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner, c.relkind AS kind,
                                  quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS q, pg_get_viewdef(c.oid) AS def
                           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE c.relkind IN ('v', 'm') AND ${USER_NAMESPACES} AND ${notInExtension('pg_class', 'c.oid')}
                           ORDER BY 1, 2`)) {
    const kind = r.kind === 'm' ? 'MATERIALIZED VIEW' : 'VIEW';
    const def = r.def.replace(/;?\s*$/, '');
    section(kind, r.name, r.schema, r.owner, `CREATE ${kind} ${r.q} AS\n${def}${r.kind === 'm' ? '\n  WITH NO DATA' : ''};\n\n\nALTER ${kind === 'VIEW' ? 'VIEW' : 'MATERIALIZED VIEW'} ${r.q} OWNER TO ${quoteIdent(r.owner)};`);
  }
  // Constraints other than NOT NULL, foreign keys last (they need the others' indexes).
  const constraints = await q(`SELECT n.nspname AS schema, c.relname AS tbl, co.conname AS name, co.contype AS type,
                                      quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS q, quote_ident(co.conname) AS qc, pg_get_constraintdef(co.oid) AS def,
                                      pg_get_userbyid(c.relowner) AS owner, c.relkind AS kind
                               FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                               WHERE co.contype IN ('p', 'u', 'c', 'x', 'f') AND co.conislocal AND ${USER_NAMESPACES} AND ${notInExtension('pg_class', 'c.oid')}
                               ORDER BY (co.contype = 'f'), 1, 2, 3`);
  for (const r of constraints.filter((c) => c.type !== 'f')) {
    section(r.type === 'c' ? 'CHECK CONSTRAINT' : 'CONSTRAINT', `${r.tbl} ${r.name}`, r.schema, r.owner, `ALTER TABLE ${r.kind === 'p' ? '' : 'ONLY '}${r.q}\n    ADD CONSTRAINT ${r.qc} ${r.def};`);
  }
  for (const r of await q(`SELECT n.nspname AS schema, i.relname AS name, pg_get_userbyid(t.relowner) AS owner, pg_get_indexdef(i.oid) AS def
                           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = i.relnamespace
                           WHERE ${USER_NAMESPACES} AND ${notInExtension('pg_class', 't.oid')}
                             AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.oid AND co.contype IN ('p', 'u', 'x'))
                             AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.oid)
                           ORDER BY 1, 2`)) {
    section('INDEX', r.name, r.schema, r.owner, `${r.def};`);
  }
  for (const r of await q(`SELECT n.nspname AS schema, c.relname AS tbl, tg.tgname AS name, pg_get_userbyid(c.relowner) AS owner, pg_get_triggerdef(tg.oid) AS def
                           FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND ${USER_NAMESPACES} AND ${notInExtension('pg_class', 'c.oid')}
                           ORDER BY 1, 2, 3`)) {
    section('TRIGGER', `${r.tbl} ${r.name}`, r.schema, r.owner, `${r.def};`);
  }
  for (const r of constraints.filter((c) => c.type === 'f')) {
    section('FK CONSTRAINT', `${r.tbl} ${r.name}`, r.schema, r.owner, `ALTER TABLE ${r.kind === 'p' ? '' : 'ONLY '}${r.q}\n    ADD CONSTRAINT ${r.qc} ${r.def};`);
  }
  out.push('--', '-- PostgreSQL database dump complete', '--', '');
  return out.join('\n');
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
