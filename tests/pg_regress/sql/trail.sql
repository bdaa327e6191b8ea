-- The audit trail as a psql user sees it: what is recorded (also when the
-- transaction rolls back), who may read it, that nobody may change it, and
-- that verification names a change a superuser made behind its back.
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
\set VERBOSITY terse
-- Everything earlier statements queued is committed first.
SELECT han_crypto.audit_checkpoint() IS NOT NULL AS settled \gset
SELECT coalesce(max(seq), 0) AS start FROM han_crypto_audit._events \gset

-- Each access is one event; a read inside a rolled-back transaction and a
-- failed decrypt (a tampered envelope: one bit flipped, never a byte
-- overwritten, which a random byte may already hold) are recorded all the same.
SELECT han_crypto.encrypt('audited text') AS env \gset
BEGIN;
SELECT han_crypto.decrypt(:'env');
ROLLBACK;
SELECT han_crypto.decrypt(set_byte(:'env'::bytea, 39, get_byte(:'env'::bytea, 39) # 1));
-- One statement that decrypts three values is one event with a count.
SELECT count(han_crypto.decrypt(e)) FROM (VALUES (:'env'::bytea), (:'env'), (:'env')) v(e);
-- A checkpoint returns once everything before it is committed and signed.
SELECT han_crypto.audit_checkpoint() ->> 'seq' IS NOT NULL AS signed;
SELECT seq - :start AS n, action, outcome, keyring, actor_via, row_count, incomplete
FROM han_crypto_audit.events WHERE seq > :start ORDER BY seq;
-- No value of any kind reaches the trail.
SELECT count(*) AS events_quoting_the_plaintext
FROM han_crypto_audit._events WHERE seq > :start AND _events::text LIKE '%audited text%';

-- Only han_crypto_auditor reads the trail; nobody writes it.
CREATE ROLE audit_nobody;
CREATE ROLE audit_reader IN ROLE han_crypto_auditor;
SET ROLE audit_nobody;
SELECT count(*) FROM han_crypto_audit.events;
SELECT ok FROM han_crypto.audit_verify();
RESET ROLE;
SET ROLE han_crypto_app;
SELECT count(*) FROM han_crypto_audit._events;
RESET ROLE;
SET ROLE audit_reader;
SELECT count(*) > 0 AS auditor_reads FROM han_crypto_audit.events;
SELECT ok, reason FROM han_crypto.audit_verify();
UPDATE han_crypto_audit._events SET actor = 'x';
DELETE FROM han_crypto_audit._checkpoints;
RESET ROLE;

-- The owner's ordinary use is refused too, in every form.
UPDATE han_crypto_audit._events SET actor = 'x' WHERE seq = :start + 1;
DELETE FROM han_crypto_audit._events WHERE seq = :start + 1;
TRUNCATE han_crypto_audit._events;
INSERT INTO han_crypto_audit._checkpoints SELECT * FROM han_crypto_audit._checkpoints;
SET session_replication_role = replica;
DELETE FROM han_crypto_audit._events WHERE seq = :start + 1;
RESET session_replication_role;
ALTER TABLE han_crypto_audit._events DISABLE TRIGGER han_crypto_append_only;
ALTER TABLE han_crypto_audit._events ADD COLUMN note text;
CREATE TABLE han_crypto_audit.decoy (a int);
DROP VIEW han_crypto_audit.events;
DROP INDEX han_crypto_audit._events_ts;
-- Rules, triggers and policies that would swallow or hide events, grants,
-- a rename of the schema, taking the trail out of the extension.
CREATE RULE swallow AS ON INSERT TO han_crypto_audit._events DO INSTEAD NOTHING;
CREATE OR REPLACE RULE "_RETURN" AS ON SELECT TO han_crypto_audit.events
    DO INSTEAD SELECT * FROM han_crypto_audit.events WHERE false;
CREATE FUNCTION public.skip() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER a_skip BEFORE INSERT ON han_crypto_audit._events FOR EACH ROW EXECUTE FUNCTION public.skip();
DROP FUNCTION public.skip();
CREATE POLICY hide ON han_crypto_audit._events USING (false);
GRANT SELECT ON han_crypto_audit._events TO PUBLIC;
GRANT INSERT ON han_crypto_audit._checkpoints TO han_crypto_auditor;
GRANT CREATE ON SCHEMA han_crypto_audit TO PUBLIC;
ALTER SCHEMA han_crypto_audit RENAME TO elsewhere;
ALTER EXTENSION han_crypto DROP TABLE han_crypto_audit._events;
ALTER EXTENSION han_crypto DROP FUNCTION han_crypto._audit_guard();
ALTER EXTENSION han_crypto DROP EVENT TRIGGER han_crypto_audit_drop;
SELECT han_crypto._audit_start_chain();
-- The guard is the trail's own trigger, nobody else's.
SELECT han_crypto._audit_guard();

-- A superuser can switch the guards off; the chain then names the change.
ALTER EVENT TRIGGER han_crypto_audit_ddl DISABLE;
ALTER TABLE han_crypto_audit._events DISABLE TRIGGER han_crypto_append_only;
UPDATE han_crypto_audit._events SET actor = 'mallory' WHERE seq = :start + 1;
SELECT first_bad_seq - :start AS first_bad, reason FROM han_crypto.audit_verify();
UPDATE han_crypto_audit._events SET actor = 'postgres' WHERE seq = :start + 1;
ALTER TABLE han_crypto_audit._events ENABLE ALWAYS TRIGGER han_crypto_append_only;
ALTER EVENT TRIGGER han_crypto_audit_ddl ENABLE ALWAYS;
SELECT ok FROM han_crypto.audit_verify();

DROP ROLE audit_nobody;
DROP ROLE audit_reader;
