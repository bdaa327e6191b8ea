//! What backends and the audit writers share: a small registry in shared
//! memory (one slot per database with a writer) and, per writer, a ring of
//! encoded events in a DSM segment the writer creates.
//!
//! A backend appends a message under the slot's lock and gets a ticket;
//! the writer drains the ring, commits the events, and acknowledges every
//! ticket it drained. Tickets of one writer generation map to sequence
//! numbers by a fixed offset, so a backend learns its event's seq without
//! a reply. A writer that dies loses what it drained but did not commit:
//! its generation is never acknowledged again, so waiters see it gone and
//! submit again (at worst an event is recorded twice, never not at all).
//!
//! Nothing here trusts an address across processes except PGPROC (the
//! main segment is mapped at one address everywhere); the ring is reached
//! through its DSM handle.

use std::cell::Cell;
use std::ffi::c_void;
use std::time::{Duration, Instant};

use pgrx::pg_sys;

use crate::pg_compat;

pub const SLOTS: usize = 16;
/// Bytes of a writer's ring.
pub const RING_BYTES: usize = 1 << 20;
/// The layout is in the name (with the struct's size, so that a changed
/// layout never meets an old one when a new library is installed under a
/// running server). Two registries may then coexist for a while; the
/// writer's lock on its database's chain keeps them from both writing.
const REGISTRY_NAME: &str = "han_crypto.audit.v1";
const TRANCHE_NAME: &std::ffi::CStr = c"han_crypto_audit";
/// A message's header in the ring: its length (u32 LE) and the PGPROC
/// address of the backend waiting for it, or 0 (u64 LE).
const HEADER_BYTES: u64 = 12;
/// How often a waiter looks again without being woken.
pub const POLL: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum State {
    Free = 0,
    Starting = 1,
    Running = 2,
    Stopping = 3,
}

impl State {
    fn from_u32(n: u32) -> State {
        match n {
            1 => State::Starting,
            2 => State::Running,
            3 => State::Stopping,
            _ => State::Free,
        }
    }
}

/// One database's writer. Every field but the locks and condition
/// variables is read and written under `lock`; `dboid` also under the
/// registry's `alloc_lock`.
#[repr(C)]
pub struct Slot {
    lock: pg_sys::LWLock,
    /// Broadcast when `state` changes.
    state_cv: pg_sys::ConditionVariable,
    /// Broadcast when a requested checkpoint is made. (Acknowledged
    /// tickets wake their own waiters' latches instead: a broadcast woke
    /// every waiter of every batch, to queue on the lock and sleep again.)
    ack_cv: pg_sys::ConditionVariable,
    /// Broadcast when the ring is drained.
    space_cv: pg_sys::ConditionVariable,
    dboid: pg_sys::Oid,
    state: u32,
    generation: u64,
    starting_since: pg_sys::TimestampTz,
    writer_pid: i32,
    writer_proc: *mut pg_sys::PGPROC,
    ring: pg_sys::dsm_handle,
    capacity: u64,
    head: u64,
    tail: u64,
    next_ticket: u64,
    acked_generation: u64,
    acked_ticket: u64,
    /// seq = ticket + seq_offset, for this generation.
    seq_offset: i64,
    last_seq: i64,
    last_checkpoint_us: i64,
    checkpoint_requested: u64,
    checkpoint_done: u64,
    /// Another database needs a worker slot: leave if idle.
    leave_requested: bool,
}

#[repr(C)]
struct Registry {
    tranche: i32,
    alloc_lock: pg_sys::LWLock,
    slots: [Slot; SLOTS],
}

unsafe extern "C-unwind" fn init_registry(ptr: *mut c_void) {
    // SAFETY: `ptr` is `size_of::<Registry>()` fresh bytes, not yet shared.
    unsafe {
        std::ptr::write_bytes(ptr as *mut u8, 0, std::mem::size_of::<Registry>());
        let reg = ptr as *mut Registry;
        let tranche = pg_sys::LWLockNewTrancheId();
        (*reg).tranche = tranche;
        pg_sys::LWLockInitialize(&raw mut (*reg).alloc_lock, tranche);
        for i in 0..SLOTS {
            let s = &raw mut (*reg).slots[i];
            pg_sys::LWLockInitialize(&raw mut (*s).lock, tranche);
            pg_sys::ConditionVariableInit(&raw mut (*s).state_cv);
            pg_sys::ConditionVariableInit(&raw mut (*s).ack_cv);
            pg_sys::ConditionVariableInit(&raw mut (*s).space_cv);
            (*s).next_ticket = 1;
        }
    }
}

thread_local! {
    static REGISTRY: Cell<*mut Registry> = const { Cell::new(std::ptr::null_mut()) };
}

fn registry() -> *mut Registry {
    let r = REGISTRY.get();
    if !r.is_null() {
        return r;
    }
    let size = std::mem::size_of::<Registry>();
    let name = std::ffi::CString::new(format!("{REGISTRY_NAME}.{size}")).expect("no NUL");
    // SAFETY: one name, size and initialiser for every caller of this build.
    let r = unsafe { pg_compat::named_shared_struct(&name, size, init_registry) } as *mut Registry;
    // SAFETY: the registry is initialised; naming the tranche is per process.
    unsafe { pg_sys::LWLockRegisterTranche((*r).tranche, TRANCHE_NAME.as_ptr()) };
    REGISTRY.set(r);
    r
}

/// A slot of the registry, by index.
#[derive(Clone, Copy)]
pub struct SlotRef(*mut Slot, usize);

struct Guard(*mut pg_sys::LWLock);
impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: taken by `lock` below; an ERROR in between releases all
        // LWLocks itself and never runs this.
        unsafe { pg_sys::LWLockRelease(self.0) };
    }
}

fn lock(l: *mut pg_sys::LWLock, exclusive: bool) -> Guard {
    let mode = if exclusive {
        pg_sys::LWLockMode::LW_EXCLUSIVE
    } else {
        pg_sys::LWLockMode::LW_SHARED
    };
    // SAFETY: an initialised LWLock in shared memory.
    unsafe { pg_sys::LWLockAcquire(l, mode) };
    Guard(l)
}

/// What a backend sees of a slot at one moment.
#[derive(Clone, Copy, Debug)]
pub struct View {
    pub state: State,
    pub generation: u64,
    pub ring: pg_sys::dsm_handle,
    pub writer_pid: i32,
    pub last_seq: i64,
    pub last_checkpoint_us: i64,
    pub queued_bytes: u64,
}

/// Outcome of a claim for this database's slot.
pub enum Claim {
    /// The writer runs (or is stopping, or starting): use or wait for it.
    Existing(SlotRef, View),
    /// This backend owns the start of generation `.1`.
    Launch(SlotRef, u64),
    /// Every slot serves another database.
    Full,
}

/// Finds this database's slot, claiming a free one (state Starting) when
/// there is no writer. A Starting slot older than `stale` is taken over
/// (its launcher died before the writer came up).
pub fn claim(dboid: pg_sys::Oid, stale: Duration) -> Claim {
    let reg = registry();
    // SAFETY: the registry lives as long as the cluster; fields are read
    // and written under the locks the Slot docs name.
    unsafe {
        let _alloc = lock(&raw mut (*reg).alloc_lock, true);
        let mut free = None;
        for i in 0..SLOTS {
            let s = &raw mut (*reg).slots[i];
            let _g = lock(&raw mut (*s).lock, true);
            let state = State::from_u32((*s).state);
            if (*s).dboid == dboid {
                let now = pg_sys::GetCurrentTimestamp();
                let stale_us = stale.as_micros() as i64;
                if state == State::Free
                    || (state == State::Starting && now - (*s).starting_since > stale_us)
                {
                    return Claim::Launch(SlotRef(s, i), begin_start(s, now));
                }
                return Claim::Existing(SlotRef(s, i), view_of(s));
            }
            if state == State::Free && free.is_none() {
                free = Some(i);
            }
        }
        let Some(i) = free else { return Claim::Full };
        let s = &raw mut (*reg).slots[i];
        let _g = lock(&raw mut (*s).lock, true);
        (*s).dboid = dboid;
        Claim::Launch(SlotRef(s, i), begin_start(s, pg_sys::GetCurrentTimestamp()))
    }
}

/// Under the slot's lock.
unsafe fn begin_start(s: *mut Slot, now: pg_sys::TimestampTz) -> u64 {
    // SAFETY: the caller holds the slot's lock.
    unsafe {
        (*s).state = State::Starting as u32;
        (*s).generation += 1;
        (*s).starting_since = now;
        (*s).generation
    }
}

/// Under the slot's lock.
unsafe fn view_of(s: *mut Slot) -> View {
    // SAFETY: the caller holds the slot's lock.
    unsafe {
        View {
            state: State::from_u32((*s).state),
            generation: (*s).generation,
            ring: (*s).ring,
            writer_pid: (*s).writer_pid,
            last_seq: (*s).last_seq,
            last_checkpoint_us: (*s).last_checkpoint_us,
            queued_bytes: (*s).head - (*s).tail,
        }
    }
}

/// This database's slot as it is now, if it has one.
pub fn find(dboid: pg_sys::Oid) -> Option<(SlotRef, View)> {
    let reg = registry();
    // SAFETY: as in `claim`.
    unsafe {
        let _alloc = lock(&raw mut (*reg).alloc_lock, false);
        for i in 0..SLOTS {
            let s = &raw mut (*reg).slots[i];
            if (*s).dboid == dboid {
                let _g = lock(&raw mut (*s).lock, false);
                return Some((SlotRef(s, i), view_of(s)));
            }
        }
    }
    None
}

/// Asks the idle writers of other databases to leave (a backend could not
/// get a worker slot for its own). Returns how many writers were asked.
pub fn ask_idle_writers_to_leave(except: pg_sys::Oid) -> usize {
    let reg = registry();
    let mut asked = 0;
    // SAFETY: as in `claim`; SetLatch on a live writer's PGPROC.
    unsafe {
        let _alloc = lock(&raw mut (*reg).alloc_lock, false);
        for i in 0..SLOTS {
            let s = &raw mut (*reg).slots[i];
            let _g = lock(&raw mut (*s).lock, true);
            if (*s).dboid != except && (*s).state == State::Running as u32 {
                (*s).leave_requested = true;
                if !(*s).writer_proc.is_null() {
                    pg_sys::SetLatch(&raw mut (*(*s).writer_proc).procLatch);
                }
                asked += 1;
            }
        }
    }
    asked
}

/// The slot at `index` (the writer finds its own by the index it was given).
pub fn slot_at(index: usize) -> Option<SlotRef> {
    let reg = registry();
    // SAFETY: an index below SLOTS into the registry.
    (index < SLOTS).then(|| unsafe { SlotRef(&raw mut (*reg).slots[index], index) })
}

/// Why a push or a wait ended without success.
#[derive(Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// The writer of that generation is gone (stopped or died).
    Gone,
    /// The deadline passed.
    TimedOut,
    /// The message can never fit the ring.
    TooLarge,
}

/// A message in the ring: its ticket and, once acknowledged, its seq.
#[derive(Clone, Copy, Debug)]
pub struct Pushed {
    pub generation: u64,
    pub ticket: u64,
    pub seq: i64,
}

/// Sleeps on `cv` until `done` says stop or `deadline` passes (then
/// `Err(TimedOut)`). Query cancel and termination interrupt the sleep with
/// an ERROR, as any wait in PostgreSQL.
fn wait_on<T>(
    cv: *mut pg_sys::ConditionVariable,
    deadline: Instant,
    mut done: impl FnMut() -> Option<Result<T, Unavailable>>,
) -> Result<T, Unavailable> {
    // SAFETY: an initialised condition variable in shared memory.
    unsafe { pg_sys::ConditionVariablePrepareToSleep(cv) };
    let out = loop {
        if let Some(r) = done() {
            break r;
        }
        let now = Instant::now();
        if now >= deadline {
            break Err(Unavailable::TimedOut);
        }
        let ms = (deadline - now).min(POLL).as_millis().max(1) as std::ffi::c_long;
        // SAFETY: prepared above; the wait checks for interrupts.
        unsafe { pg_sys::ConditionVariableTimedSleep(cv, ms, pg_sys::PG_WAIT_EXTENSION) };
    };
    // SAFETY: ends the sleep prepared above. (PG16 made it return whether
    // the sleep was signalled; that is not needed here.)
    unsafe {
        pg_sys::ConditionVariableCancelSleep();
    }
    out
}

impl SlotRef {
    pub fn index(self) -> usize {
        self.1
    }

    pub fn view(self) -> View {
        // SAFETY: see Slot.
        unsafe {
            let _g = lock(&raw mut (*self.0).lock, false);
            view_of(self.0)
        }
    }

    /// Waits while the slot is Starting (or Stopping) in generation
    /// `generation`, until it is Running or Free or the deadline passes.
    pub fn wait_state_change(self, deadline: Instant) -> View {
        // SAFETY: see Slot.
        let cv = unsafe { &raw mut (*self.0).state_cv };
        let first = self.view();
        wait_on(cv, deadline, || {
            let v = self.view();
            (v.state != first.state || v.generation != first.generation).then_some(Ok(v))
        })
        .unwrap_or_else(|_| self.view())
    }

    /// Gives up a start this backend claimed (the launch failed).
    pub fn abandon_start(self, generation: u64) {
        // SAFETY: see Slot.
        unsafe {
            let _g = lock(&raw mut (*self.0).lock, true);
            if (*self.0).generation == generation && (*self.0).state == State::Starting as u32 {
                (*self.0).state = State::Free as u32;
            }
            pg_sys::ConditionVariableBroadcast(&raw mut (*self.0).state_cv);
        }
    }

    /// Appends `msg` (one encoded event) to the ring of writer
    /// `generation` at `base`, waiting for room until `deadline`.
    /// Appends `msg` to the ring. `waits`: this backend will wait for its
    /// acknowledgement, so the writer sets its latch then.
    pub fn push(
        self,
        generation: u64,
        base: *mut u8,
        msg: &[u8],
        waits: bool,
        deadline: Instant,
    ) -> Result<Pushed, Unavailable> {
        let need = HEADER_BYTES + msg.len() as u64;
        // SAFETY: MyProc is this backend's PGPROC, in the main segment
        // (mapped at one address in every process).
        let waiter = if waits {
            (unsafe { pg_sys::MyProc }) as u64
        } else {
            0
        };
        // SAFETY: see Slot.
        let cv = unsafe { &raw mut (*self.0).space_cv };
        let pushed = wait_on(cv, deadline, || unsafe {
            let s = self.0;
            let _g = lock(&raw mut (*s).lock, true);
            if (*s).generation != generation || (*s).state != State::Running as u32 {
                return Some(Err(Unavailable::Gone));
            }
            let cap = (*s).capacity;
            if need > cap / 4 {
                return Some(Err(Unavailable::TooLarge));
            }
            if cap - ((*s).head - (*s).tail) < need {
                return None;
            }
            let mut header = [0u8; HEADER_BYTES as usize];
            header[..4].copy_from_slice(&(msg.len() as u32).to_le_bytes());
            header[4..].copy_from_slice(&waiter.to_le_bytes());
            ring_write(base, cap, (*s).head, &header);
            ring_write(base, cap, (*s).head + HEADER_BYTES, msg);
            (*s).head += need;
            let ticket = (*s).next_ticket;
            (*s).next_ticket += 1;
            let proc_ = (*s).writer_proc;
            if !proc_.is_null() {
                pg_sys::SetLatch(&raw mut (*proc_).procLatch);
            }
            Some(Ok(Pushed {
                generation,
                ticket,
                seq: ticket as i64 + (*s).seq_offset,
            }))
        })?;
        Ok(pushed)
    }

    /// Waits until the writer has committed `p`.
    /// Waits until the writer has committed ticket `p` (pushed with
    /// `waits`). The writer sets this backend's latch when it acknowledges
    /// the ticket; a writer that dies is noticed within [`POLL`].
    pub fn wait_ack(self, p: Pushed, deadline: Instant) -> Result<(), Unavailable> {
        loop {
            // SAFETY: see Slot.
            let seen = unsafe {
                let s = self.0;
                let _g = lock(&raw mut (*s).lock, false);
                if (*s).acked_generation == p.generation && (*s).acked_ticket >= p.ticket {
                    Some(Ok(()))
                } else if (*s).generation != p.generation
                    || matches!(State::from_u32((*s).state), State::Free | State::Starting)
                {
                    Some(Err(Unavailable::Gone))
                } else {
                    None
                }
            };
            if let Some(r) = seen {
                return r;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Unavailable::TimedOut);
            }
            let ms = (deadline - now).min(POLL).as_millis().max(1) as std::ffi::c_long;
            // SAFETY: the standard latch wait of this backend; a set latch
            // is reset before the state is read again, so no wake-up is lost.
            unsafe {
                pg_sys::WaitLatch(
                    pg_sys::MyLatch,
                    (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH)
                        as i32,
                    ms,
                    pg_sys::PG_WAIT_EXTENSION,
                );
                pg_sys::ResetLatch(pg_sys::MyLatch);
            }
            pgrx::check_for_interrupts!();
        }
    }

    /// Asks the writer for a checkpoint and waits for one made after the
    /// request.
    pub fn request_checkpoint(self, generation: u64, deadline: Instant) -> Result<(), Unavailable> {
        // SAFETY: see Slot.
        let want = unsafe {
            let s = self.0;
            let _g = lock(&raw mut (*s).lock, true);
            if (*s).generation != generation || (*s).state != State::Running as u32 {
                return Err(Unavailable::Gone);
            }
            (*s).checkpoint_requested += 1;
            let proc_ = (*s).writer_proc;
            if !proc_.is_null() {
                pg_sys::SetLatch(&raw mut (*proc_).procLatch);
            }
            (*s).checkpoint_requested
        };
        let cv = unsafe { &raw mut (*self.0).ack_cv };
        wait_on(cv, deadline, || unsafe {
            let s = self.0;
            let _g = lock(&raw mut (*s).lock, false);
            if (*s).generation != generation {
                return Some(Err(Unavailable::Gone));
            }
            ((*s).checkpoint_done >= want).then_some(Ok(()))
        })
    }

    // ---- the writer's side ----

    /// The writer of `generation` is up: publishes its ring and process and
    /// the seq its first ticket gets. False if the slot moved on (another
    /// launch took it over), and the writer should exit.
    pub fn writer_running(self, generation: u64, ring: pg_sys::dsm_handle, last_seq: i64) -> bool {
        // SAFETY: see Slot; MyProc is this process's PGPROC.
        unsafe {
            let s = self.0;
            let _g = lock(&raw mut (*s).lock, true);
            if (*s).generation != generation || (*s).state != State::Starting as u32 {
                return false;
            }
            (*s).state = State::Running as u32;
            (*s).ring = ring;
            (*s).capacity = RING_BYTES as u64;
            (*s).head = 0;
            (*s).tail = 0;
            (*s).seq_offset = last_seq + 1 - (*s).next_ticket as i64;
            (*s).last_seq = last_seq;
            (*s).writer_pid = pg_sys::MyProcPid;
            (*s).writer_proc = pg_sys::MyProc;
            (*s).leave_requested = false;
            pg_sys::ConditionVariableBroadcast(&raw mut (*s).state_cv);
            true
        }
    }

    /// Takes every message in the ring: (bytes of [len][waiter][msg]…, last
    /// ticket). `reserve`: seqs the writer will use for events of its own
    /// right after these messages; tickets pushed from now on are numbered
    /// after them (a ticket's seq is fixed when it is pushed).
    pub fn drain(self, base: *const u8, reserve: u64) -> (Vec<u8>, u64) {
        // SAFETY: see Slot; the ring holds `head - tail` valid bytes.
        let out = unsafe {
            let s = self.0;
            let _g = lock(&raw mut (*s).lock, true);
            let n = ((*s).head - (*s).tail) as usize;
            let mut bytes = vec![0u8; n];
            ring_read(base, (*s).capacity, (*s).tail, &mut bytes);
            (*s).tail = (*s).head;
            (*s).seq_offset += reserve as i64;
            (bytes, (*s).next_ticket - 1)
        };
        // SAFETY: see Slot.
        unsafe { pg_sys::ConditionVariableBroadcast(&raw mut (*self.0).space_cv) };
        out
    }

    /// Everything up to `ticket` is committed, the last event being
    /// `last_seq`; wakes the backends in `waiters` (PGPROC addresses from
    /// the drained messages), after the lock is released so that they do
    /// not queue on it.
    pub fn ack(self, generation: u64, ticket: u64, last_seq: i64, waiters: &[u64]) {
        // SAFETY: see Slot.
        unsafe {
            let s = self.0;
            let _g = lock(&raw mut (*s).lock, true);
            if (*s).generation == generation {
                (*s).acked_generation = generation;
                (*s).acked_ticket = ticket;
                (*s).last_seq = last_seq;
            }
        }
        for &proc_ in waiters {
            // SAFETY: a PGPROC address a backend put in its message. If that
            // backend has gone, its PGPROC's latch belongs to another
            // process or none, and a spurious set is harmless to either.
            unsafe { pg_sys::SetLatch(&raw mut (*(proc_ as *mut pg_sys::PGPROC)).procLatch) };
        }
    }

    /// Whether another database asked for this writer's worker slot.
    pub fn leave_requested(self) -> bool {
        // SAFETY: see Slot.
        unsafe {
            let _g = lock(&raw mut (*self.0).lock, false);
            (*self.0).leave_requested
        }
    }

    /// Checkpoint requests not yet served (their number, to mark done).
    pub fn checkpoint_wanted(self) -> Option<u64> {
        // SAFETY: see Slot.
        unsafe {
            let s = self.0;
            let _g = lock(&raw mut (*s).lock, false);
            ((*s).checkpoint_requested > (*s).checkpoint_done).then_some((*s).checkpoint_requested)
        }
    }

    /// A checkpoint was made at `ts_us`, serving requests up to `served`.
    /// A checkpoint was made at `ts_us`, serving requests up to `served`.
    pub fn checkpoint_made(self, generation: u64, ts_us: i64, served: Option<u64>) {
        // SAFETY: see Slot.
        unsafe {
            let s = self.0;
            {
                let _g = lock(&raw mut (*s).lock, true);
                if (*s).generation == generation {
                    (*s).last_checkpoint_us = ts_us;
                    if let Some(n) = served {
                        (*s).checkpoint_done = (*s).checkpoint_done.max(n);
                    }
                }
            }
            if served.is_some() {
                pg_sys::ConditionVariableBroadcast(&raw mut (*s).ack_cv);
            }
        }
    }

    /// The writer stops taking messages; what is in the ring is still its
    /// to drain. Returns false if the generation moved on.
    pub fn writer_stopping(self, generation: u64) -> bool {
        // SAFETY: see Slot.
        unsafe {
            let s = self.0;
            let _g = lock(&raw mut (*s).lock, true);
            if (*s).generation != generation {
                return false;
            }
            (*s).state = State::Stopping as u32;
            pg_sys::ConditionVariableBroadcast(&raw mut (*s).state_cv);
            pg_sys::ConditionVariableBroadcast(&raw mut (*s).space_cv);
            true
        }
    }

    /// The writer of `generation` is gone (from its exit callback).
    pub fn writer_gone(self, generation: u64) {
        // SAFETY: see Slot.
        unsafe {
            let s = self.0;
            let _g = lock(&raw mut (*s).lock, true);
            if (*s).generation == generation {
                (*s).state = State::Free as u32;
                (*s).writer_pid = 0;
                (*s).writer_proc = std::ptr::null_mut();
            }
            pg_sys::ConditionVariableBroadcast(&raw mut (*s).state_cv);
            pg_sys::ConditionVariableBroadcast(&raw mut (*s).ack_cv);
            pg_sys::ConditionVariableBroadcast(&raw mut (*s).space_cv);
        }
    }
}

/// # Safety
/// `base` points at `cap` bytes; `bytes.len() <= cap`.
unsafe fn ring_write(base: *mut u8, cap: u64, at: u64, bytes: &[u8]) {
    let start = (at % cap) as usize;
    let first = bytes.len().min(cap as usize - start);
    // SAFETY: the caller's contract; both pieces are within the ring.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(start), first);
        std::ptr::copy_nonoverlapping(bytes.as_ptr().add(first), base, bytes.len() - first);
    }
}

/// # Safety
/// `base` points at `cap` bytes; `out.len() <= cap`.
unsafe fn ring_read(base: *const u8, cap: u64, at: u64, out: &mut [u8]) {
    let start = (at % cap) as usize;
    let first = out.len().min(cap as usize - start);
    // SAFETY: the caller's contract.
    unsafe {
        std::ptr::copy_nonoverlapping(base.add(start), out.as_mut_ptr(), first);
        std::ptr::copy_nonoverlapping(base, out.as_mut_ptr().add(first), out.len() - first);
    }
}

/// Splits drained bytes into messages.
pub fn messages(bytes: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    const H: usize = HEADER_BYTES as usize;
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.len() < H {
            return None;
        }
        let n = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let waiter = u64::from_le_bytes(rest[4..H].try_into().expect("8 bytes"));
        let msg = rest.get(H..H + n)?;
        rest = &rest[H + n..];
        Some((waiter, msg))
    })
}
