-- han_crypto demo: what the extension does, end to end, on a cluster with
-- no configuration at all. Run by `make demo`; safe to run again.
\set ON_ERROR_STOP on
\pset footer off
\echo
\echo '== 1. Install. With no HAN_CRYPTO_ROOT_KEY in the server environment, the'
\echo '==    first use generates a root key file in the data directory (NOTICE).'
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
SELECT han_crypto.version() AS han_crypto_version;
SELECT han_crypto.encrypt('first use') IS NOT NULL AS first_encrypt;
SELECT han_crypto.root_key_status() AS root_key;

\echo
\echo '== 2. A counselor note, encrypted and bound to where it lives (its context).'
CREATE TABLE notes (id int PRIMARY KEY, patient text, body bytea);
-- Ciphertext does not compress: skip PostgreSQL's futile attempt.
ALTER TABLE notes ALTER COLUMN body SET STORAGE EXTERNAL;
INSERT INTO notes VALUES
  (1, 'p-001', han_crypto.encrypt('Patient reports better sleep since last session.', 'default', 'notes/1')),
  (2, 'p-002', han_crypto.encrypt('Discussed coping strategies; follow up in 2 weeks.', 'default', 'notes/2'));
\echo '-- at rest, the table holds only envelopes:'
SELECT id, patient, encode(substring(body FROM 1 FOR 24), 'hex') || '…' AS body_prefix, octet_length(body) AS bytes FROM notes;
\echo '-- decrypted with the right context:'
SELECT id, han_crypto.decrypt(body, 'notes/' || id) AS note FROM notes ORDER BY id;

\echo
\echo '== 3. What an envelope says about itself (no key, no plaintext), and its JSON form.'
SELECT jsonb_pretty(han_crypto.envelope_info(body)) AS envelope_info FROM notes WHERE id = 1;
SELECT jsonb_pretty(han_crypto.envelope_to_json(body)) AS envelope_json FROM notes WHERE id = 1;

\echo
\echo '== 4. jsonb and bytea keep their type.'
SELECT han_crypto.decrypt_jsonb(han_crypto.encrypt('{"tool": "bash", "exit": 0, "files": ["a.rs"]}'::jsonb)) AS metadata;
SELECT han_crypto.decrypt_bytea(han_crypto.encrypt('\x00c0ffee'::bytea)) AS raw;

\echo
\echo '== 5. Tampering is detected, never decrypted to garbage.'
\set ON_ERROR_STOP off
\echo '-- a note copied onto another row (swap attack): its context no longer matches'
UPDATE notes SET body = (SELECT body FROM notes WHERE id = 1) WHERE id = 2;
SELECT han_crypto.decrypt(body, 'notes/' || id) FROM notes WHERE id = 2;
\echo '-- one flipped bit in the ciphertext'
SELECT han_crypto.decrypt(set_byte(body, 60, get_byte(body, 60) # 1), 'notes/1') FROM notes WHERE id = 1;
\echo '-- a truncated value'
SELECT han_crypto.decrypt(substring(body FROM 1 FOR 50), 'notes/1') FROM notes WHERE id = 1;
\set ON_ERROR_STOP on

\echo
\echo '== 6. Team keyrings: an application connects with one role and names its user per transaction.'
SELECT han_crypto.create_keyring('team_acme') IS NOT NULL AS acme, han_crypto.create_keyring('team_globex') IS NOT NULL AS globex;
SELECT han_crypto.grant_access('team_acme', 'user-17', 'writer');
CREATE ROLE demo_platform LOGIN;
GRANT han_crypto_app TO demo_platform;
CREATE TABLE prompts (id int PRIMARY KEY, team text, prompt bytea);
GRANT SELECT, INSERT ON prompts TO demo_platform;
SELECT name, kind, kdf, round(kdf_ms::numeric, 1) AS kdf_ms, members FROM han_crypto.keyring_info ORDER BY name;
SET ROLE demo_platform;
BEGIN;
SELECT han_crypto.set_actor('user-17');
INSERT INTO prompts VALUES (1, 'team_acme', han_crypto.encrypt('refactor the billing module', 'team_acme', 'prompts/1/prompt'));
SELECT han_crypto.current_actor(), han_crypto.decrypt(prompt, 'prompts/1/prompt') AS prompt FROM prompts;
COMMIT;
\echo '-- next transaction on the same connection: the actor is gone; another user is not a member'
SELECT han_crypto.current_actor();
\set ON_ERROR_STOP off
BEGIN;
SELECT han_crypto.set_actor('user-99');
SELECT han_crypto.decrypt(prompt, 'prompts/1/prompt') FROM prompts;
ROLLBACK;
\set ON_ERROR_STOP on
RESET ROLE;

\echo
\echo '== 7. A passphrase keyring: the server holds no usable key until it is unlocked.'
\echo '--    (in applications, pass the passphrase as a bind parameter, never a literal)'
SELECT han_crypto.create_passphrase_keyring('counselor_kim', 'correct horse battery staple') IS NOT NULL AS created;
CREATE TABLE kim_notes AS SELECT 1 AS id, han_crypto.encrypt('session 4: progress on sleep', 'counselor_kim', 'kim_notes/1') AS body;
SELECT han_crypto.lock('counselor_kim');
\set ON_ERROR_STOP off
SELECT han_crypto.decrypt(body, 'kim_notes/1') FROM kim_notes;
\set ON_ERROR_STOP on
SELECT han_crypto.unlock('counselor_kim', 'wrong guess') AS wrong_passphrase,
       han_crypto.unlock('counselor_kim', 'correct horse battery staple') AS right_passphrase;
SELECT han_crypto.decrypt(body, 'kim_notes/1') AS note FROM kim_notes;
SELECT name, failed_unlocks FROM han_crypto.keyring_info WHERE kind = 'passphrase';

\echo
\echo '== 8. A sealed box: anyone can write to team_acme with its public key; only members read.'
SELECT han_crypto.create_keypair('team_acme') AS acme_public_key \gset
SELECT han_crypto.open_sealed('team_acme', han_crypto.seal(:'acme_public_key', 'an anonymous tip')) AS opened;
SELECT han_crypto.key_cache_stats();

\echo
\echo '== 9. Transparent protection: the session store (examples/sessions.sql).'
\ir sessions.sql
\echo '-- what is stored:'
SELECT id, owner, left(prompt, 40) || '…' AS prompt_at_rest FROM sessions ORDER BY id;

\echo
\echo '== 10. Transparent protection: counselor notes on a passphrase keyring (examples/counselor_notes.sql).'
\ir counselor_notes.sql
SELECT * FROM han_crypto.protected ORDER BY 1, 2;

\echo
\echo '== 11. Secret redaction (docs/REDACTION.md): what was found, where, and the redacted text.'
SELECT kind, start_pos, end_pos, rule
FROM han_crypto.scan_secrets(E'export DATABASE_URL=postgres://app:Xk9mQ2vLp7w@db/app\ncurl -H "Authorization: Bearer ghp_8fK2mQ9xL4vN7pR3tW6yB1cD5gH0jZ2aE4sU"');
SELECT han_crypto.redact(E'mysql -u root -pMyS3cret! -h 127.0.0.1 # but ${DB_PASSWORD} and your-api-key-here stay') AS redacted;
SELECT han_crypto.redact_jsonb('{"user": "ana", "password": "hunter2!", "retries": 3}') AS redacted_jsonb;
SELECT * FROM han_crypto.redaction_stats();

\echo
\echo '== Done. Every error above has its own SQLSTATE (see README: Errors).'
