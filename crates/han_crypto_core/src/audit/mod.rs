//! The audit trail's pure logic: the canonical event encoding, the hash
//! chain, signed checkpoints and the verifier. The extension's writer and
//! `audit_verify()` use it, and so does the offline CLI, so a database and an
//! auditor's laptop compute exactly the same bytes. The formats are described
//! byte by byte in `docs/FORMAT.md`.

pub mod chain;
pub mod checkpoint;
pub mod event;
pub mod export;
pub mod standby;
pub mod verify;

pub use chain::{genesis, link, ChainId, Hash};
pub use checkpoint::{AuditPublicKey, AuditSigningKey, Checkpoint, KeyId};
pub use event::{canonical_json, Event, Field, FieldType, Kind, Value};
pub use verify::{Fault, Reason, Report, Start, StoredEvent, Verifier};

/// A malformed encoding, export line or key. Never carries a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    Malformed(String),
}
