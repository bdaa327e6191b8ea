-- Attacks on the protection trigger's memory safety: whatever a table's
-- owner does, the trigger never treats a datum as a type it is not.
-- Each refusal has its SQLSTATE; the backend survives every one.
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
\set SHOW_CONTEXT never
SELECT han_crypto.create_keyring('regress_ta_team') IS NOT NULL AS created;
CREATE ROLE regress_ta_owner;
GRANT CREATE ON SCHEMA public TO regress_ta_owner;
SELECT han_crypto.grant_access('regress_ta_team', 'regress_ta_owner', 'writer');
SET ROLE regress_ta_owner;
SELECT pg_backend_pid() AS pid \gset

-- Recording a configuration: the caller cannot choose kinds, binding or
-- view name any more; whatever it passes, the table's truth is recorded.
CREATE TEMP TABLE regress_ta_tmp (id int PRIMARY KEY, team text, b bigint, body text);
SELECT han_crypto._register_protection('regress_ta_tmp'::regclass::oid, ARRAY['b'], 'team', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto._register_protection('regress_ta_tmp'::regclass::oid, ARRAY['body'], 'team', '{}') LIKE 'pg_temp%.regress_ta_tmp_decrypted' AS view_name_of_itself;
SELECT column_name, kind, binding LIKE 'pg_temp%.regress_ta_tmp' AS bound_to_itself
FROM han_crypto.protected WHERE table_name = 'regress_ta_tmp'::regclass;

-- The documented calls, then a type change behind the view's back: refused
-- by the event trigger, so the configuration can never say text for a bigint.
CREATE TABLE regress_ta (id int PRIMARY KEY, team text, b text, j jsonb);
SELECT han_crypto.protect('regress_ta', ARRAY['b', 'j'], 'team');
INSERT INTO regress_ta VALUES (1, 'regress_ta_team', 'one', '{"n": 1}');
DROP VIEW regress_ta_decrypted;
ALTER TABLE regress_ta ALTER COLUMN b TYPE bigint USING 0;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE regress_ta ALTER COLUMN j TYPE text;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE regress_ta DROP COLUMN b, ADD COLUMN b bigint;
\echo :LAST_ERROR_SQLSTATE
-- Unbounded varchar stores the same text form: allowed.
ALTER TABLE regress_ta ALTER COLUMN b TYPE varchar;
INSERT INTO regress_ta VALUES (2, 'regress_ta_team', 'two', NULL);
SELECT han_crypto.protect('regress_ta', ARRAY['b', 'j'], 'team');
SELECT id, b FROM regress_ta_decrypted ORDER BY id;

-- The trigger attached by its owner in ways protect() never does: refused
-- (39P01) before any row is touched.
CREATE TRIGGER regress_ta_stmt AFTER INSERT ON regress_ta
    FOR EACH STATEMENT EXECUTE FUNCTION han_crypto._protect_trigger();
INSERT INTO regress_ta VALUES (3, 'regress_ta_team', 'three', NULL);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER regress_ta_stmt ON regress_ta;
CREATE TRIGGER regress_ta_after AFTER UPDATE ON regress_ta
    FOR EACH ROW EXECUTE FUNCTION han_crypto._protect_trigger();
UPDATE regress_ta SET team = team WHERE id = 1;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER regress_ta_after ON regress_ta;
CREATE TRIGGER regress_ta_delete AFTER DELETE ON regress_ta
    FOR EACH ROW EXECUTE FUNCTION han_crypto._protect_trigger();
DELETE FROM regress_ta WHERE id = 2;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER regress_ta_delete ON regress_ta;
CREATE TRIGGER regress_ta_truncate BEFORE TRUNCATE ON regress_ta
    FOR EACH STATEMENT EXECUTE FUNCTION han_crypto._protect_trigger();
TRUNCATE regress_ta;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER regress_ta_truncate ON regress_ta;
-- On a table with no configuration.
CREATE TABLE regress_ta_plain (id int PRIMARY KEY, team text, b bigint);
CREATE TRIGGER zz_han_crypto_protect BEFORE INSERT ON regress_ta_plain
    FOR EACH ROW EXECUTE FUNCTION han_crypto._protect_trigger();
INSERT INTO regress_ta_plain VALUES (1, 'regress_ta_team', 5);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- Defence in depth: with the event trigger disabled (a superuser can), the
-- trigger itself checks each column's real type and refuses (42804).
ALTER EVENT TRIGGER han_crypto_column_changes DISABLE;
DROP VIEW regress_ta_decrypted;
ALTER TABLE regress_ta ALTER COLUMN b TYPE bigint USING 0;
ALTER EVENT TRIGGER han_crypto_column_changes ENABLE;
INSERT INTO regress_ta VALUES (4, 'regress_ta_team', 4, NULL);
\echo :LAST_ERROR_SQLSTATE
UPDATE regress_ta SET j = '{"n": 2}' WHERE id = 1;
\echo :LAST_ERROR_SQLSTATE
SELECT pg_backend_pid() = :pid AS same_backend_survived;

-- Inheritance children would store their rows unsealed: refused (0A000),
-- at CREATE TABLE … INHERITS, at ALTER TABLE … INHERIT and at protect().
CREATE TABLE regress_ta_child (extra text) INHERITS (regress_ta);
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE regress_ta_loose (id int PRIMARY KEY, team text, b bigint, j jsonb);
ALTER TABLE regress_ta_loose INHERIT regress_ta;
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE regress_ta_parent (id int PRIMARY KEY, team text, body text);
CREATE TABLE regress_ta_kid () INHERITS (regress_ta_parent);
SELECT han_crypto.protect('regress_ta_parent', ARRAY['body'], 'team');
\echo :LAST_ERROR_SQLSTATE
DROP TABLE regress_ta_kid, regress_ta_parent, regress_ta_loose;
DROP TABLE regress_ta, regress_ta_plain;
DROP TABLE regress_ta_tmp;
REVOKE CREATE ON SCHEMA public FROM regress_ta_owner;
DROP OWNED BY regress_ta_owner;
DROP ROLE regress_ta_owner;
