-- han_crypto: reversible redaction (quarantine).
--
--   SELECT han_crypto.protect('sessions', ARRAY['prompt'], 'team',
--                             options => '{"redaction": "quarantine", "quarantine_days": 14}');
--
-- Redaction still runs before sealing and readers still see [REDACTED:type];
-- each value it removes is also sealed under the quarantine keyring (a team
-- or user keyring, 'quarantine' unless the option quarantine_keyring names
-- another) and kept here until its retention runs out. An admin of that
-- keyring who writes the row's keyring puts a false positive back:
--
--   SELECT han_crypto.restore_redactions('sessions', ARRAY['42'], 'prompt');
--
-- The trade-off: for the retention period the secret is stored (encrypted,
-- readable by the quarantine keyring's admins) instead of gone.

-- One row per removed value. value_tag is the authentication tag of the
-- stored value it was removed from (so entries of a value that was never
-- stored, as with INSERT … ON CONFLICT DO NOTHING, or was replaced since,
-- match nothing; a row moved to another keyring is sealed again and its
-- entries take the new tag); ordinal counts every marker of that value,
-- 0-based. sealed is an envelope under the quarantine keyring bound to
-- (binding, column, row key, ordinal, kind): an entry opens only for the
-- marker it was removed at.
CREATE TABLE han_crypto.quarantine (
    binding        text        NOT NULL,
    column_name    text        NOT NULL,
    row_key        text[]      NOT NULL,
    value_tag      bytea       NOT NULL CHECK (octet_length(value_tag) = 16),
    ordinal        integer     NOT NULL CHECK (ordinal >= 0),
    kind           text        NOT NULL,
    sealed         bytea       NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (binding, column_name, row_key, value_tag, ordinal)
);
CREATE INDEX quarantine_expiry ON han_crypto.quarantine (expires_at);

-- Sealed values of the tables' rows: pg_dump carries them with the rows.
SELECT pg_catalog.pg_extension_config_dump('han_crypto.quarantine', '');
REVOKE ALL ON han_crypto.quarantine FROM PUBLIC;

CREATE FUNCTION han_crypto.restore_redactions(tbl regclass, row_key text[], column_name text)
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT han_crypto._restore_redactions(tbl::pg_catalog.oid, row_key, column_name) $$;

-- A single-column primary key, given as itself.
CREATE FUNCTION han_crypto.restore_redactions(tbl regclass, row_key text, column_name text)
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT han_crypto._restore_redactions(tbl::pg_catalog.oid, ARRAY[row_key], column_name) $$;

CREATE FUNCTION han_crypto.quarantined(tbl regclass)
RETURNS TABLE (row_key text[], column_name text, ordinal integer, kind text,
               quarantined_at timestamptz, expires_at timestamptz)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM han_crypto._quarantined(tbl::pg_catalog.oid) $$;

COMMENT ON TABLE han_crypto.quarantine IS
    'Values redaction removed from columns protected with {"redaction": "quarantine"}, sealed under the quarantine keyring until they expire.';
COMMENT ON FUNCTION han_crypto.restore_redactions(regclass, text[], text) IS
    'Puts back the values quarantine kept for one row''s column (a false positive); needs admin of the quarantine keyring and writer of the row''s keyring. Returns how many.';
COMMENT ON FUNCTION han_crypto.restore_redactions(regclass, text, text) IS
    'restore_redactions() for a table with a single-column primary key.';
COMMENT ON FUNCTION han_crypto.quarantined(regclass) IS
    'What quarantine keeps for a table: row key, column, marker ordinal, type and expiry (never the values); for admins of its quarantine keyring.';
COMMENT ON FUNCTION han_crypto.purge_quarantine() IS
    'Deletes quarantined values whose retention has run out; returns how many. Schedule it (pg_cron) daily.';
