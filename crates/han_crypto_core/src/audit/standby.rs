//! Events recorded on a hot standby. A standby cannot write the trail, so
//! each backend there keeps a chain of its own (a random id, events
//! numbered from 1, each hash linked to the one before, as in the trail)
//! and writes every event to the server log as one line, signed with the
//! primary's audit key: a line altered, removed or inserted in the log
//! stream is detected by [`verify_standby_log`], offline.

use std::collections::HashMap;
use std::io::BufRead;

use serde_json::{json, Value as Json};

use super::chain::{genesis, link, ChainId, Hash};
use super::checkpoint::{AuditPublicKey, AuditSigningKey};
use super::event::Event;
use super::AuditError;

/// What precedes a standby event's JSON in a server log line.
pub const LOG_MARKER: &str = "han_crypto audit standby event ";

const DOMAIN: &[u8] = b"han_crypto audit v1 standby event\0";

/// The signed message of event `seq` with hash `hash` in chain `chain`.
fn message(chain: &ChainId, seq: u64, hash: &Hash) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + 16 + 8 + 32);
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(chain);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m
}

/// One standby backend's chain.
pub struct StandbyChain {
    id: ChainId,
    primary: ChainId,
    system_identifier: u64,
    seq: u64,
    head: Hash,
}

impl StandbyChain {
    /// A new chain `id` (random, per backend) beside the primary's trail
    /// `primary`.
    pub fn new(id: ChainId, primary: ChainId, system_identifier: u64) -> StandbyChain {
        StandbyChain {
            id,
            primary,
            system_identifier,
            seq: 0,
            head: genesis(&id, system_identifier),
        }
    }

    /// The number of the last event chained (0 before the first).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Numbers, links and signs `event`; returns its log line (after
    /// [`LOG_MARKER`]).
    pub fn line(&mut self, key: &AuditSigningKey, mut event: Event) -> String {
        self.seq += 1;
        event.seq = self.seq;
        let hash = link(&self.head, &event.encode());
        let signature = key.sign_bytes(&message(&self.id, self.seq, &hash));
        let line = json!({
            "chain": hex::encode(self.id),
            "primary_chain": hex::encode(self.primary),
            "system_identifier": self.system_identifier.to_string(),
            "event": event.to_json(),
            "prev_hash": hex::encode(self.head),
            "hash": hex::encode(hash),
            "signature": hex::encode(signature),
        })
        .to_string();
        self.head = hash;
        line
    }
}

/// The result of checking a server log's standby lines.
#[derive(Debug, Default)]
pub struct StandbyReport {
    /// Chains seen, and events verified in them.
    pub chains: usize,
    pub events: u64,
    /// The first fault: the line number (from 1) and what is wrong.
    pub fault: Option<(u64, String)>,
}

impl StandbyReport {
    pub fn ok(&self) -> bool {
        self.fault.is_none()
    }
}

struct Parsed {
    chain: ChainId,
    system_identifier: u64,
    event: Event,
    prev_hash: Hash,
    hash: Hash,
    signature: [u8; 64],
}

fn parse(text: &str) -> Result<Parsed, AuditError> {
    let bad = |what: &str| AuditError::Malformed(format!("standby line: {what}"));
    let j: Json = serde_json::from_str(text).map_err(|_| bad("not JSON"))?;
    let bytes = |name: &str| -> Result<Vec<u8>, AuditError> {
        j.get(name)
            .and_then(Json::as_str)
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| bad(name))
    };
    Ok(Parsed {
        chain: bytes("chain")?.try_into().map_err(|_| bad("chain"))?,
        system_identifier: j
            .get("system_identifier")
            .and_then(Json::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("system_identifier"))?,
        event: Event::from_json(j.get("event").ok_or_else(|| bad("event"))?)?,
        prev_hash: bytes("prev_hash")?
            .try_into()
            .map_err(|_| bad("prev_hash"))?,
        hash: bytes("hash")?.try_into().map_err(|_| bad("hash"))?,
        signature: bytes("signature")?
            .try_into()
            .map_err(|_| bad("signature"))?,
    })
}

/// Checks every standby event line in a server log: each signed by `key`,
/// each chain numbered from 1 without gaps, each event linked to the one
/// before it. (A chain's last lines cut from the log leave no trace: the
/// log drain is the copy that keeps them.)
pub fn verify_standby_log<R: BufRead>(log: R, key: &AuditPublicKey) -> StandbyReport {
    let mut report = StandbyReport::default();
    let mut chains: HashMap<ChainId, (u64, Hash)> = HashMap::new();
    for (i, line) in log.lines().enumerate() {
        let n = i as u64 + 1;
        let Ok(line) = line else { continue };
        let Some(at) = line.find(LOG_MARKER) else {
            continue;
        };
        let fail = |why: String| Some((n, why));
        let p = match parse(&line[at + LOG_MARKER.len()..]) {
            Ok(p) => p,
            Err(e) => {
                report.fault = fail(e.to_string());
                break;
            }
        };
        let seq = p.event.seq;
        let (expected, head) = *chains
            .entry(p.chain)
            .or_insert_with(|| (1, genesis(&p.chain, p.system_identifier)));
        let chain = hex::encode(p.chain);
        if !key.verifies_message(&message(&p.chain, seq, &p.hash), &p.signature) {
            report.fault = fail(format!(
                "event {seq} of chain {chain} is not signed by this key"
            ));
        } else if seq != expected {
            report.fault = fail(format!(
                "chain {chain} has event {seq} where event {expected} belongs (events missing, repeated or reordered)"
            ));
        } else if p.prev_hash != head || p.hash != link(&head, &p.event.encode()) {
            report.fault = fail(format!("event {seq} of chain {chain} was altered"));
        }
        if report.fault.is_some() {
            break;
        }
        chains.insert(p.chain, (seq + 1, p.hash));
        report.events += 1;
    }
    report.chains = chains.len();
    report
}
