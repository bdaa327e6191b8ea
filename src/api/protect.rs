//! The internal SQL helpers of table protection (sql/protect.sql calls
//! them). Each is executable by PUBLIC, because protect() and unprotect()
//! run with the caller's rights and a table's owner need not be a superuser;
//! so each is safe for any input from anyone: it acts only on a table the
//! caller owns, and what it records is read from the real relation, never
//! taken from the caller (column kinds, primary key, binding and view name).

use han_crypto_core::column;
use han_crypto_core::envelope;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::catalog::{self, quote_ident};
use crate::error::{quoted, HcError, HcResult};
use crate::keyring;
use crate::protect::Kind;

/// Whether a stored value (as text; bytea in its hex form) has the sealed
/// form for its column kind. Structural only; used by unprotect().
#[pg_extern(immutable, parallel_safe)]
fn _is_sealed(value: Option<&str>, kind: Option<&str>) -> bool {
    let (Some(value), Some(kind)) = (value, kind) else {
        return false;
    };
    match kind {
        "bytea" => value
            .strip_prefix("\\x")
            .and_then(|h| hex::decode(h).ok())
            .is_some_and(|b| column::is_envelope(&b)),
        "text" => matches!(column::decode_text(value), Ok(Some(_))),
        "jsonb" => matches!(column::decode_json(value), Ok(Some(_))),
        _ => false,
    }
}

/// Whether the current actor could decrypt values of `keyring` now: a
/// member, and the keyring unlocked if it is a passphrase keyring. Decrypts
/// nothing; unprotect() asks it for every keyring of the table before it
/// changes anything, so it never stops half-way for lack of access.
#[pg_extern(volatile, parallel_unsafe)]
fn _can_read_keyring(keyring: &str) -> Result<bool, ErrorReport> {
    let ring = keyring::by_name(keyring)?;
    let active = envelope::KeyRef {
        keyring_id: ring.id,
        key_version: ring.active_version,
    };
    match keyring::decryption_key(active) {
        Ok(_) => Ok(true),
        Err(HcError::NotAllowed { .. } | HcError::KeyringLocked(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A relation as protect() needs to know it.
struct Relation {
    schema: String,
    name: String,
    kind: String,
    /// As regclass prints it with a pinned search_path (schema-qualified).
    shown: String,
    primary_key: Vec<String>,
    owner: pg_sys::Oid,
    /// (name, type oid, typmod) of every live column, in order.
    columns: Vec<(String, pg_sys::Oid, i32)>,
}

fn relation(tbl: pg_sys::Oid) -> Option<Relation> {
    catalog::as_owner(|| {
        Spi::connect(|client| {
            let t = client
                .select(
                    "SELECT n.nspname::text, c.relname::text, c.relkind::text, c.oid::regclass::text, \
                            (SELECT array_agg(a.attname::text ORDER BY k.ord) \
                             FROM pg_index i \
                             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
                             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                             WHERE i.indrelid = c.oid AND i.indisprimary), \
                            c.relowner \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
                    Some(1),
                    &[tbl.into()],
                )
                .ok()?;
            let row = t.into_iter().next()?;
            let mut rel = Relation {
                schema: row.get(1).ok()??,
                name: row.get(2).ok()??,
                kind: row.get(3).ok()??,
                shown: row.get(4).ok()??,
                primary_key: row.get::<Vec<String>>(5).ok().flatten().unwrap_or_default(),
                owner: row.get(6).ok()??,
                columns: Vec::new(),
            };
            let cols = client
                .select(
                    "SELECT attname::text, atttypid, atttypmod FROM pg_attribute \
                     WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                    None,
                    &[tbl.into()],
                )
                .ok()?;
            for c in cols {
                rel.columns
                    .push((c.get(1).ok()??, c.get(2).ok()??, c.get(3).ok()??));
            }
            Some(rel)
        })
    })
}

/// Records a protect() or unprotect() step on `object` with its outcome,
/// then passes `result` on (a failure to record fails the call).
fn audited<T>(
    action: &'static str,
    object: Option<String>,
    result: Result<T, ErrorReport>,
) -> Result<T, ErrorReport> {
    let outcome = if result.is_ok() {
        crate::audit::Outcome::Ok
    } else {
        crate::audit::Outcome::Error
    };
    let mut access = crate::audit::Access::new(action).outcome(outcome);
    if let Some(o) = object {
        access = access.object(o);
    }
    crate::audit::record_single(access)?;
    result
}

fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Every sealed value is bound to its row's key and keyring as text, so
/// their types must print the same in every session: not timestamps,
/// dates, intervals, floats or bytea, whose text form follows TimeZone,
/// DateStyle, IntervalStyle, extra_float_digits or bytea_output.
fn stable_text_form(rel: &Relation, column: &str) -> HcResult<()> {
    let Some((_, typid, _)) = rel.columns.iter().find(|(n, _, _)| n == column) else {
        return Ok(()); // reported as a missing column elsewhere
    };
    const STABLE: &[pg_sys::Oid] = &[
        pg_sys::INT2OID,
        pg_sys::INT4OID,
        pg_sys::INT8OID,
        pg_sys::NUMERICOID,
        pg_sys::TEXTOID,
        pg_sys::VARCHAROID,
        // Not char(n): its output keeps the padding that its cast to text
        // (the view's, restore's) drops, so the two would not agree.
        pg_sys::NAMEOID,
        pg_sys::UUIDOID,
        pg_sys::OIDOID,
        pg_sys::BOOLOID,
    ];
    if STABLE.contains(typid) {
        return Ok(());
    }
    if *typid == pg_sys::BPCHAROID {
        return Err(HcError::Refused {
            code: PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            message: format!(
                "column {q_column} has type character(n), whose output keeps the padding that its cast to text drops; sealed values are bound to its text form",
                q_column = quoted(column)),
            hint: Some("Use varchar or text for key and keyring columns.".into()),
        });
    }
    Err(HcError::Refused {
        code: PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
        message: format!(
            "column {q_column} has type {}, whose text form depends on session settings; sealed values are bound to it",
            catalog::type_name(*typid, -1), q_column = quoted(column)),
        hint: Some("Key and keyring columns must be integer, bigint, smallint, numeric, text, varchar, uuid, name, oid or boolean.".into()),
    })
}

/// The kind of each column to protect, checked against the relation.
fn column_kinds(rel: &Relation, columns: &[String], keyring_column: &str) -> HcResult<Vec<Kind>> {
    let mut kinds = Vec::with_capacity(columns.len());
    for (i, col) in columns.iter().enumerate() {
        if columns[..i].contains(col) {
            return Err(HcError::Refused {
                code: PgSqlErrorCode::ERRCODE_DUPLICATE_COLUMN,
                message: format!(
                    "column {q_col} is listed more than once",
                    q_col = quoted(col)
                ),
                hint: None,
            });
        }
        let Some((_, typid, typmod)) = rel.columns.iter().find(|(n, _, _)| n == col) else {
            return Err(HcError::Refused {
                code: PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                message: format!(
                    "column {q_col} does not exist in \"{}\"",
                    rel.shown,
                    q_col = quoted(col)
                ),
                hint: None,
            });
        };
        if col == keyring_column || rel.primary_key.contains(col) {
            return Err(HcError::InvalidArgument(format!(
                "column {q_col} is the keyring column or part of the primary key and cannot be encrypted", q_col = quoted(col))));
        }
        if *typid == pg_sys::VARCHAROID && *typmod >= 0 {
            return Err(HcError::Refused {
                code: PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
                message: format!(
                    "column {q_col} is varchar(n), too short for envelopes",
                    q_col = quoted(col)
                ),
                hint: Some("ALTER it to text or unbounded varchar first.".into()),
            });
        }
        kinds.push(
            Kind::of_type(*typid, *typmod).ok_or_else(|| HcError::Refused {
                code: PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
                message: format!(
                    "column {q_col} has type {}, which han_crypto does not protect",
                    catalog::type_name(*typid, -1),
                    q_col = quoted(col)
                ),
                hint: Some("Protected columns are text, varchar, jsonb or bytea.".into()),
            })?,
        );
    }
    Ok(kinds)
}

#[pg_extern(volatile, parallel_unsafe)]
fn _register_protection(
    tbl: Option<pg_sys::Oid>,
    columns: Option<Vec<Option<String>>>,
    keyring_column: Option<&str>,
    options: Option<&str>,
) -> Result<String, ErrorReport> {
    let object = tbl.and_then(|t| catalog::relation_sql_name(t).ok());
    audited(
        "protect",
        object,
        _register_protection_unaudited(tbl, columns, keyring_column, options),
    )
}

/// protect()'s checks and its record: validates the call against the real
/// relation and records (or replaces) the configuration the trigger and the
/// view are built from. Returns the view's name. Only the table's owner may.
fn _register_protection_unaudited(
    tbl: Option<pg_sys::Oid>,
    columns: Option<Vec<Option<String>>>,
    keyring_column: Option<&str>,
    options: Option<&str>,
) -> Result<String, ErrorReport> {
    let (Some(tbl), Some(columns), Some(keyring_column), Some(options)) =
        (tbl, columns, keyring_column, options)
    else {
        return Err(HcError::NullArgument("tbl, columns, keyring_column and options").into());
    };
    let columns: Vec<String> = columns
        .into_iter()
        .collect::<Option<_>>()
        .ok_or(HcError::NullArgument("columns"))?;
    let options: serde_json::Value = serde_json::from_str(options)
        .map_err(|_| HcError::InvalidArgument("options must be a JSON object".into()))?;
    require_owner(tbl)?;
    let rel = relation(tbl).ok_or_else(|| HcError::Refused {
        code: PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
        message: format!("relation with OID {} does not exist", u32::from(tbl)),
        hint: None,
    })?;
    require_owner_role(rel.owner)?;
    if rel.kind != "r" && rel.kind != "p" {
        return Err(HcError::Refused {
            code: PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            message: format!("\"{}\" is not a table", rel.shown),
            hint: None,
        }
        .into());
    }
    if columns.is_empty() {
        return Err(HcError::InvalidArgument("protect() needs at least one column".into()).into());
    }
    if rel.primary_key.is_empty() {
        return Err(HcError::Refused {
            code: PgSqlErrorCode::ERRCODE_INVALID_TABLE_DEFINITION,
            message: format!("table \"{}\" has no primary key", rel.shown),
            hint: Some("Every protected value is bound to its row's primary key.".into()),
        }
        .into());
    }
    if !rel.columns.iter().any(|(n, _, _)| n == keyring_column) {
        return Err(HcError::Refused {
            code: PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            message: format!(
                "keyring column {q_keyring_column} does not exist in \"{}\"",
                rel.shown,
                q_keyring_column = quoted(keyring_column)
            ),
            hint: None,
        }
        .into());
    }
    for key in rel
        .primary_key
        .iter()
        .chain(std::iter::once(&keyring_column.to_string()))
    {
        stable_text_form(&rel, key)?;
    }
    let kinds = column_kinds(&rel, &columns, keyring_column)?;

    // Called again: values already sealed are bound to the recorded keyring
    // column and key, and columns left out would stay sealed with no view
    // to read them. Refuse rather than strand data.
    let previous = catalog::own_protection(tbl);
    if let Some(prev) = &previous {
        if prev.keyring_column != keyring_column || prev.key_columns != rel.primary_key {
            return Err(HcError::Refused {
                code: PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                message: format!(
                    "protect() cannot change the keyring column or primary key of \"{}\" (protected with keyring column \"{}\" and key {{{}}})",
                    rel.shown,
                    prev.keyring_column,
                    prev.key_columns.join(",")
                ),
                hint: Some("Sealed values are bound to both. CALL han_crypto.unprotect() first, then protect() again.".into()),
            }
            .into());
        }
        let mut dropped: Vec<&str> = prev
            .columns
            .iter()
            .map(|(c, _)| c.as_str())
            .filter(|c| !columns.iter().any(|n| n == c))
            .collect();
        dropped.sort_unstable();
        if !dropped.is_empty() {
            return Err(HcError::Refused {
                code: PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                message: format!(
                    "protect() would stop protecting {} of \"{}\", whose values are sealed",
                    dropped.join(", "),
                    rel.shown
                ),
                hint: Some(format!(
                    "List every protected column. To decrypt columns back and stop protecting them: CALL han_crypto.unprotect({}, columns => {}).",
                    sql_literal(&rel.shown),
                    sql_literal(&format!("{{{}}}", dropped.join(",")))
                )),
            }
            .into());
        }
    }
    crate::redaction::validate_options(&options, &columns)?;
    // Quarantined values need a keyring to be sealed under that is not
    // every role's (root) and needs no unlocking (passphrase).
    for c in &columns {
        if let Some(q) = crate::redaction::column_quarantine(&options, c)? {
            crate::keyring::depositable(&q.keyring)?;
        }
    }

    // A new binding must be no other protected table's: a table renamed
    // away keeps its binding, and one created under its old name must not
    // share it (its values, and what quarantine keeps for it, would pass
    // for the other's).
    let binding = match previous {
        Some(p) => p.binding,
        None => {
            let base = format!("{}.{}", quote_ident(&rel.schema), quote_ident(&rel.name));
            let mut binding = base.clone();
            let mut n = 2;
            while catalog::binding_taken(&binding, tbl) {
                binding = format!("{base}#{n}");
                n += 1;
            }
            binding
        }
    };
    let view = format!(
        "{}.{}",
        quote_ident(&rel.schema),
        quote_ident(&format!("{}_decrypted", rel.name))
    );
    let kinds: Vec<String> = kinds.iter().map(|k| k.name().to_string()).collect();
    catalog::put_protection(
        tbl,
        &binding,
        keyring_column,
        &rel.primary_key,
        &columns,
        &kinds,
        &view,
        options,
    )?;
    crate::log_scrub::warn_if_first_writes_unscrubbed();
    Ok(view)
}

#[pg_extern(volatile, parallel_unsafe)]
fn _unregister_protection(tbl: pg_sys::Oid) -> Result<(), ErrorReport> {
    let object = catalog::relation_sql_name(tbl).ok();
    audited("unprotect", object, _unregister_protection_unaudited(tbl))
}

/// Removes a table's protection configuration (unprotect()).
fn _unregister_protection_unaudited(tbl: pg_sys::Oid) -> Result<(), ErrorReport> {
    require_owner(tbl)?;
    // What quarantine kept for the table goes with its protection.
    crate::quarantine::forget_table(tbl, None)?;
    catalog::delete_protection(tbl)?;
    Ok(())
}

#[pg_extern(volatile, parallel_unsafe)]
fn _forget_protected_columns(
    tbl: pg_sys::Oid,
    columns: Vec<Option<String>>,
) -> Result<(), ErrorReport> {
    let object = catalog::relation_sql_name(tbl).ok();
    audited(
        "unprotect",
        object,
        _forget_protected_columns_unaudited(tbl, columns),
    )
}

/// Stops protecting some columns of a table (unprotect(tbl, columns =>
/// ...), which decrypts their values right after, in the same transaction).
fn _forget_protected_columns_unaudited(
    tbl: pg_sys::Oid,
    columns: Vec<Option<String>>,
) -> Result<(), ErrorReport> {
    require_owner(tbl)?;
    let columns: Vec<String> = columns.into_iter().flatten().collect();
    crate::quarantine::forget_table(tbl, Some(&columns))?;
    catalog::delete_protected_columns(tbl, &columns)?;
    Ok(())
}

/// Removes the configuration of a table that was dropped (the sql_drop
/// event trigger). Refused for a table that still exists, so it is
/// harmless whoever calls it.
#[pg_extern(volatile, parallel_unsafe)]
fn _forget_dropped_table(tbl: pg_sys::Oid) -> Result<(), ErrorReport> {
    // SAFETY: a syscache probe by OID.
    let exists = unsafe {
        pg_sys::SearchSysCacheExists(
            pg_sys::SysCacheIdentifier::RELOID as i32,
            tbl.into(),
            pg_sys::Datum::from(0),
            pg_sys::Datum::from(0),
            pg_sys::Datum::from(0),
        )
    };
    if exists {
        return Err(HcError::PermissionDenied {
            message: "only the configuration of a dropped table can be forgotten this way".into(),
            hint: "Use han_crypto.unprotect() for a table that exists.",
        }
        .into());
    }
    // What quarantine kept for the table goes with its protection.
    crate::quarantine::forget_table(tbl, None)?;
    catalog::delete_protection(tbl)?;
    Ok(())
}

fn require_owner(tbl: pg_sys::Oid) -> HcResult<()> {
    if crate::pg_compat::current_user_owns_relation(tbl) {
        return Ok(());
    }
    Err(HcError::PermissionDenied {
        message: "only the table's owner may protect or unprotect it".into(),
        hint: "Run han_crypto.protect() as the table's owner.",
    })
}

/// protect() rewrites every row of the table, which runs the table's own
/// triggers, policies and index expressions with the caller's rights: a
/// superuser does it as the table's owner, never with superuser rights on
/// code another role wrote.
fn require_owner_role(owner: pg_sys::Oid) -> HcResult<()> {
    // SAFETY: reading the current user and checking its superuser bit.
    let (me, is_superuser) = unsafe { (pg_sys::GetUserId(), pg_sys::superuser()) };
    if !is_superuser || me == owner {
        return Ok(());
    }
    Err(HcError::PermissionDenied {
        message: "a superuser protects another role's table as that role: the table's triggers and policies would otherwise run with superuser rights".into(),
        hint: "SET ROLE to the table's owner first, then call han_crypto.protect().",
    })
}
