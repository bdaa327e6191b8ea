-- Counselor notes (HIPAA-like): readable only by the holder of the
-- passphrase; the server stores no usable key. Pass passphrases as bind
-- parameters in applications; literals here are for the example only.
\set ON_ERROR_STOP on

SELECT han_crypto.create_passphrase_keyring('counselor_ana', 'ana''s long passphrase, never logged') IS NOT NULL AS created;

CREATE TABLE counselor_notes (
    id         bigserial   PRIMARY KEY,
    counselor  text        NOT NULL DEFAULT 'counselor_ana',   -- keyring
    patient_id text        NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    note       text
);
SELECT han_crypto.protect('counselor_notes', ARRAY['note'], 'counselor');

INSERT INTO counselor_notes (patient_id, note) VALUES
  ('p-104', 'Reports better sleep; continue CBT-I.'),
  ('p-221', 'First session; intake complete.');

SELECT han_crypto.lock('counselor_ana');
SELECT id, patient_id, note FROM counselor_notes ORDER BY id;            -- sealed
\set ON_ERROR_STOP off
SELECT id, patient_id, note FROM counselor_notes_decrypted ORDER BY id;  -- locked: an error says so
\set ON_ERROR_STOP on
SELECT han_crypto.unlock('counselor_ana', 'ana''s long passphrase, never logged');
SELECT id, patient_id, note FROM counselor_notes_decrypted ORDER BY id;
