-- Envelope basics: what a psql user sees. Random parts (nonces, keyring
-- ids) are never printed; only facts that are stable across runs.
CREATE EXTENSION han_crypto CASCADE;
\set VERBOSITY terse

-- Round trips of every type; NULL in, NULL out; empty values survive.
SELECT han_crypto.decrypt(han_crypto.encrypt('hello, world'));
SELECT han_crypto.decrypt(han_crypto.encrypt('grüße 世界'));
SELECT han_crypto.decrypt(han_crypto.encrypt('')) = '' AS empty_text_survives;
SELECT han_crypto.decrypt_bytea(han_crypto.encrypt('\x00deadbeef'::bytea));
SELECT han_crypto.decrypt_jsonb(han_crypto.encrypt('{"team": "core", "n": 1.500, "tags": []}'::jsonb));
SELECT han_crypto.encrypt(NULL::text) IS NULL AS null_in_null_out,
       han_crypto.decrypt(NULL) IS NULL AS null_decrypts_to_null;

-- The context binds a value to where it lives.
SELECT han_crypto.decrypt(han_crypto.encrypt('ssn 123', 'default', 'patients/7/ssn'), 'patients/7/ssn');

-- Size overhead is fixed: 56-byte header + 16-byte tag.
SELECT octet_length(han_crypto.encrypt('')) AS empty, octet_length(han_crypto.encrypt('abc')) AS three_bytes;

-- What envelope_info tells (header facts only; no key, no plaintext).
SELECT info - 'keyring_id' AS info
FROM (SELECT han_crypto.envelope_info(han_crypto.encrypt('x')) AS info) s;

-- The JSON form converts losslessly both ways.
WITH e AS (SELECT han_crypto.encrypt('interchange', 'default', 'ctx') AS b)
SELECT han_crypto.envelope_from_json(han_crypto.envelope_to_json(b)) = b AS lossless,
       han_crypto.decrypt(han_crypto.envelope_from_json(han_crypto.envelope_to_json(b)), 'ctx') AS plaintext,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(han_crypto.envelope_to_json(b)) k) AS fields,
       han_crypto.envelope_to_json(b) -> 'meta' AS meta
FROM e;

SELECT han_crypto.version();
