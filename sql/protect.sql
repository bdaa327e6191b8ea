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
    binding        text        NOT NULL,
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
        'han_crypto._open_%s(t.%I, %L, %L, t.%I::text, ARRAY[%s]::text[]%s)%s',
        CASE kind WHEN 'text' THEN 'text' WHEN 'bytea' THEN 'bytea' ELSE 'json' END,
        col, binding, col, keyring_column,
        (SELECT pg_catalog.string_agg(pg_catalog.format('t.%I::text', k), ', ') FROM pg_catalog.unnest(key_columns) k),
        CASE WHEN strict THEN ', true' ELSE '' END,
        CASE kind WHEN 'jsonb' THEN '::jsonb' ELSE '' END)
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
BEGIN
    SELECT p.view_name, p.binding, p.keyring_column, p.key_columns INTO v_view, v_binding, keyring_column, key_cols
    FROM han_crypto.protected p WHERE p.table_name = tbl LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%" is not protected', tbl USING ERRCODE = 'undefined_object';
    END IF;
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
                    FOR EACH ROW EXECUTE FUNCTION han_crypto._view_write(%L)', v_view, tbl::text);

    -- Whoever may use the table may use the view the same way.
    FOR att IN
        SELECT DISTINCT a.grantee::regrole::text AS grantee, a.privilege_type
        FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = tbl AND a.grantee <> 0 AND a.grantee <> c.relowner
          AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
    LOOP
        EXECUTE format('GRANT %s ON %s TO %s', att.privilege_type, v_view, att.grantee);
    END LOOP;
    RETURN v_view;
END
$$;

-- protect(): see the header. Runs with the caller's rights: only the table's
-- owner can protect it (checked again when the configuration is recorded).
-- Safe to call again: the binding stays, existing envelopes are kept, the
-- view is replaced (so columns added to the table since then appear in it).
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
    nsp       name;
    rel       name;
    v_binding text;
    v_view    text;
    key_cols  name[];
    kinds     text[] := '{}';
    col       text;
    att       record;
    prev      record;
    dropped   text[];
    v_forced  boolean;
BEGIN
    IF tbl IS NULL OR keyring_column IS NULL OR redact IS NULL OR options IS NULL THEN
        RAISE EXCEPTION 'protect() arguments must not be NULL' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the table, the columns to seal and the keyring column; redact and options have defaults.';
    END IF;
    SELECT n.nspname, c.relname INTO nsp, rel
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = tbl AND c.relkind IN ('r', 'p');
    IF NOT FOUND THEN
        RAISE EXCEPTION '"%" is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF columns IS NULL OR cardinality(columns) = 0 THEN
        RAISE EXCEPTION 'protect() needs at least one column' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT array_agg(a.attname ORDER BY k.ord) INTO key_cols
    FROM pg_index i
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = tbl AND i.indisprimary;
    IF key_cols IS NULL THEN
        RAISE EXCEPTION 'table "%" has no primary key', tbl USING ERRCODE = 'invalid_table_definition',
            HINT = 'Every protected value is bound to its row''s primary key.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = tbl AND attname = keyring_column AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'keyring column "%" does not exist in "%"', keyring_column, tbl USING ERRCODE = 'undefined_column';
    END IF;

    FOREACH col IN ARRAY columns LOOP
        IF (SELECT count(*) FROM unnest(columns) c WHERE c = col) > 1 THEN
            RAISE EXCEPTION 'column "%" is listed more than once', col USING ERRCODE = 'duplicate_column';
        END IF;
        SELECT a.atttypid::regtype::text AS typ, a.atttypmod INTO att
        FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" does not exist in "%"', col, tbl USING ERRCODE = 'undefined_column';
        END IF;
        IF col = keyring_column OR col = ANY (key_cols) THEN
            RAISE EXCEPTION 'column "%" is the keyring column or part of the primary key and cannot be encrypted', col
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF att.typ = 'character varying' AND att.atttypmod <> -1 THEN
            RAISE EXCEPTION 'column "%" is varchar(n), too short for envelopes', col USING ERRCODE = 'datatype_mismatch',
                HINT = 'ALTER it to text or unbounded varchar first.';
        END IF;
        kinds := kinds || CASE att.typ
            WHEN 'text' THEN 'text' WHEN 'character varying' THEN 'text'
            WHEN 'bytea' THEN 'bytea' WHEN 'jsonb' THEN 'jsonb'
            ELSE NULL END;
        IF kinds[cardinality(kinds)] IS NULL THEN
            RAISE EXCEPTION 'column "%" has type %, which han_crypto does not protect', col, att.typ
                USING ERRCODE = 'datatype_mismatch', HINT = 'Protected columns are text, varchar, jsonb or bytea.';
        END IF;
    END LOOP;

    -- Called again: values already sealed are bound to the recorded keyring
    -- column and key, and columns left out would stay sealed with no view
    -- to read them. Refuse rather than strand data.
    SELECT p.binding, p.keyring_column, p.key_columns INTO prev
    FROM han_crypto.protected p WHERE p.table_name = tbl LIMIT 1;
    IF FOUND THEN
        IF prev.keyring_column <> keyring_column OR prev.key_columns <> key_cols THEN
            RAISE EXCEPTION 'protect() cannot change the keyring column or primary key of "%" (protected with keyring column "%" and key %)',
                    tbl, prev.keyring_column, prev.key_columns
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Sealed values are bound to both. CALL han_crypto.unprotect() first, then protect() again.';
        END IF;
        SELECT array_agg(p.column_name::text ORDER BY p.column_name) INTO dropped
        FROM han_crypto.protected p WHERE p.table_name = tbl AND NOT (p.column_name::text = ANY (columns));
        IF dropped IS NOT NULL THEN
            RAISE EXCEPTION 'protect() would stop protecting % of "%", whose values are sealed', array_to_string(dropped, ', '), tbl
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('List every protected column. To decrypt columns back and stop protecting them: CALL han_crypto.unprotect(%L, columns => %L).',
                                    tbl::text, dropped);
        END IF;
    END IF;
    v_binding := coalesce(prev.binding, format('%I.%I', nsp, rel));
    v_view := format('%I.%I', nsp, rel || '_decrypted');

    PERFORM han_crypto._register_protection(tbl::oid, v_binding, keyring_column, key_cols::text[], columns, kinds,
                                            v_view, options || jsonb_build_object('redact', redact));

    -- The trigger's name sorts last, so it seals what other BEFORE triggers produced.
    IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'zz_han_crypto_protect') THEN
        EXECUTE format('DROP TRIGGER zz_han_crypto_protect ON %s', tbl);
    END IF;
    EXECUTE format('CREATE TRIGGER zz_han_crypto_protect BEFORE INSERT OR UPDATE ON %s
                    FOR EACH ROW EXECUTE FUNCTION han_crypto._protect_trigger()', tbl);

    -- Ciphertext does not compress: skip PostgreSQL's futile attempt.
    FOREACH col IN ARRAY columns LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STORAGE EXTERNAL', tbl, col);
    END LOOP;

    -- Seal rows that exist already (rows already sealed are left as they are).
    -- Every row: if FORCE ROW LEVEL SECURITY would hide some from the owner,
    -- it is lifted for this statement; the table stays locked until commit.
    v_forced := pg_catalog.row_security_active(tbl);
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
-- protected values are not re-encrypted.
CREATE FUNCTION han_crypto._view_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    base     regclass := TG_ARGV[0]::regclass;
    key_cols name[];
    changed  text[];
    where_pk text;
BEGIN
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
CREATE PROCEDURE han_crypto.unprotect(tbl regclass, batch_size integer DEFAULT 1000, columns text[] DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    p       record;
    col     text;
    done    bigint;
    total   bigint := 0;
    denied  text[];
    leaving han_crypto.protected[];
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
            RAISE EXCEPTION 'column "%" of "%" is not protected', col, tbl USING ERRCODE = 'invalid_parameter_value',
                HINT = 'han_crypto.protected lists the protected tables and columns.';
        END IF;
    END LOOP;
    -- Naming every protected column is the same as naming none.
    IF NOT EXISTS (SELECT FROM han_crypto.protected WHERE table_name = tbl AND NOT (column_name::text = ANY (columns))) THEN
        columns := NULL;
    END IF;
    IF NOT pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl), 'USAGE') THEN
        RAISE EXCEPTION 'only the owner of "%" may unprotect it', tbl USING ERRCODE = 'insufficient_privilege',
            HINT = 'Run han_crypto.unprotect() as the table''s owner.';
    END IF;
    -- Row-level security must not hide rows: they would stay sealed, with
    -- nothing left that decrypts them.
    IF pg_catalog.row_security_active(tbl) THEN
        RAISE EXCEPTION 'unprotect() must decrypt every row of "%", but row-level security hides rows from % there', tbl, current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Nothing was changed. Run it as a role with BYPASSRLS (or a superuser), or ALTER TABLE … NO FORCE ROW LEVEL SECURITY while it runs.';
    END IF;
    -- Every row's keyring must be readable, or the decryption below would
    -- stop part-way (with the whole table: after the trigger and view are gone).
    SELECT keyring_column INTO p FROM han_crypto.protected WHERE table_name = tbl LIMIT 1;
    EXECUTE pg_catalog.format(
        'SELECT pg_catalog.array_agg(k ORDER BY k) FROM (SELECT DISTINCT %I::text AS k FROM %s) s WHERE NOT han_crypto._can_read_keyring(k)',
        p.keyring_column, tbl) INTO denied;
    IF denied IS NOT NULL THEN
        RAISE EXCEPTION 'unprotect() cannot decrypt every row of "%": % cannot read keyring(s) %',
                tbl, han_crypto.current_actor(), pg_catalog.array_to_string(denied, ', ')
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Nothing was changed. Get reader access to those keyrings (and unlock passphrase keyrings) in this session, then call it again.';
    END IF;

    IF columns IS NOT NULL THEN
        -- Some columns, in one transaction: the trigger stops sealing them
        -- first (configuration), then their values are decrypted, then the
        -- view shows them as they are.
        SELECT pg_catalog.array_agg(pc) INTO leaving
        FROM han_crypto.protected pc WHERE pc.table_name = tbl AND pc.column_name::text = ANY (columns);
        PERFORM han_crypto._forget_protected_columns(tbl::oid, columns);
        FOREACH p IN ARRAY leaving LOOP
            EXECUTE pg_catalog.format(
                'UPDATE %1$s t SET %2$I = %3$s WHERE han_crypto._is_sealed(%2$I::text, %4$L)',
                tbl, p.column_name,
                han_crypto._open_expression(p.kind, p.column_name, p.binding, p.keyring_column, p.key_columns, strict => true),
                p.kind);
            GET DIAGNOSTICS done = ROW_COUNT;
            total := total + done;
            EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET STORAGE EXTENDED', tbl, p.column_name);
        END LOOP;
        PERFORM han_crypto._create_view(tbl);
        RAISE NOTICE 'han_crypto: % values decrypted in "%"; % no longer protected',
            total, tbl, pg_catalog.array_to_string(columns, ', ');
        RETURN;
    END IF;

    SELECT view_name INTO p FROM han_crypto.protected WHERE table_name = tbl LIMIT 1;
    IF pg_catalog.to_regclass(p.view_name) IS NOT NULL THEN
        EXECUTE pg_catalog.format('DROP VIEW %s', p.view_name);
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgrelid = tbl AND tgname = 'zz_han_crypto_protect') THEN
        EXECUTE pg_catalog.format('DROP TRIGGER zz_han_crypto_protect ON %s', tbl);
    END IF;
    COMMIT;
    -- Batches by (tableoid, ctid): a ctid alone repeats across partitions.
    FOR p IN SELECT * FROM han_crypto.protected WHERE table_name = tbl LOOP
        LOOP
            EXECUTE pg_catalog.format(
                'UPDATE %1$s t SET %2$I = %3$s FROM (SELECT tableoid, ctid FROM %1$s WHERE han_crypto._is_sealed(%2$I::text, %4$L) LIMIT %5$s) s WHERE t.tableoid = s.tableoid AND t.ctid = s.ctid',
                tbl, p.column_name,
                han_crypto._open_expression(p.kind, p.column_name, p.binding, p.keyring_column, p.key_columns, strict => true),
                p.kind, batch_size);
            GET DIAGNOSTICS done = ROW_COUNT;
            total := total + done;
            COMMIT;
            EXIT WHEN done = 0;
        END LOOP;
        EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET STORAGE EXTENDED', tbl, p.column_name);
    END LOOP;
    PERFORM han_crypto._unregister_protection(tbl::oid);
    RAISE NOTICE 'han_crypto: % values decrypted in "%"; protection removed', total, tbl;
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
        SELECT DISTINCT p.view_name, c.relowner::regrole::text AS owner
        FROM pg_event_trigger_ddl_commands() d
        JOIN han_crypto.protected p ON p.table_name = d.objid
        JOIN pg_class c ON c.oid = d.objid
        JOIN pg_class v ON v.oid = to_regclass(p.view_name)
        WHERE d.classid = 'pg_class'::regclass AND v.relowner <> c.relowner
    LOOP
        EXECUTE format('ALTER VIEW %s OWNER TO %s', r.view_name, r.owner);
    END LOOP;
END
$$;

CREATE EVENT TRIGGER han_crypto_follow_owner ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION han_crypto._follow_owner();

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
    r    record;
    gone text[];
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
            IF to_regclass(r.view_name) IS NOT NULL THEN
                EXECUTE format('DROP VIEW %s', r.view_name);
            END IF;
            EXECUTE format('DROP TRIGGER IF EXISTS zz_han_crypto_protect ON %s', r.tbl);
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
