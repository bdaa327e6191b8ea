//! One error type for the core. Variants carry only non-secret facts (lengths,
//! version numbers, field names) so their text is safe to show to any caller.

use thiserror::Error as ThisError;

/// Result alias used across the core.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in the core.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
pub enum Error {
    /// The bytes do not start with the envelope magic.
    #[error("value is not a han_crypto envelope (bad magic bytes)")]
    NotAnEnvelope,

    /// The envelope is shorter than its header says it is.
    #[error("envelope is truncated: {actual} of {expected} bytes present")]
    Truncated {
        /// Length the header announces (or the minimum length).
        expected: usize,
        /// Length actually present.
        actual: usize,
    },

    /// Bytes follow the authentication tag.
    #[error("envelope has {extra} trailing bytes after its authentication tag")]
    TrailingBytes {
        /// Number of unexpected bytes.
        extra: usize,
    },

    /// A format version this build cannot read.
    #[error("unsupported envelope format version {0}")]
    UnsupportedVersion(u8),

    /// An algorithm id this build does not implement.
    #[error("unsupported envelope algorithm id {0}")]
    UnsupportedAlgorithm(u8),

    /// A header field holds a value the format does not allow.
    #[error("malformed envelope: {0}")]
    MalformedHeader(&'static str),

    /// The JSON form is not well formed; names the field, never its value.
    #[error("malformed envelope JSON: {0}")]
    MalformedJson(String),

    /// Tag verification failed: the envelope was altered, or the key or
    /// context differ from the ones it was sealed with. Deliberately one
    /// variant so callers cannot tell these apart (no oracle).
    #[error("envelope failed authentication")]
    AuthenticationFailed,

    /// Plaintext or context beyond what the format can carry.
    #[error("value too large to encrypt ({0} bytes)")]
    TooLarge(usize),

    /// A key of the wrong length was supplied.
    #[error("invalid key length: {0} bytes (expected 32)")]
    InvalidKeyLength(usize),

    /// A nonce of the wrong length was supplied.
    #[error("invalid nonce length: {actual} bytes (expected {expected})")]
    InvalidNonceLength {
        /// Length the algorithm requires.
        expected: usize,
        /// Length supplied.
        actual: usize,
    },

    /// Hex key text is not 64 hexadecimal characters. Never echoes the text.
    #[error("key is not 64 hexadecimal characters")]
    InvalidKeyHex,

    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,

    /// KDF parameters or salt outside policy (too weak, too costly, malformed).
    #[error("{0}")]
    KdfPolicy(&'static str),

    /// Memory could not be reserved (for a value's buffer or a key
    /// derivation): an error, where Rust's ordinary allocation would abort.
    #[error("out of memory: could not reserve {0} bytes")]
    OutOfMemory(u64),

    /// A token failed verification; names the reason, never the token.
    #[error("{0}")]
    Token(&'static str),

    /// A public key is malformed or of low order.
    #[error("{0}")]
    BadPublicKey(&'static str),
}
