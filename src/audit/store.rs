//! The trail's tables (sql/audit.sql) as the core's types: the chain row,
//! events in sequence order, checkpoints in number order.

use han_crypto_core::audit::{
    AuditPublicKey, AuditSigningKey, ChainId, Checkpoint, Event, Field, FieldType, Kind,
    StoredEvent, Value,
};
use pgrx::prelude::*;

use crate::catalog::as_owner;
use crate::error::{HcError, HcResult};
use crate::root_key;

/// The row of `han_crypto_audit._chain`.
pub struct Chain {
    pub chain_id: ChainId,
    pub system_identifier: u64,
    pub signing_key_version: u32,
}

/// This database's chain, if it has started.
pub fn chain() -> HcResult<Option<Chain>> {
    as_owner(|| {
        Spi::connect(|client| {
            let rows = client.select(
                "SELECT chain_id, system_identifier::text, signing_key_version \
                 FROM han_crypto_audit._chain",
                Some(1),
                &[],
            )?;
            let Some(row) = rows.into_iter().next() else {
                return Ok(None);
            };
            let id: Vec<u8> = row.get(1)?.unwrap_or_default();
            let sysid: String = row.get(2)?.unwrap_or_default();
            let version: i32 = row.get(3)?.unwrap_or(0);
            Ok(Some(Chain {
                chain_id: id.try_into().map_err(|_| tampered("the chain id"))?,
                system_identifier: sysid
                    .parse()
                    .map_err(|_| tampered("the system identifier"))?,
                signing_key_version: u32::try_from(version)
                    .map_err(|_| tampered("the key version"))?,
            }))
        })
    })
}

/// The chain, or the error that says it has not started.
pub fn require_chain() -> HcResult<Chain> {
    chain()?.ok_or_else(|| HcError::Refused {
        code: pgrx::PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        message: "this database's audit chain has not started".into(),
        hint: Some("It starts with CREATE EXTENSION han_crypto; a database restored from a dump runs CREATE EXTENSION, which starts a new one.".into()),
    })
}

fn tampered(what: &str) -> HcError {
    HcError::Refused {
        code: pgrx::PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
        message: format!("han_crypto_audit._chain holds an invalid value for {what}"),
        hint: Some("The chain row was altered; the trail cannot be verified against it.".into()),
    }
}

thread_local! {
    /// The top transaction in which this backend started a chain, if any:
    /// only that transaction can have created the trail it runs against.
    static STARTED_IN: std::cell::Cell<Option<pg_sys::TransactionId>> =
        const { std::cell::Cell::new(None) };
}

/// Starts the chain: 16 random bytes and this cluster's system identifier.
pub fn start_chain() -> HcResult<()> {
    // SAFETY: assigns (or reads) the running transaction's id.
    STARTED_IN.set(Some(unsafe { pg_sys::GetTopTransactionId() }));
    let mut id = [0u8; 16];
    han_crypto_core::keys::fill_random(&mut id)?;
    // SAFETY: reads a value fixed at initdb.
    let sysid = unsafe { pg_sys::GetSystemIdentifier() };
    // Only from the extension script (the caller checks), which runs as the
    // extension's owner: as_owner would read catalog tables not made yet.
    crate::audit::as_writer(|| {
        Spi::run_with_args(
            "INSERT INTO han_crypto_audit._chain (chain_id, system_identifier) \
             VALUES ($1, $2::numeric) ON CONFLICT DO NOTHING",
            &[id.to_vec().into(), sysid.to_string().into()],
        )
    })?;
    Ok(())
}

/// The signing key's public half, derived from the root key (never read
/// from a table, so a swapped row cannot change what verifies).
pub fn public_key(chain: &Chain) -> HcResult<AuditPublicKey> {
    let root = root_key::get_without_recording()?;
    let key = AuditSigningKey::derive(&root, &chain.chain_id, chain.signing_key_version)
        .map_err(|e| HcError::Catalog(e.to_string()))?;
    Ok(key.public_key())
}

const EVENT_COLUMNS: &str = "seq, (extract(epoch FROM ts) * 1000000)::bigint, kind, xid, \
    session_user_name, current_user_name, actor, actor_via, client_addr, application_name, \
    backend_pid, action, object, keyring, key_version, outcome, sqlstate, row_count, row_keys, \
    begin_seq, detail::text, prev_hash, hash";

/// Up to `limit` events with `from <= seq <= to`, in sequence order. A row
/// that cannot be an event (a NULL inside row_keys, an unknown kind, a
/// fractional number in detail) comes back with a hash that cannot match,
/// so the verifier reports it as edited.
pub fn events(from: i64, to: i64, limit: i64) -> HcResult<Vec<StoredEvent>> {
    as_owner(|| {
        Spi::connect(|client| {
            let rows = client.select(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM han_crypto_audit._events \
                     WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3"
                ),
                None,
                &[from.into(), to.into(), limit.into()],
            )?;
            let mut out = Vec::new();
            for row in rows {
                let seq: i64 = row.get(1)?.unwrap_or(0);
                let ts: i64 = row.get(2)?.unwrap_or(0);
                let kind: String = row.get(3)?.unwrap_or_default();
                let prev: Vec<u8> = row.get(22)?.unwrap_or_default();
                let hash: Vec<u8> = row.get(23)?.unwrap_or_default();
                let mut intact = true;
                let mut event = Event::new(
                    seq as u64,
                    ts,
                    Kind::from_name(&kind).unwrap_or_else(|| {
                        intact = false;
                        Kind::Single
                    }),
                );
                for (i, field) in Field::ALL.iter().enumerate() {
                    let col = 4 + i;
                    let value = match field.ty() {
                        FieldType::Int => row.get::<i64>(col)?.map(Value::Int),
                        FieldType::Text => row.get::<String>(col)?.map(Value::Text),
                        FieldType::Json => row.get::<String>(col)?.map(Value::Json),
                        FieldType::List => match row.get::<Vec<Option<String>>>(col)? {
                            None => None,
                            Some(items) => {
                                let items: Option<Vec<String>> = items.into_iter().collect();
                                intact &= items.is_some();
                                items.map(Value::List)
                            }
                        },
                    };
                    if let Some(v) = value {
                        intact &= event.set(*field, v).is_ok();
                    }
                }
                let hash: [u8; 32] = hash.try_into().unwrap_or([0; 32]);
                out.push(StoredEvent {
                    event,
                    prev_hash: prev.try_into().unwrap_or([0; 32]),
                    hash: if intact { hash } else { [0; 32] },
                });
            }
            Ok::<_, HcError>(out)
        })
    })
}

/// Every checkpoint with `seq <= to`, in number order.
pub fn checkpoints(to: i64) -> HcResult<Vec<Checkpoint>> {
    select_checkpoints("WHERE seq <= $1 ORDER BY n", to)
}

/// The newest checkpoint, if any.
pub fn last_checkpoint() -> HcResult<Option<Checkpoint>> {
    Ok(select_checkpoints("WHERE n >= $1 ORDER BY n DESC LIMIT 1", 0)?.pop())
}

fn select_checkpoints(tail: &str, arg: i64) -> HcResult<Vec<Checkpoint>> {
    as_owner(|| {
        Spi::connect(|client| {
            let rows = client.select(
                &format!(
                    "SELECT n, seq, head, (extract(epoch FROM ts) * 1000000)::bigint, prev_digest, \
                     key_id, signature FROM han_crypto_audit._checkpoints {tail}"
                ),
                None,
                &[arg.into()],
            )?;
            let mut out = Vec::new();
            for row in rows {
                let bytes = |i: usize| -> HcResult<Vec<u8>> {
                    Ok(row.get::<Vec<u8>>(i)?.unwrap_or_default())
                };
                out.push(Checkpoint {
                    n: row.get::<i64>(1)?.unwrap_or(0) as u64,
                    seq: row.get::<i64>(2)?.unwrap_or(0) as u64,
                    head: bytes(3)?.try_into().unwrap_or([0; 32]),
                    ts_us: row.get::<i64>(4)?.unwrap_or(0),
                    prev_digest: bytes(5)?.try_into().unwrap_or([0; 32]),
                    key_id: bytes(6)?.try_into().unwrap_or([0; 8]),
                    signature: bytes(7)?.try_into().unwrap_or([0; 64]),
                });
            }
            Ok::<_, HcError>(out)
        })
    })
}

/// The lowest sequence number stored (above 1 once a segment is archived).
pub fn first_seq() -> HcResult<Option<i64>> {
    as_owner(|| {
        Ok(Spi::connect(|c| {
            c.select(
                "SELECT min(seq) FROM han_crypto_audit._events",
                Some(1),
                &[],
            )?
            .first()
            .get_one::<i64>()
        })?)
    })
}

/// The checkpoint that signs event `seq` exactly, if any.
pub fn checkpoint_at(seq: i64) -> HcResult<Option<Checkpoint>> {
    Ok(select_checkpoints("WHERE seq = $1 ORDER BY n LIMIT 1", seq)?.pop())
}

/// The newest checkpoint made before `before` that signs an event after
/// `after` (the closing checkpoint of a segment to archive).
pub fn checkpoint_before(
    before: pgrx::datum::TimestampWithTimeZone,
    after: i64,
) -> HcResult<Option<i64>> {
    as_owner(|| {
        Ok(Spi::connect(|c| {
            c.select(
                "SELECT max(n) FROM han_crypto_audit._checkpoints WHERE ts < $1 AND seq > $2",
                Some(1),
                &[before.into(), after.into()],
            )?
            .first()
            .get_one::<i64>()
        })?)
    })
}

/// The checkpoint numbered `n`.
pub fn checkpoint_numbered(n: i64) -> HcResult<Option<Checkpoint>> {
    Ok(select_checkpoints("WHERE n = $1", n)?.pop())
}

/// Whether an archive marker in the trail says that events up to
/// `through` were archived (exported and removed by audit_archive). Only
/// a signed marker counts: the writer commits each with its checkpoint, so
/// an unsigned one was appended behind its back.
pub fn archived_through(through: i64) -> HcResult<bool> {
    Ok(archive_marker_seq(through)?.is_some())
}

/// The seq of the signed archive marker for events up to `through`.
pub fn archive_marker_seq(through: i64) -> HcResult<Option<i64>> {
    as_owner(|| {
        Ok(Spi::connect(|c| {
            c.select(
                "SELECT min(seq) FROM han_crypto_audit._events WHERE kind = 'marker' \
                 AND action = 'archive' AND outcome = 'ok' \
                 AND detail->>'through_seq' = $1::pg_catalog.text \
                 AND seq <= (SELECT max(seq) FROM han_crypto_audit._checkpoints)",
                Some(1),
                &[through.into()],
            )?
            .first()
            .get_one::<i64>()
        })?)
    })
}

/// How many events with seq up to `through` are stored (as this
/// transaction sees them).
pub fn events_through(through: i64) -> HcResult<i64> {
    as_owner(|| {
        Ok(Spi::connect(|c| {
            c.select(
                "SELECT count(*) FROM han_crypto_audit._events WHERE seq <= $1",
                Some(1),
                &[through.into()],
            )?
            .first()
            .get_one::<i64>()
        })?
        .unwrap_or(0))
    })
}

/// Removes an archived segment: events up to `through_seq` and the
/// checkpoints before `anchor_n` (the segment's closing checkpoint stays,
/// the first link of what remains). Returns the events removed.
pub fn remove_archived(through_seq: i64, anchor_n: i64) -> HcResult<i64> {
    as_owner(|| {
        crate::audit::as_writer(|| {
            Spi::connect_mut(|c| {
                let removed = c
                    .update(
                        "DELETE FROM han_crypto_audit._events WHERE seq <= $1",
                        None,
                        &[through_seq.into()],
                    )?
                    .len() as i64;
                c.update(
                    "DELETE FROM han_crypto_audit._checkpoints WHERE n < $1",
                    None,
                    &[anchor_n.into()],
                )?;
                Ok::<_, HcError>(removed)
            })
        })
    })
}

/// The highest sequence number stored (0 for an empty trail).
pub fn last_seq() -> HcResult<i64> {
    as_owner(|| {
        Ok(Spi::connect(|c| {
            c.select(
                "SELECT coalesce(max(seq), 0) FROM han_crypto_audit._events",
                Some(1),
                &[],
            )?
            .first()
            .get_one::<i64>()
        })?
        .unwrap_or(0))
    })
}

/// Whether this database's chain was started by the current transaction
/// (CREATE EXTENSION in it, not yet committed): then no writer can see it.
pub fn chain_is_this_transactions() -> HcResult<bool> {
    // Only a transaction in which this backend ran the extension script
    // can be the one: every other (each read, above all) is answered
    // without a query. A savepoint rolled back since is checked below.
    // SAFETY: reads the running transaction's id, assigning none.
    let top = unsafe { pg_sys::GetTopTransactionIdIfAny() };
    if top == pg_sys::InvalidTransactionId || STARTED_IN.get() != Some(top) {
        return Ok(false);
    }
    let xmin = as_owner(|| {
        Spi::connect(|c| {
            c.select(
                "SELECT xmin::text FROM han_crypto_audit._chain",
                Some(1),
                &[],
            )?
            .first()
            .get_one::<String>()
        })
    })?;
    let Some(xmin) = xmin.and_then(|x| x.parse::<u32>().ok()) else {
        return Ok(false);
    };
    // SAFETY: a transaction id read from a tuple header, asked about the
    // current transaction's own ids.
    Ok(unsafe { pg_sys::TransactionIdIsCurrentTransactionId(pg_sys::TransactionId::from(xmin)) })
}
