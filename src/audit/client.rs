//! A backend's side of the writer: find it (starting it when it is not
//! running), hand it an event, and wait until the event is committed.
//! Fail-closed: when the writer cannot be reached in time, the caller gets
//! SQLSTATE 53000 and must not release what the event records.

use std::cell::Cell;
use std::time::{Duration, Instant};

use pgrx::bgworkers::BackgroundWorkerBuilder;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode as Code;

use super::shared::{self, Claim, SlotRef, State, Unavailable, View};
use crate::error::{HcError, HcResult};
use crate::gucs;

/// A Starting slot older than this lost its launcher (cancelled, died).
const STALE_START: Duration = Duration::from_secs(10);

thread_local! {
    /// The ring this backend has mapped: (slot, generation, segment).
    static RING: Cell<Option<(usize, u64, *mut pg_sys::dsm_segment)>> = const { Cell::new(None) };
}

fn unavailable(message: impl Into<String>, hint: impl Into<String>) -> HcError {
    HcError::Refused {
        code: Code::ERRCODE_INSUFFICIENT_RESOURCES,
        message: message.into(),
        hint: Some(hint.into()),
    }
}

fn ack_timeout() -> Duration {
    Duration::from_millis(gucs::AUDIT_ACK_TIMEOUT.get().max(1) as u64)
}

fn my_database() -> pg_sys::Oid {
    // SAFETY: set once the backend is connected.
    unsafe { pg_sys::MyDatabaseId }
}

/// Commits `msg` (an encoded event) through the writer and returns its seq.
pub fn submit(msg: &[u8]) -> HcResult<i64> {
    deliver(msg, true)
}

/// Queues `msg` to the writer, starting it if need be, and returns its seq
/// without waiting for the commit (audit_mode = async). Waits only while
/// the queue is full, up to audit_ack_timeout.
pub fn submit_queued(msg: &[u8]) -> HcResult<i64> {
    deliver(msg, false)
}

fn deliver(msg: &[u8], wait_for_commit: bool) -> HcResult<i64> {
    let deadline = Instant::now() + ack_timeout();
    // A writer may stop between finding it and being acknowledged (idle
    // exit, DROP DATABASE elsewhere, a crash): then the event goes again.
    for _ in 0..4 {
        let (slot, view) = running_writer(deadline)?;
        let Some(base) = ring_base(slot, &view) else {
            continue;
        };
        let pushed = match slot.push(view.generation, base, msg, wait_for_commit, deadline) {
            Ok(p) => p,
            Err(Unavailable::Gone) => continue,
            Err(Unavailable::TimedOut) => return Err(timed_out("its queue stayed full")),
            Err(Unavailable::TooLarge) => {
                return Err(HcError::InvalidArgument(
                    "an audit event exceeds the writer's queue".into(),
                ))
            }
        };
        if !wait_for_commit {
            return Ok(pushed.seq);
        }
        match slot.wait_ack(pushed, deadline) {
            Ok(()) => return Ok(pushed.seq),
            Err(Unavailable::Gone) => continue,
            Err(_) => return Err(timed_out("it did not confirm the event")),
        }
    }
    Err(unavailable(
        "the audit writer keeps stopping",
        "See the server log for \"han_crypto audit writer\" lines.",
    ))
}

/// Makes sure this database's writer runs (starting it if need be) and
/// its queue is mapped here, so that events made later can be handed over
/// without waiting: the asynchronous mode's check that one can be.
pub fn ensure_writer() -> HcResult<()> {
    let deadline = Instant::now() + ack_timeout();
    for _ in 0..4 {
        let (slot, view) = running_writer(deadline)?;
        if ring_base(slot, &view).is_some() {
            return Ok(());
        }
    }
    Err(unavailable(
        "the audit writer keeps stopping",
        "See the server log for \"han_crypto audit writer\" lines.",
    ))
}

/// Hands `msg` to a running writer without waiting for anything; false if
/// there is none or its ring is full. Safe in transaction callbacks: it
/// neither sleeps nor raises.
pub fn try_submit(msg: &[u8]) -> bool {
    let Some((slot, view)) = shared::find(my_database()) else {
        return false;
    };
    if view.state != State::Running {
        return false;
    }
    let Some((index, generation, seg)) = RING.get() else {
        return false;
    };
    if index != slot.index() || generation != view.generation {
        return false;
    }
    // SAFETY: a mapping this backend pinned.
    let base = unsafe { pg_sys::dsm_segment_address(seg) } as *mut u8;
    slot.push(view.generation, base, msg, false, Instant::now())
        .is_ok()
}

fn timed_out(why: &str) -> HcError {
    unavailable(
        format!("the audit writer did not answer in time: {why}"),
        format!(
            "han_crypto.audit_ack_timeout is {} ms. Nothing was decrypted or changed; see the server log.",
            gucs::AUDIT_ACK_TIMEOUT.get()
        ),
    )
}

/// This database's writer, started if need be, in the Running state.
fn running_writer(deadline: Instant) -> HcResult<(SlotRef, View)> {
    loop {
        if let Some((slot, view)) = shared::find(my_database()) {
            if view.state == State::Running {
                return Ok((slot, view));
            }
        }
        match shared::claim(my_database(), STALE_START) {
            Claim::Existing(slot, view) if view.state == State::Running => return Ok((slot, view)),
            Claim::Existing(slot, _) => {
                if Instant::now() >= deadline {
                    return Err(timed_out("it did not finish starting or stopping"));
                }
                slot.wait_state_change(deadline);
            }
            Claim::Launch(slot, generation) => launch(slot, generation, deadline)?,
            Claim::Full => {
                return Err(unavailable(
                    format!("too many databases have an audit writer (at most {})", shared::SLOTS),
                    "An idle writer leaves after han_crypto.audit_writer_idle_timeout; lower it, or use han_crypto in fewer databases at once.",
                ))
            }
        }
    }
}

/// Gives up a claimed start however `launch` ends before the worker is
/// registered, an ERROR (query cancel, statement_timeout) included: a
/// start left claimed would make every caller wait for it.
struct StartClaim {
    slot: SlotRef,
    generation: u64,
    armed: bool,
}

impl Drop for StartClaim {
    fn drop(&mut self) {
        if self.armed {
            self.slot.abandon_start(self.generation);
        }
    }
}

fn launch(slot: SlotRef, generation: u64, deadline: Instant) -> HcResult<()> {
    let mut claim = StartClaim {
        slot,
        generation,
        armed: true,
    };
    // SAFETY: reading process state.
    if unsafe { pg_sys::RecoveryInProgress() } {
        slot.abandon_start(generation);
        return Err(HcError::Refused {
            code: Code::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            message: "the audit trail cannot be written on a hot standby".into(),
            hint: Some("Read through the primary (docs/AUDIT.md, \"Standbys\").".into()),
        });
    }
    // SAFETY: reading backend-local state.
    if unsafe { pg_sys::IsInParallelMode() } {
        slot.abandon_start(generation);
        return Err(HcError::Refused {
            code: Code::ERRCODE_INVALID_TRANSACTION_STATE,
            message: "the audit writer cannot be started inside a parallel query".into(),
            hint: Some("Any audited statement outside a parallel query starts it; it then serves parallel queries too.".into()),
        });
    }
    // What the writer needs, checked here so that the caller sees the real
    // problem (a wrong root key, F0000) rather than a writer that will not start.
    if let Err(e) = crate::root_key::get().and_then(|_| super::store::require_chain()) {
        slot.abandon_start(generation);
        return Err(e);
    }
    let owner = crate::catalog::extension_owner();
    // SAFETY: reading process constants.
    let (db, pid) = unsafe { (pg_sys::MyDatabaseId, pg_sys::MyProcPid) };
    let register = || {
        BackgroundWorkerBuilder::new("han_crypto audit writer")
            .set_type("han_crypto audit writer")
            .set_library("han_crypto")
            .set_function("han_crypto_audit_writer_main")
            .enable_spi_access()
            .set_restart_time(None)
            .set_argument(Some(pg_sys::Datum::from(u32::from(db) as usize)))
            .set_extra(&format!(
                "{} {} {}",
                slot.index(),
                generation,
                u32::from(owner)
            ))
            .set_notify_pid(pid)
            .load_dynamic()
    };
    let mut worker = register();
    // Every slot taken: idle writers of other databases give theirs up.
    if worker.is_err() && shared::ask_idle_writers_to_leave(db) > 0 {
        while worker.is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            pg_sys::check_for_interrupts!();
            worker = register();
        }
    }
    // From here the worker takes the start over (or the errors below give it up).
    claim.armed = worker.is_err();
    let Ok(worker) = worker else {
        slot.abandon_start(generation);
        return Err(unavailable(
            "could not start the audit writer: no background worker slot is free",
            format!(
                "max_worker_processes (now {}) is exhausted: raise it (needs a restart), or keep max_parallel_workers (now {}) below it so parallel queries cannot take every slot. Nothing was decrypted.",
                setting("max_worker_processes"),
                setting("max_parallel_workers")
            ),
        ));
    };
    if worker.wait_for_startup().is_err() {
        slot.abandon_start(generation);
        return Err(exited_at_start());
    }
    loop {
        let v = slot.view();
        if v.generation != generation || v.state == State::Running {
            return Ok(());
        }
        if v.state == State::Free {
            return Err(exited_at_start());
        }
        if Instant::now() >= deadline {
            slot.abandon_start(generation);
            return Err(timed_out("it did not finish starting"));
        }
        slot.wait_state_change(deadline);
    }
}

fn exited_at_start() -> HcError {
    unavailable(
        "the audit writer exited as it started",
        "The server log says why (\"han_crypto audit writer cannot start\"). Nothing was decrypted.",
    )
}

fn setting(name: &str) -> String {
    let c = std::ffi::CString::new(name).expect("no NUL");
    // SAFETY: a built-in setting; missing_ok returns NULL.
    unsafe {
        let v = pg_sys::GetConfigOption(c.as_ptr(), true, false);
        if v.is_null() {
            "?".into()
        } else {
            std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned()
        }
    }
}

/// The ring of writer `view.generation`, mapped for the session.
fn ring_base(slot: SlotRef, view: &View) -> Option<*mut u8> {
    if let Some((index, generation, seg)) = RING.get() {
        if index == slot.index() && generation == view.generation {
            // SAFETY: a mapping this backend pinned.
            return Some(unsafe { pg_sys::dsm_segment_address(seg) } as *mut u8);
        }
        RING.set(None);
        // SAFETY: a mapping this backend made; no pointer into it survives.
        unsafe { pg_sys::dsm_detach(seg) };
    }
    // SAFETY: attaching by the handle the writer published; NULL when the
    // segment is gone. The mapping is pinned to the session.
    unsafe {
        let seg = pg_sys::dsm_attach(view.ring);
        if seg.is_null() {
            return None;
        }
        pg_sys::dsm_pin_mapping(seg);
        RING.set(Some((slot.index(), view.generation, seg)));
        Some(pg_sys::dsm_segment_address(seg) as *mut u8)
    }
}

/// For audit_status(): this database's writer as it is now.
pub fn status() -> Option<View> {
    shared::find(my_database()).map(|(_, v)| v)
}

/// Asks the running writer (starting it if need be) for a checkpoint now.
pub fn checkpoint_now() -> HcResult<()> {
    let deadline = Instant::now() + ack_timeout();
    for _ in 0..4 {
        let (slot, view) = running_writer(deadline)?;
        match slot.request_checkpoint(view.generation, deadline) {
            Ok(()) => return Ok(()),
            Err(Unavailable::Gone) => continue,
            Err(_) => return Err(timed_out("it did not make the checkpoint")),
        }
    }
    Err(unavailable(
        "the audit writer keeps stopping",
        "See the server log for \"han_crypto audit writer\" lines.",
    ))
}
