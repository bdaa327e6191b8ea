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
\echo '== Done. Every error above has its own SQLSTATE (see README: Errors).'
