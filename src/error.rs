//! The one place where failures become PostgreSQL errors: each gets a
//! specific SQLSTATE, a message naming the problem and, where it helps, a
//! HINT. Messages carry only non-secret facts (names, ids, lengths); never a
//! key, passphrase, context or plaintext. docs/ERRORS.md lists every code.

use han_crypto_core::envelope::ContentType;
use han_crypto_core::Error as CoreError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::PgSqlErrorCode as Code;

/// Everything the extension layer can fail with.
#[derive(Debug)]
pub enum HcError {
    /// A failure from the pure core (format, authentication, limits).
    Core(CoreError),
    /// `encrypt(..., keyring => name)` names no keyring.
    UnknownKeyring(String),
    /// An envelope names a keyring id this database does not have.
    UnknownKeyringId(String),
    /// An envelope names a key version its keyring does not have.
    UnknownKeyVersion { keyring: String, version: u32 },
    /// The root key source is present but unusable.
    RootKeyConfig { message: String, hint: &'static str },
    /// The root key is not the one this database's data is encrypted under.
    WrongRootKey,
    /// Decrypting to a type the envelope does not hold.
    ContentMismatch {
        stored: ContentType,
        wanted: &'static str,
    },
    /// A required argument was SQL NULL.
    NullArgument(&'static str),
    /// Decrypted text is not UTF-8 (cannot happen for authenticated text
    /// envelopes; checked anyway because PostgreSQL text must be valid).
    InvalidUtf8,
}

impl From<CoreError> for HcError {
    fn from(e: CoreError) -> Self {
        HcError::Core(e)
    }
}

pub type HcResult<T> = Result<T, HcError>;

fn report(code: Code, message: String, hint: Option<&str>) -> ErrorReport {
    let r = ErrorReport::new(code, message, "han_crypto");
    match hint {
        Some(h) => r.set_hint(h),
        None => r,
    }
}

impl From<HcError> for ErrorReport {
    fn from(e: HcError) -> Self {
        match e {
            HcError::Core(core) => core_report(core),
            HcError::UnknownKeyring(name) => report(
                Code::ERRCODE_UNDEFINED_OBJECT,
                format!("keyring \"{name}\" does not exist"),
                Some("This version has one keyring, \"default\", whose key is derived from the root key."),
            ),
            HcError::UnknownKeyringId(id) => report(
                Code::ERRCODE_UNDEFINED_OBJECT,
                format!("envelope was sealed with keyring {id}, which does not exist in this database"),
                Some("Was the value copied from another database, or its keyring restored without it?"),
            ),
            HcError::UnknownKeyVersion { keyring, version } => report(
                Code::ERRCODE_UNDEFINED_OBJECT,
                format!("keyring \"{keyring}\" has no key version {version}"),
                Some("The value names a key version this database never had or has retired."),
            ),
            HcError::RootKeyConfig { message, hint } => {
                report(Code::ERRCODE_CONFIG_FILE_ERROR, message, Some(hint))
            }
            HcError::WrongRootKey => report(
                Code::ERRCODE_CONFIG_FILE_ERROR,
                "han_crypto root key does not match the key this database was set up with".into(),
                Some("Start the server with the original root key (HAN_CRYPTO_ROOT_KEY, han_crypto.root_key_file or the generated key file); see han_crypto.root_key_status()."),
            ),
            HcError::ContentMismatch { stored, wanted } => {
                let func = match stored {
                    ContentType::Bytes => "han_crypto.decrypt_bytea()",
                    ContentType::Text => "han_crypto.decrypt()",
                    ContentType::Json => "han_crypto.decrypt_jsonb()",
                };
                report(
                    Code::ERRCODE_DATATYPE_MISMATCH,
                    format!("envelope holds {}, which cannot be returned as {wanted}", stored.name()),
                    Some(&format!("Use {func}.")),
                )
            }
            HcError::InvalidUtf8 => report(
                Code::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                "decrypted text is not valid UTF-8".into(),
                Some("Use han_crypto.decrypt_bytea() to get the raw bytes."),
            ),
            HcError::NullArgument(arg) => report(
                Code::ERRCODE_NULL_VALUE_NOT_ALLOWED,
                format!("argument \"{arg}\" must not be NULL"),
                None,
            ),
        }
    }
}

fn core_report(e: CoreError) -> ErrorReport {
    let msg = e.to_string();
    match e {
        CoreError::AuthenticationFailed => report(
            Code::ERRCODE_DATA_CORRUPTED,
            msg,
            Some("The value was altered or swapped, or it is being decrypted with a different context or key than it was encrypted with."),
        ),
        CoreError::NotAnEnvelope
        | CoreError::Truncated { .. }
        | CoreError::TrailingBytes { .. }
        | CoreError::MalformedHeader(_) => report(
            Code::ERRCODE_INVALID_BINARY_REPRESENTATION,
            msg,
            Some("Only values produced by han_crypto.encrypt() can be decrypted."),
        ),
        CoreError::UnsupportedVersion(_) | CoreError::UnsupportedAlgorithm(_) => report(
            Code::ERRCODE_INVALID_BINARY_REPRESENTATION,
            msg,
            Some("This build reads envelope format 1 with algorithm 1 (XAES-256-GCM); was the value altered, or written by a newer han_crypto?"),
        ),
        CoreError::MalformedJson(_) => report(Code::ERRCODE_INVALID_TEXT_REPRESENTATION, msg, None),
        CoreError::TooLarge(_) => report(Code::ERRCODE_PROGRAM_LIMIT_EXCEEDED, msg, None),
        CoreError::InvalidKeyLength(_) | CoreError::InvalidNonceLength { .. } | CoreError::InvalidKeyHex => {
            report(Code::ERRCODE_INVALID_PARAMETER_VALUE, msg, None)
        }
        CoreError::Rng => report(Code::ERRCODE_SYSTEM_ERROR, msg, None),
    }
}
