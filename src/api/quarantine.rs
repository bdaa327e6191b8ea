//! Quarantine in SQL: restore_redactions() puts a false positive back,
//! quarantined() lists what is kept for a table (positions and types,
//! never values), purge_quarantine() deletes what outlived its retention.
//! The regclass-taking wrappers are in sql/quarantine.sql.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::error::HcError;

/// Puts back the values quarantine kept for one protected value; returns
/// how many. The caller must be an admin of the table's quarantine keyring
/// and a writer of the row's keyring.
#[pg_extern(volatile, parallel_unsafe)]
fn _restore_redactions(
    tbl: Option<pg_sys::Oid>,
    row_key: Option<Vec<Option<String>>>,
    column_name: Option<&str>,
) -> Result<i32, ErrorReport> {
    let tbl = tbl.ok_or(HcError::NullArgument("tbl"))?;
    let row_key = row_key.ok_or(HcError::NullArgument("row_key"))?;
    let column_name = column_name.ok_or(HcError::NullArgument("column_name"))?;
    let restored = crate::protect::restore_redactions(tbl, &row_key, column_name);
    let object = crate::catalog::relation_sql_name(tbl)
        .map(|t| format!("{t}.{column_name}"))
        .unwrap_or_else(|_| column_name.to_owned());
    let detail = match &restored {
        Ok(n) => serde_json::json!({ "restored": n }),
        Err(_) => serde_json::json!({}),
    };
    let row = row_key
        .iter()
        .map(|k| k.as_deref().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(",");
    let access = crate::audit::Access::new("restore_redactions")
        .object(object)
        .row_key(|| row)
        .detail(detail);
    Ok(crate::audit::audited(access, restored)?)
}

/// What quarantine keeps for a table, for an admin of its quarantine keyring.
// pgrx reads the column names from the signature, so no type alias.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_unsafe)]
fn _quarantined(
    tbl: Option<pg_sys::Oid>,
) -> Result<
    TableIterator<
        'static,
        (
            name!(row_key, Vec<Option<String>>),
            name!(column_name, String),
            name!(ordinal, i32),
            name!(kind, String),
            name!(quarantined_at, pgrx::datum::TimestampWithTimeZone),
            name!(expires_at, pgrx::datum::TimestampWithTimeZone),
        ),
    >,
    ErrorReport,
> {
    let tbl = tbl.ok_or(HcError::NullArgument("tbl"))?;
    let cfg = crate::catalog::protected_table(tbl).ok_or_else(|| {
        HcError::InvalidArgument("the table is not protected by han_crypto".into())
    })?;
    let keyring = crate::redaction::quarantine_keyring(&cfg.options)?;
    let rows = crate::quarantine::list(&cfg.binding, &keyring)?;
    Ok(TableIterator::new(rows))
}

/// Deletes every kept value whose retention has run out; returns how many.
#[pg_extern(volatile, parallel_unsafe)]
fn purge_quarantine() -> Result<i64, ErrorReport> {
    let purged = crate::quarantine::purge();
    let detail = match &purged {
        Ok(n) => serde_json::json!({ "purged": n }),
        Err(_) => serde_json::json!({}),
    };
    let access = crate::audit::Access::new("purge_quarantine").detail(detail);
    Ok(crate::audit::audited(access, purged)?)
}
