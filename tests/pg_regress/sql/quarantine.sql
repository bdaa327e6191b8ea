-- Reversible redaction: a column protected with {"redaction": "quarantine"}
-- keeps each removed value sealed under the quarantine keyring, and an admin
-- of that keyring who writes the row's keyring puts a false positive back.
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
\set VERBOSITY terse
SELECT han_crypto.create_keyring('regress_q_team') IS NOT NULL AS created;
SELECT han_crypto.create_keyring('regress_q_keep') IS NOT NULL AS created;
CREATE ROLE regress_q_stranger;

CREATE TABLE regress_q_notes (id int PRIMARY KEY, team text NOT NULL, body text, meta jsonb);
-- The keyring must exist, and be a team or user keyring.
SELECT han_crypto.protect('regress_q_notes', ARRAY['body', 'meta'], 'team',
                          options => '{"redaction": "quarantine", "quarantine_keyring": "regress_q_nowhere"}');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_q_notes', ARRAY['body', 'meta'], 'team',
                          options => '{"redaction": "quarantine", "quarantine_keyring": "default"}');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_q_notes', ARRAY['body', 'meta'], 'team',
                          options => '{"redaction": "forget", "quarantine_keyring": "regress_q_keep"}');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_q_notes', ARRAY['body', 'meta'], 'team',
                          options => '{"redaction": "quarantine", "quarantine_keyring": "regress_q_keep", "quarantine_days": 0}');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_q_notes', ARRAY['body', 'meta'], 'team',
                          options => '{"redaction": "quarantine", "quarantine_keyring": "regress_q_keep", "quarantine_days": 7}')
       AS view;

INSERT INTO regress_q_notes VALUES
    (1, 'regress_q_team', 'deploy with AKIAZ7Q4XPLM3VN2B6RT and PGPASSWORD=''Xk29!vbq7Lm''', '{"env": {"DB_PASSWORD": "Tr0ub4dor&3"}}'),
    (2, 'regress_q_team', 'nothing secret', '{}');
-- Readers see markers; the quarantine keeps types and positions.
SELECT id, body, meta FROM regress_q_notes_decrypted ORDER BY id;
SELECT row_key, column_name, ordinal, kind, expires_at - quarantined_at AS kept_for
FROM han_crypto.quarantined('regress_q_notes');

-- Nobody else lists or restores.
SET ROLE regress_q_stranger;
SELECT * FROM han_crypto.quarantined('regress_q_notes');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.restore_redactions('regress_q_notes', '1', 'body');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM han_crypto.quarantine;
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.purge_quarantine();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- Wrong arguments.
SELECT han_crypto.restore_redactions('regress_q_notes', ARRAY['1', '2'], 'body');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.restore_redactions('regress_q_notes', '1', 'team');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.restore_redactions('regress_q_notes', '99', 'body');
\echo :LAST_ERROR_SQLSTATE

-- The curator (here the keyrings' creator) puts the values back.
SELECT han_crypto.restore_redactions('regress_q_notes', '1', 'body') AS restored;
SELECT han_crypto.restore_redactions('regress_q_notes', ARRAY['1'], 'meta') AS restored;
SELECT id, body, meta FROM regress_q_notes_decrypted ORDER BY id;
SELECT han_crypto.restore_redactions('regress_q_notes', '1', 'body') AS again;
SELECT count(*) AS still_kept FROM han_crypto.quarantine;
SELECT han_crypto.purge_quarantine() AS purged;

DROP TABLE regress_q_notes CASCADE;
DROP ROLE regress_q_stranger;

-- Each restore and purge is an audit event, refused and failed ones too,
-- with counts (never the values put back).
SELECT han_crypto.audit_checkpoint() IS NOT NULL AS signed;
SELECT action, outcome, sqlstate, object, row_keys, detail
FROM han_crypto_audit.events
WHERE action IN ('restore_redactions', 'purge_quarantine')
ORDER BY seq;
