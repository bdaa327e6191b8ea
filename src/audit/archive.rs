//! Removing an archived segment, and recording that it was removed only
//! when the removal commits.
//!
//! The removal runs in the caller's transaction, which may still roll back
//! (or roll back to a savepoint) after audit_archive() returns. So it is
//! recorded twice: an `archive_start` marker before the DELETE (evidence of
//! the attempt, whatever follows), and the `archive` marker, the one
//! verification accepts as the reason the trail starts late, at PRE_COMMIT,
//! once the rows are seen gone. A rolled-back archive leaves only the
//! first, which explains nothing: events deleted later behind its back are
//! still reported as deleted.

use std::cell::RefCell;

use pgrx::PgSqlErrorCode as Code;

use super::{record_marker, store, Access};
use crate::error::{HcError, HcResult};

/// A segment removed in this transaction, waiting for its commit.
#[derive(Clone, PartialEq)]
struct Removed {
    from: i64,
    to: i64,
    checkpoint: i64,
    export_sha256: Option<String>,
}

impl Removed {
    fn access(&self, action: &'static str) -> Access {
        Access::new(action)
            .object("han_crypto_audit._events")
            .detail(serde_json::json!({
                "from_seq": self.from,
                "through_seq": self.to,
                "events": self.to - self.from + 1,
                "checkpoint": self.checkpoint,
                "export_sha256": self.export_sha256,
            }))
    }
}

thread_local! {
    static PENDING: RefCell<Vec<Removed>> = const { RefCell::new(Vec::new()) };
}

/// Deletes events `from..=to` and the checkpoints before `checkpoint` (the
/// segment's closing one stays) in the current transaction, after a
/// durable `archive_start` marker; the `archive` marker follows at commit.
pub fn remove_segment(
    from: i64,
    to: i64,
    checkpoint: i64,
    export_sha256: Option<String>,
) -> HcResult<()> {
    let segment = Removed {
        from,
        to,
        checkpoint,
        export_sha256,
    };
    record_marker(segment.access("archive_start"))?;
    let removed = store::remove_archived(to, checkpoint)?;
    let expected = to - from + 1;
    if removed != expected {
        return Err(HcError::Refused {
            code: Code::ERRCODE_DATA_CORRUPTED,
            message: format!(
                "the archive would remove {removed} events where its export holds {expected}"
            ),
            hint: Some("Nothing was removed. See han_crypto.audit_verify().".into()),
        });
    }
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if !p.contains(&segment) {
            p.push(segment);
        }
    });
    Ok(())
}

/// At PRE_COMMIT: for each segment removed in this transaction whose rows
/// are still gone (a savepoint rolled back may have restored them), the
/// `archive` marker, waited for. An error here aborts the commit, so a
/// removal never commits without its marker.
pub fn before_commit() -> HcResult<()> {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    for segment in pending {
        match store::events_through(segment.to)? {
            0 => record_marker(segment.access("archive"))?,
            // Rolled back to a savepoint: nothing was removed.
            n if n == segment.to - segment.from + 1 => {}
            n => {
                return Err(HcError::Refused {
                    code: Code::ERRCODE_DATA_CORRUPTED,
                    message: format!(
                        "an archived segment (events {} to {}) is partly back in the trail ({n} events) at commit",
                        segment.from, segment.to
                    ),
                    hint: Some("The transaction rolls back; nothing is removed.".into()),
                })
            }
        }
    }
    Ok(())
}

/// At PRE_PREPARE: a removal cannot wait in a prepared transaction, whose
/// commit runs no code of ours to record it.
pub fn before_prepare() -> HcResult<()> {
    if PENDING.with(|p| p.borrow().is_empty()) {
        return Ok(());
    }
    Err(HcError::Refused {
        code: Code::ERRCODE_FEATURE_NOT_SUPPORTED,
        message: "a transaction that ran han_crypto.audit_archive() cannot be prepared".into(),
        hint: Some("Archive in a transaction of its own and COMMIT it.".into()),
    })
}

/// At the end of every transaction: nothing carries over.
pub fn forget() {
    PENDING.with(|p| p.borrow_mut().clear());
}
