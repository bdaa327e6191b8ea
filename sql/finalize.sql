-- han_crypto: objects that refer to the generated functions, then grants.

-- jsonb goes through PostgreSQL's own jsonb text I/O, which is lossless
-- (numbers keep every digit). These wrappers are plain SQL so the planner
-- can inline them.
CREATE FUNCTION han_crypto.encrypt(data jsonb, keyring text DEFAULT 'default', context text DEFAULT '')
RETURNS bytea
LANGUAGE sql VOLATILE
AS $$ SELECT han_crypto._encrypt_json(data::text, keyring, context) $$;

COMMENT ON FUNCTION han_crypto.encrypt(jsonb, text, text) IS
    'Encrypts a jsonb document under a keyring, bound to a context; decrypt with decrypt_jsonb().';

CREATE FUNCTION han_crypto.decrypt_jsonb(envelope bytea, context text DEFAULT '')
RETURNS jsonb
LANGUAGE sql VOLATILE
AS $$ SELECT han_crypto._decrypt_json(envelope, context)::jsonb $$;

COMMENT ON FUNCTION han_crypto.decrypt_jsonb(bytea, text) IS
    'Authenticates and decrypts an envelope made by encrypt(jsonb).';

COMMENT ON FUNCTION han_crypto.encrypt(text, text, text) IS
    'Encrypts text under a keyring (default ''default''), bound to a context (default ''''): same context needed to decrypt.';
COMMENT ON FUNCTION han_crypto.encrypt(bytea, text, text) IS
    'Encrypts bytea under a keyring, bound to a context; decrypt with decrypt_bytea().';
COMMENT ON FUNCTION han_crypto.decrypt(bytea, text) IS
    'Authenticates and decrypts an envelope holding text. Fails with XX001 if it was altered or the context differs.';
COMMENT ON FUNCTION han_crypto.envelope_info(bytea) IS
    'Unauthenticated header facts of an envelope (algorithm, keyring, key version, sizes). No secret.';
COMMENT ON FUNCTION han_crypto.root_key_status() IS
    'Where the root key came from and whether it matches this database. Never the key.';

-- Grants. Everything is revoked from PUBLIC first, then granted one by one.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA han_crypto FROM PUBLIC;

-- The data functions. Keyring membership (who may use which keyring) is
-- checked inside them once keyrings have members; the default keyring is
-- usable by every role that may call them.
GRANT EXECUTE ON FUNCTION
    han_crypto.encrypt(text, text, text),
    han_crypto.encrypt(bytea, text, text),
    han_crypto.encrypt(jsonb, text, text),
    han_crypto._encrypt_json(text, text, text),
    han_crypto.decrypt(bytea, text),
    han_crypto.decrypt_bytea(bytea, text),
    han_crypto.decrypt_jsonb(bytea, text),
    han_crypto._decrypt_json(bytea, text),
    han_crypto.envelope_info(bytea),
    han_crypto.envelope_to_json(bytea),
    han_crypto.envelope_from_json(jsonb),
    han_crypto.version()
TO PUBLIC;

-- root_key_status() tells where the key lives: superusers only (no grant).
