-- han_crypto: the audit trail's store (docs/AUDIT.md, formats in docs/FORMAT.md).
--
-- Its own schema, readable by han_crypto_auditor only. Rows are appended by
-- han_crypto's own code and never changed: a guard trigger refuses every
-- INSERT, UPDATE, DELETE and TRUNCATE that does not come from it (the
-- owner's included), and an event trigger refuses DDL on the schema's
-- objects, including ALTER TABLE … DISABLE TRIGGER. A superuser can still
-- get past both; the hash chain and the signed checkpoints are what show it.
--
-- Not passed to pg_extension_config_dump: pg_dump does not carry the trail.
-- Evidence leaves through audit_export(); a restored database starts a new
-- chain (a restored chain would be a replay).

CREATE SCHEMA han_crypto_audit;
COMMENT ON SCHEMA han_crypto_audit IS
    'han_crypto''s append-only, hash-chained audit trail. Read it through han_crypto_audit.events; verify it with han_crypto.audit_verify().';
REVOKE ALL ON SCHEMA han_crypto_audit FROM PUBLIC;

-- One row: which chain this database keeps. Made at CREATE EXTENSION.
CREATE TABLE han_crypto_audit._chain (
    singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    chain_id            bytea NOT NULL CHECK (octet_length(chain_id) = 16),
    system_identifier   numeric(20, 0) NOT NULL,
    signing_key_version integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- One row per event; the columns are the fields of the canonical encoding
-- (docs/FORMAT.md), from which the verifier recomputes each hash.
CREATE TABLE han_crypto_audit._events (
    seq               bigint PRIMARY KEY CHECK (seq > 0),
    ts                timestamptz NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('begin', 'end', 'single', 'marker')),
    xid               bigint,
    session_user_name text,
    current_user_name text,
    actor             text,
    actor_via         text,
    client_addr       text,
    application_name  text,
    backend_pid       bigint,
    action            text,
    object            text,
    keyring           text,
    key_version       bigint,
    outcome           text,
    sqlstate          text,
    row_count         bigint,
    row_keys          text[],
    begin_seq         bigint,
    detail            jsonb,
    prev_hash         bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash              bytea NOT NULL CHECK (octet_length(hash) = 32)
);
CREATE INDEX _events_ts ON han_crypto_audit._events (ts);
CREATE INDEX _events_begin_seq ON han_crypto_audit._events (begin_seq) WHERE begin_seq IS NOT NULL;

-- Signed chain heads (docs/FORMAT.md, "Checkpoints").
CREATE TABLE han_crypto_audit._checkpoints (
    n           bigint PRIMARY KEY CHECK (n > 0),
    seq         bigint NOT NULL,
    head        bytea NOT NULL CHECK (octet_length(head) = 32),
    ts          timestamptz NOT NULL,
    prev_digest bytea NOT NULL CHECK (octet_length(prev_digest) = 32),
    key_id      bytea NOT NULL CHECK (octet_length(key_id) = 8),
    signature   bytea NOT NULL CHECK (octet_length(signature) = 64)
);

-- Append-only, for everyone who is not han_crypto's own code.
CREATE FUNCTION han_crypto._audit_guard() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', '_audit_guard';

CREATE TRIGGER han_crypto_append_only
    BEFORE INSERT OR UPDATE OR DELETE ON han_crypto_audit._chain
    FOR EACH ROW EXECUTE FUNCTION han_crypto._audit_guard();
CREATE TRIGGER han_crypto_append_only
    BEFORE INSERT OR UPDATE OR DELETE ON han_crypto_audit._events
    FOR EACH ROW EXECUTE FUNCTION han_crypto._audit_guard();
CREATE TRIGGER han_crypto_append_only
    BEFORE INSERT OR UPDATE OR DELETE ON han_crypto_audit._checkpoints
    FOR EACH ROW EXECUTE FUNCTION han_crypto._audit_guard();
CREATE TRIGGER han_crypto_no_truncate
    BEFORE TRUNCATE ON han_crypto_audit._chain
    FOR EACH STATEMENT EXECUTE FUNCTION han_crypto._audit_guard();
CREATE TRIGGER han_crypto_no_truncate
    BEFORE TRUNCATE ON han_crypto_audit._events
    FOR EACH STATEMENT EXECUTE FUNCTION han_crypto._audit_guard();
CREATE TRIGGER han_crypto_no_truncate
    BEFORE TRUNCATE ON han_crypto_audit._checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION han_crypto._audit_guard();
-- ALWAYS: session_replication_role = replica does not switch them off.
ALTER TABLE han_crypto_audit._chain ENABLE ALWAYS TRIGGER han_crypto_append_only;
ALTER TABLE han_crypto_audit._events ENABLE ALWAYS TRIGGER han_crypto_append_only;
ALTER TABLE han_crypto_audit._checkpoints ENABLE ALWAYS TRIGGER han_crypto_append_only;
ALTER TABLE han_crypto_audit._chain ENABLE ALWAYS TRIGGER han_crypto_no_truncate;
ALTER TABLE han_crypto_audit._events ENABLE ALWAYS TRIGGER han_crypto_no_truncate;
ALTER TABLE han_crypto_audit._checkpoints ENABLE ALWAYS TRIGGER han_crypto_no_truncate;

-- DDL on the trail (ALTER TABLE … DISABLE TRIGGER, DROP, new objects in the
-- schema) is refused outside CREATE/ALTER EXTENSION; DROP EXTENSION removes
-- the trail with the extension (docs/AUDIT.md says so).
CREATE FUNCTION han_crypto._audit_refuse_ddl()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    obj record;
    ext oid;
    audit_ns oid;
    target_ns oid;
BEGIN
    IF han_crypto._creating_extension() THEN
        RETURN;
    END IF;
    SELECT e.oid INTO ext FROM pg_catalog.pg_extension e
     WHERE e.extname OPERATOR(pg_catalog.=) 'han_crypto';
    -- The trail's schema is the extension's member schema: found by
    -- membership, so that renaming it cannot hide it.
    SELECT d.objid INTO audit_ns FROM pg_catalog.pg_depend d
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
       AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND d.refobjid OPERATOR(pg_catalog.=) ext
       AND d.deptype OPERATOR(pg_catalog.=) 'e';
    FOR obj IN SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands() LOOP
        -- Rules, triggers and policies report no schema: take their table's.
        target_ns := CASE obj.classid
            WHEN 'pg_catalog.pg_namespace'::pg_catalog.regclass THEN obj.objid
            WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN
                (SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) obj.objid)
            WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN
                (SELECT c.relnamespace FROM pg_catalog.pg_rewrite r
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.ev_class
                  WHERE r.oid OPERATOR(pg_catalog.=) obj.objid)
            WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN
                (SELECT c.relnamespace FROM pg_catalog.pg_trigger t
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.tgrelid
                  WHERE t.oid OPERATOR(pg_catalog.=) obj.objid)
            WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass THEN
                (SELECT c.relnamespace FROM pg_catalog.pg_policy p
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.polrelid
                  WHERE p.oid OPERATOR(pg_catalog.=) obj.objid)
            ELSE NULL
        END;
        IF target_ns OPERATOR(pg_catalog.=) audit_ns
           OR obj.schema_name OPERATOR(pg_catalog.=) 'han_crypto_audit' THEN
            RAISE EXCEPTION 'the audit trail cannot be altered'
                USING ERRCODE = '42501',
                      DETAIL = pg_catalog.format('%s on %s', obj.command_tag, obj.object_identity),
                      HINT = 'han_crypto_audit is append-only; its objects change only with ALTER EXTENSION han_crypto UPDATE.';
        END IF;
    END LOOP;
    -- GRANT and REVOKE name no object here, and ALTER EXTENSION … DROP only
    -- the extension: check what must hold after any of them.
    IF audit_ns IS NULL
       -- Every table and view of the trail's schema stays the extension's
       -- (whatever later versions add to it).
       OR EXISTS (SELECT FROM pg_catalog.pg_class c
                   WHERE c.relnamespace OPERATOR(pg_catalog.=) audit_ns
                     AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'v', 'p', 'm', 'S']::"char"[])
                     AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                                      WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                                        AND d.objid OPERATOR(pg_catalog.=) c.oid
                                        AND d.refobjid OPERATOR(pg_catalog.=) ext
                                        AND d.deptype OPERATOR(pg_catalog.=) 'e'))
       OR (SELECT pg_catalog.count(*) FROM pg_catalog.pg_depend d
            WHERE d.refobjid OPERATOR(pg_catalog.=) ext AND d.deptype OPERATOR(pg_catalog.=) 'e'
              AND ((d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_event_trigger'::pg_catalog.regclass
                    AND d.objid OPERATOR(pg_catalog.=) ANY (ARRAY(
                        SELECT t.oid FROM pg_catalog.pg_event_trigger t
                         WHERE t.evtname OPERATOR(pg_catalog.=) ANY (ARRAY['han_crypto_audit_ddl', 'han_crypto_audit_drop']::pg_catalog.name[]))))
                OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                    AND d.objid OPERATOR(pg_catalog.=) ANY (ARRAY[
                        'han_crypto._audit_guard()'::pg_catalog.regprocedure,
                        'han_crypto._audit_refuse_ddl()'::pg_catalog.regprocedure,
                        'han_crypto._audit_refuse_drop()'::pg_catalog.regprocedure]::pg_catalog.oid[]))))
          OPERATOR(pg_catalog.<) 5 THEN
        RAISE EXCEPTION 'the audit trail cannot be taken out of the extension'
            USING ERRCODE = '42501',
                  HINT = 'han_crypto_audit and its guards belong to han_crypto; DROP EXTENSION removes them together.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
                WHERE c.relnamespace OPERATOR(pg_catalog.=) audit_ns
                  AND a.grantee OPERATOR(pg_catalog.<>) c.relowner
                  AND NOT (a.grantee OPERATOR(pg_catalog.=) 'han_crypto_auditor'::pg_catalog.regrole
                           AND a.privilege_type OPERATOR(pg_catalog.=) 'SELECT'))
       OR EXISTS (SELECT FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
                   WHERE n.oid OPERATOR(pg_catalog.=) audit_ns
                     AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
                     AND NOT (a.grantee OPERATOR(pg_catalog.=) 'han_crypto_auditor'::pg_catalog.regrole
                              AND a.privilege_type OPERATOR(pg_catalog.=) 'USAGE')) THEN
        RAISE EXCEPTION 'privileges on the audit trail cannot be granted'
            USING ERRCODE = '42501',
                  HINT = 'Only han_crypto_auditor reads han_crypto_audit: GRANT han_crypto_auditor to whoever audits.';
    END IF;
END
$$;

CREATE FUNCTION han_crypto._audit_refuse_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    obj record;
BEGIN
    IF han_crypto._creating_extension() THEN
        RETURN;
    END IF;
    FOR obj IN SELECT * FROM pg_catalog.pg_event_trigger_dropped_objects() LOOP
        IF obj.schema_name = 'han_crypto_audit' AND NOT obj.is_temporary THEN
            RAISE EXCEPTION 'the audit trail cannot be dropped'
                USING ERRCODE = '42501',
                      DETAIL = pg_catalog.format('%s %s', obj.object_type, obj.object_identity),
                      HINT = 'Copy it out with han_crypto.audit_export(); DROP EXTENSION removes it with the extension.';
        END IF;
    END LOOP;
END
$$;

CREATE EVENT TRIGGER han_crypto_audit_ddl ON ddl_command_end
    EXECUTE FUNCTION han_crypto._audit_refuse_ddl();
-- Every DROP but DROP EXTENSION (which removes the trail with the extension).
CREATE EVENT TRIGGER han_crypto_audit_drop ON sql_drop
    WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED', 'DROP VIEW', 'DROP INDEX',
                 'DROP TRIGGER', 'DROP RULE', 'DROP POLICY', 'DROP SEQUENCE', 'DROP FUNCTION',
                 'ALTER TABLE')
    EXECUTE FUNCTION han_crypto._audit_refuse_drop();
ALTER EVENT TRIGGER han_crypto_audit_ddl ENABLE ALWAYS;
ALTER EVENT TRIGGER han_crypto_audit_drop ENABLE ALWAYS;

-- For auditors in psql: one row per access, a statement's closing counts
-- folded into the event that opened it. `incomplete` marks an access whose
-- statement never reported its counts (its backend died, or it is running).
CREATE VIEW han_crypto_audit.events AS
SELECT e.seq,
       e.ts,
       e.action,
       e.outcome,
       e.sqlstate,
       e.object,
       e.keyring,
       e.key_version,
       e.actor,
       e.actor_via,
       e.client_addr,
       e.session_user_name,
       e.current_user_name,
       e.application_name,
       e.backend_pid,
       e.xid,
       coalesce(x.row_count, e.row_count) AS row_count,
       coalesce(x.row_keys, e.row_keys) AS row_keys,
       coalesce(x.detail, e.detail) AS detail,
       e.kind,
       (e.kind = 'begin' AND x.seq IS NULL) AS incomplete
  FROM han_crypto_audit._events e
  LEFT JOIN han_crypto_audit._events x ON x.kind = 'end' AND x.begin_seq = e.seq
 WHERE e.kind <> 'end';
COMMENT ON VIEW han_crypto_audit.events IS
    'Audit events, one row per access (a statement''s counts folded in). Never holds a plaintext, key, passphrase, token or secret.';

CREATE VIEW han_crypto_audit.checkpoints AS
SELECT n, seq, ts, pg_catalog.encode(head, 'hex') AS head,
       pg_catalog.encode(key_id, 'hex') AS key_id,
       pg_catalog.encode(signature, 'hex') AS signature
  FROM han_crypto_audit._checkpoints;
COMMENT ON VIEW han_crypto_audit.checkpoints IS
    'Signed chain heads: each covers every event up to seq.';

REVOKE ALL ON ALL TABLES IN SCHEMA han_crypto_audit FROM PUBLIC;
GRANT USAGE ON SCHEMA han_crypto_audit TO han_crypto_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA han_crypto_audit TO han_crypto_auditor;

-- The chain starts with the extension.
SELECT han_crypto._audit_start_chain();
