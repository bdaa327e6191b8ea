-- han_crypto: transparent table protection.
--
--   SELECT han_crypto.protect('sessions', ARRAY['prompt', 'tool_output'], 'team');
--
-- makes every INSERT/UPDATE of sessions seal prompt and tool_output under the
-- row's keyring (the value of its team column) before the row is stored, and
-- creates the view sessions_decrypted that shows plaintext to members of each
-- row's keyring and NULL to everyone else. Writes through the view work too.
--
-- One static trigger function (_protect_trigger, in Rust) serves every
-- protected table; what it does is read from the two catalog tables below.

-- Protected tables. binding is the schema-qualified name at protect() time:
-- it is part of every value's associated data, so it must never change (a
-- table renamed later keeps its binding). relid is stored as regclass so
-- pg_dump writes it as a name and a restore maps it to the new OID.
CREATE TABLE han_crypto.protected_tables (
    relid          regclass    PRIMARY KEY,
    binding        text        NOT NULL UNIQUE,
    keyring_column name        NOT NULL,
    key_columns    name[]      NOT NULL CHECK (cardinality(key_columns) > 0),
    view_name      text        NOT NULL,
    options        jsonb       NOT NULL DEFAULT '{}',
    protected_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    protected_by   text        NOT NULL
);

CREATE TABLE han_crypto.protected_columns (
    relid       regclass NOT NULL REFERENCES han_crypto.protected_tables (relid) ON DELETE CASCADE,
    column_name name     NOT NULL,
    kind        text     NOT NULL CHECK (kind IN ('text', 'bytea', 'jsonb')),
    PRIMARY KEY (relid, column_name)
);

SELECT pg_catalog.pg_extension_config_dump('han_crypto.protected_tables', '');
SELECT pg_catalog.pg_extension_config_dump('han_crypto.protected_columns', '');
REVOKE ALL ON han_crypto.protected_tables, han_crypto.protected_columns FROM PUBLIC;

-- The trigger function (Rust, src/protect.rs).
CREATE FUNCTION han_crypto._protect_trigger() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', '_protect_trigger';

-- AFTER TRUNCATE: forgets what quarantine kept for the table's rows (Rust).
CREATE FUNCTION han_crypto._forget_truncated() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', '_forget_truncated';

-- What is protected, for everyone: table and column names only (pg_class
-- shows those to every role anyway).
CREATE VIEW han_crypto.protected AS
SELECT t.relid AS table_name, c.column_name, c.kind, t.keyring_column, t.key_columns,
       t.binding, t.view_name, t.protected_at, t.protected_by
FROM han_crypto.protected_tables t
JOIN han_crypto.protected_columns c USING (relid);

-- The decrypting expression for one protected column: in the view, NULL
-- for rows the actor may not read; strict (unprotect), an error instead.
CREATE FUNCTION han_crypto._open_expression(kind text, col name, binding text, keyring_column name, key_columns name[],
                                            strict boolean DEFAULT false)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format(
        'han_crypto._open_%s(t.%I%s, %L, %L, t.%I::text, ARRAY[%s]::text[]%s)%s',
        CASE kind WHEN 'text' THEN 'text' WHEN 'bytea' THEN 'bytea' ELSE 'json' END,
        col, CASE kind WHEN 'jsonb' THEN '::text' ELSE '' END, binding, col, keyring_column,
        (SELECT pg_catalog.string_agg(pg_catalog.format('t.%I::text', k), ', ') FROM pg_catalog.unnest(key_columns) k),
        CASE WHEN strict THEN ', true' ELSE '' END,
        CASE kind WHEN 'jsonb' THEN '::jsonb' ELSE '' END)
$$;

-- Whether relation v is a view that reads table tbl and carries no trigger
-- but han_crypto's: what a decrypting view of tbl is, whoever owns it.
CREATE FUNCTION han_crypto._is_view_of(v oid, tbl oid) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM pg_class c WHERE c.oid = v AND c.relkind = 'v')
       AND EXISTS (SELECT FROM pg_rewrite r
                   JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                   WHERE r.ev_class = v AND d.refclassid = 'pg_class'::regclass AND d.refobjid = tbl)
       AND NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = v AND t.tgname <> 'han_crypto_write')
$$;

-- Every decrypting view of every protected table, found by what it reads
-- (not by the recorded name, which a renamed schema or view leaves stale):
-- views that read the table, carry han_crypto's trigger and no other.
CREATE FUNCTION han_crypto._decrypting_views() RETURNS TABLE (tbl oid, v oid)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT t.relid::oid, rw.ev_class
    FROM (SELECT DISTINCT p.table_name AS relid FROM han_crypto.protected p) t
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass
                    AND d.refclassid = 'pg_class'::regclass AND d.refobjid = t.relid
    JOIN pg_rewrite rw ON rw.oid = d.objid
    WHERE han_crypto._is_view_of(rw.ev_class, t.relid)
      AND EXISTS (SELECT FROM pg_trigger tg WHERE tg.tgrelid = rw.ev_class AND tg.tgname = 'han_crypto_write')
$$;

-- The table's own decrypting view: a view owned by the table's owner that
-- reads the table and carries han_crypto's write trigger, found by what it
-- reads (so also after ALTER VIEW ... RENAME or a renamed schema). NULL when
-- there is none. When there is none and the recorded name is taken by
-- anything else, an error (say a view another role created in advance, with
-- triggers of its own, to have it adopted by protect()).
CREATE FUNCTION han_crypto._decrypting_view(tbl regclass) RETURNS regclass
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_name text;
    v      record;
BEGIN
    SELECT dv.v INTO v
    FROM han_crypto._decrypting_views() dv
    JOIN pg_class vc ON vc.oid = dv.v
    JOIN pg_class tc ON tc.oid = dv.tbl
    WHERE dv.tbl = $1::oid AND vc.relowner = tc.relowner
    ORDER BY dv.v
    LIMIT 1;
    IF FOUND THEN
        RETURN v.v::regclass;
    END IF;
    SELECT p.view_name INTO v_name FROM han_crypto.protected p WHERE p.table_name = tbl LIMIT 1;
    SELECT c.oid, c.relowner INTO v FROM pg_class c WHERE c.oid = to_regclass(v_name);
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v.relowner <> (SELECT c.relowner FROM pg_class c WHERE c.oid = tbl)
       OR NOT han_crypto._is_view_of(v.oid, tbl) THEN
        RAISE EXCEPTION 'relation "%" exists and is not the decrypting view of "%"', v_name, tbl
            USING ERRCODE = 'duplicate_table',
                  HINT = 'Drop or rename that relation (it is not han_crypto''s), then call protect() again.';
    END IF;
    RETURN v.oid::regclass;
END
$$;

-- <table>_decrypted: every column of the table in table order, the
-- protected ones decrypted; writes through it go to the table. Built from
-- the recorded configuration, by protect() and by unprotect() of some
-- columns. Runs with the caller's rights (the table's owner).
CREATE FUNCTION han_crypto._create_view(tbl regclass) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_view         text;
    v_binding      text;
    keyring_column name;
    key_cols       name[];
    att            record;
    sel            text[] := '{}';
    v_owner        oid;
BEGIN
    SELECT c.relowner INTO v_owner FROM pg_class c WHERE c.oid = tbl;
    IF NOT pg_has_role(v_owner, 'USAGE') THEN
        RAISE EXCEPTION 'only the owner of "%" may create its decrypting view', tbl
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT p.view_name, p.binding, p.keyring_column, p.key_columns INTO v_view, v_binding, keyring_column, key_cols
    FROM han_crypto.protected p WHERE p.table_name = tbl LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%" is not protected', tbl USING ERRCODE = 'undefined_object';
    END IF;
    -- Replace only the table's own view, never a relation someone else
    -- made; where the owner renamed or moved it, in its place.
    v_view := coalesce(han_crypto._decrypting_view(tbl)::text, v_view);
    -- The view: every column in table order, protected ones decrypted.
    FOR att IN
        SELECT a.attname, pc.kind
        FROM pg_attribute a
        LEFT JOIN han_crypto.protected pc ON pc.table_name = tbl AND pc.column_name = a.attname
        WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
    LOOP
        sel := sel || CASE WHEN att.kind IS NULL THEN format('t.%I', att.attname)
                      ELSE han_crypto._open_expression(att.kind, att.attname, v_binding, keyring_column, key_cols)
                           || format(' AS %I', att.attname) END;
    END LOOP;
    EXECUTE format('CREATE OR REPLACE VIEW %s WITH (security_barrier) AS SELECT %s FROM %s t',
                   v_view, array_to_string(sel, ', '), tbl);
    -- Created by someone else (a superuser's ALTER TABLE firing the event
    -- trigger): the view reads with its owner's rights, so it belongs to
    -- the table's owner.
    IF (SELECT c.relowner FROM pg_class c WHERE c.oid = v_view::regclass) <> v_owner THEN
        EXECUTE format('ALTER VIEW %s OWNER TO %s', v_view, v_owner::regrole);
    END IF;
    EXECUTE format('COMMENT ON VIEW %s IS %L', v_view,
                   format('Decrypted view of %s (han_crypto): plaintext for members of each row''s keyring, NULL otherwise.', tbl));

    -- Defaults of the table apply to inserts through the view.
    FOR att IN
        SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) AS expr
        FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
        WHERE d.adrelid = tbl AND NOT a.attisdropped
    LOOP
        EXECUTE format('ALTER VIEW %s ALTER COLUMN %I SET DEFAULT %s', v_view, att.attname, att.expr);
    END LOOP;

    IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = to_regclass(v_view) AND tgname = 'han_crypto_write') THEN
        EXECUTE format('DROP TRIGGER han_crypto_write ON %s', v_view);
    END IF;
    EXECUTE format('CREATE TRIGGER han_crypto_write INSTEAD OF INSERT OR UPDATE OR DELETE ON %s
                    FOR EACH ROW EXECUTE FUNCTION han_crypto._view_write()', v_view);

    -- Whoever may use the table may use the view the same way, and only they
    -- (han_crypto_mirror_grants keeps it so after every GRANT and REVOKE).
    PERFORM han_crypto._mirror_table_grants(tbl, v_view::regclass);
    RETURN v_view;
END
$$;

-- protect(): see the header. Runs with the caller's rights: only the table's
-- owner can protect it. Safe to call again: the binding stays, existing
-- envelopes are kept, the view is replaced (so columns added to the table
-- since then appear in it). _register_protection checks the call against
-- the real table (a SQLSTATE per refusal) and records what it finds there.
CREATE FUNCTION han_crypto.protect(
    tbl            regclass,
    columns        text[],
    keyring_column text,
    redact         boolean DEFAULT true,
    options        jsonb   DEFAULT '{}'
) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col      text;
    v_forced boolean;
BEGIN
    IF tbl IS NULL OR keyring_column IS NULL OR redact IS NULL OR options IS NULL THEN
        RAISE EXCEPTION 'protect() arguments must not be NULL' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the table, the columns to seal and the keyring column; redact and options have defaults.';
    END IF;
    IF EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = tbl AND NOT c.relispartition) THEN
        RAISE EXCEPTION '"%" has inheritance children, which han_crypto cannot protect with it', tbl
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Their rows would be stored unsealed. Use a partitioned table instead.';
    END IF;
    PERFORM han_crypto._register_protection(tbl::oid, coalesce(columns, '{}'), keyring_column,
                                            (options || jsonb_build_object('redact', redact))::text);

    -- The trigger's name sorts last, so it seals what other BEFORE triggers produced.
    IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'zz_han_crypto_protect') THEN
        EXECUTE format('DROP TRIGGER zz_han_crypto_protect ON %s', tbl);
    END IF;
    EXECUTE format('CREATE TRIGGER zz_han_crypto_protect BEFORE INSERT OR UPDATE OR DELETE ON %s
                    FOR EACH ROW EXECUTE FUNCTION han_crypto._protect_trigger()', tbl);
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'zz_han_crypto_truncate') THEN
        EXECUTE format('CREATE TRIGGER zz_han_crypto_truncate AFTER TRUNCATE ON %s
                        FOR EACH STATEMENT EXECUTE FUNCTION han_crypto._forget_truncated()', tbl);
    END IF;

    -- Ciphertext does not compress: skip PostgreSQL's futile attempt.
    FOREACH col IN ARRAY columns LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STORAGE EXTERNAL', tbl, col);
    END LOOP;

    -- Seal rows that exist already (rows already sealed are left as they are).
    -- Every row: if FORCE ROW LEVEL SECURITY would hide some from the owner,
    -- it is lifted for this statement; the table stays locked until commit.
    v_forced := row_security_active(tbl);
    IF v_forced THEN
        EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', tbl);
    END IF;
    EXECUTE format('UPDATE %s SET %s', tbl,
        (SELECT string_agg(format('%I = %I', c, c), ', ') FROM unnest(columns) c));
    IF v_forced THEN
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    END IF;

    RETURN han_crypto._create_view(tbl);
END
$$;

COMMENT ON FUNCTION han_crypto.protect(regclass, text[], text, boolean, jsonb) IS
    'Seals the given columns on every INSERT/UPDATE under the keyring named by keyring_column, and creates <table>_decrypted.';

-- Writes through <table>_decrypted go to the table (whose trigger seals
-- them). An UPDATE sets only the columns that changed, so untouched
-- protected values are not re-encrypted. The table is the protected one
-- the view reads, found through the view's own dependencies: never by name,
-- which a rename would hand to another table.
CREATE FUNCTION han_crypto._view_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    base     regclass;
    key_cols name[];
    changed  text[];
    where_pk text;
BEGIN
    SELECT DISTINCT p.table_name INTO base
    FROM pg_rewrite r
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
    JOIN han_crypto.protected p ON p.table_name = d.refobjid
    WHERE r.ev_class = TG_RELID;
    IF base IS NULL THEN
        RAISE EXCEPTION '"%" does not read a table han_crypto protects', TG_RELID::regclass
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT p.key_columns INTO key_cols FROM han_crypto.protected p WHERE p.table_name = base LIMIT 1;
    where_pk := (SELECT string_agg(format('%I = ($2).%I', k, k), ' AND ') FROM unnest(key_cols) k);
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('INSERT INTO %s SELECT ($1).*', base) USING NEW;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.key) INTO changed
        FROM jsonb_each(to_jsonb(NEW)) n
        WHERE n.value IS DISTINCT FROM to_jsonb(OLD) -> n.key;
        IF changed IS NOT NULL THEN
            EXECUTE format('UPDATE %s SET (%s) = (SELECT %s FROM (SELECT ($1).*) n) WHERE %s', base,
                           (SELECT string_agg(format('%I', c), ', ') FROM unnest(changed) c),
                           (SELECT string_agg(format('n.%I', c), ', ') FROM unnest(changed) c),
                           where_pk)
                USING NEW, OLD;
        END IF;
        RETURN NEW;
    ELSE
        EXECUTE format('DELETE FROM %s WHERE %s', base, where_pk) USING NULL::int, OLD;
        RETURN OLD;
    END IF;
END
$$;

-- unprotect(): decrypts protected values back into the table and stops
-- protecting them. Before anything changes it checks that the caller owns
-- the table and can read every keyring its rows name (a member, passphrase
-- keyrings unlocked). A procedure, so that it can commit:
--   CALL han_crypto.unprotect('sessions')   the whole table: drops the view
--       and trigger, then decrypts in committed batches (safe to interrupt
--       and call again: it continues with the values still sealed);
--   CALL han_crypto.unprotect('sessions', columns => ARRAY['summary'])
--       some columns: decrypts them and rebuilds the view in one
--       transaction; the other columns stay protected.
-- A procedure that commits cannot pin search_path with a SET clause, so its
-- body resolves no name on the caller's path: every step is a call of a
-- schema-qualified helper below (each pins search_path), and its only
-- arithmetic names pg_catalog's operators.

-- Who may unprotect a table: its owner, and a superuser only as that owner
-- (decrypting rewrites every row, running the table's own triggers and
-- policies with the caller's rights).
CREATE FUNCTION han_crypto._require_unprotect_rights(tbl regclass) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner oid := (SELECT c.relowner FROM pg_class c WHERE c.oid = tbl);
BEGIN
    IF NOT pg_has_role(v_owner, 'USAGE') THEN
        RAISE EXCEPTION 'only the owner of "%" may unprotect it', tbl USING ERRCODE = 'insufficient_privilege',
            HINT = 'Run han_crypto.unprotect() as the table''s owner.';
    END IF;
    -- Decrypting rewrites every row, running the table's own triggers and
    -- policies with the caller's rights: a superuser does it as the owner.
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user)
       AND v_owner <> (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'a superuser unprotects another role''s table as that role: the triggers and policies of "%" would otherwise run with superuser rights', tbl
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'SET ROLE to the table''s owner first, then CALL han_crypto.unprotect().';
    END IF;
END
$$;

-- The checks, and the part done in the caller's transaction: all of it for
-- some columns (returns false), or removing the view and trigger before the
-- batches of a whole table (returns true).
CREATE FUNCTION han_crypto._unprotect_begin(tbl regclass, batch_size integer, columns text[])
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p       record;
    col     text;
    done    bigint;
    total   bigint := 0;
    denied  text[];
    leaving han_crypto.protected[];
    v_view  regclass;
BEGIN
    IF tbl IS NULL OR NOT EXISTS (SELECT FROM han_crypto.protected WHERE table_name = tbl) THEN
        RAISE EXCEPTION 'table "%" is not protected', tbl USING ERRCODE = 'undefined_object',
            HINT = 'han_crypto.protected lists the protected tables and columns.';
    END IF;
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be a positive number of rows' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cardinality(columns) = 0 THEN
        RAISE EXCEPTION 'columns must name at least one protected column (or be NULL for all)' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH col IN ARRAY coalesce(columns, '{}') LOOP
        IF NOT EXISTS (SELECT FROM han_crypto.protected WHERE table_name = tbl AND column_name::text = col) THEN
            RAISE EXCEPTION 'column "%" of "%" is not protected', pg_catalog.left(col, 200), tbl USING ERRCODE = 'invalid_parameter_value',
                HINT = 'han_crypto.protected lists the protected tables and columns.';
        END IF;
    END LOOP;
    -- Naming every protected column is the same as naming none.
    IF NOT EXISTS (SELECT FROM han_crypto.protected WHERE table_name = tbl AND NOT (column_name::text = ANY (columns))) THEN
        columns := NULL;
    END IF;
    PERFORM han_crypto._require_unprotect_rights(tbl);
    -- Row-level security must not hide rows: they would stay sealed, with
    -- nothing left that decrypts them.
    IF row_security_active(tbl) THEN
        RAISE EXCEPTION 'unprotect() must decrypt every row of "%", but row-level security hides rows from % there', tbl, current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Nothing was changed. Run it as a role with BYPASSRLS (or a superuser), or ALTER TABLE … NO FORCE ROW LEVEL SECURITY while it runs.';
    END IF;
    -- Every row's keyring must be readable, or the decryption below would
    -- stop part-way (with the whole table: after the trigger and view are gone).
    SELECT keyring_column INTO p FROM han_crypto.protected WHERE table_name = tbl LIMIT 1;
    EXECUTE format(
        'SELECT array_agg(k ORDER BY k) FROM (SELECT DISTINCT %I::text AS k FROM %s) s WHERE NOT han_crypto._can_read_keyring(k)',
        p.keyring_column, tbl) INTO denied;
    IF denied IS NOT NULL THEN
        RAISE EXCEPTION 'unprotect() cannot decrypt every row of "%": % cannot read keyring(s) %',
                tbl, han_crypto.current_actor(), array_to_string(denied, ', ')
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Nothing was changed. Get reader access to those keyrings (and unlock passphrase keyrings) in this session, then call it again.';
    END IF;

    IF columns IS NOT NULL THEN
        -- Some columns, in one transaction: the trigger stops sealing them
        -- first (configuration), then their values are decrypted, then the
        -- view shows them as they are.
        SELECT array_agg(pc) INTO leaving
        FROM han_crypto.protected pc WHERE pc.table_name = tbl AND pc.column_name::text = ANY (columns);
        PERFORM han_crypto._forget_protected_columns(tbl::oid, columns);
        FOREACH p IN ARRAY leaving LOOP
            EXECUTE format(
                'UPDATE %1$s t SET %2$I = %3$s WHERE han_crypto._is_sealed(%2$I::text, %4$L)',
                tbl, p.column_name,
                han_crypto._open_expression(p.kind, p.column_name, p.binding, p.keyring_column, p.key_columns, strict => true),
                p.kind);
            GET DIAGNOSTICS done = ROW_COUNT;
            total := total + done;
            EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STORAGE EXTENDED', tbl, p.column_name);
        END LOOP;
        PERFORM han_crypto._create_view(tbl);
        RAISE NOTICE 'han_crypto: % values decrypted in "%"; % no longer protected',
            total, tbl, array_to_string(columns, ', ');
        RETURN false;
    END IF;

    v_view := han_crypto._decrypting_view(tbl);
    IF v_view IS NOT NULL THEN
        EXECUTE format('DROP VIEW %s', v_view);
    END IF;
    IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'zz_han_crypto_protect') THEN
        EXECUTE format('DROP TRIGGER zz_han_crypto_protect ON %s', tbl);
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS zz_han_crypto_truncate ON %s', tbl);
    RETURN true;
END
$$;

-- One batch of a whole-table unprotect(): up to batch_size rows of the
-- first protected column that still has sealed values are decrypted in
-- place. Returns how many (0: none left). Batches by (tableoid, ctid): a
-- ctid alone repeats across partitions.
CREATE FUNCTION han_crypto._unprotect_batch(tbl regclass, batch_size integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p    record;
    done bigint;
BEGIN
    PERFORM han_crypto._require_unprotect_rights(tbl);
    FOR p IN SELECT * FROM han_crypto.protected WHERE table_name = tbl ORDER BY column_name LOOP
        EXECUTE format(
            'UPDATE %1$s t SET %2$I = %3$s FROM (SELECT tableoid, ctid FROM %1$s WHERE han_crypto._is_sealed(%2$I::text, %4$L) LIMIT %5$s) s WHERE t.tableoid = s.tableoid AND t.ctid = s.ctid',
            tbl, p.column_name,
            han_crypto._open_expression(p.kind, p.column_name, p.binding, p.keyring_column, p.key_columns, strict => true),
            p.kind, batch_size);
        GET DIAGNOSTICS done = ROW_COUNT;
        IF done > 0 THEN
            RETURN done;
        END IF;
    END LOOP;
    RETURN 0;
END
$$;

-- The end of a whole-table unprotect(): plain storage again, and the
-- configuration removed, once no value is left sealed.
CREATE FUNCTION han_crypto._unprotect_finish(tbl regclass, total bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p      record;
    sealed boolean;
BEGIN
    FOR p IN SELECT * FROM han_crypto.protected WHERE table_name = tbl LOOP
        EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE han_crypto._is_sealed(%I::text, %L))',
                       tbl, p.column_name, p.kind) INTO sealed;
        IF sealed THEN
            RAISE EXCEPTION 'column "%" of "%" still holds sealed values', p.column_name, tbl
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'CALL han_crypto.unprotect() again: it continues with the values still sealed.';
        END IF;
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STORAGE EXTENDED', tbl, p.column_name);
    END LOOP;
    PERFORM han_crypto._unregister_protection(tbl::oid);
    RAISE NOTICE 'han_crypto: % values decrypted in "%"; protection removed', total, tbl;
END
$$;

CREATE PROCEDURE han_crypto.unprotect(tbl regclass, batch_size integer DEFAULT 1000, columns text[] DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    done  bigint;
    total bigint := 0;
BEGIN
    IF NOT han_crypto._unprotect_begin(tbl, batch_size, columns) THEN
        RETURN;
    END IF;
    COMMIT;
    LOOP
        done := han_crypto._unprotect_batch(tbl, batch_size);
        COMMIT;
        EXIT WHEN done OPERATOR(pg_catalog.=) 0;
        total := total OPERATOR(pg_catalog.+) done;
    END LOOP;
    PERFORM han_crypto._unprotect_finish(tbl, total);
END
$$;

-- Keep <table>_decrypted owned by the table's owner after ALTER TABLE …
-- OWNER TO, so the view (which reads with its owner's rights) keeps working.
CREATE FUNCTION han_crypto._follow_owner() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT DISTINCT dv.v::regclass AS view_name, c.relowner::regrole::text AS owner
        FROM pg_event_trigger_ddl_commands() d
        JOIN han_crypto._decrypting_views() dv ON dv.tbl = d.objid
        JOIN pg_class c ON c.oid = d.objid
        JOIN pg_class v ON v.oid = dv.v
        WHERE d.classid = 'pg_class'::regclass AND v.relowner <> c.relowner
    LOOP
        EXECUTE format('ALTER VIEW %s OWNER TO %s', r.view_name, r.owner);
    END LOOP;
END
$$;

CREATE EVENT TRIGGER han_crypto_follow_owner ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION han_crypto._follow_owner();

-- The view reads with its owner's rights, so its privileges must be the
-- table's: SELECT, INSERT, UPDATE and DELETE granted on the view exactly to
-- whoever holds them on the table (PUBLIC included), revoked from everyone
-- else. Only the table's ACL is copied, which PostgreSQL already
-- authorized; nothing is ever granted that the table does not grant.
CREATE FUNCTION han_crypto._mirror_table_grants(tbl regclass, v regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        WITH acl AS (
            SELECT c.oid AS rel, a.grantee, a.privilege_type
            FROM pg_class c, aclexplode(COALESCE(c.relacl, acldefault('r', c.relowner))) a
            WHERE c.oid IN (tbl, v) AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
              AND a.grantee <> c.relowner
        ),
        want AS (SELECT grantee, privilege_type FROM acl WHERE rel = tbl),
        have AS (SELECT grantee, privilege_type FROM acl WHERE rel = v)
        SELECT 'GRANT' AS verb, 'TO' AS dir, w.* FROM (SELECT * FROM want EXCEPT SELECT * FROM have) w
        UNION ALL
        SELECT 'REVOKE', 'FROM', h.* FROM (SELECT * FROM have EXCEPT SELECT * FROM want) h
    LOOP
        -- regrole's text form is already quoted where the name needs it.
        EXECUTE format('%s %s ON %s %s %s', r.verb, r.privilege_type, v, r.dir,
                       CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE r.grantee::regrole::text END);
    END LOOP;
END
$$;

-- After GRANT, REVOKE or DROP OWNED (whose cascade revokes what a dropped
-- role granted), every protected table's view gets its table's privileges
-- again (on any object: the command's objects are not listed for GRANT).
-- SECURITY DEFINER: a REVOKE by a role that holds a grant option on the
-- table, but has no rights on the view, must still reach the view. Views
-- are found by what they read, not by their recorded name, which a renamed
-- schema or view leaves stale. REASSIGN OWNED fires no event trigger: the
-- next GRANT or REVOKE repairs what it changed.
CREATE FUNCTION han_crypto._mirror_grants() RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    -- The trigger's own GRANTs and REVOKEs fire it again: nothing to do then.
    -- (The han_crypto prefix is reserved for real settings. A role that sets
    -- this one itself only skips the mirroring of its own GRANT or REVOKE,
    -- which changes nothing it could not grant on the view directly.)
    IF current_setting('han_crypto_internal.mirroring_grants', true) = 'on' THEN
        RETURN;
    END IF;
    PERFORM set_config('han_crypto_internal.mirroring_grants', 'on', true);
    FOR r IN
        SELECT dv.tbl::regclass AS tbl, dv.v::regclass AS v
        FROM han_crypto._decrypting_views() dv
        JOIN pg_class c ON c.oid = dv.tbl
        JOIN pg_class v ON v.oid = dv.v
        -- only the table owner's: never a view another role made
        WHERE v.relowner = c.relowner
    LOOP
        PERFORM han_crypto._mirror_table_grants(r.tbl, r.v);
    END LOOP;
    PERFORM set_config('han_crypto_internal.mirroring_grants', 'off', true);
END
$$;

CREATE EVENT TRIGGER han_crypto_mirror_grants ON ddl_command_end
    WHEN TAG IN ('GRANT', 'REVOKE', 'DROP OWNED')
    EXECUTE FUNCTION han_crypto._mirror_grants();

-- After ALTER TABLE on a protected table, the columns han_crypto relies on.
-- Renaming a protected column is refused: its sealed values are bound to
-- the name. Renaming or dropping the keyring or a key column is refused:
-- the trigger and view find them by name, and every value is bound to
-- their contents. A protected column dropped (CASCADE, which drops the
-- view too) took its values with it: it is forgotten and the view rebuilt,
-- or, if it was the last one, the table is no longer protected.
CREATE FUNCTION han_crypto._check_column_changes() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r       record;
    gone    text[];
    retyped record;
    v_view  regclass;
BEGIN
    FOR r IN
        SELECT p.table_name AS tbl, min(p.keyring_column::text) AS keyring_column,
               min(p.key_columns::text[]) AS key_columns, min(p.view_name) AS view_name,
               array_agg(p.column_name::text) AS cols
        FROM han_crypto.protected p
        WHERE p.table_name IN (SELECT d.objid FROM pg_event_trigger_ddl_commands() d
                               WHERE d.classid = 'pg_class'::regclass)
        GROUP BY p.table_name
    LOOP
        SELECT array_agg(n) INTO gone
        FROM unnest(r.cols || r.keyring_column || r.key_columns) n
        WHERE NOT EXISTS (SELECT FROM pg_attribute a
                          WHERE a.attrelid = r.tbl AND a.attname = n AND a.attnum > 0 AND NOT a.attisdropped);
        -- A protected column whose type changed no longer holds what its
        -- sealed values are stored in (the trigger would refuse every write).
        SELECT a.attname, pc.kind, format_type(a.atttypid, a.atttypmod) AS typ INTO retyped
        FROM han_crypto.protected pc
        JOIN pg_attribute a ON a.attrelid = pc.table_name AND a.attname = pc.column_name AND a.attnum > 0 AND NOT a.attisdropped
        WHERE pc.table_name = r.tbl
          AND NOT CASE pc.kind
                  WHEN 'text' THEN a.atttypid = 'text'::regtype OR (a.atttypid = 'varchar'::regtype AND a.atttypmod < 0)
                  WHEN 'bytea' THEN a.atttypid = 'bytea'::regtype
                  WHEN 'jsonb' THEN a.atttypid = 'jsonb'::regtype
                  ELSE false END
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'column "%" of "%" is protected as % and cannot change its type to %', retyped.attname, r.tbl, retyped.kind, retyped.typ
                USING ERRCODE = 'feature_not_supported',
                      HINT = 'Its values are sealed envelopes stored as that type. unprotect() the column first, change its type, then protect() it again.';
        END IF;
        CONTINUE WHEN gone IS NULL;
        IF EXISTS (SELECT FROM pg_event_trigger_ddl_commands() d
                   WHERE d.objid = r.tbl AND d.object_type = 'table column') THEN
            RAISE EXCEPTION 'column "%" of "%" cannot be renamed while han_crypto protects the table', gone[1], r.tbl
                USING ERRCODE = 'feature_not_supported',
                      HINT = CASE WHEN gone[1] = ANY (r.cols)
                                  THEN 'Its sealed values are bound to its name. unprotect() the column first, or keep the name.'
                                  ELSE 'The keyring and key columns are found by name. unprotect() the table first, or keep the name.' END;
        END IF;
        IF r.keyring_column = ANY (gone) OR r.key_columns && gone THEN
            RAISE EXCEPTION 'column "%" of "%" cannot be dropped while han_crypto protects the table', gone[1], r.tbl
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'It names each row''s keyring or key, to which every sealed value is bound. unprotect() the table first.';
        END IF;
        IF cardinality(gone) = cardinality(r.cols) THEN
            v_view := han_crypto._decrypting_view(r.tbl);
            IF v_view IS NOT NULL THEN
                EXECUTE format('DROP VIEW %s', v_view);
            END IF;
            EXECUTE format('DROP TRIGGER IF EXISTS zz_han_crypto_protect ON %s', r.tbl);
            EXECUTE format('DROP TRIGGER IF EXISTS zz_han_crypto_truncate ON %s', r.tbl);
            PERFORM han_crypto._unregister_protection(r.tbl::oid);
            RAISE NOTICE 'han_crypto: "%" has no protected column left and is no longer protected', r.tbl;
        ELSE
            PERFORM han_crypto._forget_protected_columns(r.tbl::oid, gone);
            PERFORM han_crypto._create_view(r.tbl);
        END IF;
    END LOOP;
END
$$;

CREATE EVENT TRIGGER han_crypto_column_changes ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION han_crypto._check_column_changes();

-- A protected table dropped: its configuration goes with it (otherwise its
-- OID would linger in the catalog, and in dumps of it).
CREATE FUNCTION han_crypto._forget_dropped_tables() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM han_crypto._forget_dropped_table(d.objid)
    FROM pg_event_trigger_dropped_objects() d
    WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
      AND EXISTS (SELECT FROM han_crypto.protected p WHERE p.table_name::oid = d.objid);
END
$$;

CREATE EVENT TRIGGER han_crypto_dropped_tables ON sql_drop
    WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION han_crypto._forget_dropped_tables();

-- Inheritance children of a protected table (CREATE TABLE … INHERITS, ALTER
-- TABLE … INHERIT) have no trigger: their rows would be stored unsealed and
-- make the parent's view fail. Refused; partitions are covered instead.
CREATE FUNCTION han_crypto._refuse_inheritance() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    SELECT i.inhrelid::regclass AS child, i.inhparent::regclass AS parent INTO r
    FROM pg_event_trigger_ddl_commands() d
    JOIN pg_inherits i ON i.inhrelid = d.objid
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE d.classid = 'pg_class'::regclass AND NOT c.relispartition
      AND EXISTS (SELECT FROM han_crypto.protected p WHERE p.table_name = i.inhparent)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '"%" cannot inherit from "%", which han_crypto protects', r.child, r.parent
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Its rows would be stored unsealed. Use a partitioned table, whose partitions are protected with it.';
    END IF;
END
$$;

CREATE EVENT TRIGGER han_crypto_inheritance ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION han_crypto._refuse_inheritance();
