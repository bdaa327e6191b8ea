-- han_crypto: secret redaction. Operators' rules and allowlist.
--
-- The built-in rules (vendor formats, private keys, JWTs, credentials in
-- URLs, secrets by the name they are assigned to) need no configuration;
-- han_crypto.redaction_types() lists their types. These two tables add an
-- organisation's own formats and exceptions. Changes take effect from the
-- next statement in every session.

-- Rules: a regex in Rust syntax (linear time), the type its findings get in
-- the marker [REDACTED:<kind>], optional keywords (the rule only runs on
-- text containing one, case-insensitive) and an entropy floor. A group
-- named s marks the secret inside a match, e.g. 'ACME-(?P<s>[0-9A-F]{32})'.
CREATE TABLE han_crypto.redaction_rules (
    name        text        PRIMARY KEY CHECK (name ~ '^[a-z0-9_.-]{1,63}$'),
    pattern     text        NOT NULL,
    kind        text        NOT NULL,
    keywords    text[]      NOT NULL DEFAULT '{}',
    min_entropy real        NOT NULL DEFAULT 0,
    enabled     boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  text        NOT NULL DEFAULT CURRENT_USER,
    CONSTRAINT valid_rule CHECK (han_crypto._check_redaction_rule(name, pattern, kind, keywords, min_entropy))
);

-- Allowlist: a candidate secret that matches one of these patterns is left
-- alone (anchor with ^…$ for exact values), e.g. a published test key.
CREATE TABLE han_crypto.redaction_allowlist (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pattern    text        NOT NULL CONSTRAINT valid_pattern CHECK (han_crypto._check_redaction_allow(pattern)),
    note       text,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by text        NOT NULL DEFAULT CURRENT_USER
);

SELECT pg_catalog.pg_extension_config_dump('han_crypto.redaction_rules', '');
SELECT pg_catalog.pg_extension_config_dump('han_crypto.redaction_allowlist', '');

-- Any change to either table invalidates every backend's compiled rules.
-- SECURITY DEFINER: whoever edits the rules need not be able to call the
-- invalidation function directly.
CREATE FUNCTION han_crypto._redaction_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM han_crypto._redaction_rules_changed();
    RETURN NULL;
END
$$;

CREATE TRIGGER redaction_rules_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON han_crypto.redaction_rules
    FOR EACH STATEMENT EXECUTE FUNCTION han_crypto._redaction_changed();
CREATE TRIGGER redaction_allowlist_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON han_crypto.redaction_allowlist
    FOR EACH STATEMENT EXECUTE FUNCTION han_crypto._redaction_changed();

REVOKE ALL ON han_crypto.redaction_rules, han_crypto.redaction_allowlist FROM PUBLIC;
