//! Version and operator status.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

use crate::root_key;

/// The extension's version.
#[pg_extern(immutable, parallel_safe)]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Where the root key came from and whether it matches this database.
/// Never the key itself. Revoked from PUBLIC (see sql/finalize.sql).
#[pg_extern(volatile, parallel_unsafe)]
fn root_key_status() -> Result<JsonB, ErrorReport> {
    let root = root_key::get()?;
    let (source, location) = root.source.describe();
    Ok(JsonB(json!({
        "source": source,
        "location": location,
        "key_check": match (root.check_was_stored, crate::catalog::writable()) {
            (true, _) => "matched",
            (false, true) => "recorded",
            // A standby or read-only transaction: recorded by the first writable use.
            (false, false) => "not recorded",
        },
        "envelope_format": han_crypto_core::envelope::FORMAT_V1,
        "algorithm": "XAES-256-GCM",
    })))
}
