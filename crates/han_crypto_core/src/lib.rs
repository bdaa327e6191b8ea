//! han_crypto's pure logic: the envelope format, AEAD, key derivation and key
//! types. Nothing here knows about PostgreSQL (this crate cannot depend on
//! pgrx), so every function is testable with plain `cargo test`, fuzzable and
//! reusable by offline tools.
//!
//! Invariants kept throughout:
//! * no `Display`/`Debug` output ever contains key material or plaintext;
//! * parsers are total: malformed input is an [`Error`], never a panic;
//! * decryption yields the whole plaintext or nothing.
#![forbid(unsafe_code)]

pub mod aead;
pub mod alerts;
pub mod audit;
pub mod buffer;
pub mod column;
pub mod envelope;
pub mod envelope_json;
pub mod error;
mod json_object;
pub mod jwt;
pub mod kdf;
pub mod keys;
pub mod log_policy;
pub mod password;
pub mod redact;
pub mod sealed;
pub mod sql_lex;
pub mod wrap;

pub use error::{Error, Result};
