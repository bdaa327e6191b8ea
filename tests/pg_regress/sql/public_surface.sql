-- Every han_crypto function and procedure that PUBLIC (any role) may
-- execute, with the reason it is safe for any input from anyone. A new
-- object granted to PUBLIC without a reason here shows as NO REASON and
-- fails this test; so does a reason left for an object no longer public.
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
WITH reasons(routine, why) AS (VALUES
    ('han_crypto.encrypt(text,text,text)',          'seals only for writers of the keyring (checked per actor inside)'),
    ('han_crypto.encrypt(bytea,text,text)',         'seals only for writers of the keyring (checked per actor inside)'),
    ('han_crypto.encrypt(jsonb,text,text)',         'SQL wrapper of _encrypt_json; fully qualified'),
    ('han_crypto._encrypt_json(text,text,text)',    'encrypt() for jsonb text: the same checks'),
    ('han_crypto.decrypt(bytea,text)',              'opens only for members of the envelope''s keyring'),
    ('han_crypto.decrypt_bytea(bytea,text)',        'opens only for members of the envelope''s keyring'),
    ('han_crypto.decrypt_jsonb(bytea,text)',        'SQL wrapper of _decrypt_json; fully qualified'),
    ('han_crypto._decrypt_json(bytea,text)',        'decrypt() for jsonb: the same checks'),
    ('han_crypto.envelope_info(bytea)',             'parses structure only; says what the bytes already say'),
    ('han_crypto.envelope_to_json(bytea)',          'SQL wrapper of _envelope_json_text; fully qualified'),
    ('han_crypto._envelope_json_text(bytea)',       'format conversion; no key'),
    ('han_crypto.envelope_from_json(jsonb)',        'SQL wrapper of _envelope_from_json; fully qualified'),
    ('han_crypto._envelope_from_json(text)',        'format conversion; no key'),
    ('han_crypto.version()',                        'constant'),
    ('han_crypto.audit_public_key()',               'a public key: verifying the trail needs no secret'),
    ('han_crypto._creating_extension()',            'a flag the trail''s event triggers read as the DDL issuer'),
    ('han_crypto.current_actor()',                  'the caller''s own identity'),
    ('han_crypto.actor_info()',                     'the caller''s own identity'),
    ('han_crypto.key_cache_stats()',                'this backend''s own counters, no key'),
    ('han_crypto.unlock(text,text)',                'members only; derivations bounded per principal and cluster-wide'),
    ('han_crypto.lock(text)',                       'forgets the caller''s own unlocked keys'),
    ('han_crypto.change_passphrase(text,text,text)','keyring admins only, with the old passphrase'),
    ('han_crypto.seal(bytea,text)',                 'public-key encryption: needs no secret'),
    ('han_crypto.seal(bytea,bytea)',                'public-key encryption: needs no secret'),
    ('han_crypto.open_sealed(text,bytea)',          'members of the key pair''s keyring only'),
    ('han_crypto.open_sealed_bytea(text,bytea)',    'members of the key pair''s keyring only'),
    ('han_crypto.scan_secrets(text)',               'pure function of its input; positions, never values'),
    ('han_crypto.explain_redaction(text)',          'pure function of its input and a setting; positions and rule names, never values'),
    ('han_crypto.redact(text)',                     'pure function of its input'),
    ('han_crypto.redact_jsonb(jsonb)',              'SQL wrapper of _redact_json; fully qualified'),
    ('han_crypto._redact_json(text)',               'pure function of its input'),
    ('han_crypto.redaction_types()',                'constant'),
    ('han_crypto.redaction_stats()',                'this backend''s own counters'),
    ('han_crypto.reset_redaction_stats()',          'this backend''s own counters'),
    ('han_crypto.protect(regclass,text[],text,boolean,jsonb)', 'table owners only (checked by _register_protection); DDL with the caller''s rights'),
    ('han_crypto.unprotect(regclass,integer,text[])', 'table owners only, and only with read access to every row''s keyring'),
    ('han_crypto._register_protection(oid,text[],text,text)', 'table owners only; records what the real relation holds, never caller-chosen kinds, binding or view name'),
    ('han_crypto._unregister_protection(oid)',      'table owners only, their own table'),
    ('han_crypto._forget_protected_columns(oid,text[])', 'table owners only, their own table'),
    ('han_crypto._forget_dropped_table(oid)',       'refused for a table that exists'),
    ('han_crypto._create_view(regclass)',           'table owners only; names quoted from the real relation'),
    ('han_crypto._is_view_of(oid,oid)',             'catalog predicate; reads no data'),
    ('han_crypto._decrypting_views()',              'catalog query: which views read protected tables; no data'),
    ('han_crypto._mirror_table_grants(regclass,regclass)', 'caller''s rights: GRANT/REVOKE only on what the caller controls'),
    ('han_crypto._decrypting_view(regclass)',       'reads catalog facts every role can read'),
    ('han_crypto._require_unprotect_rights(regclass)', 'raises or returns nothing; reads catalog facts every role can read'),
    ('han_crypto._unprotect_begin(regclass,integer,text[])', 'table owners only'),
    ('han_crypto._unprotect_batch(regclass,integer)', 'table owners only; decrypts only with read access'),
    ('han_crypto._unprotect_finish(regclass,bigint)', 'table owners only; refuses while values are sealed'),
    ('han_crypto._can_read_keyring(text)',          'whether the caller itself may read; decrypts nothing'),
    ('han_crypto._is_sealed(text,text)',            'pure structural test'),
    ('han_crypto._open_expression(text,name,text,name,name[],boolean)', 'builds quoted SQL text; runs nothing'),
    ('han_crypto._open_text(text,text,text,text,text[],boolean)', 'decrypt() with a place: members only'),
    ('han_crypto._open_json(text,text,text,text,text[],boolean)', 'decrypt() with a place: members only'),
    ('han_crypto._open_bytea(bytea,text,text,text,text[],boolean)', 'decrypt() with a place: members only'),
    ('han_crypto.restore_redactions(regclass,text[],text)', 'SQL wrapper of _restore_redactions; fully qualified'),
    ('han_crypto.restore_redactions(regclass,text,text)', 'SQL wrapper of _restore_redactions; fully qualified'),
    ('han_crypto._restore_redactions(oid,text[],text)', 'admins of the quarantine keyring who write the row''s keyring only; the row is read and written with the caller''s rights'),
    ('han_crypto.quarantined(regclass)',            'SQL wrapper of _quarantined; fully qualified'),
    ('han_crypto._quarantined(oid)',                'admins of the quarantine keyring only; positions and types, never values'),
    ('han_crypto._protect_trigger()',               'CREATE TRIGGER needs it; refuses any firing but BEFORE ROW INSERT/UPDATE, checks every column''s real type'),
    ('han_crypto._forget_truncated()',              'CREATE TRIGGER needs it; refuses any firing but AFTER TRUNCATE FOR EACH STATEMENT; forgets only the firing table''s quarantined values'),
    ('han_crypto._view_write()',                    'CREATE TRIGGER needs it; writes with the caller''s own rights')
), public_routines AS (
    SELECT p.oid::regprocedure::text AS routine
    FROM pg_proc p
    WHERE p.pronamespace = 'han_crypto'::regnamespace
      AND has_function_privilege('public', p.oid, 'EXECUTE')
)
SELECT coalesce(p.routine, r.routine) AS routine,
       CASE WHEN r.why IS NULL THEN '*** NO REASON: not safe for PUBLIC until argued ***'
            WHEN p.routine IS NULL THEN '*** STALE: no longer executable by PUBLIC ***'
            ELSE 'ok' END AS verdict
FROM public_routines p FULL JOIN reasons r USING (routine)
WHERE p.routine IS NULL OR r.why IS NULL
ORDER BY 1;

-- The count of routines PUBLIC may execute, so that the list above (empty
-- when all is well) is not empty for the wrong reason.
SELECT count(*) AS public_routines FROM pg_proc p
WHERE p.pronamespace = 'han_crypto'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE');
