//! Access monitoring's SQL surface: rule changes (audited, and the writer
//! reloads on seeing them), acknowledging alerts, planting honeytokens.
//! The rules themselves run in the audit writer (audit::alerting).

use han_crypto_core::envelope;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode as Code;

use crate::audit::{self, Access};
use crate::catalog::{self, as_owner};
use crate::error::{HcError, HcResult};

/// Statement trigger of han_crypto.alert_rules: the change is an audit
/// event, which is also what tells the writer to read the rules again.
#[pg_extern(volatile, parallel_unsafe)]
fn _alert_rules_changed(operation: Option<&str>) -> Result<(), ErrorReport> {
    let operation = operation.unwrap_or("");
    if !["INSERT", "UPDATE", "DELETE", "TRUNCATE"].contains(&operation) {
        return Err(HcError::InvalidArgument(
            "han_crypto._alert_rules_changed() takes the operation of han_crypto.alert_rules' trigger"
                .into(),
        )
        .into());
    }
    catalog::changed(catalog::Table::AlertRules);
    audit::record_single(
        Access::new("alert_rules_change")
            .object("han_crypto.alert_rules")
            .detail(serde_json::json!({ "operation": operation })),
    )?;
    Ok(())
}

/// Marks alert `id` acknowledged (by the session's user, with `note`);
/// false if it already was. Recorded in the trail (the note is not: it
/// stays in the alert's row).
#[pg_extern(volatile, parallel_unsafe)]
fn acknowledge_alert(
    id: Option<i64>,
    note: default!(Option<&str>, "NULL"),
) -> Result<bool, ErrorReport> {
    let id = id.ok_or(HcError::NullArgument("id"))?;
    let note = note.map(|n| n.chars().take(2000).collect::<String>());
    let changed = as_owner(|| {
        audit::as_writer(|| {
            Spi::connect_mut(|c| {
                let exists = match c
                    .select(
                        "SELECT acknowledged_at IS NULL FROM han_crypto_audit.alerts WHERE id = $1",
                        Some(1),
                        &[id.into()],
                    )?
                    .next()
                {
                    Some(row) => Some(row.get::<bool>(1)?.unwrap_or(false)),
                    None => None,
                };
                let Some(open) = exists else {
                    return Err(HcError::Refused {
                        code: Code::ERRCODE_UNDEFINED_OBJECT,
                        message: format!("alert {id} does not exist"),
                        hint: Some("han_crypto_audit.alerts lists the alerts.".into()),
                    });
                };
                if !open {
                    return Ok(false);
                }
                c.update(
                    "UPDATE han_crypto_audit.alerts
                        SET acknowledged_at = pg_catalog.now(),
                            acknowledged_by = pg_catalog.session_user()::pg_catalog.text,
                            note = $2
                      WHERE id = $1 AND acknowledged_at IS NULL",
                    None,
                    &[id.into(), note.clone().into()],
                )?;
                Ok::<_, HcError>(true)
            })
        })
    })?;
    if changed {
        audit::record_single(
            Access::new("acknowledge_alert")
                .object(format!("alert {id}"))
                .outcome(audit::Outcome::Ok)
                .detail(serde_json::json!({ "alert": id })),
        )?;
    }
    Ok(changed)
}

/// Inserts `decoy` (a row as jsonb text, as jsonb_populate_record reads
/// it; text, so that a document nested too deep is PostgreSQL's error)
/// into protected table `tbl`, sealed like any row, and registers each of
/// its sealed values as a honeytoken: reading one through the view, or
/// decrypting its ciphertext anywhere, raises a critical alert. Returns
/// how many values were registered. Runs with the caller's privileges on
/// `tbl` (INSERT). The regclass-taking wrapper is in sql/alerts.sql.
#[pg_extern(volatile, parallel_unsafe)]
fn _plant_honeytoken(
    tbl: Option<pg_sys::Oid>,
    decoy: Option<&str>,
    note: default!(Option<&str>, "NULL"),
) -> Result<i32, ErrorReport> {
    let tbl = tbl.ok_or(HcError::NullArgument("tbl"))?;
    let decoy = decoy.ok_or(HcError::NullArgument("decoy"))?;
    Ok(plant(tbl, decoy, note)?)
}

fn plant(tbl: pg_sys::Oid, decoy: &str, note: Option<&str>) -> HcResult<i32> {
    let table = catalog::relation_sql_name(tbl)?;
    let columns: Vec<(String, String)> = as_owner(|| {
        Spi::connect(|c| {
            let mut out = Vec::new();
            for row in c.select(
                "SELECT column_name::pg_catalog.text, kind FROM han_crypto.protected_columns
                  WHERE relid = $1::pg_catalog.oid ORDER BY column_name",
                None,
                &[tbl.into()],
            )? {
                if let (Some(n), Some(k)) = (row.get::<String>(1)?, row.get::<String>(2)?) {
                    out.push((n, k));
                }
            }
            Ok::<_, HcError>(out)
        })
    })?;
    if columns.is_empty() {
        return Err(HcError::Refused {
            code: Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            message: format!("{table} is not protected"),
            hint: Some("Honeytokens go into tables protected with han_crypto.protect().".into()),
        });
    }
    let returning: Vec<String> = columns
        .iter()
        .map(|(n, k)| {
            let q = catalog::quote_ident(n);
            if k == "bytea" {
                format!("pg_catalog.encode({q}, 'hex')")
            } else {
                format!("{q}::pg_catalog.text")
            }
        })
        .collect();
    // The caller's own INSERT: its privileges, the table's triggers (the
    // protection trigger seals the values).
    let sql = format!(
        "INSERT INTO {table} SELECT * FROM pg_catalog.jsonb_populate_record(NULL::{table}, $1::pg_catalog.jsonb) RETURNING {}",
        returning.join(", ")
    );
    let stored: Vec<Option<String>> = Spi::connect_mut(|c| {
        let rows = c.update(&sql, Some(1), &[decoy.into()])?;
        let Some(row) = rows.into_iter().next() else {
            // A rule or trigger of the table swallowed the row.
            return Err(HcError::Refused {
                code: Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                message: format!("the decoy row was not stored in {table}"),
                hint: Some("A rule or trigger on the table kept it out.".into()),
            });
        };
        let mut out = Vec::new();
        for i in 1..=columns.len() {
            out.push(row.get::<String>(i)?);
        }
        Ok::<_, HcError>(out)
    })?;
    let mut planted = Vec::new();
    for ((name, kind), value) in columns.iter().zip(stored) {
        let Some(value) = value else { continue };
        let bytes = if kind == "bytea" {
            hex_bytes(&value)
        } else {
            value.into_bytes()
        };
        let Some(env) = crate::protect::stored_envelope(kind, &bytes)? else {
            continue;
        };
        let nonce = envelope::parse(&env)?.header.nonce.to_vec();
        planted.push((name.clone(), nonce));
    }
    as_owner(|| {
        Spi::connect_mut(|c| {
            for (column, nonce) in &planted {
                c.update(
                    "INSERT INTO han_crypto.honeytokens (table_name, column_name, nonce, note, planted_by)
                     VALUES ($1, $2, $3, $4, pg_catalog.session_user()::pg_catalog.text)",
                    None,
                    &[
                        table.clone().into(),
                        column.clone().into(),
                        nonce.clone().into(),
                        note.map(str::to_owned).into(),
                    ],
                )?;
            }
            Ok::<_, HcError>(())
        })
    })?;
    catalog::changed(catalog::Table::Honeytokens);
    audit::record_single(
        Access::new("plant_honeytoken")
            .object(table)
            .outcome(audit::Outcome::Ok)
            .detail(serde_json::json!({ "values": planted.len() })),
    )?;
    Ok(planted.len() as i32)
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}
