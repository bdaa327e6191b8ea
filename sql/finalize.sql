-- han_crypto: objects that refer to the generated functions, then grants.

-- jsonb goes through PostgreSQL's own jsonb text I/O, which is lossless
-- (numbers keep every digit). These wrappers are plain SQL so the planner
-- can inline them.
CREATE FUNCTION han_crypto.encrypt(data jsonb, keyring text DEFAULT 'default', context text DEFAULT '')
RETURNS bytea
LANGUAGE sql VOLATILE
AS $$ SELECT han_crypto._encrypt_json(data::pg_catalog.text, keyring, context) $$;

COMMENT ON FUNCTION han_crypto.encrypt(jsonb, text, text) IS
    'Encrypts a jsonb document under a keyring, bound to a context; decrypt with decrypt_jsonb().';

CREATE FUNCTION han_crypto.decrypt_jsonb(envelope bytea, context text DEFAULT '')
RETURNS jsonb
LANGUAGE sql VOLATILE
AS $$ SELECT han_crypto._decrypt_json(envelope, context)::pg_catalog.jsonb $$;

-- The JSON form goes in as text, for the same reason (and so that documents
-- nested deeper than the parser's limit are an error, not a panic).
-- And comes out as text, built in one buffer reserved fallibly (running
-- out of memory is an ERROR, not an aborted backend).
CREATE FUNCTION han_crypto.envelope_to_json(envelope bytea)
RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT han_crypto._envelope_json_text(envelope)::pg_catalog.jsonb $$;

CREATE FUNCTION han_crypto.envelope_from_json(j jsonb)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT han_crypto._envelope_from_json(j::pg_catalog.text) $$;

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

COMMENT ON FUNCTION han_crypto.create_keyring(text, text) IS
    'Creates a team or user keyring (Argon2id-derived key, secret wrapped under the root key); the creator becomes its admin.';
COMMENT ON FUNCTION han_crypto.create_passphrase_keyring(text, text, text) IS
    'Creates a keyring whose key is usable only after unlock() with the passphrase. Pass the passphrase as a bind parameter.';
COMMENT ON FUNCTION han_crypto.unlock(text, text) IS
    'Unlocks a passphrase keyring for the current actor in this session; false (and recorded) for a wrong passphrase.';
COMMENT ON FUNCTION han_crypto.set_actor(text, inet) IS
    'Names the acting principal until the end of the transaction. Roles with han_crypto_app only.';
COMMENT ON FUNCTION han_crypto.authenticate(text) IS
    'Verifies an HS256 JWT and makes its principal claim the actor until the end of the transaction.';

-- Grants. Everything is revoked from PUBLIC first, then granted one by one.
REVOKE ALL ON ALL ROUTINES IN SCHEMA han_crypto FROM PUBLIC;

-- Data functions and the actor's own view of itself: every role. Access to
-- team, user and passphrase keyrings is checked inside, per actor and
-- keyring; the 'default' keyring is open to every role that may call them.
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
    han_crypto._envelope_json_text(bytea),
    han_crypto.envelope_from_json(jsonb),
    han_crypto._envelope_from_json(text),
    han_crypto.version(),
    han_crypto.current_actor(),
    han_crypto.actor_info(),
    han_crypto.key_cache_stats(),
    han_crypto.unlock(text, text),
    han_crypto.lock(text),
    han_crypto.change_passphrase(text, text, text),
    han_crypto.seal(bytea, text),
    han_crypto.seal(bytea, bytea),
    han_crypto.open_sealed(text, bytea),
    han_crypto.open_sealed_bytea(text, bytea)
TO PUBLIC;

-- Creating keyrings and managing members: administrators and applications.
-- (grant/revoke/create_keypair also require admin membership of the keyring,
-- or han_crypto_admin, checked inside.)
GRANT EXECUTE ON FUNCTION
    han_crypto.create_keyring(text, text),
    han_crypto.create_passphrase_keyring(text, text, text),
    han_crypto.grant_access(text, text, text),
    han_crypto.revoke_access(text, text),
    han_crypto.create_keypair(text)
TO han_crypto_admin, han_crypto_app;

-- Naming the actor: trusted applications only.
GRANT EXECUTE ON FUNCTION han_crypto.set_actor(text, inet), han_crypto.authenticate(text) TO han_crypto_app;

-- Table protection. protect() and unprotect() run with the caller's rights
-- (the table's owner, who on managed PostgreSQL is no superuser), so the
-- internal helpers they call are executable by PUBLIC; each is safe for any
-- input from anyone (tests/pg_regress/sql/public_surface.sql lists every
-- PUBLIC function with the reason). The view's decrypt functions check
-- keyring membership per row. PostgreSQL checks EXECUTE on a trigger
-- function when protect() creates the trigger, as the table's owner; the
-- trigger function refuses to run other than as protect() installs it.
GRANT SELECT ON han_crypto.protected TO PUBLIC;
GRANT EXECUTE ON FUNCTION
    han_crypto.protect(regclass, text[], text, boolean, jsonb),
    han_crypto._open_expression(text, name, text, name, name[], boolean),
    han_crypto._open_text(text, text, text, text, text[], boolean),
    han_crypto._open_json(text, text, text, text, text[], boolean),
    han_crypto._open_bytea(bytea, text, text, text, text[], boolean),
    han_crypto._is_sealed(text, text),
    han_crypto._register_protection(oid, text[], text, text),
    han_crypto._unregister_protection(oid),
    han_crypto._can_read_keyring(text),
    han_crypto._forget_protected_columns(oid, text[]),
    han_crypto._forget_dropped_table(oid),
    han_crypto._create_view(regclass),
    han_crypto._mirror_table_grants(regclass, regclass),
    han_crypto._decrypting_view(regclass),
    han_crypto._is_view_of(oid, oid),
    han_crypto._decrypting_views(),
    han_crypto._require_unprotect_rights(regclass),
    han_crypto._unprotect_begin(regclass, integer, text[]),
    han_crypto._unprotect_batch(regclass, integer),
    han_crypto._unprotect_finish(regclass, bigint),
    han_crypto._protect_trigger(),
    han_crypto._forget_truncated(),
    han_crypto._view_write()
TO PUBLIC;
GRANT EXECUTE ON PROCEDURE han_crypto.unprotect(regclass, integer, text[]) TO PUBLIC;

-- Quarantine: restoring and listing check admin membership of the table's
-- quarantine keyring inside (and restoring, write access to the row's
-- keyring and the table); purging expired values is for administrators
-- (and a scheduler running as one).
GRANT EXECUTE ON FUNCTION
    han_crypto.restore_redactions(regclass, text[], text),
    han_crypto.restore_redactions(regclass, text, text),
    han_crypto._restore_redactions(oid, text[], text),
    han_crypto.quarantined(regclass),
    han_crypto._quarantined(oid)
TO PUBLIC;
GRANT EXECUTE ON FUNCTION han_crypto.purge_quarantine() TO han_crypto_admin;

-- redact_jsonb() goes through jsonb's text form so numbers stay exact.
CREATE FUNCTION han_crypto.redact_jsonb(input jsonb)
RETURNS jsonb
LANGUAGE sql STABLE STRICT
AS $$ SELECT han_crypto._redact_json(input::pg_catalog.text)::pg_catalog.jsonb $$;

-- Redaction: the functions are pure utilities for every role; the rule and
-- allowlist tables belong to administrators (auditors may read them). The
-- tables' CHECKs run with the editor's rights, hence the two grants.
GRANT EXECUTE ON FUNCTION
    han_crypto.scan_secrets(text),
    han_crypto.explain_redaction(text),
    han_crypto.redact(text),
    han_crypto.redact_jsonb(jsonb),
    han_crypto._redact_json(text),
    han_crypto.redaction_types(),
    han_crypto.redaction_stats(),
    han_crypto.reset_redaction_stats()
TO PUBLIC;
GRANT EXECUTE ON FUNCTION
    han_crypto._check_redaction_rule(text, text, text, text[], real),
    han_crypto._check_redaction_allow(text)
TO han_crypto_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON han_crypto.redaction_rules, han_crypto.redaction_allowlist TO han_crypto_admin;
GRANT SELECT ON han_crypto.redaction_rules, han_crypto.redaction_allowlist TO han_crypto_auditor;

COMMENT ON FUNCTION han_crypto.scan_secrets(text) IS
    'Secrets in a text: type, character positions (substr(t, start_pos, end_pos - start_pos)), confidence, rule. Never the value.';
COMMENT ON FUNCTION han_crypto.explain_redaction(text) IS
    'Why each finding in a text was made: positions, type, rule, confidence, whether han_crypto.redaction_min_confidence lets it redact, and the kind of evidence. Never the value.';
COMMENT ON FUNCTION han_crypto.redact(text) IS
    'The text with every secret found at han_crypto.redaction_min_confidence or above replaced by [REDACTED:<type>]. Idempotent.';
COMMENT ON FUNCTION han_crypto.redact_jsonb(jsonb) IS
    'The document with secrets redacted in string values, and values under secret-named keys replaced; keys and structure kept.';
COMMENT ON FUNCTION han_crypto.redaction_stats() IS
    'Per type, how many secrets the protection trigger redacted in this session. Never the values.';

-- audit_verify's checkpoint goes to Rust as text (see decrypt_jsonb).
CREATE FUNCTION han_crypto.audit_verify(
    from_seq bigint DEFAULT NULL,
    to_seq bigint DEFAULT NULL,
    external_checkpoint jsonb DEFAULT NULL)
RETURNS TABLE(ok boolean, checked bigint, first_bad_seq bigint, reason text, detail text,
              last_checkpoint bigint, signed_through bigint, unsigned_tail bigint)
LANGUAGE sql VOLATILE
AS $$ SELECT * FROM han_crypto._audit_verify(from_seq, to_seq, external_checkpoint::pg_catalog.text) $$;
REVOKE ALL ON FUNCTION han_crypto.audit_verify(bigint, bigint, jsonb) FROM PUBLIC;

-- The audit trail. Its public key is public (verifying needs no secret);
-- verifying and exporting read every event, so they are the auditor's.
-- _creating_extension() is called by the trail's event triggers, which run
-- as whoever issues DDL: every role, and it only returns a flag.
GRANT EXECUTE ON FUNCTION
    han_crypto.audit_public_key(),
    han_crypto._creating_extension()
TO PUBLIC;
GRANT EXECUTE ON FUNCTION
    han_crypto.audit_verify(bigint, bigint, jsonb),
    han_crypto._audit_verify(bigint, bigint, text),
    han_crypto.audit_export(bigint, bigint),
    han_crypto.audit_checkpoint(),
    han_crypto.audit_status()
TO han_crypto_auditor;
GRANT EXECUTE ON FUNCTION
    han_crypto.audit_checkpoint(),
    han_crypto.audit_status()
TO han_crypto_admin;
-- Retention: the auditor (who keeps the evidence) or the administrator
-- (who runs the database) archives; each removal is a marker event.
GRANT EXECUTE ON FUNCTION han_crypto.audit_archive(timestamptz)
TO han_crypto_auditor, han_crypto_admin;
COMMENT ON FUNCTION han_crypto.audit_public_key() IS
    'The audit signing key''s public half (Ed25519, hex): what han-crypto audit verify needs.';
COMMENT ON FUNCTION han_crypto.audit_verify(bigint, bigint, jsonb) IS
    'Verifies the audit trail''s hash chain and signed checkpoints (optionally against a checkpoint kept outside); names the first bad seq and why.';
COMMENT ON FUNCTION han_crypto.audit_checkpoint() IS
    'Signs a checkpoint of the audit chain''s head now and returns the newest checkpoint.';
COMMENT ON FUNCTION han_crypto.audit_status() IS
    'The audit writer (state, pid, queued bytes), the last seq, the newest checkpoint and its age.';
COMMENT ON FUNCTION han_crypto.audit_archive(timestamptz) IS
    'Retention: the oldest segment of the trail (up to the newest checkpoint before the given time) as an export, removed when the caller''s transaction commits; leaves an archive marker and the segment''s closing checkpoint so that the rest still verifies.';
COMMENT ON FUNCTION han_crypto.audit_export(bigint, bigint) IS
    'The audit trail as JSON Lines (docs/FORMAT.md), for han-crypto audit verify.';

-- root_key_status() tells where the key lives: superusers only (no grant).

-- pg_dump copies the rows of every configuration table (keyrings with their
-- wrapped keys, members, key pairs, protected tables, redaction rules): a
-- role that is no superuser needs han_crypto_backup to take a dump. The
-- wrapped keys are useless without the root key, but a passphrase keyring's
-- can be attacked offline, as by anyone holding the dump: grant it only to
-- the role that takes backups.
GRANT SELECT ON
    han_crypto._root_key_check,
    han_crypto.keyrings,
    han_crypto.keyring_versions,
    han_crypto.members,
    han_crypto.keypairs,
    han_crypto.protected_tables,
    han_crypto.protected_columns,
    han_crypto.redaction_rules,
    han_crypto.redaction_allowlist,
    han_crypto.quarantine,
    han_crypto.alert_rules,
    han_crypto.honeytokens
TO han_crypto_backup;

-- Access monitoring (sql/alerts.sql): administrators own the rules and the
-- honeytokens; auditors read the alerts; both acknowledge and report.
GRANT SELECT, INSERT, UPDATE, DELETE ON han_crypto.alert_rules TO han_crypto_admin;
GRANT SELECT ON han_crypto.alert_rules TO han_crypto_auditor;
GRANT SELECT ON han_crypto.honeytokens TO han_crypto_admin, han_crypto_auditor;
GRANT SELECT ON han_crypto_audit.alerts, han_crypto_audit._seen_addresses TO han_crypto_auditor;
GRANT EXECUTE ON FUNCTION
    han_crypto.plant_honeytoken(regclass, jsonb, text),
    han_crypto._plant_honeytoken(oid, text, text)
TO han_crypto_admin;
GRANT EXECUTE ON FUNCTION han_crypto.acknowledge_alert(bigint, text)
TO han_crypto_admin, han_crypto_auditor;
-- Per-actor activity is the trail's: its report is the auditors'.
GRANT EXECUTE ON FUNCTION han_crypto.audit_report(timestamptz, timestamptz) TO han_crypto_auditor;
COMMENT ON FUNCTION han_crypto.plant_honeytoken(regclass, jsonb, text) IS
    'Inserts a decoy row into a protected table and registers its sealed values as honeytokens: any decryption of one raises a critical alert.';
COMMENT ON FUNCTION han_crypto.acknowledge_alert(bigint, text) IS
    'Marks an alert acknowledged (by the session user, with a note); false if it already was. Recorded in the audit trail.';
COMMENT ON FUNCTION han_crypto.audit_report(timestamptz, timestamptz) IS
    'Per keyring and actor between two times: reads, values read, denials, failures, unlocks, failed unlocks, alerts.';
