-- Compress-then-encrypt: an opt-in column option of protect(). Values are
-- compressed with zstd before sealing when that makes them smaller; the flag
-- is in the authenticated header; reads are unchanged.
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
\set VERBOSITY terse
SELECT han_crypto.create_keyring('regress_zstd_team') IS NOT NULL AS created;
SELECT han_crypto.grant_access('regress_zstd_team', current_user, 'writer');

CREATE TABLE regress_notes (id int PRIMARY KEY, team text NOT NULL, body text, meta jsonb, blob bytea);
CREATE TABLE regress_notes_plain (LIKE regress_notes INCLUDING ALL);
SELECT han_crypto.protect('regress_notes', ARRAY['body', 'meta', 'blob'], 'team', redact => false,
                          options => '{"compress": true}');
SELECT han_crypto.protect('regress_notes_plain', ARRAY['body', 'meta', 'blob'], 'team', redact => false);

INSERT INTO regress_notes SELECT i, 'regress_zstd_team',
    repeat('The patient reports better sleep and fewer headaches this week. ', 60) || i,
    jsonb_build_object('tags', jsonb_agg(g)), convert_to(repeat('abc', 500), 'UTF8')
FROM generate_series(1, 3) i, generate_series(1, 50) g GROUP BY i;
INSERT INTO regress_notes_plain SELECT * FROM regress_notes_decrypted;
-- Short values gain nothing and are stored uncompressed.
INSERT INTO regress_notes VALUES (4, 'regress_zstd_team', 'short', '{}', '\x00');

-- Round trip through the view, for every type.
SELECT d.id, d.body = p.body AS body_equal, d.meta = p.meta AS meta_equal, d.blob = p.blob AS blob_equal
FROM regress_notes_decrypted d JOIN regress_notes_plain_decrypted p USING (id) ORDER BY id;
SELECT body, meta, blob FROM regress_notes_decrypted WHERE id = 4;

-- Much smaller than the uncompressed envelopes.
SELECT (SELECT sum(pg_column_size(body)) FROM regress_notes WHERE id <= 3) * 4
     < (SELECT sum(pg_column_size(body)) FROM regress_notes_plain) AS four_times_smaller;

-- The header says so (no key needed); short values are not compressed.
SELECT id, han_crypto.envelope_info(decode(substr(body, 5), 'base64'))->>'compression' AS compression,
       han_crypto.envelope_info(decode(substr(body, 5), 'base64'))->'plaintext_bytes' AS plaintext_bytes
FROM regress_notes ORDER BY id;

-- The option is checked.
SELECT han_crypto.protect('regress_notes', ARRAY['body', 'meta', 'blob'], 'team', options => '{"compress": "yes"}');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_notes', ARRAY['body', 'meta', 'blob'], 'team', options => '{"columns": {"body": {"compres": true}}}');
\echo :LAST_ERROR_SQLSTATE

DROP TABLE regress_notes, regress_notes_plain CASCADE;
