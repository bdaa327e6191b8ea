//! The audit writer: one background worker per database, the chain's only
//! sequencer. It drains the shared ring, gives each event the next seq and
//! hash, commits (synchronous_commit = on, so an acknowledged event is on
//! disk) with a signed checkpoint of the new head, acknowledges (waking
//! only the backends that wait for that batch), and mirrors the
//! checkpoint to the server log.
//!
//! It leaves when told to (SIGTERM: drains first), when idle for
//! `audit_writer_idle_timeout`, and at once when someone wants its
//! database exclusively (DROP DATABASE, ALTER DATABASE RENAME, CREATE
//! DATABASE … TEMPLATE), so that it never blocks them.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::alerting::Opened;
use han_crypto_core::audit::{
    checkpoint::first_prev_digest, export, genesis, link, verify::StoredEvent, AuditSigningKey,
    ChainId, Checkpoint, Event, Field, Hash, Kind, Value,
};
use pgrx::bgworkers::{BackgroundWorker, SignalWakeFlags};
use pgrx::prelude::*;

use super::shared::{self, SlotRef};
use super::store;
use crate::error::{HcError, HcResult};
use crate::gucs::{self, AuditLogMirror};

/// A writer idle this long gives its worker slot to a database that asks.
const YIELD_AFTER: Duration = Duration::from_millis(500);
/// How long another session must want the database exclusively before the
/// writer leaves for it.
const EXCLUSIVE_PATIENCE: Duration = Duration::from_millis(400);
/// Longest sleep between looks at the database lock and the clock.
const TICK: Duration = Duration::from_millis(200);

thread_local! {
    /// (slot, generation, ring) of this writer, for the exit callback.
    static MINE: Cell<Option<(usize, u64, pg_sys::dsm_handle)>> = const { Cell::new(None) };
}

/// What the writer knows of the chain's end.
struct Head {
    chain_id: ChainId,
    key: AuditSigningKey,
    last_seq: i64,
    hash: Hash,
    next_checkpoint: u64,
    prev_digest: Hash,
    signed_seq: i64,
}

/// Entry point (bgw_function_name). `arg` is the database OID; the extra
/// text is "slot generation owner-oid".
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn han_crypto_audit_writer_main(arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let mut extra = BackgroundWorker::get_extra()
        .split(' ')
        .map(|p| p.parse::<u64>().ok());
    let (Some(Some(index)), Some(Some(generation)), Some(Some(owner))) =
        (extra.next(), extra.next(), extra.next())
    else {
        return;
    };
    let Some(slot) = shared::slot_at(index as usize) else {
        return;
    };
    // SAFETY: registered once, before anything can fail; it frees the slot
    // however this process ends.
    unsafe { pg_sys::before_shmem_exit(Some(on_exit), pg_sys::Datum::from(0usize)) };
    MINE.set(Some((index as usize, generation, 0)));
    let dboid = pg_sys::Oid::from(arg.value() as u32);
    BackgroundWorker::connect_worker_to_spi_by_oid(
        Some(dboid),
        Some(pg_sys::Oid::from(owner as u32)),
    );
    super::mark_writer_process();
    keep_heap();
    // Measured against committing asynchronously and letting each waiter
    // flush the WAL itself: the writer's own fsync was faster (the waiters'
    // flushes queued on the WAL lock and woke late on a busy machine).
    set_option(c"synchronous_commit", c"on");
    set_option(c"statement_timeout", c"0");
    set_option(c"lock_timeout", c"0");
    set_option(c"search_path", c"pg_catalog");
    // Whatever the database's or role's settings say: the writer writes.
    set_option(c"default_transaction_read_only", c"off");
    set_option(c"default_transaction_isolation", c"read committed");
    set_option(c"default_transaction_deferrable", c"off");
    set_option(c"idle_in_transaction_session_timeout", c"0");

    if !lock_chain() {
        pgrx::log!("han_crypto audit writer: another writer holds this database's chain; leaving");
        return;
    }
    let head = BackgroundWorker::transaction(load_head);
    let mut head = match head {
        Ok(h) => h,
        Err(e) => {
            pgrx::warning!("han_crypto audit writer cannot start: {}", describe(&e));
            return;
        }
    };
    if let Err(e) = BackgroundWorker::transaction(super::alerting::start) {
        pgrx::warning!(
            "han_crypto audit writer: access monitoring is off until the writer restarts: {}",
            describe(&e)
        );
    }
    let Some((seg, base)) = create_ring() else {
        pgrx::warning!("han_crypto audit writer cannot start: no DSM segment available");
        return;
    };
    // SAFETY: a segment this process created.
    let handle = unsafe { pg_sys::dsm_segment_handle(seg) };
    MINE.set(Some((index as usize, generation, handle)));
    if !slot.writer_running(generation, handle, head.last_seq) {
        return;
    }
    run(slot, generation, base, &mut head);
}

fn run(slot: SlotRef, generation: u64, base: *mut u8, head: &mut Head) {
    let mut idle_since = Instant::now();
    let mut exclusive_since: Option<Instant> = None;
    // Alerts raised by the last batch, chained at the start of the next
    // one's own events, in seqs reserved when it drains.
    let mut alerts: Vec<Opened> = Vec::new();
    let mut stop = false;
    loop {
        if BackgroundWorker::sighup_received() {
            // SAFETY: re-reading postgresql.conf, as every process does on SIGHUP.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        let (mut bytes, mut ticket) = slot.drain(base, alerts.len() as u64);
        let wanted = slot.checkpoint_wanted();
        if !bytes.is_empty()
            && alerts.is_empty()
            && wanted.is_none()
            && !shared::messages(&bytes).any(|(w, _)| w != 0)
        {
            // Nobody waits for these (closing counts, asynchronous events):
            // a moment for a waited event to join them, rather than queue
            // behind a commit of their own.
            // (wait_latch reports SIGTERM once: it must not be lost here.)
            stop = !BackgroundWorker::wait_latch(Some(GATHER));
            let (more, last) = slot.drain(base, 0);
            if !more.is_empty() {
                bytes.extend_from_slice(&more);
                ticket = last;
            }
        }
        if !bytes.is_empty() || wanted.is_some() || !alerts.is_empty() {
            let waiters = commit_batch(slot, generation, head, &bytes, wanted, &mut alerts);
            slot.ack(generation, ticket, head.last_seq, &waiters);
            if !bytes.is_empty() {
                idle_since = Instant::now();
            }
        }
        let idle_limit = Duration::from_secs(gucs::AUDIT_WRITER_IDLE_TIMEOUT.get().max(0) as u64);
        let idle = idle_since.elapsed();
        // Idle, and another database needs the worker slot: give it up.
        let leave = (!idle_limit.is_zero() && idle >= idle_limit)
            || (idle >= YIELD_AFTER && slot.leave_requested());
        if stop
            || leave
            || wanted_for(&mut exclusive_since)
            || (alerts.is_empty() && !BackgroundWorker::wait_latch(Some(TICK)))
        {
            break;
        }
    }
    // Stop taking messages, then commit what is left.
    if !slot.writer_stopping(generation) {
        return;
    }
    let (bytes, ticket) = slot.drain(base, alerts.len() as u64);
    if !bytes.is_empty() || !alerts.is_empty() {
        let waiters = commit_batch(slot, generation, head, &bytes, None, &mut alerts);
        slot.ack(generation, ticket, head.last_seq, &waiters);
    }
}

/// How long events nobody waits for may wait for company.
const GATHER: Duration = Duration::from_millis(1);

/// Keeps freed memory in the process: each batch allocates and frees
/// about the same, and glibc's default would hand it back to the kernel
/// and fault it in again every time (a tenth of the writer's time).
fn keep_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
        const M_TOP_PAD: std::ffi::c_int = -2;
        // SAFETY: glibc's documented tunables, set before any batch.
        unsafe {
            mallopt(M_TRIM_THRESHOLD, 64 << 20);
            mallopt(M_TOP_PAD, 8 << 20);
        }
    }
}

/// Whether another session has wanted the database exclusively for long
/// enough to be a real DROP, RENAME or TEMPLATE copy (they wait 5 s for
/// other sessions to leave): a refused attempt by a role without the right
/// holds the lock only for a moment and must not make the writer leave.
fn wanted_for(since: &mut Option<Instant>) -> bool {
    if !database_wanted() {
        *since = None;
        return false;
    }
    since.get_or_insert_with(Instant::now).elapsed() >= EXCLUSIVE_PATIENCE
}

/// One transaction: the batch's events and the checkpoint that signs them,
/// committed and flushed before anyone is acknowledged. So no unsigned
/// event ever rests in the trail: one found there was written behind the
/// writer's back. Any failure raises an ERROR: the transaction rolls back
/// whole and the writer exits (loudly, in the server log); waiting backends
/// see it gone.
/// Returns the backends waiting for the batch.
fn commit_batch(
    slot: SlotRef,
    generation: u64,
    head: &mut Head,
    bytes: &[u8],
    wanted: Option<u64>,
    alerts: &mut Vec<Opened>,
) -> Vec<u64> {
    let mirror = gucs::AUDIT_LOG_MIRROR.get();
    let mut lines = Vec::new();
    let mut waiters = Vec::new();
    let made = BackgroundWorker::transaction(std::panic::AssertUnwindSafe(|| {
        let result = (|| -> HcResult<Option<Checkpoint>> {
            let mut rows: Vec<StoredEvent> = shared::messages(bytes)
                .map(|(waiter, msg)| {
                    if waiter != 0 {
                        waiters.push(waiter);
                    }
                    chain_next(head, msg)
                })
                .collect();
            // Access monitoring: the last batch's new alerts take the seqs
            // reserved after this batch's messages; then the rules see this
            // batch's events (repeats are counted at once, new alerts
            // wait for the next batch's seqs).
            let mut chained = Vec::with_capacity(alerts.len());
            for opened in alerts.drain(..) {
                let event = super::alerting::alert_event(&opened, super::now_us());
                let row = chain_next(head, &event.encode());
                chained.push((opened, row.event.seq));
                rows.push(row);
            }
            let (opened, repeats) = super::alerting::evaluate(&rows);
            store_events(&rows)?;
            super::alerting::persist(&chained, &repeats);
            alerts.extend(opened);
            if mirror == AuditLogMirror::Events {
                lines.extend(rows.iter().map(export::event_line));
            }
            if head.signed_seq < head.last_seq {
                return Ok(Some(insert_checkpoint(head)?));
            }
            Ok(None)
        })();
        match result {
            Ok(made) => made,
            Err(e) => {
                pgrx::pg_sys::panic::ErrorReport::from(e).report(PgLogLevel::ERROR);
                unreachable!("an ERROR does not return")
            }
        }
    }));
    // The off-box copy, once committed: log drains carry these lines out
    // of the database (the export's own line format, for SIEMs).
    for line in lines {
        crate::log_scrub::log_own_line(&format!("han_crypto audit event {line}"));
    }
    // A requested checkpoint covers the alerts this batch raised: with new
    // ones waiting for the next batch, the request is served there.
    let served = if alerts.is_empty() { wanted } else { None };
    if let Some(cp) = made {
        head.prev_digest = cp.digest(&head.chain_id);
        head.next_checkpoint = cp.n + 1;
        head.signed_seq = cp.seq as i64;
        slot.checkpoint_made(generation, cp.ts_us, served);
        log_checkpoint(&cp);
    } else if served.is_some() {
        slot.checkpoint_made(generation, super::now_us(), served);
    }
    waiters
}

fn log_checkpoint(cp: &Checkpoint) {
    if gucs::AUDIT_LOG_MIRROR.get() != AuditLogMirror::Off {
        crate::log_scrub::log_own_line(&format!("han_crypto audit checkpoint {}", cp.to_json()));
    }
}

/// Gives the event in `msg` the next seq and its hash, and moves the head.
fn chain_next(head: &mut Head, msg: &[u8]) -> StoredEvent {
    let seq = head.last_seq + 1;
    let mut event = match Event::decode(msg) {
        Ok(e) => e,
        // Only a defect can send one; its seq is still spent, so that the
        // tickets after it keep their seqs.
        Err(_) => {
            let mut e = Event::new(0, super::now_us(), Kind::Single);
            let _ = e.set(Field::Action, Value::Text("audit_error".into()));
            let _ = e.set(Field::Outcome, Value::Text("error".into()));
            e
        }
    };
    event.seq = seq as u64;
    let hash = link(&head.hash, &event.encode());
    let stored = StoredEvent {
        event,
        prev_hash: head.hash,
        hash,
    };
    head.last_seq = seq;
    head.hash = hash;
    stored
}

/// Rows per INSERT: one statement per batch (up to this many) instead of
/// one per event, since executor start-up (constraints, triggers, indexes)
/// cost more than a row.
const ROWS_PER_INSERT: usize = 1000;

/// One column of a multi-row INSERT, as the array it is sent as.
enum Column {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
}

/// Stores `rows` (already chained) with one INSERT per chunk, each checked
/// to have stored every row it was given.
fn store_events(rows: &[StoredEvent]) -> HcResult<()> {
    use han_crypto_core::audit::FieldType;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let n = chunk.len();
        let mut seq = Vec::with_capacity(n);
        let mut ts = Vec::with_capacity(n);
        let mut kind = Vec::with_capacity(n);
        let mut prev = Vec::with_capacity(n);
        let mut hash = Vec::with_capacity(n);
        let mut columns: Vec<Column> = Field::ALL
            .iter()
            .map(|f| match f.ty() {
                FieldType::Int => Column::Int(Vec::with_capacity(n)),
                _ => Column::Text(Vec::with_capacity(n)),
            })
            .collect();
        for row in chunk {
            let e = &row.event;
            seq.push(e.seq as i64);
            ts.push(e.ts_us);
            kind.push(e.kind.name().to_owned());
            prev.push(row.prev_hash.to_vec());
            hash.push(row.hash.to_vec());
            for (field, column) in Field::ALL.iter().zip(columns.iter_mut()) {
                match (column, e.get(*field)) {
                    (Column::Int(c), Some(Value::Int(v))) => c.push(Some(*v)),
                    (Column::Int(c), _) => c.push(None),
                    (Column::Text(c), Some(Value::Text(t) | Value::Json(t))) => {
                        c.push(Some(t.clone()))
                    }
                    (Column::Text(c), Some(Value::List(l))) => c.push(Some(array_literal(l))),
                    (Column::Text(c), _) => c.push(None),
                }
            }
        }
        let first = seq[0];
        let mut args: Vec<pgrx::datum::DatumWithOid> = Vec::with_capacity(Field::ALL.len() + 5);
        args.push(seq.into());
        args.push(ts.into());
        args.push(kind.into());
        for column in columns {
            args.push(match column {
                Column::Int(c) => c.into(),
                Column::Text(c) => c.into(),
            });
        }
        args.push(prev.into());
        args.push(hash.into());
        // A rule or trigger someone added could swallow rows: the writer
        // acknowledges only what it saw stored.
        let stored = run_kept(KEPT_INSERT_EVENTS, &insert_events_sql(), &args)?;
        if stored != n {
            return Err(tampered(format!(
                "events {first} to {} were not all stored (a rule or trigger intercepts them)",
                first + n as i64 - 1
            )));
        }
    }
    Ok(())
}

/// A text[] literal of `items`, every element quoted.
fn array_literal(items: &[String]) -> String {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for ch in item.chars() {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// `INSERT … SELECT … FROM ROWS FROM (unnest($1), …, unnest($23))`: the columns in
/// Field::ALL's order between (seq, ts, kind) and (prev_hash, hash).
fn insert_events_sql() -> String {
    use han_crypto_core::audit::FieldType;
    let mut names = vec!["seq", "ts", "kind"];
    names.extend(Field::ALL.iter().map(|f| f.name()));
    names.extend(["prev_hash", "hash"]);
    let types: Vec<&str> = names
        .iter()
        .enumerate()
        .map(|(i, _)| match i {
            0 | 1 => "pg_catalog.int8[]",
            2 => "pg_catalog.text[]",
            i if i >= 3 + Field::ALL.len() => "pg_catalog.bytea[]",
            i => match Field::ALL[i - 3].ty() {
                FieldType::Int => "pg_catalog.int8[]",
                _ => "pg_catalog.text[]",
            },
        })
        .collect();
    let select: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| match i {
            1 => "pg_catalog.to_timestamp(0) + r.ts * interval '1 microsecond'".to_owned(),
            i if (3..3 + Field::ALL.len()).contains(&i) => match Field::ALL[i - 3].ty() {
                FieldType::List => format!("r.{name}::pg_catalog.text[]"),
                FieldType::Json => format!("r.{name}::pg_catalog.jsonb"),
                _ => format!("r.{name}"),
            },
            _ => format!("r.{name}"),
        })
        .collect();
    let params: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("pg_catalog.unnest(${}::{t})", i + 1))
        .collect();
    format!(
        "INSERT INTO han_crypto_audit._events ({}) SELECT {} FROM ROWS FROM ({}) AS r({}) RETURNING seq",
        names.join(", "),
        select.join(", "),
        params.join(", "),
        names.join(", ")
    )
}

fn insert_checkpoint(head: &Head) -> HcResult<Checkpoint> {
    let cp = head.key.checkpoint(
        &head.chain_id,
        head.next_checkpoint,
        head.last_seq as u64,
        head.hash,
        super::now_us(),
        head.prev_digest,
    );
    run_kept(
        KEPT_INSERT_CHECKPOINT,
        "INSERT INTO han_crypto_audit._checkpoints (n, seq, head, ts, prev_digest, key_id, signature) \
         VALUES ($1, $2, $3, pg_catalog.to_timestamp(0) + $4 * interval '1 microsecond', $5, $6, $7)",
        &[
            (cp.n as i64).into(),
            (cp.seq as i64).into(),
            cp.head.to_vec().into(),
            cp.ts_us.into(),
            cp.prev_digest.to_vec().into(),
            cp.key_id.to_vec().into(),
            cp.signature.to_vec().into(),
        ],
    )?;
    Ok(cp)
}

const KEPT_INSERT_EVENTS: usize = 0;
const KEPT_INSERT_CHECKPOINT: usize = 1;

thread_local! {
    /// The writer's two INSERTs, parsed and planned once per process (the
    /// plan cache replans them if the tables change): planning one for
    /// every event cost more than storing it.
    static KEPT: std::cell::RefCell<[Option<pgrx::spi::OwnedPreparedStatement>; 2]> =
        const { std::cell::RefCell::new([None, None]) };
}

/// Runs one of the kept statements (preparing it on first use with the
/// arguments' types); returns the number of rows it returned.
fn run_kept(which: usize, sql: &str, args: &[pgrx::datum::DatumWithOid]) -> HcResult<usize> {
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        Spi::connect_mut(|c| {
            if kept[which].is_none() {
                let types: Vec<PgOid> = args.iter().map(|a| PgOid::from(a.oid())).collect();
                kept[which] = Some(c.prepare_mut(sql, &types)?.keep());
            }
            let plan = kept[which].as_ref().expect("prepared above");
            c.update(plan, None, args).map(|t| t.len())
        })
    })
    .map_err(Into::into)
}

/// The chain's end as stored, checked from the last checkpoint on: a writer
/// never extends a chain whose unsigned tail was altered behind its back.
fn load_head() -> HcResult<Head> {
    let chain = store::require_chain()?;
    let root = crate::root_key::get_without_recording()?;
    let key = AuditSigningKey::derive(&root, &chain.chain_id, chain.signing_key_version)
        .map_err(|e| HcError::Catalog(e.to_string()))?;
    let last = store::last_checkpoint()?;
    let (seq, hash, next_checkpoint, prev_digest) = match &last {
        Some(cp) => {
            if !key.public_key().verifies(&chain.chain_id, cp) {
                return Err(tampered(format!("checkpoint {} does not verify", cp.n)));
            }
            (cp.seq as i64, cp.head, cp.n + 1, cp.digest(&chain.chain_id))
        }
        None => (
            0,
            genesis(&chain.chain_id, chain.system_identifier),
            1,
            first_prev_digest(&chain.chain_id),
        ),
    };
    let signed_seq = seq;
    if let Some(cp) = &last {
        let stored = store::events(cp.seq as i64, cp.seq as i64, 1)?;
        if cp.seq > 0 && stored.first().map(|e| e.hash) != Some(cp.head) {
            return Err(tampered(format!(
                "event {} is not the one checkpoint {} signed",
                cp.seq, cp.n
            )));
        }
    }
    // Every batch is signed as it commits: an event after the last
    // checkpoint was put there by someone else, and signing it would vouch
    // for it.
    if let Some(e) = store::events(seq + 1, i64::MAX, 1)?.first() {
        return Err(tampered(format!(
            "event {} follows the last checkpoint unsigned (written behind the writer's back)",
            e.event.seq
        )));
    }
    Ok(Head {
        chain_id: chain.chain_id,
        key,
        last_seq: seq,
        hash,
        next_checkpoint,
        prev_digest,
        signed_seq,
    })
}

fn tampered(detail: String) -> HcError {
    HcError::Refused {
        code: pgrx::PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
        message: format!("the audit trail was altered: {detail}"),
        hint: Some(
            "Run han_crypto.audit_verify() to see what changed; the writer will not extend it."
                .into(),
        ),
    }
}

fn describe(e: &HcError) -> String {
    match e {
        HcError::Refused { message, .. } => message.clone(),
        other => format!("{other:?}"),
    }
}

fn set_option(name: &std::ffi::CStr, value: &std::ffi::CStr) {
    // SAFETY: setting a built-in GUC of this process to a valid value.
    unsafe {
        pg_sys::SetConfigOption(
            name.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_OVERRIDE,
        );
    }
}

/// A ring segment that outlives this writer's transactions (pinned
/// mapping) and, until the exit callback unpins it, the writer itself.
fn create_ring() -> Option<(*mut pg_sys::dsm_segment, *mut u8)> {
    // SAFETY: a new segment of RING_BYTES; NULL instead of an ERROR when
    // the cluster is out of segments.
    unsafe {
        let seg = pg_sys::dsm_create(
            shared::RING_BYTES,
            pg_sys::DSM_CREATE_NULL_IF_MAXSEGMENTS as i32,
        );
        if seg.is_null() {
            return None;
        }
        pg_sys::dsm_pin_mapping(seg);
        pg_sys::dsm_pin_segment(seg);
        Some((seg, pg_sys::dsm_segment_address(seg) as *mut u8))
    }
}

/// Whether another backend waits for (or holds) a lock on this database
/// that a connecting session would conflict with: DROP DATABASE, RENAME,
/// or CREATE DATABASE … TEMPLATE this one. The writer must leave for them.
fn database_wanted() -> bool {
    // SAFETY: MyDatabaseId is set once connected.
    let tag = pg_sys::LOCKTAG {
        locktag_field1: 0,
        locktag_field2: pg_sys::DatabaseRelationId.into(),
        locktag_field3: unsafe { pg_sys::MyDatabaseId }.into(),
        locktag_field4: 0,
        locktag_type: pg_sys::LockTagType::LOCKTAG_OBJECT as u8,
        locktag_lockmethodid: pg_sys::DEFAULT_LOCKMETHOD as u8,
    };
    let mode = pg_sys::RowExclusiveLock as i32;
    // SAFETY: a session-level try of a lock on a tag built above, released
    // at once; outside any transaction.
    unsafe {
        let r = pg_sys::LockAcquire(&tag, mode, true, true);
        if r == pg_sys::LockAcquireResult::LOCKACQUIRE_NOT_AVAIL {
            return true;
        }
        pg_sys::LockRelease(&tag, mode, true);
    }
    false
}

/// Takes the database's chain for this writer's lifetime (a session lock,
/// released when the process exits): a second writer, from a registry of
/// another library build, cannot extend the same chain at the same time.
/// The tag is an advisory-lock tag no SQL function can produce (field 4).
fn lock_chain() -> bool {
    let tag = super::internal_lock_tag(0x4843_4157, 0x4843); // "HCAW"
                                                             // SAFETY: a session lock on a tag built above, without waiting.
    let r = unsafe { pg_sys::LockAcquire(&tag, pg_sys::ExclusiveLock as i32, true, true) };
    r != pg_sys::LockAcquireResult::LOCKACQUIRE_NOT_AVAIL
}

#[pg_guard]
unsafe extern "C-unwind" fn on_exit(_code: i32, _arg: pg_sys::Datum) {
    if let Some((index, generation, ring)) = MINE.take() {
        if let Some(slot) = shared::slot_at(index) {
            slot.writer_gone(generation);
        }
        if ring != 0 {
            // SAFETY: the segment this writer pinned; backends still
            // mapping it keep it until they let go.
            unsafe { pg_sys::dsm_unpin_segment(ring) };
        }
    }
}

// ---- the transaction that creates the trail ----
//
// CREATE EXTENSION and its first use in one transaction (a migration, a
// multi-statement setup query): no writer can see a trail that is not
// committed, so the creating backend appends its own events, the only one
// that can, and signs them at PRE_COMMIT. If the transaction aborts, the
// trail goes with the extension, events and all.

thread_local! {
    static DIRECT: std::cell::RefCell<Option<Head>> = const { std::cell::RefCell::new(None) };
}

/// Appends `msg` to the trail this transaction created; returns its seq.
pub fn append_in_creating_transaction(msg: &[u8]) -> HcResult<i64> {
    crate::catalog::as_owner(|| {
        super::as_writer(|| {
            DIRECT.with(|d| {
                let mut d = d.borrow_mut();
                if d.is_none() {
                    *d = Some(load_head()?);
                }
                let head = d.as_mut().expect("set above");
                let row = chain_next(head, msg);
                store_events(std::slice::from_ref(&row))?;
                Ok(head.last_seq)
            })
        })
    })
}

/// At PRE_COMMIT of the creating transaction: the checkpoint that signs
/// what it appended. An Err aborts the commit.
pub fn sign_creating_transaction() -> HcResult<()> {
    let Some(mut head) = DIRECT.with(|d| d.borrow_mut().take()) else {
        return Ok(());
    };
    if head.signed_seq >= head.last_seq {
        return Ok(());
    }
    let cp = crate::catalog::as_owner(|| super::as_writer(|| insert_checkpoint(&head)))?;
    head.signed_seq = cp.seq as i64;
    log_checkpoint(&cp);
    Ok(())
}

/// At abort: what was appended goes with the transaction.
pub fn forget_creating_transaction() {
    DIRECT.with(|d| d.borrow_mut().take());
}
