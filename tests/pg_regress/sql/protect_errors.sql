-- Every way protect(), unprotect(), the protection trigger and the
-- decrypting view refuse: SQLSTATE, message and hint. Nothing is left
-- half-done by a refusal.
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
\set SHOW_CONTEXT never
SELECT han_crypto.create_keyring('regress_pe_team') IS NOT NULL AS created;
SELECT han_crypto.create_keyring('regress_pe_other') IS NOT NULL AS created;
-- Its creator is its first admin; this test's role is no member of it.
SELECT han_crypto.revoke_access('regress_pe_other', current_user);
SELECT han_crypto.grant_access('regress_pe_team', current_user, 'writer');
CREATE ROLE regress_pe_stranger;

CREATE TABLE regress_pe (id int PRIMARY KEY, team text, body text, meta jsonb, n int, code varchar(20));
CREATE TABLE regress_pe_nokey (team text, body text);
CREATE VIEW regress_pe_v AS SELECT * FROM regress_pe;

-- protect(): what it protects, and where.
SELECT han_crypto.protect('regress_pe_v', ARRAY['body'], 'team');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect(NULL, ARRAY['body'], 'team');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_pe', ARRAY['body'], 'team', options => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_pe', ARRAY[]::text[], 'team');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_pe_nokey', ARRAY['body'], 'team');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_pe', ARRAY['body'], 'tenant');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_pe', ARRAY['body', 'bdy'], 'team');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_pe', ARRAY['team'], 'team');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_pe', ARRAY['id'], 'team');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_pe', ARRAY['body', 'body'], 'team');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_pe', ARRAY['n'], 'team');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_pe', ARRAY['code'], 'team');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_pe', ARRAY['body'], 'team', options => '{"colour": "blue"}');
\echo :LAST_ERROR_SQLSTATE
SET ROLE regress_pe_stranger;
SELECT han_crypto.protect('regress_pe', ARRAY['body'], 'team');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- None of the refusals left anything behind.
SELECT count(*) AS configs FROM han_crypto.protected WHERE table_name = 'regress_pe'::regclass;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'regress_pe'::regclass;
SELECT to_regclass('regress_pe_decrypted') IS NULL AS no_view;

-- unprotect() of a table that is not protected.
CALL han_crypto.unprotect('regress_pe');
\echo :LAST_ERROR_SQLSTATE

SELECT han_crypto.protect('regress_pe', ARRAY['body', 'meta'], 'team', redact => false);

-- The trigger: every row names a keyring the writer may write to.
INSERT INTO regress_pe (id, team, body) VALUES (1, NULL, 'no team');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO regress_pe (id, team, body) VALUES (1, 'regress_pe_nosuch', 'unknown team');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO regress_pe (id, team, body) VALUES (1, 'regress_pe_other', 'not a writer there');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO regress_pe (id, team, body, meta) VALUES (1, 'regress_pe_team', 'first note', '{"k": 1}');
-- Moving a row needs writer access on the new keyring as well.
UPDATE regress_pe SET team = 'regress_pe_other' WHERE id = 1;
\echo :LAST_ERROR_SQLSTATE
SELECT body, meta FROM regress_pe_decrypted WHERE id = 1;

-- The view: a tampered value fails loudly (XX001), never shows partial plaintext.
SET session_replication_role = replica;
UPDATE regress_pe SET body = overlay(body PLACING (CASE substr(body, 20, 1) WHEN 'A' THEN 'B' ELSE 'A' END) FROM 20) WHERE id = 1;
RESET session_replication_role;
SELECT body FROM regress_pe_decrypted WHERE id = 1;
\echo :LAST_ERROR_SQLSTATE
-- Plaintext written around the trigger is reported, not shown.
SET session_replication_role = replica;
UPDATE regress_pe SET body = 'written around the trigger' WHERE id = 1;
RESET session_replication_role;
SELECT body FROM regress_pe_decrypted WHERE id = 1;
\echo :LAST_ERROR_SQLSTATE
UPDATE regress_pe SET body = 'repaired' WHERE id = 1;
SELECT body FROM regress_pe_decrypted WHERE id = 1;

-- Called again, protect() keeps what is sealed readable: it will not drop a
-- protected column or change the keyring column.
SELECT han_crypto.protect('regress_pe', ARRAY['body'], 'team', redact => false);
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE regress_pe ADD COLUMN owner_team text;
SELECT han_crypto.protect('regress_pe', ARRAY['body', 'meta'], 'owner_team', redact => false);
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE regress_pe DROP COLUMN owner_team;

-- unprotect() of some columns: only protected ones; the named columns are
-- decrypted in place and the others stay sealed.
CALL han_crypto.unprotect('regress_pe', columns => ARRAY['n']);
\echo :LAST_ERROR_SQLSTATE
CALL han_crypto.unprotect('regress_pe', columns => ARRAY[]::text[]);
\echo :LAST_ERROR_SQLSTATE
CALL han_crypto.unprotect('regress_pe', columns => ARRAY['meta']);
SELECT id, body LIKE 'hc1:%' AS body_sealed, meta FROM regress_pe ORDER BY id;
SELECT column_name FROM han_crypto.protected WHERE table_name = 'regress_pe'::regclass;
INSERT INTO regress_pe (id, team, body, meta) VALUES (3, 'regress_pe_team', 'third note', '{"k": 3}');
SELECT id, body LIKE 'hc1:%' AS body_sealed, meta FROM regress_pe ORDER BY id;
SELECT id, body, meta FROM regress_pe_decrypted ORDER BY id;
DELETE FROM regress_pe WHERE id = 3;

-- unprotect(): only the owner, and only with access to every row's keyring;
-- a refusal changes nothing.
SET ROLE regress_pe_stranger;
CALL han_crypto.unprotect('regress_pe');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
CALL han_crypto.unprotect('regress_pe', batch_size => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.grant_access('regress_pe_other', current_user, 'writer');
INSERT INTO regress_pe (id, team, body) VALUES (2, 'regress_pe_other', 'second note');
SELECT han_crypto.revoke_access('regress_pe_other', current_user);
CALL han_crypto.unprotect('regress_pe');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'regress_pe'::regclass;
SELECT to_regclass('regress_pe_decrypted') IS NOT NULL AS view_kept;
SELECT id, body LIKE 'hc1:%' AS still_sealed FROM regress_pe ORDER BY id;
SELECT han_crypto.grant_access('regress_pe_other', current_user, 'reader');
CALL han_crypto.unprotect('regress_pe');
SELECT id, body, meta FROM regress_pe ORDER BY id;

-- ALTER TABLE on a protected table: renaming a column han_crypto relies
-- on, or dropping the keyring or key column, is refused; a protected
-- column dropped with CASCADE is forgotten and the view rebuilt.
CREATE TABLE regress_pe_cols (id int PRIMARY KEY, team text, body text, note text, other text);
SELECT han_crypto.protect('regress_pe_cols', ARRAY['body', 'note'], 'team', redact => false);
INSERT INTO regress_pe_cols VALUES (1, 'regress_pe_team', 'body one', 'note one', 'other one');
ALTER TABLE regress_pe_cols RENAME COLUMN body TO content;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE regress_pe_cols RENAME COLUMN team TO owner_team;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE regress_pe_cols DROP COLUMN id CASCADE;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE regress_pe_cols RENAME COLUMN other TO extra;
ALTER TABLE regress_pe_cols DROP COLUMN note CASCADE;
SELECT column_name FROM han_crypto.protected WHERE table_name = 'regress_pe_cols'::regclass;
INSERT INTO regress_pe_cols VALUES (2, 'regress_pe_team', 'body two', 'extra two');
SELECT id, body LIKE 'hc1:%' AS body_sealed, extra FROM regress_pe_cols ORDER BY id;
SELECT * FROM regress_pe_cols_decrypted ORDER BY id;
ALTER TABLE regress_pe_cols DROP COLUMN body CASCADE;
SELECT count(*) AS configs FROM han_crypto.protected WHERE table_name = 'regress_pe_cols'::regclass;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'regress_pe_cols'::regclass;
DROP TABLE regress_pe_cols;

-- A protected table dropped takes its configuration with it; the helper
-- that forgets it refuses tables that still exist.
CREATE TABLE regress_pe_gone (id int PRIMARY KEY, team text, body text);
SELECT han_crypto.protect('regress_pe_gone', ARRAY['body'], 'team');
SELECT han_crypto._forget_dropped_table('regress_pe_gone'::regclass::oid);
\echo :LAST_ERROR_SQLSTATE
DROP TABLE regress_pe_gone CASCADE;
SELECT count(*) AS configs_of_dropped_tables FROM han_crypto.protected p
WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = p.table_name);

DROP VIEW regress_pe_v;
DROP TABLE regress_pe, regress_pe_nokey;
DROP ROLE regress_pe_stranger;
