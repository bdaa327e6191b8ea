//! The audit trail in SQL: the append-only guard, the chain's start, the
//! public key, verification and export.

use std::collections::VecDeque;

use han_crypto_core::audit::export::{ExportHeader, ExportWriter};
use han_crypto_core::audit::{Checkpoint, Start, StoredEvent, Verifier};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode as Code;

use crate::audit::{self, store};
use crate::error::{HcError, HcResult};

/// Rows read per query when verifying or exporting.
const BATCH: i64 = 10_000;

/// Version-1 calling-convention record for `_audit_guard`.
#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo__audit_guard() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// BEFORE INSERT/UPDATE/DELETE (row) and BEFORE TRUNCATE (statement) on
/// every table of han_crypto_audit: refuses anything but han_crypto's own
/// writing, whoever asks (the tables' owner too).
///
/// # Safety
/// Called by PostgreSQL's trigger manager with a valid `fcinfo`.
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn _audit_guard(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: PostgreSQL passes a valid fcinfo; a trigger call carries
    // TriggerData as its context.
    let data = unsafe {
        let ctx = (*fcinfo).context;
        if ctx.is_null() || (*ctx).type_ != pg_sys::NodeTag::T_TriggerData {
            ErrorReport::from(HcError::Refused {
                code: Code::ERRCODE_TRIGGERED_ACTION_EXCEPTION,
                message: "han_crypto._audit_guard() runs only as the audit trail's own trigger"
                    .into(),
                hint: None,
            })
            .report(PgLogLevel::ERROR);
            unreachable!("an ERROR does not return")
        }
        &*(ctx as *const pg_sys::TriggerData)
    };
    let event = data.tg_event;
    let row_level = event & pg_sys::TRIGGER_EVENT_ROW != 0;
    if !audit::is_writer() {
        let op = match event & pg_sys::TRIGGER_EVENT_OPMASK {
            pg_sys::TRIGGER_EVENT_INSERT => "INSERT",
            pg_sys::TRIGGER_EVENT_UPDATE => "UPDATE",
            pg_sys::TRIGGER_EVENT_DELETE => "DELETE",
            _ => "TRUNCATE",
        };
        // SAFETY: tg_relation is valid for the call.
        let relid = unsafe { (*data.tg_relation).rd_id };
        let table =
            crate::catalog::relation_sql_name(relid).unwrap_or_else(|_| "the audit trail".into());
        ErrorReport::from(HcError::Refused {
            code: Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
            message: format!("{table} is append-only: {op} is refused"),
            hint: Some(
                "Audit events are written by han_crypto itself and never changed; han_crypto.audit_export() copies them out."
                    .into(),
            ),
        })
        .report(PgLogLevel::ERROR);
        unreachable!("an ERROR does not return")
    }
    if !row_level {
        return pg_sys::Datum::from(0usize);
    }
    let tuple = if event & pg_sys::TRIGGER_EVENT_OPMASK == pg_sys::TRIGGER_EVENT_UPDATE {
        data.tg_newtuple
    } else {
        data.tg_trigtuple
    };
    pg_sys::Datum::from(tuple)
}

/// Whether the statement running is CREATE or ALTER EXTENSION (the event
/// triggers let the extension's own script change the trail's objects).
#[pg_extern(stable, parallel_safe)]
fn _creating_extension() -> bool {
    // SAFETY: a backend-local flag set by extension.c.
    unsafe { pg_sys::creating_extension }
}

/// Starts this database's chain; part of the extension script only.
#[pg_extern(volatile, parallel_unsafe)]
fn _audit_start_chain() -> Result<(), ErrorReport> {
    if !_creating_extension() {
        return Err(HcError::PermissionDenied {
            message: "the audit chain starts only with CREATE EXTENSION han_crypto".into(),
            hint: "A chain is never restarted in place: that would hide what came before.",
        }
        .into());
    }
    store::start_chain()?;
    Ok(())
}

/// The audit signing key's public half (Ed25519, hex): all that verifying
/// the checkpoints, here or offline, needs.
#[pg_extern(stable, parallel_unsafe)]
fn audit_public_key() -> Result<String, ErrorReport> {
    let chain = store::require_chain()?;
    Ok(store::public_key(&chain)?.to_hex())
}

fn external_checkpoint(text: Option<&str>) -> HcResult<Option<Checkpoint>> {
    let Some(text) = text else { return Ok(None) };
    let json: serde_json::Value = serde_json::from_str(text).map_err(|_| {
        HcError::InvalidArgument(
            "external_checkpoint is not a checkpoint (JSON it cannot read)".into(),
        )
    })?;
    Checkpoint::from_json(json.get("checkpoint").unwrap_or(&json))
        .map(Some)
        .map_err(|e| HcError::InvalidArgument(format!("external_checkpoint: {e}")))
}

fn range(from_seq: Option<i64>, to_seq: Option<i64>) -> HcResult<(u64, Option<u64>, i64)> {
    let from = from_seq.unwrap_or(1);
    if from < 1 || to_seq.is_some_and(|t| t < from) {
        return Err(HcError::InvalidArgument(
            "from_seq must be at least 1 and to_seq at least from_seq".into(),
        ));
    }
    let last = store::last_seq()?;
    let to = to_seq.map_or(last, |t| t.min(last));
    Ok((from as u64, to_seq.map(|t| t as u64), to))
}

fn start_of(chain: &store::Chain, from: u64) -> Start {
    if from <= 1 {
        Start::Genesis {
            system_identifier: chain.system_identifier,
        }
    } else {
        Start::Unanchored { from_seq: from }
    }
}

/// Where reading the stored trail from `from` starts, and the first seq
/// read. Once a segment is archived, the trail starts after the checkpoint
/// left as its anchor, provided an archive marker in the trail says so:
/// events missing at the start without one are reported as deleted.
fn stored_start(chain: &store::Chain, from: u64) -> HcResult<(Start, u64)> {
    if let Some(floor) = store::first_seq()? {
        if floor > 1 && from <= floor as u64 {
            if let Some(cp) = store::checkpoint_at(floor - 1)? {
                if store::archived_through(floor - 1)? {
                    let start = Start::After {
                        seq: cp.seq,
                        head: cp.head,
                    };
                    return Ok((start, floor as u64));
                }
            }
        }
    }
    Ok((start_of(chain, from), from))
}

/// Feeds events `from..=to` (read in batches) and the checkpoints, each
/// after the event it covers, to `sink`.
fn for_each_row(
    from: u64,
    to: i64,
    checkpoints: Vec<Checkpoint>,
    mut on_event: impl FnMut(&StoredEvent) -> bool,
    mut on_checkpoint: impl FnMut(&Checkpoint),
) -> HcResult<()> {
    let mut cps: VecDeque<Checkpoint> = checkpoints.into();
    while cps.front().is_some_and(|c| c.seq < from) {
        on_checkpoint(&cps.pop_front().expect("front exists"));
    }
    let mut next = from as i64;
    while next <= to {
        let batch = store::events(next, to, BATCH)?;
        let Some(last) = batch.last().map(|e| e.event.seq as i64) else {
            break;
        };
        for e in &batch {
            if !on_event(e) {
                return Ok(());
            }
            while cps.front().is_some_and(|c| c.seq <= e.event.seq) {
                on_checkpoint(&cps.pop_front().expect("front exists"));
            }
        }
        // Checked against `to`: a planted seq of i64::MAX must not wrap
        // the loop around.
        if last >= to {
            break;
        }
        next = last + 1;
    }
    for cp in cps {
        on_checkpoint(&cp);
    }
    Ok(())
}

/// Feeds the stored events `from..=to` and `checkpoints` to `v`.
fn verify_rows(
    v: Verifier,
    from: u64,
    to: i64,
    checkpoints: Vec<Checkpoint>,
) -> HcResult<han_crypto_core::audit::Report> {
    let cell = std::cell::RefCell::new(v);
    for_each_row(
        from,
        to,
        checkpoints,
        |e| {
            let mut v = cell.borrow_mut();
            v.push_event(e);
            !v.failed()
        },
        |cp| cell.borrow_mut().push_checkpoint(cp),
    )?;
    Ok(cell.into_inner().finish())
}

/// Verifies the trail (or `from_seq..to_seq`): every hash, every checkpoint
/// signature, and, if given, a checkpoint kept outside the database.
#[allow(clippy::type_complexity)]
/// The jsonb argument arrives as text (the SQL wrapper audit_verify casts
/// it), so a document nested past serde_json's limit is an error, not a
/// panic in pgrx's conversion.
#[pg_extern(volatile, parallel_unsafe)]
fn _audit_verify(
    from_seq: Option<i64>,
    to_seq: Option<i64>,
    external_checkpoint: Option<&str>,
) -> Result<
    TableIterator<
        'static,
        (
            name!(ok, bool),
            name!(checked, i64),
            name!(first_bad_seq, Option<i64>),
            name!(reason, Option<String>),
            name!(detail, Option<String>),
            name!(last_checkpoint, Option<i64>),
            name!(signed_through, Option<i64>),
            name!(unsigned_tail, i64),
        ),
    >,
    ErrorReport,
> {
    let chain = store::require_chain()?;
    let key = store::public_key(&chain)?;
    let external = self::external_checkpoint(external_checkpoint)?;
    // Checkpoints before the last seq: each commits with the events it
    // signs, so reading it first never finds one past the events read next.
    let cps = store::checkpoints(i64::MAX)?;
    let (from, to_bound, to) = range(from_seq, to_seq)?;
    let (start, from) = stored_start(&chain, from)?;
    let mut v = Verifier::new(chain.chain_id, vec![key], start, to_bound);
    if let Some(cp) = external {
        v.expect_external(cp);
    }
    let r = verify_rows(v, from, to, cps)?;
    let fault = r.fault.clone();
    Ok(TableIterator::once((
        r.ok(),
        r.checked as i64,
        fault.as_ref().map(|f| f.first_bad_seq as i64),
        fault.as_ref().map(|f| f.reason.as_str().to_owned()),
        fault.map(|f| f.detail),
        r.last_checkpoint.map(|(n, _)| n as i64),
        r.signed_through.map(|s| s as i64),
        r.unsigned_tail() as i64,
    )))
}

/// The trail (or `from_seq..to_seq`) as JSON Lines for `han-crypto audit
/// verify` (docs/FORMAT.md). Streams: rows are read in batches as the
/// lines are consumed. Save it with
/// `psql -XAt -c "SELECT * FROM han_crypto.audit_export()" > trail.jsonl`.
#[pg_extern(volatile, parallel_unsafe)]
fn audit_export(
    from_seq: default!(Option<i64>, "NULL"),
    to_seq: default!(Option<i64>, "NULL"),
) -> Result<SetOfIterator<'static, String>, ErrorReport> {
    let chain = store::require_chain()?;
    let key = store::public_key(&chain)?;
    // As in audit_verify: the checkpoints first, then the last seq.
    let all_checkpoints = if to_seq.is_none() {
        Some(store::checkpoints(i64::MAX)?)
    } else {
        None
    };
    let (from, to_bound, to) = range(from_seq, to_seq)?;
    let (start, from) = stored_start(&chain, from)?;
    let header = ExportHeader {
        chain_id: chain.chain_id,
        system_identifier: chain.system_identifier,
        start,
        from_seq: from,
        to_seq: to_bound,
        public_keys: vec![key],
    };
    // Without an upper bound, every checkpoint goes along, also those past
    // the last event: they are what shows a cut tail offline.
    let checkpoints = match all_checkpoints {
        Some(all) => all,
        None => store::checkpoints(to)?,
    };
    Ok(SetOfIterator::new(ExportLines::new(
        &header,
        from,
        to,
        checkpoints,
    )))
}

/// The export's lines, produced batch by batch as PostgreSQL asks for rows.
struct ExportLines {
    writer: Option<ExportWriter>,
    pending: VecDeque<String>,
    checkpoints: VecDeque<Checkpoint>,
    next: i64,
    to: i64,
}

impl ExportLines {
    fn new(header: &ExportHeader, from: u64, to: i64, checkpoints: Vec<Checkpoint>) -> ExportLines {
        let (mut writer, first) = ExportWriter::start(header);
        let mut pending = VecDeque::from([first]);
        let mut checkpoints: VecDeque<Checkpoint> = checkpoints.into();
        while checkpoints.front().is_some_and(|c| c.seq < from) {
            pending.push_back(writer.checkpoint(&checkpoints.pop_front().expect("front")));
        }
        ExportLines {
            writer: Some(writer),
            pending,
            checkpoints,
            next: from as i64,
            to,
        }
    }

    fn refill(&mut self) -> HcResult<()> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        let batch = if self.next <= self.to {
            store::events(self.next, self.to, BATCH)?
        } else {
            Vec::new()
        };
        match batch.last() {
            // More may follow (checked against `to`, so a planted seq of
            // i64::MAX cannot wrap the reading around).
            Some(last) if (last.event.seq as i64) < self.to => {
                self.next = last.event.seq as i64 + 1
            }
            _ => {
                self.next = i64::MAX;
                self.to = i64::MIN;
            }
        }
        for e in &batch {
            self.pending.push_back(writer.event(e));
            while self
                .checkpoints
                .front()
                .is_some_and(|c| c.seq <= e.event.seq)
            {
                let cp = self.checkpoints.pop_front().expect("front exists");
                self.pending.push_back(writer.checkpoint(&cp));
            }
        }
        if batch.is_empty() {
            for cp in std::mem::take(&mut self.checkpoints) {
                self.pending.push_back(writer.checkpoint(&cp));
            }
            let writer = self.writer.take().expect("checked above");
            self.pending.push_back(writer.finish());
        }
        Ok(())
    }
}

impl Iterator for ExportLines {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        if self.pending.is_empty() {
            if let Err(e) = self.refill() {
                ErrorReport::from(e).report(PgLogLevel::ERROR);
            }
        }
        self.pending.pop_front()
    }
}

/// Retention: exports the oldest part of the trail, up to the newest
/// checkpoint made before `before`, as JSON Lines (the format of
/// audit_export), then removes it. The removal follows the export's last
/// line and commits with the caller's transaction, so `BEGIN; \copy (SELECT …) TO
/// file; …check the file…; COMMIT;` removes only what was kept. It leaves
/// the segment's closing checkpoint, the first link of what remains, and
/// an archive marker event (who, when, which seqs, the export's digest),
/// so the rest of the trail still verifies, here and offline.
#[pg_extern(volatile, parallel_unsafe)]
fn audit_archive(
    before: pgrx::datum::TimestampWithTimeZone,
) -> Result<SetOfIterator<'static, String>, ErrorReport> {
    let chain = store::require_chain()?;
    // SAFETY: reading shared recovery state.
    if unsafe { pg_sys::RecoveryInProgress() } {
        return Err(HcError::Refused {
            code: Code::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            message: "the audit trail cannot be archived on a standby".into(),
            hint: Some("Run han_crypto.audit_archive() on the primary.".into()),
        }
        .into());
    }
    if crate::gucs::AUDIT_MODE.get() == crate::gucs::AuditMode::Off {
        return Err(HcError::Refused {
            code: Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            message: "han_crypto.audit_archive() records its removal in the trail, which han_crypto.audit_mode = off does not write".into(),
            hint: Some("RESET han_crypto.audit_mode first.".into()),
        }
        .into());
    }
    // SAFETY: reading the backend's isolation level.
    if unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32 {
        // Its DELETE would use the transaction's snapshot, older than the
        // one the segment is read with, and leave part of it behind.
        return Err(HcError::Refused {
            code: Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            message: "han_crypto.audit_archive() runs only in a READ COMMITTED transaction".into(),
            hint: Some("BEGIN ISOLATION LEVEL READ COMMITTED, or use the default level.".into()),
        }
        .into());
    }
    lock_archiving();
    let floor = store::first_seq()?.unwrap_or(1);
    let closing = match store::checkpoint_before(before, floor - 1)? {
        Some(n) => store::checkpoint_numbered(n)?,
        None => None,
    };
    // After an archive, a segment must reach the marker that accounts
    // for its start (else its file could not prove that start).
    let closing = match (closing, floor > 1) {
        (Some(cp), true) => match store::archive_marker_seq(floor - 1)? {
            Some(m) if cp.seq as i64 >= m => Some(cp),
            _ => None,
        },
        (cp, _) => cp,
    };
    let Some(closing) = closing else {
        pgrx::notice!("no part of the audit trail is old enough to archive: no checkpoint made before that time signs an event still stored");
        return Ok(SetOfIterator::new(Vec::new()));
    };
    let key = store::public_key(&chain)?;
    let (start, from) = stored_start(&chain, floor as u64)?;
    let to = closing.seq as i64;
    // The segment must verify before it is removed: a damaged one stays
    // where audit_verify() can name its fault.
    let report = verify_rows(
        Verifier::new(chain.chain_id, vec![key.clone()], start, Some(closing.seq)),
        from,
        to,
        store::checkpoints(to)?,
    )?;
    if let Some(f) = report.fault {
        return Err(HcError::Refused {
            code: Code::ERRCODE_DATA_CORRUPTED,
            message: format!(
                "the segment to archive does not verify: {} at event {}",
                f.reason.as_str(),
                f.first_bad_seq
            ),
            hint: Some("Nothing was exported or removed. See han_crypto.audit_verify().".into()),
        }
        .into());
    }
    let header = ExportHeader {
        chain_id: chain.chain_id,
        system_identifier: chain.system_identifier,
        start,
        from_seq: from,
        to_seq: Some(closing.seq),
        public_keys: vec![key],
    };
    let lines = ExportLines::new(&header, from, to, store::checkpoints(to)?);
    Ok(SetOfIterator::new(ArchiveLines {
        lines,
        from: from as i64,
        to,
        checkpoint: closing.n as i64,
        export_sha256: None,
        removed: false,
    }))
}

/// An archive's export lines; after the last one, the segment's removal.
struct ArchiveLines {
    lines: ExportLines,
    from: i64,
    to: i64,
    checkpoint: i64,
    export_sha256: Option<String>,
    removed: bool,
}

impl Iterator for ArchiveLines {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        match self.lines.next() {
            Some(line) => {
                // The end line (short, and the only one of its type)
                // carries the export's digest, which the marker records.
                if line.len() < 256 && line.contains(r#""type":"end""#) {
                    self.export_sha256 = serde_json::from_str::<serde_json::Value>(&line)
                        .ok()
                        .and_then(|j| j["sha256"].as_str().map(str::to_owned));
                }
                Some(line)
            }
            None => {
                if !self.removed {
                    self.removed = true;
                    let removed = audit::archive::remove_segment(
                        self.from,
                        self.to,
                        self.checkpoint,
                        self.export_sha256.take(),
                    );
                    if let Err(e) = removed {
                        ErrorReport::from(e).report(PgLogLevel::ERROR);
                    }
                }
                None
            }
        }
    }
}

/// One archiving at a time per database (a transaction lock on a tag no
/// SQL function can produce), so two cannot remove overlapping segments.
fn lock_archiving() {
    let tag = audit::internal_lock_tag(0x4843_4141, 0x4841); // "HCAA"
                                                             // SAFETY: a transaction-level lock on a tag built above, waited for
                                                             // (a cancel interrupts the wait).
    unsafe { pg_sys::LockAcquire(&tag, pg_sys::ExclusiveLock as i32, false, false) };
}

/// Makes a signed checkpoint of the chain head now (when events arrived
/// since the last one) and returns the newest checkpoint.
#[pg_extern(volatile, parallel_unsafe)]
fn audit_checkpoint() -> Result<Option<pgrx::JsonB>, ErrorReport> {
    store::require_chain()?;
    audit::checkpoint_now()?;
    Ok(store::last_checkpoint()?.map(|cp| pgrx::JsonB(cp.to_json())))
}

/// The writer and the trail at a glance: whether a writer runs (and its
/// pid), queued bytes, the last seq, the newest checkpoint and its age.
#[pg_extern(volatile, parallel_unsafe)]
fn audit_status() -> Result<pgrx::JsonB, ErrorReport> {
    let view = audit::status();
    let last_seq = store::last_seq()?;
    let cp = store::last_checkpoint()?;
    let now_us = audit::now_us();
    let writer = match view {
        Some(v) => serde_json::json!({
            "state": format!("{:?}", v.state).to_lowercase(),
            "pid": (v.writer_pid != 0).then_some(v.writer_pid),
            "queued_bytes": v.queued_bytes,
            "acknowledged_through": v.last_seq,
            "last_checkpoint_age_seconds": (v.last_checkpoint_us > 0)
                .then(|| (now_us - v.last_checkpoint_us) as f64 / 1e6),
        }),
        None => serde_json::json!({ "state": "free" }),
    };
    Ok(pgrx::JsonB(serde_json::json!({
        "writer": writer,
        "last_seq": last_seq,
        "last_checkpoint": cp.as_ref().map(|c| c.n),
        "signed_through": cp.as_ref().map(|c| c.seq),
        "unsigned_events": last_seq - cp.as_ref().map_or(0, |c| c.seq as i64),
        "checkpoint_age_seconds": cp.as_ref().map(|c| (now_us - c.ts_us) as f64 / 1e6),
        "level": format!("{:?}", crate::gucs::AUDIT_LEVEL.get()).to_lowercase(),
        "mode": format!("{:?}", crate::gucs::AUDIT_MODE.get()).to_lowercase(),
    })))
}
