//! The audit trail inside the extension: who may write its tables, the chain
//! this database keeps, and reading it back for verification and export.
//! The bytes (encoding, chain, checkpoints, export lines) are the core
//! crate's `audit` module, shared with the offline CLI.
//!
//! Cross-cutting: areas that record events will call into this module; it
//! calls into none of them.

mod alerting;
pub mod archive;
mod client;
pub mod collect;
mod shared;
mod standby;
pub mod store;
pub mod writer;

pub use collect::{audited, record, record_marker, record_single, Access, Outcome};

use std::cell::Cell;

thread_local! {
    static WRITING: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current code path is han_crypto's own writing of the trail,
/// the one thing the append-only guard lets through.
pub fn is_writer() -> bool {
    WRITING.with(Cell::get)
}

/// Runs `f` as the trail's writer. The flag is backend-local and not
/// reachable from SQL; it is cleared however `f` ends (an ERROR unwinds
/// through the guard below).
pub fn as_writer<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            WRITING.with(|w| w.set(self.0));
        }
    }
    let _reset = Reset(WRITING.with(|w| w.replace(true)));
    f()
}

/// In the writer process: everything it runs is the writer's own writing.
pub fn mark_writer_process() {
    WRITING.with(|w| w.set(true));
}

/// For audit_status() and audit_checkpoint().
pub use client::{checkpoint_now, status};

/// Registers the transaction handler that closes a statement's events.
pub fn register_callbacks() {
    crate::xact::on_xact(on_xact_event);
}

fn on_xact_event(event: pgrx::pg_sys::XactEvent::Type) {
    use pgrx::pg_sys::XactEvent::*;
    match event {
        XACT_EVENT_PRE_COMMIT => {
            if let Err(e) = collect::before_commit().and_then(|()| archive::before_commit()) {
                pgrx::pg_sys::panic::ErrorReport::from(e).report(pgrx::PgLogLevel::ERROR);
            }
        }
        XACT_EVENT_PRE_PREPARE => {
            if let Err(e) = archive::before_prepare() {
                pgrx::pg_sys::panic::ErrorReport::from(e).report(pgrx::PgLogLevel::ERROR);
            }
        }
        XACT_EVENT_COMMIT | XACT_EVENT_PREPARE => {
            archive::forget();
            collect::on_transaction_end();
        }
        XACT_EVENT_ABORT => {
            archive::forget();
            writer::forget_creating_transaction();
            collect::on_transaction_end();
        }
        _ => {}
    }
}

/// Microseconds since the Unix epoch: the clock events and checkpoints carry.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// A lock tag of this database that no SQL function can produce (an
/// advisory tag with field 4 set, which pg_advisory_lock never sets): the
/// writer's hold on the chain and archiving's turn are taken on these.
pub fn internal_lock_tag(field2: u32, field4: u16) -> pgrx::pg_sys::LOCKTAG {
    use pgrx::pg_sys;
    pg_sys::LOCKTAG {
        // SAFETY: MyDatabaseId is set once connected.
        locktag_field1: unsafe { pg_sys::MyDatabaseId }.into(),
        locktag_field2: field2,
        locktag_field3: 0,
        locktag_field4: field4,
        locktag_type: pg_sys::LockTagType::LOCKTAG_ADVISORY as u8,
        locktag_lockmethodid: pg_sys::USER_LOCKMETHOD as u8,
    }
}
