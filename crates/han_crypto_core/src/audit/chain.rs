//! The hash chain: each event's hash covers the previous hash and the event's
//! canonical encoding, starting from a genesis hash that names the chain.
//!
//! ```text
//! h_0 = SHA-256("han_crypto audit v1 genesis\0" ‖ chain_id ‖ u64 system_identifier)
//! h_i = SHA-256("han_crypto audit v1 event\0"   ‖ h_{i-1}  ‖ encode(event_i))
//! ```
//!
//! The chain is unkeyed on purpose: anyone can recompute it, and what stops a
//! rewrite with recomputed hashes is the signed checkpoints (see
//! [`super::checkpoint`]), not a secret in the hash.

use ring::digest::{Context, SHA256};

/// A SHA-256 value in the chain.
pub type Hash = [u8; 32];

/// A chain's identity: 16 random bytes made when the extension is created.
pub type ChainId = [u8; 16];

const GENESIS_LABEL: &[u8] = b"han_crypto audit v1 genesis\0";
const EVENT_LABEL: &[u8] = b"han_crypto audit v1 event\0";

/// The hash before the first event.
pub fn genesis(chain_id: &ChainId, system_identifier: u64) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(GENESIS_LABEL);
    ctx.update(chain_id);
    ctx.update(&system_identifier.to_be_bytes());
    finish(ctx)
}

/// The hash of an event (given by its canonical encoding) after `prev`.
pub fn link(prev: &Hash, encoded_event: &[u8]) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(EVENT_LABEL);
    ctx.update(prev);
    ctx.update(encoded_event);
    finish(ctx)
}

pub(crate) fn sha256(parts: &[&[u8]]) -> Hash {
    let mut ctx = Context::new(&SHA256);
    for p in parts {
        ctx.update(p);
    }
    finish(ctx)
}

fn finish(ctx: Context) -> Hash {
    ctx.finish()
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}
