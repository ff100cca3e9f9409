-- Arbor: everything cluster-wide the role planner needs, in one round trip.
-- $1 text[]: the model's role names; $2 text[]: the model's database names; $3 text: the LIKE
-- pattern of service roles (so roles of services removed from the model are seen too).
WITH managed AS (
  SELECT r.oid, r.rolname
  FROM pg_catalog.pg_roles r
  WHERE r.rolname OPERATOR(pg_catalog.=) ANY ($1::text[]) OR r.rolname LIKE $3
)
SELECT pg_catalog.json_build_object(
  'currentUser', current_user,
  'selfGrant', pg_catalog.current_setting('createrole_self_grant', true),
  'roles', (
    SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', r.rolname, 'login', r.rolcanlogin, 'inherit', r.rolinherit, 'superuser', r.rolsuper,
      'createrole', r.rolcreaterole, 'createdb', r.rolcreatedb, 'replication', r.rolreplication,
      'bypassrls', r.rolbypassrls,
      'administered', pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION')
    ) ORDER BY r.rolname), '[]')
    FROM pg_catalog.pg_roles r JOIN managed m ON m.oid OPERATOR(pg_catalog.=) r.oid
  ),
  'grants', (
    SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
      'role', pg_catalog.pg_get_userbyid(a.roleid), 'member', pg_catalog.pg_get_userbyid(a.member),
      'grantor', pg_catalog.pg_get_userbyid(a.grantor), 'inherit', a.inherit_option,
      'set', a.set_option, 'admin', a.admin_option,
      'roleAdministered', pg_catalog.pg_has_role(current_user, a.roleid, 'MEMBER WITH ADMIN OPTION')
    ) ORDER BY a.roleid, a.member), '[]')
    FROM pg_catalog.pg_auth_members a
    WHERE a.roleid IN (SELECT oid FROM managed) OR a.member IN (SELECT oid FROM managed)
  ),
  'databases', (
    SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', d.datname, 'owner', pg_catalog.pg_get_userbyid(d.datdba),
      'acl', (
        SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
          'grantee', CASE WHEN x.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(x.grantee) END,
          'privilege', x.privilege_type)), '[]')
        FROM pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) x
      )
    ) ORDER BY d.datname), '[]')
    FROM pg_catalog.pg_database d
    WHERE d.datname OPERATOR(pg_catalog.=) ANY ($2::text[])
  ),
  'reach', (
    SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object('role', m.rolname, 'database', d.datname)), '[]')
    FROM managed m CROSS JOIN pg_catalog.pg_database d
    WHERE m.rolname LIKE $3 AND d.datname OPERATOR(pg_catalog.=) ANY ($2::text[])
      AND pg_catalog.has_database_privilege(m.oid, d.oid, 'CONNECT')
  )
) AS observed
