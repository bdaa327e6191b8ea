//! Shared helpers for the vector tests: locate `shared/vectors/` and decode hex.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/vectors` beside the repository (override: HAN_CRYPTO_VECTORS).
/// A missing directory fails the test: vectors are never skipped silently.
pub fn vectors_dir() -> PathBuf {
    let dir = std::env::var_os("HAN_CRYPTO_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
        });
    assert!(dir.is_dir(), "test vectors not found at {}", dir.display());
    dir
}

pub fn load(name: &str) -> serde_json::Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("vector file is JSON")
}

pub fn unhex(v: &serde_json::Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}
