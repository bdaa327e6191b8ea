-- Every user-facing failure: its SQLSTATE and message. (VERBOSITY terse
-- keeps the output free of source locations.)
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
\set VERBOSITY terse
CREATE TEMP TABLE sample AS SELECT han_crypto.encrypt('the plaintext', 'default', 'row 1') AS env;

-- Wrong context: authentication fails (XX001). Same for a flipped tag bit
-- (flipped, not overwritten: a random tag's last byte may be 0xff already).
SELECT han_crypto.decrypt(env, 'row 2') FROM sample;
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.decrypt(set_byte(env, octet_length(env) - 1, get_byte(env, octet_length(env) - 1) # 1), 'row 1') FROM sample;
\echo :LAST_ERROR_SQLSTATE

-- Truncated, extended, not an envelope: 22P03.
SELECT han_crypto.decrypt(substring(env FROM 1 FOR 40), 'row 1') FROM sample;
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.decrypt(env || '\x00'::bytea, 'row 1') FROM sample;
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.decrypt('plain text'::bytea);
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.decrypt(''::bytea);
\echo :LAST_ERROR_SQLSTATE

-- A changed format version or algorithm byte: 22P03.
SELECT han_crypto.decrypt(set_byte(env, 4, 2), 'row 1') FROM sample;
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.decrypt(set_byte(env, 5, 9), 'row 1') FROM sample;
\echo :LAST_ERROR_SQLSTATE

-- Unknown keyring (by name, or an id from elsewhere) and key version: 42704.
SELECT han_crypto.encrypt('x', 'no_such_keyring');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.decrypt(overlay(env PLACING '\x00000000000000000000000000000000'::bytea FROM 9), 'row 1') FROM sample;
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.decrypt(set_byte(env, 27, 9), 'row 1') FROM sample;
\echo :LAST_ERROR_SQLSTATE

-- Asking for the wrong type: 42804, with a hint naming the right function.
\set VERBOSITY default
SELECT han_crypto.decrypt_jsonb(env, 'row 1') FROM sample;
\set VERBOSITY terse

-- NULL keyring or context: 22004 (a NULL there is a bug, not "no value").
SELECT han_crypto.encrypt('x', NULL);
\echo :LAST_ERROR_SQLSTATE

-- Malformed JSON form: 22P02, naming the field, never its value.
SELECT han_crypto.envelope_from_json(han_crypto.envelope_to_json(env) || '{"tag": "AAAA"}') FROM sample;
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.envelope_from_json('{"v": 1}');
\echo :LAST_ERROR_SQLSTATE

-- A name of any length is echoed quoted and escaped, cut after 200
-- characters: a megabyte "keyring name" cannot flood the log or the client.
SELECT han_crypto.encrypt('x', repeat('k', 100000));
SELECT han_crypto.encrypt('x', 'two' || chr(10) || '"lines"');
