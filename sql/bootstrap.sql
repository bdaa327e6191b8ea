-- han_crypto: schema objects created before any function.
--
-- Security first: nothing in schema han_crypto is usable by PUBLIC unless a
-- grant in finalize.sql says so. The catalog tables below are read and
-- written only by han_crypto's own functions, which switch to the extension
-- owner for that (src/catalog.rs); no role needs privileges on them.

REVOKE ALL ON SCHEMA han_crypto FROM PUBLIC;
-- USAGE lets roles call the functions granted to them; it grants no access
-- to any table.
GRANT USAGE ON SCHEMA han_crypto TO PUBLIC;

-- The key-check value of the root key this database's data is encrypted
-- under: HMAC-SHA256(root key, fixed label). It reveals nothing about the
-- key, and turns "wrong root key" into one clear error instead of an
-- authentication failure on every row. Recorded on first use.
CREATE TABLE han_crypto._root_key_check (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    check_value bytea       NOT NULL CHECK (octet_length(check_value) = 32),
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Keyrings. Every envelope names its keyring by id and its key by version.
-- kind 'root': the key of each version is HKDF-SHA256(root key, id, version).
-- The 'default' keyring is created on first use, not here, so that pg_dump
-- carries its id and a restore into a fresh database never collides.
CREATE TABLE han_crypto.keyrings (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name           text        NOT NULL UNIQUE CHECK (name <> ''),
    kind           text        NOT NULL CHECK (kind IN ('root')),
    active_version integer     NOT NULL DEFAULT 1 CHECK (active_version >= 1),
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Both tables hold state that data depends on: pg_dump must include their
-- rows, which extension member tables otherwise lose.
SELECT pg_catalog.pg_extension_config_dump('han_crypto._root_key_check', '');
SELECT pg_catalog.pg_extension_config_dump('han_crypto.keyrings', '');

REVOKE ALL ON han_crypto._root_key_check, han_crypto.keyrings FROM PUBLIC;
