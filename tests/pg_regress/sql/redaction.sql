-- Secret detection and redaction from SQL: scan_secrets(), redact(),
-- redact_jsonb(), operators' rules and allowlist, and the protection
-- trigger redacting before it encrypts.
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
\set VERBOSITY terse

-- Positions are characters (multi-byte text included), so substr() works.
SELECT kind, start_pos, end_pos, rule,
       substr(t, start_pos, end_pos - start_pos) = 'AKIAZ7Q4XPLM3VN2B6RT' AS exact
FROM (SELECT 'clé: AKIAZ7Q4XPLM3VN2B6RT — ok' AS t) s, han_crypto.scan_secrets(t);

SELECT kind, start_pos, end_pos, confidence > 0.5 AS confident
FROM han_crypto.scan_secrets(E'PGPASSWORD=Tr0ub4dor psql\ncurl -H "Authorization: Bearer ghp_8fK2mQ9xL4vN7pR3tW6yB1cD5gH0jZ2aE4sU"')
ORDER BY start_pos;

-- explain_redaction(): which rule fired where and why, and whether the
-- confidence setting lets it redact; never the value. A superuser (or an
-- ALTER ROLE/DATABASE) raises the bar for stored text.
SELECT start_pos, end_pos, kind, rule, redacts, reason
FROM han_crypto.explain_redaction(E'STRIPE_KEY=sk_live_51OuEMLAlTWGaDypq4P5cuDHbuKeG4tAGPYHJpEXQ7zE8mKK3jkhT\nthe fastly token ''-o9o4Ivm49kQR3_mSjK9oIYs9JlCmJeg'' broke')
ORDER BY start_pos;
SET han_crypto.redaction_min_confidence = 0.9;
SELECT start_pos, rule, redacts FROM han_crypto.explain_redaction(E'STRIPE_KEY=sk_live_51OuEMLAlTWGaDypq4P5cuDHbuKeG4tAGPYHJpEXQ7zE8mKK3jkhT\nthe fastly token ''-o9o4Ivm49kQR3_mSjK9oIYs9JlCmJeg'' broke')
ORDER BY start_pos;
SELECT han_crypto.redact(E'STRIPE_KEY=sk_live_51OuEMLAlTWGaDypq4P5cuDHbuKeG4tAGPYHJpEXQ7zE8mKK3jkhT\nthe fastly token ''-o9o4Ivm49kQR3_mSjK9oIYs9JlCmJeg'' broke');
RESET han_crypto.redaction_min_confidence;
-- Only superusers set it (an ordinary role cannot turn redaction down).
CREATE ROLE hc_regress_low_conf;
SET ROLE hc_regress_low_conf;
SET han_crypto.redaction_min_confidence = 1;
RESET ROLE;
DROP ROLE hc_regress_low_conf;

SELECT han_crypto.redact(E'export DATABASE_URL=postgres://app:Xk9mQ2vLp7w@db:5432/app\nmysql -u root -pMyS3cret!');
SELECT han_crypto.redact(E'key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEAn6/O8li+SX4m98LLYt/PKSzEmQ++ZBD7Loh9P13f4yQ92EF3\nyxR5MsXFu9PRsrYQA7/4UTPHiC4y2sAVCBg4C2yyBpUEtMQjyCESi6Y=\n-----END RSA PRIVATE KEY-----\nend');
-- Placeholders, references and ordinary prose stay.
SELECT han_crypto.redact('password: ${DB_PASSWORD}; api_key = os.environ["API_KEY"]; the token expires in 3600s');
-- Idempotent; overlapping findings give one marker.
SELECT han_crypto.redact(han_crypto.redact('token=ghp_8fK2mQ9xL4vN7pR3tW6yB1cD5gH0jZ2aE4sU'))
     = han_crypto.redact('token=ghp_8fK2mQ9xL4vN7pR3tW6yB1cD5gH0jZ2aE4sU') AS idempotent;
SELECT han_crypto.redact(NULL) IS NULL AS null_stays_null, han_crypto.redact('') = '' AS empty_stays_empty;

-- JSON: values under secret-named keys go whole; strings are scanned;
-- keys, structure and numbers stay exactly.
SELECT han_crypto.redact_jsonb('{"user": "ana", "password": "hunter2!", "n": 12345678901234567890.5,
  "log": ["ok", "export GITHUB_TOKEN=ghp_8fK2mQ9xL4vN7pR3tW6yB1cD5gH0jZ2aE4sU"], "token_type": "bearer"}');

-- Operators' rules: an invalid regex is refused when added, with a clear error.
INSERT INTO han_crypto.redaction_rules (name, pattern, kind) VALUES ('broken', 'ACME-(unclosed', 'acme_key');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO han_crypto.redaction_rules (name, pattern, kind) VALUES ('huge', '(a{1000}){1000}', 'acme_key');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO han_crypto.redaction_rules (name, pattern, kind) VALUES ('bad-type', 'ACME', 'Not A Type');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.redact('order ACME-0123456789ABCDEF shipped');
INSERT INTO han_crypto.redaction_rules (name, pattern, kind, keywords)
VALUES ('acme', 'ACME-(?P<s>[0-9A-F]{16})', 'acme_key', '{acme-}');
-- Takes effect from the next statement.
SELECT han_crypto.redact('order ACME-0123456789ABCDEF shipped');
SELECT kind, rule FROM han_crypto.scan_secrets('ACME-0123456789ABCDEF');
UPDATE han_crypto.redaction_rules SET enabled = false WHERE name = 'acme';
SELECT han_crypto.redact('order ACME-0123456789ABCDEF shipped');

-- The allowlist: a published test key is left alone.
INSERT INTO han_crypto.redaction_allowlist (pattern, note) VALUES ('^AKIAZ7Q4XPLM3VN2B6RT$', 'fixture key');
SELECT han_crypto.redact('AKIAZ7Q4XPLM3VN2B6RT and AKIAQ3MZ7VXPL2N4B6RT');
INSERT INTO han_crypto.redaction_allowlist (pattern) VALUES ('[');
\echo :LAST_ERROR_SQLSTATE
DELETE FROM han_crypto.redaction_allowlist;
DELETE FROM han_crypto.redaction_rules;

-- The protection trigger redacts, then encrypts: the stored envelope holds
-- the markers, never the key; what it redacted is counted by type.
CREATE TABLE regress_prompts (id int PRIMARY KEY, team text NOT NULL, prompt text, meta jsonb, raw text);
SELECT han_crypto.create_keyring('regress_redact_team') IS NOT NULL AS created;
SELECT han_crypto.grant_access('regress_redact_team', current_user, 'writer');
SELECT han_crypto.protect('regress_prompts', ARRAY['prompt', 'meta', 'raw'], 'team',
                          options => '{"columns": {"raw": {"redact": false}}}');
SELECT han_crypto.reset_redaction_stats();
INSERT INTO regress_prompts VALUES (1, 'regress_redact_team',
  E'deploy with AKIAZ7Q4XPLM3VN2B6RT and\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDAC4AWkdwKYSd8\nKs14IReLcYgADhoXk56ZzXI=\n-----END PRIVATE KEY-----\nthanks',
  '{"db": {"password": "hunter2!"}, "n": 1}',
  'raw keeps AKIAZ7Q4XPLM3VN2B6RT');
SELECT prompt, meta, raw FROM regress_prompts_decrypted;
SELECT position('AKIAZ7Q4XPLM3VN2B6RT' IN prompt) = 0 AS not_in_ciphertext FROM regress_prompts;
SELECT kind, redactions FROM han_crypto.redaction_stats() ORDER BY kind;

-- Redaction options are checked when protect() records them.
SELECT han_crypto.protect('regress_prompts', ARRAY['prompt', 'meta', 'raw'], 'team', options => '{"redact_groups": ["vendor", "astrology"]}');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_prompts', ARRAY['prompt', 'meta', 'raw'], 'team', options => '{"columns": {"nope": {"redact": false}}}');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.protect('regress_prompts', ARRAY['prompt', 'meta', 'raw'], 'team', options => '{"colour": "blue"}');
\echo :LAST_ERROR_SQLSTATE

-- Vendor rules only for the prompt: a password assignment is kept.
SELECT han_crypto.protect('regress_prompts', ARRAY['prompt', 'meta', 'raw'], 'team',
                          options => '{"redact_groups": ["vendor"], "columns": {"raw": {"redact": false}}}');
INSERT INTO regress_prompts VALUES (2, 'regress_redact_team', 'password=hunter2isgreat ghp_8fK2mQ9xL4vN7pR3tW6yB1cD5gH0jZ2aE4sU', NULL, NULL);
SELECT prompt FROM regress_prompts_decrypted WHERE id = 2;

SELECT count(*) > 20 AS many_types FROM han_crypto.redaction_types();
DROP TABLE regress_prompts CASCADE;
