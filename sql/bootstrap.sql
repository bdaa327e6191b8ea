-- han_crypto: schema objects created before any function.
--
-- Security first: nothing in schema han_crypto is usable by PUBLIC unless a
-- grant in finalize.sql says so. The catalog tables below are read and
-- written only by han_crypto's own functions, which switch to the extension
-- owner for that (src/catalog.rs); no role needs privileges on them.

-- Text is sealed, scanned for secrets and bound to its row as UTF-8: in a
-- database of another encoding (SQL_ASCII accepts any bytes) none of that
-- holds, so han_crypto refuses to install there.
DO $encoding$
BEGIN
    IF pg_catalog.current_setting('server_encoding') OPERATOR(pg_catalog.<>) 'UTF8' THEN
        RAISE EXCEPTION 'han_crypto needs a UTF8 database; this one is %', pg_catalog.current_setting('server_encoding')
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'CREATE DATABASE … ENCODING ''UTF8'' TEMPLATE template0, then CREATE EXTENSION han_crypto there.';
    END IF;
END
$encoding$;

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

-- Roles. Cluster-wide, so created only if missing (another database may
-- have han_crypto already); DROP EXTENSION leaves them, as pgsodium does.
--   han_crypto_admin    creates keyrings and manages any keyring's members
--   han_crypto_app      an application that connects with one role for many
--                       users: may name the acting user (set_actor) or prove
--                       it with a JWT (authenticate), and create keyrings
--   han_crypto_auditor  reads keyring metadata and the audit trail (han_crypto_audit)
--   han_crypto_backup   reads the extension's configuration tables, so that a
--                       role that is no superuser can pg_dump the database
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['han_crypto_admin', 'han_crypto_app', 'han_crypto_auditor', 'han_crypto_backup'] LOOP
        BEGIN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        EXCEPTION
            -- Exists already, or another database's CREATE EXTENSION is
            -- creating it right now.
            WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END LOOP;
END
$roles$;

-- Keyrings. Every envelope names its keyring by id and its key by version.
--   root        the key of each version is HKDF-SHA256(root key, id, version);
--               'default' is the one such keyring, usable by every role
--   team, user  each version has a random secret wrapped under the root key;
--               its key is Argon2id(secret, salt); members only
--   passphrase  each version has a random data key wrapped under
--               Argon2id(passphrase) (or PBKDF2); the server cannot use it
--               until a member unlocks it with the passphrase
-- The 'default' keyring is created on first use, not here, so that pg_dump
-- carries its id and a restore into a fresh database never collides.
CREATE TABLE han_crypto.keyrings (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name           text        NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 200),
    kind           text        NOT NULL CHECK (kind IN ('root', 'team', 'user', 'passphrase')),
    active_version integer     NOT NULL DEFAULT 1 CHECK (active_version >= 1),
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by     text        NOT NULL DEFAULT current_user
);

-- One row per key version of team, user and passphrase keyrings. No column
-- holds a usable key: wrapped_key is AES-256-GCM under the root key (team,
-- user) or under the passphrase-derived key (passphrase), bound to keyring,
-- version and purpose. A team/user version's data key is Argon2id of its
-- secret; it is derived once, when the version is created, and kept in
-- wrapped_data_key under the root key too (whoever can unwrap the secret
-- can derive it, so this weakens nothing), so backends unwrap instead of
-- paying the KDF. kdf holds the parameters and kdf_ms their measured cost on
-- this server, so they can be raised later.
CREATE TABLE han_crypto.keyring_versions (
    keyring_id  uuid        NOT NULL REFERENCES han_crypto.keyrings (id) ON DELETE CASCADE,
    version     integer     NOT NULL CHECK (version >= 1),
    wrapped_key bytea       NOT NULL CHECK (octet_length(wrapped_key) = 60),
    wrapped_data_key bytea  CHECK (octet_length(wrapped_data_key) = 60),
    salt        bytea       NOT NULL CHECK (octet_length(salt) >= 16),
    kdf         jsonb       NOT NULL,
    kdf_ms      real,
    state       text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'decrypt_only', 'retired')),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (keyring_id, version)
);

-- Who may use which keyring. A principal is whatever the actor is: a
-- database role name, or an application user id (set_actor/authenticate).
--   reader  decrypt            writer  encrypt and decrypt
--   admin   writer + manage members and key pairs
CREATE TABLE han_crypto.members (
    keyring_id uuid        NOT NULL REFERENCES han_crypto.keyrings (id) ON DELETE CASCADE,
    principal  text        NOT NULL CHECK (principal <> ''),
    role       text        NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by text        NOT NULL,
    PRIMARY KEY (keyring_id, principal)
);

-- Sealed-box key pairs. The private key is stored as a han_crypto envelope
-- sealed under its keyring's key, so only the keyring's readers can open.
CREATE TABLE han_crypto.keypairs (
    key_id          bytea       PRIMARY KEY CHECK (octet_length(key_id) = 16),
    keyring_id      uuid        NOT NULL REFERENCES han_crypto.keyrings (id) ON DELETE CASCADE,
    public_key      bytea       NOT NULL CHECK (octet_length(public_key) = 32),
    sealed_private  bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Failed unlock attempts (who, which keyring, when; never the passphrase).
CREATE TABLE han_crypto.unlock_failures (
    keyring_id uuid        NOT NULL REFERENCES han_crypto.keyrings (id) ON DELETE CASCADE,
    principal  text        NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- These tables hold state that data depends on: pg_dump must include their
-- rows, which extension member tables otherwise lose.
SELECT pg_catalog.pg_extension_config_dump('han_crypto._root_key_check', '');
SELECT pg_catalog.pg_extension_config_dump('han_crypto.keyrings', '');
SELECT pg_catalog.pg_extension_config_dump('han_crypto.keyring_versions', '');
SELECT pg_catalog.pg_extension_config_dump('han_crypto.members', '');
SELECT pg_catalog.pg_extension_config_dump('han_crypto.keypairs', '');

REVOKE ALL ON han_crypto._root_key_check, han_crypto.keyrings, han_crypto.keyring_versions,
    han_crypto.members, han_crypto.keypairs, han_crypto.unlock_failures FROM PUBLIC;

-- What administrators and auditors may see: metadata, never key material.
-- Plain views run with their owner's rights over the tables above and
-- expose only these columns.
CREATE VIEW han_crypto.keyring_info AS
SELECT k.name, k.kind, k.id, k.active_version, k.created_at, k.created_by,
       v.kdf, v.kdf_ms, v.state AS active_state,
       (SELECT count(*) FROM han_crypto.members m WHERE m.keyring_id = k.id) AS members,
       (SELECT count(*) FROM han_crypto.unlock_failures f WHERE f.keyring_id = k.id) AS failed_unlocks
FROM han_crypto.keyrings k
LEFT JOIN han_crypto.keyring_versions v ON v.keyring_id = k.id AND v.version = k.active_version;

CREATE VIEW han_crypto.keyring_members AS
SELECT k.name AS keyring, m.principal, m.role, m.granted_at, m.granted_by
FROM han_crypto.members m JOIN han_crypto.keyrings k ON k.id = m.keyring_id;

REVOKE ALL ON han_crypto.keyring_info, han_crypto.keyring_members FROM PUBLIC;
GRANT SELECT ON han_crypto.keyring_info, han_crypto.keyring_members TO han_crypto_admin, han_crypto_auditor;
