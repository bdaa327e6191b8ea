-- What an ordinary role may and may not do.
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
\set VERBOSITY terse
CREATE ROLE regress_hc_app;
SET ROLE regress_hc_app;

SELECT han_crypto.decrypt(han_crypto.encrypt('an app may encrypt and decrypt'));
SELECT count(*) FROM han_crypto.keyrings;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM han_crypto._root_key_check;
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.root_key_status();
\echo :LAST_ERROR_SQLSTATE
-- (The message's wording differs between PostgreSQL 15 and 16+; its code does not.)
\set VERBOSITY sqlstate
SHOW han_crypto.root_key_file;
\set VERBOSITY terse
\echo :LAST_ERROR_SQLSTATE

RESET ROLE;
-- The superuser sees where the key comes from, never the key.
SELECT han_crypto.root_key_status() ->> 'source' AS source,
       han_crypto.root_key_status() ->> 'key_check' AS key_check;
DROP ROLE regress_hc_app;
