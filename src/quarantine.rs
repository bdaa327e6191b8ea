//! Quarantine: the values redaction removed from a column protected with
//! `{"redaction": "quarantine"}`, kept so that a false positive can be put
//! back (protect::restore_redactions). Each value is sealed under the
//! table's quarantine keyring, which its writers deposit into without being
//! members and only its admins open, and bound to its table, column, row
//! key, marker ordinal and type; han_crypto.quarantine holds it until its
//! retention runs out. The catalog is written as the extension owner: no
//! role has privileges on the table itself.

use han_crypto_core::column::{quarantine_context, Place};
use han_crypto_core::envelope::{self, ContentType};
use pgrx::prelude::*;

use crate::catalog::{as_owner, require_writable};
use crate::error::{HcError, HcResult};
use crate::keyring::{self, Access};
use crate::redaction::{Kept, Quarantine};

/// One kept value as stored: its marker's ordinal and type, and the value
/// sealed under the quarantine keyring.
pub struct Entry {
    pub ordinal: u32,
    pub kind: String,
    pub sealed: Vec<u8>,
}

fn key_array(place: &Place<'_>) -> Vec<Option<String>> {
    place.key.iter().map(|k| k.map(str::to_string)).collect()
}

/// Keeps `kept`, removed from the value stored at `place` whose envelope
/// has authentication tag `value_tag`. Adds only: a BEFORE INSERT trigger
/// cannot know that the row will be stored (ON CONFLICT DO NOTHING), so it
/// must not touch what is kept for the row already there.
pub fn keep(q: &Quarantine, place: &Place<'_>, value_tag: &[u8], kept: &[Kept]) -> HcResult<()> {
    if kept.is_empty() {
        return Ok(());
    }
    let (key_ref, key) = keyring::deposit_key(&q.keyring)?;
    let mut sealed = Vec::with_capacity(kept.len());
    for k in kept {
        let context = quarantine_context(place, k.ordinal, &k.kind);
        sealed.push(envelope::seal_with(
            &key,
            key_ref,
            ContentType::Text,
            k.value.as_bytes(),
            &context,
            false,
        )?);
    }
    require_writable("quarantining redacted values")?;
    let row_key = key_array(place);
    as_owner(|| -> HcResult<()> {
        for (k, s) in kept.iter().zip(&sealed) {
            Spi::run_with_args(
                "INSERT INTO han_crypto.quarantine (binding, column_name, row_key, value_tag, ordinal, kind, sealed, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, pg_catalog.now() OPERATOR(pg_catalog.+) pg_catalog.make_interval(days => $8))",
                &[
                    place.binding.into(),
                    place.column.into(),
                    row_key.clone().into(),
                    value_tag.into(),
                    (k.ordinal as i32).into(),
                    k.kind.as_str().into(),
                    s.as_slice().into(),
                    q.days.into(),
                ],
            )?;
        }
        Ok(())
    })
}

/// Forgets what is kept for the value at `place`: all of it, or (with
/// `except`) all but what belongs to the value with that tag. Used when the
/// row is deleted or moves to another key, when an UPDATE stores a new
/// value (the row is locked and will be written), and after a restore.
pub fn forget(place: &Place<'_>, except: Option<&[u8]>) -> HcResult<()> {
    if !crate::catalog::writable() {
        return Ok(()); // nothing can have been written here either
    }
    let row_key = key_array(place);
    as_owner(|| -> HcResult<()> {
        Spi::run_with_args(
            "DELETE FROM han_crypto.quarantine WHERE binding OPERATOR(pg_catalog.=) $1 \
             AND column_name OPERATOR(pg_catalog.=) $2 AND row_key OPERATOR(pg_catalog.=) $3 \
             AND value_tag IS DISTINCT FROM $4",
            &[
                place.binding.into(),
                place.column.into(),
                row_key.into(),
                except.into(),
            ],
        )?;
        Ok(())
    })
}

/// The value at `place` was sealed again (its row moved to another keyring):
/// what was kept for it now belongs to the envelope with tag `to`.
pub fn follow(place: &Place<'_>, from: &[u8], to: &[u8]) -> HcResult<()> {
    if !crate::catalog::writable() {
        return Ok(());
    }
    let row_key = key_array(place);
    as_owner(|| -> HcResult<()> {
        Spi::run_with_args(
            "UPDATE han_crypto.quarantine SET value_tag = $5 WHERE binding OPERATOR(pg_catalog.=) $1 \
             AND column_name OPERATOR(pg_catalog.=) $2 AND row_key OPERATOR(pg_catalog.=) $3 \
             AND value_tag OPERATOR(pg_catalog.=) $4",
            &[
                place.binding.into(),
                place.column.into(),
                row_key.into(),
                from.into(),
                to.into(),
            ],
        )?;
        Ok(())
    })
}

/// The entries kept for the stored value at `place` whose envelope has tag
/// `value_tag`, not expired, in marker order.
pub fn entries(place: &Place<'_>, value_tag: &[u8]) -> HcResult<Vec<Entry>> {
    let row_key = key_array(place);
    as_owner(|| {
        Spi::connect(|client| -> HcResult<Vec<Entry>> {
            let rows = client.select(
                "SELECT ordinal, kind, sealed FROM han_crypto.quarantine \
                 WHERE binding OPERATOR(pg_catalog.=) $1 AND column_name OPERATOR(pg_catalog.=) $2 \
                   AND row_key OPERATOR(pg_catalog.=) $3 AND value_tag OPERATOR(pg_catalog.=) $4 \
                   AND expires_at OPERATOR(pg_catalog.>) pg_catalog.now() \
                 ORDER BY ordinal",
                None,
                &[
                    place.binding.into(),
                    place.column.into(),
                    row_key.into(),
                    value_tag.into(),
                ],
            )?;
            let mut out = Vec::new();
            for row in rows {
                let (Some(ordinal), Some(kind), Some(sealed)) = (
                    row.get::<i32>(1)?,
                    row.get::<String>(2)?,
                    row.get::<Vec<u8>>(3)?,
                ) else {
                    continue;
                };
                out.push(Entry {
                    ordinal: ordinal.max(0) as u32,
                    kind,
                    sealed,
                });
            }
            Ok(out)
        })
    })
}

/// Opens an entry kept for `place` with the quarantine keyring `ring`,
/// whose admin the current actor must be.
pub fn open(
    ring: &crate::catalog::KeyringRow,
    place: &Place<'_>,
    entry: &Entry,
) -> HcResult<zeroize::Zeroizing<String>> {
    keyring::authorize(ring, Access::Manage)?;
    let parsed = envelope::parse(&entry.sealed)?;
    if parsed.header.key.keyring_id != ring.id {
        return Err(HcError::Core(han_crypto_core::Error::AuthenticationFailed));
    }
    let key = keyring::key_for_check(ring, parsed.header.key)?;
    let context = quarantine_context(place, entry.ordinal, &entry.kind);
    let plain = parsed.open(&key, &context)?;
    let text = std::str::from_utf8(&plain).map_err(|_| HcError::InvalidUtf8)?;
    Ok(zeroize::Zeroizing::new(text.to_string()))
}

/// Forgets what is kept for protected table `relid` (its protection ends,
/// or it was dropped or truncated): all of it, or only `columns`'.
pub fn forget_table(relid: pg_sys::Oid, columns: Option<&[String]>) -> HcResult<()> {
    if !crate::catalog::writable() {
        return Ok(());
    }
    let columns: Option<Vec<String>> = columns.map(<[String]>::to_vec);
    as_owner(|| -> HcResult<()> {
        Spi::run_with_args(
            "DELETE FROM han_crypto.quarantine q USING han_crypto.protected_tables t \
             WHERE t.relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1 \
               AND q.binding OPERATOR(pg_catalog.=) t.binding \
               AND ($2::pg_catalog.text[] IS NULL OR q.column_name OPERATOR(pg_catalog.=) ANY ($2))",
            &[relid.into(), columns.into()],
        )?;
        Ok(())
    })
}

/// Deletes every expired entry; returns how many.
pub fn purge() -> HcResult<i64> {
    require_writable("han_crypto.purge_quarantine()")?;
    as_owner(|| {
        Ok(Spi::get_one::<i64>(
            "WITH gone AS (DELETE FROM han_crypto.quarantine \
                           WHERE expires_at OPERATOR(pg_catalog.<=) pg_catalog.now() RETURNING 1) \
             SELECT pg_catalog.count(*) FROM gone",
        )?
        .unwrap_or(0))
    })
}

/// What is kept for a table, for an admin of its quarantine keyring:
/// (row key, column, ordinal, type, quarantined at, expires at).
pub type Listed = (
    Vec<Option<String>>,
    String,
    i32,
    String,
    pgrx::datum::TimestampWithTimeZone,
    pgrx::datum::TimestampWithTimeZone,
);

pub fn list(binding: &str, keyring_name: &str) -> HcResult<Vec<Listed>> {
    let ring = keyring::by_name(keyring_name)?;
    keyring::authorize(&ring, Access::Manage)?;
    as_owner(|| {
        Spi::connect(|client| -> HcResult<Vec<Listed>> {
            let rows = client.select(
                "SELECT row_key, column_name, ordinal, kind, quarantined_at, expires_at \
                 FROM han_crypto.quarantine WHERE binding OPERATOR(pg_catalog.=) $1 \
                   AND expires_at OPERATOR(pg_catalog.>) pg_catalog.now() \
                 ORDER BY column_name, row_key, quarantined_at, ordinal",
                None,
                &[binding.into()],
            )?;
            let mut out = Vec::new();
            for row in rows {
                if let (Some(k), Some(c), Some(o), Some(t), Some(at), Some(exp)) = (
                    row.get::<Vec<Option<String>>>(1)?,
                    row.get::<String>(2)?,
                    row.get::<i32>(3)?,
                    row.get::<String>(4)?,
                    row.get::<pgrx::datum::TimestampWithTimeZone>(5)?,
                    row.get::<pgrx::datum::TimestampWithTimeZone>(6)?,
                ) {
                    out.push((k, c, o, t, at, exp));
                }
            }
            Ok(out)
        })
    })
}
