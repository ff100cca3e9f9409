-- Arbor: what one database holds for the role planner, in one round trip (run connected to it).
-- $1, $2, $3: the names of db_<db>_reader, db_<db>_writer, db_<db>_admin (any may not exist yet).
-- Objects owned by roles db_<db>_admin created itself (CREATEROLE; it holds ADMIN OPTION on them,
-- e.g. Encore's matview_owner) are the app's own arrangement and not counted.
WITH r AS (
  SELECT pg_catalog.to_regrole(pg_catalog.quote_ident($1)) AS reader,
         pg_catalog.to_regrole(pg_catalog.quote_ident($2)) AS writer,
         pg_catalog.to_regrole(pg_catalog.quote_ident($3)) AS admin
), schemas AS (
  SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n
  WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname OPERATOR(pg_catalog.<>) 'information_schema'
    -- A schema a superuser owns, but public, is the service's own (Neon's, or the engine's
    -- arbor_internal for extensions): no user of the branch can be a superuser, nor grant on it.
    AND (n.nspname OPERATOR(pg_catalog.=) 'public' OR NOT (SELECT a.rolsuper FROM pg_catalog.pg_roles a WHERE a.oid OPERATOR(pg_catalog.=) n.nspowner))
)
SELECT pg_catalog.json_build_object(
  'defaults', (
    SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
      'objtype', d.defaclobjtype::text,
      'grantee', CASE WHEN x.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(x.grantee) END,
      'privilege', x.privilege_type)), '[]')
    FROM pg_catalog.pg_default_acl d CROSS JOIN r, pg_catalog.aclexplode(d.defaclacl) x
    WHERE d.defaclrole OPERATOR(pg_catalog.=) r.admin AND d.defaclnamespace OPERATOR(pg_catalog.=) 0
  ),
  'schemas', (
    SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', s.nspname,
      'readerUsage', coalesce(pg_catalog.has_schema_privilege(r.reader, s.oid, 'USAGE'), false),
      'unreadableTables', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c
        WHERE c.relnamespace OPERATOR(pg_catalog.=) s.oid
          AND NOT coalesce(pg_catalog.pg_has_role(r.admin, c.relowner, 'MEMBER WITH ADMIN OPTION'), false) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND NOT coalesce(pg_catalog.has_table_privilege(r.reader, c.oid, 'SELECT'), false)),
      'unwritableTables', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c
        WHERE c.relnamespace OPERATOR(pg_catalog.=) s.oid
          AND NOT coalesce(pg_catalog.pg_has_role(r.admin, c.relowner, 'MEMBER WITH ADMIN OPTION'), false) AND c.relkind IN ('r', 'p')
          AND NOT (coalesce(pg_catalog.has_table_privilege(r.writer, c.oid, 'INSERT'), false)
               AND coalesce(pg_catalog.has_table_privilege(r.writer, c.oid, 'UPDATE'), false)
               AND coalesce(pg_catalog.has_table_privilege(r.writer, c.oid, 'DELETE'), false))),
      'unreadableSequences', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c
        WHERE c.relnamespace OPERATOR(pg_catalog.=) s.oid
          AND NOT coalesce(pg_catalog.pg_has_role(r.admin, c.relowner, 'MEMBER WITH ADMIN OPTION'), false) AND c.relkind OPERATOR(pg_catalog.=) 'S'
          -- CASE: the planner may test privileges before relkind, and only sequences have these.
          AND NOT CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN coalesce(pg_catalog.has_sequence_privilege(r.reader, c.oid, 'SELECT'), false) END),
      'unwritableSequences', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c
        WHERE c.relnamespace OPERATOR(pg_catalog.=) s.oid
          AND NOT coalesce(pg_catalog.pg_has_role(r.admin, c.relowner, 'MEMBER WITH ADMIN OPTION'), false) AND c.relkind OPERATOR(pg_catalog.=) 'S'
          AND NOT CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN
                coalesce(pg_catalog.has_sequence_privilege(r.writer, c.oid, 'USAGE'), false)
                AND coalesce(pg_catalog.has_sequence_privilege(r.writer, c.oid, 'UPDATE'), false) END)
    ) ORDER BY s.nspname), '[]')
    FROM schemas s CROSS JOIN r
  )
) AS observed
