//! Inspecting and converting envelopes. None of these touch a key: they
//! parse structure only, and say nothing an envelope's bytes do not already.

use han_crypto_core::envelope;
use han_crypto_core::envelope_json::{self, uuid_to_string};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

use crate::error::HcError;

/// Unauthenticated header facts of an envelope, plus its keyring's name
/// when the keyring exists in this database. No secret is in it.
#[pg_extern(stable, parallel_safe)]
fn envelope_info(envelope: &[u8]) -> Result<JsonB, ErrorReport> {
    let env = envelope::parse(envelope).map_err(HcError::from)?;
    let h = &env.header;
    let keyring = crate::keyring::by_id(&h.key.keyring_id)
        .ok()
        .map(|r| r.name.clone());
    Ok(JsonB(json!({
        "format_version": envelope::FORMAT_V1,
        "algorithm": h.algorithm.name(),
        "content_type": h.content.name(),
        "keyring_id": uuid_to_string(&h.key.keyring_id),
        "keyring": keyring,
        "key_version": h.key.key_version,
        "compression": h.compression.name(),
        // Known without a key only when the value is stored uncompressed.
        "plaintext_bytes": (!env.is_compressed()).then_some(h.ciphertext_len),
        "envelope_bytes": h.envelope_len(),
    })))
}

/// The JSON text `{v, alg, kid, kv, iv, ct, tag, meta}` of an envelope
/// (envelope_to_json(bytea) in sql/finalize.sql casts it to jsonb: pgrx's
/// jsonb conversion would copy the whole value through a serde_json tree
/// with allocations that abort the backend when memory runs out).
#[pg_extern(immutable, parallel_safe)]
fn _envelope_json_text(envelope: &[u8]) -> Result<String, ErrorReport> {
    Ok(envelope_json::to_json(envelope).map_err(HcError::from)?)
}

/// The binary envelope from its JSON form's text (envelope_from_json(jsonb)
/// in sql/finalize.sql casts to text: pgrx's jsonb conversion would panic on
/// documents nested deeper than serde_json's limit, where this is an error).
#[pg_extern(immutable, parallel_safe)]
fn _envelope_from_json(json: &str) -> Result<Vec<u8>, ErrorReport> {
    Ok(envelope_json::from_json(json).map_err(HcError::from)?)
}
