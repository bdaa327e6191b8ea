//! The cluster-wide limit on concurrent password-hash derivations
//! (han_crypto.kdf_max_concurrent), which keeps Argon2's memory and CPU
//! bounded however many backends unlock at once.
//!
//! Slots are heavyweight locks on tags that no SQL statement can name: the
//! advisory-lock tag type with a fourth field that pg_advisory_lock() and
//! friends never produce (they use 1 and 2). So no role can take, hold or
//! fill a slot except by running a derivation, and a slot is held only for
//! the derivation itself, not until the end of the transaction. Each actor
//! also holds a lock of its own while it derives, so one principal, however
//! many connections it opens, occupies at most one slot. Waits are bounded
//! (han_crypto.kdf_wait_timeout) and end in SQLSTATE 53000; they honour
//! query cancel. Locks are released at transaction end if an ERROR
//! interrupts a derivation. They work on hot standbys too.

use std::time::{Duration, Instant};

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::error::{HcError, HcResult};
use crate::gucs;

/// Lock space of the slots and of the per-actor locks ("HCKD", "HCKP").
const SLOT_SPACE: u32 = 0x4843_4b44;
const ACTOR_SPACE: u32 = 0x4843_4b50;
/// Never produced by SQL-level advisory locks (they use 1 and 2).
const FIELD4: u16 = 0x4843;
const POLL: Duration = Duration::from_millis(5);

fn tag(space: u32, n: u32) -> pg_sys::LOCKTAG {
    pg_sys::LOCKTAG {
        // Database 0: the limit is cluster-wide.
        locktag_field1: 0,
        locktag_field2: space,
        locktag_field3: n,
        locktag_field4: FIELD4,
        locktag_type: pg_sys::LockTagType::LOCKTAG_ADVISORY as u8,
        locktag_lockmethodid: pg_sys::USER_LOCKMETHOD as u8,
    }
}

fn try_lock(t: &pg_sys::LOCKTAG) -> bool {
    // SAFETY: a transaction-level lock on a tag we built; dontWait = true.
    let r = unsafe { pg_sys::LockAcquire(t, pg_sys::ExclusiveLock as i32, false, true) };
    r != pg_sys::LockAcquireResult::LOCKACQUIRE_NOT_AVAIL
}

fn unlock(t: &pg_sys::LOCKTAG) {
    // SAFETY: releasing a lock this backend took with try_lock.
    unsafe { pg_sys::LockRelease(t, pg_sys::ExclusiveLock as i32, false) };
}

/// A held slot (and the actor's own lock); released on drop.
pub struct Slot {
    slot: pg_sys::LOCKTAG,
    actor: pg_sys::LOCKTAG,
}

impl Drop for Slot {
    fn drop(&mut self) {
        unlock(&self.slot);
        unlock(&self.actor);
    }
}

/// FNV-1a: spreads principals over the per-actor lock space (a collision
/// only makes two principals take turns).
fn principal_hash(principal: &str) -> u32 {
    principal.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Polls `attempt` until it succeeds or `deadline` passes, sleeping on the
/// latch in between and honouring query cancel.
fn wait_for(deadline: Instant, mut attempt: impl FnMut() -> bool) -> HcResult<()> {
    loop {
        if attempt() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(HcError::KdfBusy);
        }
        // SAFETY: the backend's own latch; WL_EXIT_ON_PM_DEATH ends the
        // process if the postmaster dies.
        unsafe {
            pg_sys::WaitLatch(
                pg_sys::MyLatch,
                (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
                POLL.as_millis() as i64,
                pg_sys::PG_WAIT_EXTENSION,
            );
            pg_sys::ResetLatch(pg_sys::MyLatch);
        }
        check_for_interrupts!();
    }
}

/// Takes a derivation slot for `principal`, waiting at most
/// han_crypto.kdf_wait_timeout; 53000 if none frees up in time.
pub fn acquire(principal: &str) -> HcResult<Slot> {
    let deadline =
        Instant::now() + Duration::from_millis(gucs::KDF_WAIT_TIMEOUT.get().max(0) as u64);
    let actor = tag(ACTOR_SPACE, principal_hash(principal));
    wait_for(deadline, || try_lock(&actor))?;
    let slots = gucs::KDF_MAX_CONCURRENT.get().max(1) as u32;
    let mut taken = None;
    let waited = wait_for(deadline, || {
        taken = (0..slots).map(|n| tag(SLOT_SPACE, n)).find(try_lock);
        taken.is_some()
    });
    match (waited, taken) {
        (Ok(()), Some(slot)) => Ok(Slot { slot, actor }),
        _ => {
            unlock(&actor);
            Err(HcError::KdfBusy)
        }
    }
}
