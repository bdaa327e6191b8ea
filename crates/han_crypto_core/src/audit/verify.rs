//! The streaming verifier, shared by `han_crypto.audit_verify()` and the
//! offline CLI. Feed it events in sequence order and each checkpoint right
//! after the event it covers; it stops at the first fault and says what the
//! fault looks like.
//!
//! What it can tell apart, from what is stored: a changed field (`edited`),
//! a missing sequence number (`deleted`), a row that claims the same
//! predecessor as the row before it or repeats its number (`inserted`), rows
//! whose links cross (`reordered`), a checkpoint that does not verify
//! (`bad_signature`, `unknown_key`), one whose head differs from the
//! recomputed chain (`checkpoint_mismatch`: the events it covers were
//! rewritten), missing or replayed checkpoints, and a chain that ends before
//! a checkpoint says it reached (`cut_after_checkpoint`). A rewrite with
//! recomputed hashes passes the chain and fails at the first checkpoint,
//! which needs the signing key to forge.

use std::collections::VecDeque;

use super::chain::{genesis, link, ChainId, Hash};
use super::checkpoint::{first_prev_digest, AuditPublicKey, Checkpoint};
use super::event::Event;

/// An event as stored: the event and the two hashes kept beside it.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub event: Event,
    pub prev_hash: Hash,
    pub hash: Hash,
}

/// Where verification starts.
#[derive(Clone, Copy, Debug)]
pub enum Start {
    /// From event 1, after the genesis hash.
    Genesis { system_identifier: u64 },
    /// After the head a checkpoint signed (what remains after archiving
    /// starts here). That checkpoint must be among those fed: it is the
    /// checkpoint chain's first link, and without it the start is unproven.
    After { seq: u64, head: Hash },
    /// From `from_seq`, taking that row's stored `prev_hash` as given; a
    /// checkpoint at `from_seq - 1` anchors it.
    Unanchored { from_seq: u64 },
}

/// What kind of fault was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Edited,
    Deleted,
    Inserted,
    Reordered,
    BadSignature,
    UnknownKey,
    CheckpointMismatch,
    CheckpointMissing,
    CheckpointReplayed,
    CutAfterCheckpoint,
}

impl Reason {
    /// The name `audit_verify` and the CLI report.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Edited => "edited",
            Reason::Deleted => "deleted",
            Reason::Inserted => "inserted",
            Reason::Reordered => "reordered",
            Reason::BadSignature => "bad_signature",
            Reason::UnknownKey => "unknown_key",
            Reason::CheckpointMismatch => "checkpoint_mismatch",
            Reason::CheckpointMissing => "checkpoint_missing",
            Reason::CheckpointReplayed => "checkpoint_replayed",
            Reason::CutAfterCheckpoint => "cut_after_checkpoint",
        }
    }
}

/// The first fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub reason: Reason,
    /// The first sequence number that cannot be trusted.
    pub first_bad_seq: u64,
    /// The checkpoint involved, if any.
    pub checkpoint: Option<u64>,
    /// One sentence for a person (numbers only, never a value).
    pub detail: String,
}

/// The outcome of a verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub fault: Option<Fault>,
    /// Events whose link was verified.
    pub checked: u64,
    /// Checkpoints whose signature was verified.
    pub checkpoints_checked: u64,
    /// The last event verified.
    pub last_seq: Option<u64>,
    /// The newest checkpoint seen (n, seq).
    pub last_checkpoint: Option<(u64, u64)>,
    /// The last event a verified checkpoint vouches for.
    pub signed_through: Option<u64>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.fault.is_none()
    }

    /// Events after the last checkpoint that matched: intact as a chain but
    /// not yet signed (a forged append there needs a later checkpoint or an
    /// outside copy to show).
    pub fn unsigned_tail(&self) -> u64 {
        match (self.last_seq, self.signed_through) {
            (Some(last), Some(signed)) => last.saturating_sub(signed),
            (Some(_), None) => self.checked,
            _ => 0,
        }
    }
}

enum Pending {
    /// A row arrived with a number past the expected one.
    Gap { expected: u64 },
    /// The row at `seq` neither links to the chain nor to its own stored
    /// predecessor; the next row tells a swap from an edit.
    Broken { seq: u64, head_before: Hash },
}

/// The verifier; see the module documentation.
pub struct Verifier {
    chain_id: ChainId,
    keys: Vec<AuditPublicKey>,
    to_seq: Option<u64>,
    from_seq: u64,
    head: Option<Hash>,
    start_head: Option<Hash>,
    next_seq: u64,
    checked: u64,
    last_seq: Option<u64>,
    last_row_prev: Option<Hash>,
    pending: Option<Pending>,
    // The checkpoint chain.
    cp_last: Option<(u64, u64)>,
    cp_next_prev: Hash,
    checkpoints_checked: u64,
    // Checkpoints (stored and external) whose seq the events have not reached.
    due: VecDeque<Checkpoint>,
    signed_through: Option<u64>,
    fault: Option<Fault>,
    /// Start::After: whether a checkpoint has vouched for the start's head.
    start_needs_anchor: bool,
    /// Start::After: the archive marker (an `archive` event of kind
    /// `marker` whose `detail.through_seq` is the start) that accounts for
    /// the events before the start, once seen.
    start_needs_marker: bool,
    start_marker_seq: Option<u64>,
}

/// Whether `e` records a completed archive of the events up to `through`.
pub fn is_archive_marker(e: &Event, through: u64) -> bool {
    use super::event::{Field, Kind, Value};
    let text = |f| match e.get(f) {
        Some(Value::Text(t)) => Some(t.as_str()),
        _ => None,
    };
    e.kind == Kind::Marker
        && text(Field::Action) == Some("archive")
        && text(Field::Outcome) == Some("ok")
        && match e.get(Field::Detail) {
            Some(Value::Json(d)) => {
                serde_json::from_str::<serde_json::Value>(d)
                    .ok()
                    .and_then(|j| j.get("through_seq").and_then(serde_json::Value::as_u64))
                    == Some(through)
            }
            _ => false,
        }
}

impl Verifier {
    /// A verifier of chain `chain_id` whose checkpoints are signed by one of
    /// `keys`; events past `to_seq` (when given) are not expected, so a
    /// checkpoint beyond it is checked for its signature only.
    pub fn new(
        chain_id: ChainId,
        keys: Vec<AuditPublicKey>,
        start: Start,
        to_seq: Option<u64>,
    ) -> Verifier {
        let (from_seq, head) = match start {
            Start::Genesis { system_identifier } => {
                (1, Some(genesis(&chain_id, system_identifier)))
            }
            Start::After { seq, head } => (seq + 1, Some(head)),
            Start::Unanchored { from_seq } => (from_seq.max(1), None),
        };
        Verifier {
            chain_id,
            keys,
            to_seq,
            from_seq,
            head,
            start_head: head,
            next_seq: from_seq,
            checked: 0,
            last_seq: None,
            last_row_prev: None,
            pending: None,
            cp_last: None,
            cp_next_prev: first_prev_digest(&chain_id),
            checkpoints_checked: 0,
            due: VecDeque::new(),
            signed_through: None,
            fault: None,
            start_needs_anchor: matches!(start, Start::After { .. }),
            start_needs_marker: matches!(start, Start::After { .. }),
            start_marker_seq: None,
        }
    }

    /// Whether a fault has been found (feeding more changes nothing).
    pub fn failed(&self) -> bool {
        self.fault.is_some()
    }

    /// A checkpoint kept outside the database (a log line, an auditor's
    /// copy). Give it before the events: the chain must reach its seq and
    /// have its head there.
    pub fn expect_external(&mut self, cp: Checkpoint) {
        if self.fault.is_some() {
            return;
        }
        if !self.signature_ok(&cp) {
            return;
        }
        if self.in_range(cp.seq) {
            let at = self.due.partition_point(|c| c.seq <= cp.seq);
            self.due.insert(at, cp);
        }
    }

    /// The next stored event, in sequence order.
    pub fn push_event(&mut self, row: &StoredEvent) {
        if self.fault.is_some() {
            return;
        }
        if let Some(p) = self.pending.take() {
            self.resolve(p, Some(row));
            return;
        }
        let seq = row.event.seq;
        let head = match self.head {
            Some(h) => h,
            None => {
                // Unanchored: the first row names its own predecessor, which a
                // checkpoint just before it may vouch for.
                if seq == self.next_seq {
                    self.check_due(seq - 1, &row.prev_hash);
                    if self.fault.is_some() {
                        return;
                    }
                }
                self.head = Some(row.prev_hash);
                row.prev_hash
            }
        };
        if seq < self.next_seq {
            let reason = if Some(seq) == self.last_seq {
                Reason::Inserted
            } else {
                Reason::Reordered
            };
            self.fail(
                reason,
                seq,
                None,
                format!(
                    "event {seq} appears after event {}",
                    self.next_seq.saturating_sub(1)
                ),
            );
            return;
        }
        if seq > self.next_seq {
            self.pending = Some(Pending::Gap {
                expected: self.next_seq,
            });
            return;
        }
        let encoded = row.event.encode();
        let computed = link(&head, &encoded);
        if row.prev_hash == head && row.hash == computed {
            if self.start_needs_marker
                && self.start_marker_seq.is_none()
                && is_archive_marker(&row.event, self.from_seq - 1)
            {
                self.start_marker_seq = Some(seq);
            }
            self.accept(seq, computed, row.prev_hash);
        } else if self.checked > 0 && Some(row.prev_hash) == self.last_row_prev {
            self.fail(
                Reason::Inserted,
                seq - 1,
                None,
                format!("events {} and {seq} claim the same predecessor", seq - 1),
            );
        } else if row.prev_hash == head {
            self.fail(
                Reason::Edited,
                seq,
                None,
                format!("event {seq} does not match its hash"),
            );
        } else if row.hash == link(&row.prev_hash, &encoded) {
            // This row is intact but recorded a different predecessor: the
            // row before it was changed after this one was written.
            let bad = if self.checked > 0 { seq - 1 } else { seq };
            self.fail(
                Reason::Edited,
                bad,
                None,
                format!(
                    "event {seq} does not follow event {}",
                    seq.saturating_sub(1)
                ),
            );
        } else {
            self.pending = Some(Pending::Broken {
                seq,
                head_before: head,
            });
        }
    }

    /// The next stored checkpoint, in `n` order, after the event it covers.
    pub fn push_checkpoint(&mut self, cp: &Checkpoint) {
        if self.fault.is_some() {
            return;
        }
        if let Some(p) = self.pending.take() {
            self.resolve(p, None);
            return;
        }
        if !self.signature_ok(cp) {
            return;
        }
        let after_good = self.after_last_good();
        // After archiving, the checkpoint that signed the start's head is
        // the first one left: it begins the checkpoint chain.
        let anchor = self.cp_last.is_none()
            && self.start_needs_anchor
            && cp.seq + 1 == self.from_seq
            && Some(cp.head) == self.start_head;
        if anchor {
            self.start_needs_anchor = false;
            self.cp_next_prev = cp.digest(&self.chain_id);
            self.cp_last = Some((cp.n, cp.seq));
            self.signed_through = Some(cp.seq);
            return;
        }
        match self.cp_last {
            None if cp.n != 1 => {
                return self.fail(
                    Reason::CheckpointMissing,
                    after_good,
                    Some(cp.n),
                    format!("the first checkpoint is number {}, not 1", cp.n),
                )
            }
            Some((n, _)) if cp.n <= n => {
                return self.fail(
                    Reason::CheckpointReplayed,
                    after_good,
                    Some(cp.n),
                    format!("checkpoint {} comes after checkpoint {n}", cp.n),
                )
            }
            Some((n, _)) if cp.n > n + 1 => {
                return self.fail(
                    Reason::CheckpointMissing,
                    after_good,
                    Some(cp.n),
                    format!("checkpoints {} to {} are missing", n + 1, cp.n - 1),
                )
            }
            Some((_, seq)) if cp.seq < seq => {
                return self.fail(
                    Reason::CheckpointReplayed,
                    after_good,
                    Some(cp.n),
                    format!("checkpoint {} goes back to event {}", cp.n, cp.seq),
                )
            }
            _ => {}
        }
        if cp.prev_digest != self.cp_next_prev {
            return self.fail(
                Reason::CheckpointReplayed,
                after_good,
                Some(cp.n),
                format!(
                    "checkpoint {} does not follow the checkpoint before it",
                    cp.n
                ),
            );
        }
        self.cp_next_prev = cp.digest(&self.chain_id);
        self.cp_last = Some((cp.n, cp.seq));
        if !self.in_range(cp.seq) {
            return;
        }
        if cp.seq + 1 == self.from_seq && self.last_seq.is_none() {
            // A checkpoint at the start's head: compare now if the start is
            // known, else when the first row names its predecessor.
            match self.start_head {
                Some(h) => {
                    self.compare(cp, &h);
                    self.start_needs_anchor = false;
                }
                None => self.due.push_front(cp.clone()),
            }
            return;
        }
        match self.last_seq {
            Some(last) if cp.seq <= last => {
                if cp.seq == last {
                    let head = self.head.expect("an accepted event sets the head");
                    self.compare(cp, &head);
                }
                // An earlier seq after later events: the caller fed out of
                // order; its head was compared when it was due or cannot be.
            }
            _ => {
                let at = self.due.partition_point(|c| c.seq <= cp.seq);
                self.due.insert(at, cp.clone());
            }
        }
    }

    /// Ends the stream.
    pub fn finish(mut self) -> Report {
        if let Some(p) = self.pending.take() {
            self.resolve(p, None);
        }
        // An archived start is proven by the signed marker the archive left
        // (later in the chain); without one, the events before it were
        // deleted, whatever a header claims.
        if self.fault.is_none()
            && self.start_needs_marker
            && self
                .start_marker_seq
                .is_none_or(|m| self.signed_through.is_none_or(|s| s < m))
        {
            let through = self.from_seq - 1;
            self.fail(
                Reason::Deleted,
                1,
                None,
                format!(
                    "events 1 to {through} are not in the trail and no signed archive marker accounts for them"
                ),
            );
        }
        if self.fault.is_none() && self.start_needs_anchor {
            let seq = self.from_seq;
            self.fail(
                Reason::CheckpointMissing,
                seq,
                None,
                format!(
                    "no checkpoint signs the head the chain starts from, after event {}",
                    seq - 1
                ),
            );
        }
        if self.fault.is_none() {
            if let Some(cp) = self.due.front().cloned() {
                let first = self.last_seq.map_or(self.from_seq, |s| s + 1);
                self.fail(
                    Reason::CutAfterCheckpoint,
                    first,
                    Some(cp.n),
                    format!(
                        "checkpoint {} covers event {}, but the chain ends {}",
                        cp.n,
                        cp.seq,
                        match self.last_seq {
                            Some(s) => format!("at event {s}"),
                            None => "before its first event".into(),
                        }
                    ),
                );
            }
        }
        Report {
            fault: self.fault,
            checked: self.checked,
            checkpoints_checked: self.checkpoints_checked,
            last_seq: self.last_seq,
            last_checkpoint: self.cp_last,
            signed_through: self.signed_through,
        }
    }

    fn in_range(&self, seq: u64) -> bool {
        seq + 1 >= self.from_seq && self.to_seq.is_none_or(|t| seq <= t)
    }

    fn signature_ok(&mut self, cp: &Checkpoint) -> bool {
        let after_good = self.after_last_good();
        match self.keys.iter().find(|k| k.key_id() == cp.key_id) {
            None => {
                self.fail(
                    Reason::UnknownKey,
                    after_good,
                    Some(cp.n),
                    format!("checkpoint {} is signed by a key not given", cp.n),
                );
                false
            }
            Some(key) if !key.verifies(&self.chain_id, cp) => {
                self.fail(
                    Reason::BadSignature,
                    after_good,
                    Some(cp.n),
                    format!("checkpoint {} has a bad signature", cp.n),
                );
                false
            }
            Some(_) => {
                self.checkpoints_checked += 1;
                true
            }
        }
    }

    fn accept(&mut self, seq: u64, hash: Hash, prev: Hash) {
        self.head = Some(hash);
        self.last_row_prev = Some(prev);
        self.last_seq = Some(seq);
        self.next_seq = seq + 1;
        self.checked += 1;
        self.check_due(seq, &hash);
    }

    /// Compares every due checkpoint at `seq` with `head`.
    fn check_due(&mut self, seq: u64, head: &Hash) {
        while self.fault.is_none() && self.due.front().is_some_and(|c| c.seq <= seq) {
            let cp = self.due.pop_front().expect("front exists");
            if cp.seq == seq {
                self.compare(&cp, head);
            }
        }
    }

    fn compare(&mut self, cp: &Checkpoint, head: &Hash) {
        if &cp.head == head {
            self.signed_through = Some(cp.seq);
        } else {
            let first = self.after_last_good();
            self.fail(
                Reason::CheckpointMismatch,
                first,
                Some(cp.n),
                format!(
                    "checkpoint {} signed another chain head at event {}: events {first} to {} were rewritten",
                    cp.n, cp.seq, cp.seq
                ),
            );
        }
    }

    fn after_last_good(&self) -> u64 {
        self.signed_through.map_or(self.from_seq, |s| s + 1)
    }

    fn resolve(&mut self, pending: Pending, next: Option<&StoredEvent>) {
        match pending {
            Pending::Gap { expected } => {
                if next.is_some_and(|r| r.event.seq == expected) {
                    self.fail(
                        Reason::Reordered,
                        expected,
                        None,
                        format!("event {expected} comes after a later event"),
                    );
                } else {
                    self.fail(
                        Reason::Deleted,
                        expected,
                        None,
                        format!("event {expected} is missing"),
                    );
                }
            }
            Pending::Broken { seq, head_before } => {
                if next.is_some_and(|r| r.prev_hash == head_before) {
                    self.fail(
                        Reason::Reordered,
                        seq,
                        None,
                        format!("events {seq} and {} are in each other's place", seq + 1),
                    );
                } else {
                    self.fail(
                        Reason::Edited,
                        seq,
                        None,
                        format!("event {seq} does not match its hash or its predecessor"),
                    );
                }
            }
        }
    }

    fn fail(
        &mut self,
        reason: Reason,
        first_bad_seq: u64,
        checkpoint: Option<u64>,
        detail: String,
    ) {
        if self.fault.is_none() {
            self.fault = Some(Fault {
                reason,
                first_bad_seq,
                checkpoint,
                detail,
            });
        }
    }
}
