-- Every han_crypto object and who may use it. Any change to this output is
-- a change to the security surface and must be reviewed (pgsodium-style
-- snapshot). Roles: PUBLIC, han_crypto_admin, han_crypto_app, han_crypto_auditor,
-- han_crypto_backup (b: reads what pg_dump copies, nothing else).
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;

-- Functions: EXECUTE per role (a = admin, p = app, u = auditor), and
-- whether they are SECURITY DEFINER.
SELECT p.oid::regprocedure AS function,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public,
       has_function_privilege('han_crypto_admin', p.oid, 'EXECUTE') AS a,
       has_function_privilege('han_crypto_app', p.oid, 'EXECUTE') AS p,
       has_function_privilege('han_crypto_auditor', p.oid, 'EXECUTE') AS u,
       p.prosecdef AS definer
FROM pg_proc p
WHERE p.pronamespace = 'han_crypto'::regnamespace
ORDER BY p.oid::regprocedure::text;

-- Every SECURITY DEFINER function must pin search_path (none may be listed).
SELECT p.oid::regprocedure AS definer_without_search_path
FROM pg_proc p
WHERE p.pronamespace = 'han_crypto'::regnamespace AND p.prosecdef
  AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');

-- Tables and views: SELECT / INSERT / UPDATE / DELETE per role.
SELECT c.oid::regclass AS relation, c.relkind,
       concat_ws(',', CASE WHEN has_table_privilege('public', c.oid, 'SELECT') THEN 'r' END,
                      CASE WHEN has_table_privilege('public', c.oid, 'INSERT,UPDATE,DELETE') THEN 'w' END) AS public,
       concat_ws(',', CASE WHEN has_table_privilege('han_crypto_admin', c.oid, 'SELECT') THEN 'r' END,
                      CASE WHEN has_table_privilege('han_crypto_admin', c.oid, 'INSERT,UPDATE,DELETE') THEN 'w' END) AS a,
       concat_ws(',', CASE WHEN has_table_privilege('han_crypto_app', c.oid, 'SELECT') THEN 'r' END,
                      CASE WHEN has_table_privilege('han_crypto_app', c.oid, 'INSERT,UPDATE,DELETE') THEN 'w' END) AS p,
       concat_ws(',', CASE WHEN has_table_privilege('han_crypto_auditor', c.oid, 'SELECT') THEN 'r' END,
                      CASE WHEN has_table_privilege('han_crypto_auditor', c.oid, 'INSERT,UPDATE,DELETE') THEN 'w' END) AS u,
       concat_ws(',', CASE WHEN has_table_privilege('han_crypto_backup', c.oid, 'SELECT') THEN 'r' END,
                     CASE WHEN has_table_privilege('han_crypto_backup', c.oid, 'INSERT,UPDATE,DELETE') THEN 'w' END) AS b
FROM pg_class c
WHERE c.relnamespace IN ('han_crypto'::regnamespace, 'han_crypto_audit'::regnamespace)
  AND c.relkind IN ('r', 'v')
ORDER BY c.oid::regclass::text;

-- No function hands raw key bytes to anyone: none returns a 32-byte bytea
-- from a key id, and none of the internal tables is readable by these roles.
SELECT has_schema_privilege('public', 'han_crypto', 'CREATE') AS public_may_create_in_schema;
