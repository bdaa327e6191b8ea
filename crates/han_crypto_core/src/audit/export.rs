//! The export format (JSON Lines) and its verifying reader.
//!
//! ```text
//! {"type":"header","format":"han_crypto-audit-export","version":1,"chain_id":"<hex>",
//!  "system_identifier":"<decimal>","start":{...},"from_seq":N,"to_seq":N|null,
//!  "public_keys":["<hex>",...],"copy_probe":"\\"}
//! {"type":"event","event":{...},"prev_hash":"<hex>","hash":"<hex>"}      (seq order)
//! {"type":"checkpoint","checkpoint":{...}}            (after the event it covers)
//! {"type":"end","lines":N,"sha256":"<hex>"}
//! ```
//!
//! `start` is `{"genesis":true}`, `{"after_seq":K,"head":"<hex>"}` (the signed
//! head left by archiving) or `{"unanchored_from":K}`. The `end` line counts
//! the lines before it and hashes them (each followed by `\n`), so a file cut
//! short is told from a short chain. `copy_probe` is one backslash: psql's
//! `\copy … TO` in text format doubles it (and every backslash of the JSON),
//! which the reader detects and undoes. The public keys in the header are
//! informational; the reader verifies against the key the auditor supplies.

use std::io::BufRead;

use serde_json::{json, Value as Json};

use super::chain::{ChainId, Hash};
use super::checkpoint::{AuditPublicKey, Checkpoint};
use super::event::Event;
use super::verify::{Report, Start, StoredEvent, Verifier};
use super::AuditError;

pub const EXPORT_FORMAT: &str = "han_crypto-audit-export";
pub const EXPORT_VERSION: u64 = 1;
/// A line longer than this is refused before it is parsed.
pub const MAX_LINE: usize = 1 << 20;

/// What the header says about the exported range.
#[derive(Clone, Debug)]
pub struct ExportHeader {
    pub chain_id: ChainId,
    pub system_identifier: u64,
    pub start: Start,
    pub from_seq: u64,
    pub to_seq: Option<u64>,
    pub public_keys: Vec<AuditPublicKey>,
}

impl ExportHeader {
    /// The header line.
    pub fn to_line(&self) -> String {
        let start = match self.start {
            Start::Genesis { .. } => json!({"genesis": true}),
            Start::After { seq, head } => json!({"after_seq": seq, "head": hex::encode(head)}),
            Start::Unanchored { from_seq } => json!({ "unanchored_from": from_seq }),
        };
        json!({
            "type": "header",
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "chain_id": hex::encode(self.chain_id),
            "system_identifier": self.system_identifier.to_string(),
            "start": start,
            "from_seq": self.from_seq,
            "to_seq": self.to_seq,
            "public_keys": self.public_keys.iter().map(AuditPublicKey::to_hex).collect::<Vec<_>>(),
            "copy_probe": "\\",
        })
        .to_string()
    }

    fn from_json(j: &Json) -> Result<ExportHeader, AuditError> {
        let bad = |why: &str| AuditError::Malformed(format!("export header: {why}"));
        if j.get("format").and_then(Json::as_str) != Some(EXPORT_FORMAT) {
            return Err(bad("not a han_crypto audit export"));
        }
        if j.get("version").and_then(Json::as_u64) != Some(EXPORT_VERSION) {
            return Err(bad("unsupported version"));
        }
        let chain_id: ChainId = j
            .get("chain_id")
            .and_then(Json::as_str)
            .and_then(|s| hex::decode(s).ok())
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("chain_id"))?;
        let system_identifier = j
            .get("system_identifier")
            .and_then(Json::as_str)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad("system_identifier"))?;
        let from_seq = j
            .get("from_seq")
            .and_then(Json::as_u64)
            .ok_or_else(|| bad("from_seq"))?;
        let to_seq = match j.get("to_seq") {
            None | Some(Json::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| bad("to_seq"))?),
        };
        let s = j.get("start").ok_or_else(|| bad("start"))?;
        let start = if s.get("genesis").and_then(Json::as_bool) == Some(true) {
            Start::Genesis { system_identifier }
        } else if let Some(seq) = s.get("after_seq").and_then(Json::as_u64) {
            let head: Hash = s
                .get("head")
                .and_then(Json::as_str)
                .and_then(|h| hex::decode(h).ok())
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| bad("start.head"))?;
            Start::After { seq, head }
        } else if let Some(from) = s.get("unanchored_from").and_then(Json::as_u64) {
            Start::Unanchored { from_seq: from }
        } else {
            return Err(bad("start"));
        };
        let public_keys = j
            .get("public_keys")
            .and_then(Json::as_array)
            .ok_or_else(|| bad("public_keys"))?
            .iter()
            .map(|k| {
                k.as_str()
                    .ok_or_else(|| bad("public_keys"))
                    .and_then(AuditPublicKey::from_hex)
            })
            .collect::<Result<_, _>>()?;
        Ok(ExportHeader {
            chain_id,
            system_identifier,
            start,
            from_seq,
            to_seq,
            public_keys,
        })
    }
}

/// The line of an exported event.
pub fn event_line(row: &StoredEvent) -> String {
    json!({
        "type": "event",
        "event": row.event.to_json(),
        "prev_hash": hex::encode(row.prev_hash),
        "hash": hex::encode(row.hash),
    })
    .to_string()
}

/// The line of an exported checkpoint.
pub fn checkpoint_line(cp: &Checkpoint) -> String {
    json!({"type": "checkpoint", "checkpoint": cp.to_json()}).to_string()
}

/// Running digest of the lines so far; yields the `end` line.
#[derive(Default)]
pub struct ExportDigest {
    ctx: Option<ring::digest::Context>,
    lines: u64,
}

impl ExportDigest {
    pub fn new() -> ExportDigest {
        ExportDigest {
            ctx: Some(ring::digest::Context::new(&ring::digest::SHA256)),
            lines: 0,
        }
    }

    /// Adds a line (without its newline).
    pub fn add(&mut self, line: &str) {
        let ctx = self
            .ctx
            .get_or_insert_with(|| ring::digest::Context::new(&ring::digest::SHA256));
        ctx.update(line.as_bytes());
        ctx.update(b"\n");
        self.lines += 1;
    }

    /// The `end` line.
    pub fn end_line(self) -> String {
        let lines = self.lines;
        let digest = self.sha256();
        json!({"type": "end", "lines": lines, "sha256": hex::encode(digest)}).to_string()
    }

    /// SHA-256 of the lines added (each with its newline).
    pub fn sha256(self) -> Hash {
        let ctx = self
            .ctx
            .unwrap_or_else(|| ring::digest::Context::new(&ring::digest::SHA256));
        ctx.finish().as_ref().try_into().expect("32 bytes")
    }
}

/// The result of reading and verifying an export.
#[derive(Debug)]
pub struct ExportReport {
    pub header_from_seq: u64,
    pub header_to_seq: Option<u64>,
    pub report: Report,
}

/// Undoes the escaping of PostgreSQL's COPY text format (`\\`, `\n`, `\t`,
/// `\r`, `\b`, `\f`, `\v`); other sequences are kept as they are.
pub fn unescape_copy_text(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Reads an export and verifies it against `public_key` (the key the
/// auditor trusts, not the header's) and, optionally, a checkpoint kept
/// outside the database. Malformed input is an error; a well-formed export
/// of a tampered chain is a report with a fault.
/// An event line as [`event_line`] writes it; other lines' keys are
/// ignored here and read by the general path.
#[derive(serde::Deserialize)]
struct FastEventLine {
    #[serde(rename = "type")]
    ty: String,
    event: Option<super::event::EventFromJson>,
    prev_hash: Option<String>,
    hash: Option<String>,
}

pub fn verify_export<R: BufRead>(
    reader: R,
    public_key: &AuditPublicKey,
    external: Option<Checkpoint>,
) -> Result<ExportReport, AuditError> {
    let bad = |line: u64, why: &str| AuditError::Malformed(format!("export line {line}: {why}"));
    let mut lines = reader.split(b'\n');
    let mut digest = ExportDigest::new();
    let mut copy_escaped = false;
    let mut header: Option<(ExportHeader, Verifier)> = None;
    let mut ended = false;
    let mut trailer_ok = false;
    let mut number = 0u64;
    for raw in &mut lines {
        number += 1;
        let raw = raw.map_err(|_| bad(number, "cannot be read"))?;
        if raw.len() > MAX_LINE {
            return Err(bad(number, "too long"));
        }
        let mut line = std::str::from_utf8(&raw)
            .map_err(|_| bad(number, "not UTF-8"))?
            .trim_end_matches('\r')
            .to_owned();
        if line.is_empty() {
            continue;
        }
        if ended {
            return Err(bad(number, "text after the end line"));
        }
        if header.is_none() {
            copy_escaped = line.contains(r#""copy_probe":"\\\\""#);
        }
        if copy_escaped {
            line = unescape_copy_text(&line);
        }
        // Event lines, nearly all of an export, are read without a JSON tree.
        if let (Ok(fast), Some((_, v))) = (
            serde_json::from_str::<FastEventLine>(&line),
            header.as_mut(),
        ) {
            if fast.ty == "event" {
                let hash = |h: Option<&str>, k: &str| -> Result<Hash, AuditError> {
                    h.and_then(|s| hex::decode(s).ok())
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| bad(number, k))
                };
                let event = fast.event.ok_or_else(|| bad(number, "event"))?.0;
                v.push_event(&StoredEvent {
                    event,
                    prev_hash: hash(fast.prev_hash.as_deref(), "prev_hash")?,
                    hash: hash(fast.hash.as_deref(), "hash")?,
                });
                digest.add(&line);
                continue;
            }
        }
        let j: Json = serde_json::from_str(&line).map_err(|_| bad(number, "not JSON"))?;
        let kind = j.get("type").and_then(Json::as_str).unwrap_or("");
        match (kind, header.as_mut()) {
            ("header", None) => {
                let h = ExportHeader::from_json(&j)?;
                let mut v = Verifier::new(h.chain_id, vec![public_key.clone()], h.start, h.to_seq);
                if let Some(cp) = external.clone() {
                    v.expect_external(cp);
                }
                header = Some((h, v));
            }
            (_, None) => return Err(bad(number, "the first line is not a header")),
            ("header", Some(_)) => return Err(bad(number, "a second header")),
            ("event", Some((_, v))) => {
                let hash = |k: &str| -> Result<Hash, AuditError> {
                    j.get(k)
                        .and_then(Json::as_str)
                        .and_then(|s| hex::decode(s).ok())
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| bad(number, k))
                };
                let event = Event::from_json(j.get("event").ok_or_else(|| bad(number, "event"))?)
                    .map_err(|e| bad(number, &e.to_string()))?;
                v.push_event(&StoredEvent {
                    event,
                    prev_hash: hash("prev_hash")?,
                    hash: hash("hash")?,
                });
            }
            ("checkpoint", Some((_, v))) => {
                let cp = Checkpoint::from_json(
                    j.get("checkpoint")
                        .ok_or_else(|| bad(number, "checkpoint"))?,
                )
                .map_err(|e| bad(number, &e.to_string()))?;
                v.push_checkpoint(&cp);
            }
            ("end", Some(_)) => {
                let want_lines = j.get("lines").and_then(Json::as_u64);
                let want_sha = j.get("sha256").and_then(Json::as_str).map(str::to_owned);
                let got_lines = digest.lines;
                let got_sha = hex::encode(std::mem::take(&mut digest).sha256());
                trailer_ok =
                    want_lines == Some(got_lines) && want_sha.as_deref() == Some(got_sha.as_str());
                ended = true;
                continue;
            }
            _ => return Err(bad(number, "unknown line type")),
        }
        digest.add(&line);
    }
    let (h, v) = header.ok_or_else(|| AuditError::Malformed("export is empty".into()))?;
    let report = v.finish();
    // A fault in the chain is the more useful answer (it names the first bad
    // seq); a file that only fails its trailer was cut or edited as a file.
    if report.ok() {
        if !ended {
            return Err(AuditError::Malformed(
                "export has no end line: the file was cut short".into(),
            ));
        }
        if !trailer_ok {
            return Err(AuditError::Malformed(
                "the end line does not match the lines before it: lines were added, removed or changed".into(),
            ));
        }
    }
    Ok(ExportReport {
        header_from_seq: h.from_seq,
        header_to_seq: h.to_seq,
        report,
    })
}

/// Writes an export line by line (the SQL function streams these), keeping
/// the digest for the `end` line.
pub struct ExportWriter {
    digest: ExportDigest,
}

impl ExportWriter {
    /// Starts an export; returns the writer and the header line.
    pub fn start(header: &ExportHeader) -> (ExportWriter, String) {
        let mut digest = ExportDigest::new();
        let line = header.to_line();
        digest.add(&line);
        (ExportWriter { digest }, line)
    }

    pub fn event(&mut self, row: &StoredEvent) -> String {
        let line = event_line(row);
        self.digest.add(&line);
        line
    }

    pub fn checkpoint(&mut self, cp: &Checkpoint) -> String {
        let line = checkpoint_line(cp);
        self.digest.add(&line);
        line
    }

    /// The `end` line.
    pub fn finish(self) -> String {
        self.digest.end_line()
    }
}

/// A whole export of `events` and `checkpoints` (each in order), with each
/// checkpoint after the event it covers. For tests and small ranges.
pub fn export_lines(
    header: &ExportHeader,
    events: &[StoredEvent],
    checkpoints: &[Checkpoint],
) -> Vec<String> {
    let (mut w, first) = ExportWriter::start(header);
    let mut out = vec![first];
    let mut cps = checkpoints.iter().peekable();
    while let Some(cp) = cps.next_if(|c| c.seq < header.from_seq) {
        out.push(w.checkpoint(cp));
    }
    for e in events {
        out.push(w.event(e));
        while let Some(cp) = cps.next_if(|c| c.seq <= e.event.seq) {
            out.push(w.checkpoint(cp));
        }
    }
    for cp in cps {
        out.push(w.checkpoint(cp));
    }
    out.push(w.finish());
    out
}
