//! The one place where failures become PostgreSQL errors: each gets a
//! specific SQLSTATE, a message naming the problem and, where it helps, a
//! HINT. Messages carry only non-secret facts (names, ids, lengths); never a
//! key, passphrase, context or plaintext. docs/ERRORS.md lists every code.

use han_crypto_core::envelope::ContentType;
use han_crypto_core::Error as CoreError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::PgSqlErrorCode as Code;

/// Everything the extension layer can fail with.
#[derive(Debug, Clone)]
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
    /// A row of a protected table has a NULL keyring column (named when known).
    NoKeyring(Option<String>),
    /// Decrypted text is not UTF-8 (cannot happen for authenticated text
    /// envelopes; checked anyway because PostgreSQL text must be valid).
    InvalidUtf8,
    /// The actor lacks the membership the operation needs.
    NotAllowed {
        keyring: String,
        principal: String,
        access: crate::keyring::Access,
    },
    /// A passphrase keyring is not unlocked by this actor in this session.
    KeyringLocked(String),
    /// A key version that was retired.
    RetiredKeyVersion { keyring: String, version: u32 },
    /// Wrapped key material does not unwrap under the root key.
    CorruptKeyring(String),
    /// Every key-derivation slot is busy.
    KdfBusy,
    /// The redactor panicked on a text (a defect). Fails closed: the text is
    /// not stored, and the error names no part of it.
    RedactionFailed,
    /// A keyring of that name exists already.
    DuplicateKeyring(String),
    /// The keyring is of another kind than the operation needs.
    WrongKind {
        keyring: String,
        expected: &'static str,
    },
    /// A caller-supplied argument is out of range; names the argument only.
    InvalidArgument(String),
    /// An operator's redaction pattern does not compile; carries the regex
    /// engine's verdict, never the pattern.
    InvalidPattern(String),
    /// The database role may not perform the operation.
    PermissionDenied { message: String, hint: &'static str },
    /// authenticate() has no secret to verify with.
    NoJwtSecret,
    /// The configured JWT secret is too short to be safe.
    WeakJwtSecret,
    /// The old passphrase given to change_passphrase() is wrong.
    PassphraseIncorrect(String),
    /// A protected column holds a value that is not an envelope.
    NotEncrypted(String),
    /// A protected column's real type is not one its kind is stored in
    /// (its type changed after protect(), or the configuration is not this
    /// relation's).
    ProtectedColumnType {
        column: String,
        kind: &'static str,
        actual: String,
    },
    /// A protected, keyring or key column is not in the relation.
    MissingProtectedColumn(String),
    /// A refusal described where it is raised (protect()'s checks).
    Refused {
        code: Code,
        message: String,
        hint: Option<String>,
    },
    /// The protection trigger fired other than BEFORE INSERT OR UPDATE FOR EACH ROW.
    TriggerMisuse,
    /// An operation that writes han_crypto's catalog in a read-only
    /// transaction or on a standby.
    ReadOnly(&'static str),
    /// A query of han_crypto's own catalog failed inside pgrx (a defect:
    /// SQL errors are raised as themselves).
    Catalog(String),
}

impl From<pgrx::spi::SpiError> for HcError {
    fn from(e: pgrx::spi::SpiError) -> Self {
        HcError::Catalog(e.to_string())
    }
}

impl From<CoreError> for HcError {
    fn from(e: CoreError) -> Self {
        HcError::Core(e)
    }
}

pub type HcResult<T> = Result<T, HcError>;

/// How a name a caller supplied appears in a message: double-quoted, with
/// quotes, backslashes and control characters escaped (so it reads
/// unambiguously), and cut after 200 characters, the longest keyring name
/// or principal, so a megabyte "name" cannot fill the server log or a
/// client's screen.
pub fn quoted(name: &str) -> String {
    const SHOWN_CHARS: usize = 200;
    let mut out = String::with_capacity(name.len().min(SHOWN_CHARS * 2) + 24);
    out.push('"');
    for c in name.chars().take(SHOWN_CHARS) {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out.push('"');
    if name.chars().nth(SHOWN_CHARS).is_some() {
        out.insert(out.len() - 1, '…');
        out.push_str(&format!(" ({} bytes)", name.len()));
    }
    out
}

/// What an error is reported as: SQLSTATE, message, hint.
struct Parts {
    code: Code,
    message: String,
    hint: Option<String>,
}

fn report(code: Code, message: String, hint: Option<&str>) -> Parts {
    Parts {
        code,
        message,
        hint: hint.map(str::to_owned),
    }
}

impl HcError {
    /// The SQLSTATE this error is reported with, as its five characters
    /// (for the audit trail, which records it beside the outcome).
    pub fn sqlstate(&self) -> String {
        let code = self.clone().parts().code as i32;
        (0..5)
            .map(|i| (((code >> (6 * i)) & 0x3F) as u8 + b'0') as char)
            .collect()
    }
}

impl From<HcError> for ErrorReport {
    fn from(e: HcError) -> Self {
        let p = e.parts();
        let r = ErrorReport::new(p.code, p.message, "han_crypto");
        match p.hint {
            Some(h) => r.set_hint(h),
            None => r,
        }
    }
}

impl HcError {
    fn parts(self) -> Parts {
        match self {
            HcError::Core(core) => core_report(core),
            HcError::UnknownKeyring(name) => report(
                Code::ERRCODE_UNDEFINED_OBJECT,
                format!("keyring {} does not exist", quoted(&name)),
                Some("Create it with han_crypto.create_keyring(name, kind); han_crypto.keyring_info lists keyrings."),
            ),
            HcError::UnknownKeyringId(id) => report(
                Code::ERRCODE_UNDEFINED_OBJECT,
                format!("envelope was sealed with keyring {id}, which does not exist in this database"),
                Some("Was the value copied from another database, or its keyring restored without it?"),
            ),
            HcError::UnknownKeyVersion { keyring, version } => report(
                Code::ERRCODE_UNDEFINED_OBJECT,
                format!("keyring {} has no key version {version}", quoted(&keyring)),
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
            HcError::NotAllowed { keyring, principal, access } => {
                let need = match access {
                    crate::keyring::Access::Decrypt => "a member (reader, writer or admin)",
                    crate::keyring::Access::Encrypt => "a writer or admin",
                    crate::keyring::Access::Manage => "an admin",
                };
                report(
                    Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
                    format!("actor {} is not {need} of keyring {}", quoted(&principal), quoted(&keyring)),
                    Some("A keyring admin grants access with han_crypto.grant_access(keyring, principal, role)."),
                )
            }
            HcError::KeyringLocked(name) => report(
                Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!("keyring {} is locked", quoted(&name)),
                Some("Unlock it in this session with han_crypto.unlock(keyring, passphrase), passing the passphrase as a bind parameter."),
            ),
            HcError::RetiredKeyVersion { keyring, version } => report(
                Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!("key version {version} of keyring {} is retired", quoted(&keyring)),
                None,
            ),
            HcError::CorruptKeyring(name) => report(
                Code::ERRCODE_DATA_CORRUPTED,
                format!("wrapped key material of keyring {} failed authentication", quoted(&name)),
                Some("The keyring's rows were altered or belong to another keyring or root key."),
            ),
            HcError::RedactionFailed => report(
                Code::ERRCODE_DATA_EXCEPTION,
                "secret redaction failed on this text; nothing was stored".into(),
                Some("This is a defect in han_crypto's scanner; the text is neither stored nor logged. Report it with the text's shape, not its content."),
            ),
            HcError::KdfBusy => report(
                Code::ERRCODE_INSUFFICIENT_RESOURCES,
                "all key-derivation slots are busy".into(),
                Some("Retry shortly; han_crypto.kdf_max_concurrent bounds concurrent password hashing."),
            ),
            HcError::DuplicateKeyring(name) => report(
                Code::ERRCODE_DUPLICATE_OBJECT,
                format!("keyring {} already exists", quoted(&name)),
                None,
            ),
            HcError::WrongKind { keyring, expected } => report(
                Code::ERRCODE_WRONG_OBJECT_TYPE,
                format!("keyring {} is not a {expected} keyring", quoted(&keyring)),
                None,
            ),
            HcError::InvalidArgument(message) => report(Code::ERRCODE_INVALID_PARAMETER_VALUE, message, None),
            HcError::InvalidPattern(reason) => report(
                Code::ERRCODE_INVALID_REGULAR_EXPRESSION,
                format!("invalid redaction pattern: {reason}"),
                Some("Patterns use Rust regex syntax (linear time: no look-around or backreferences), at most 4096 bytes and 1 MiB compiled."),
            ),
            HcError::PermissionDenied { message, hint } => {
                report(Code::ERRCODE_INSUFFICIENT_PRIVILEGE, message, Some(hint))
            }
            HcError::NoJwtSecret => report(
                Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                "no JWT secret is configured".into(),
                Some("Set HAN_CRYPTO_JWT_SECRET in the server's environment or han_crypto.jwt_secret_file."),
            ),
            HcError::WeakJwtSecret => report(
                Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!("the configured JWT secret is shorter than {} bytes, so authenticate() refuses to use it", han_crypto_core::jwt::MIN_SECRET_BYTES),
                Some("Configure a secret of at least 32 random bytes (e.g. openssl rand -hex 32) in HAN_CRYPTO_JWT_SECRET or han_crypto.jwt_secret_file."),
            ),
            HcError::PassphraseIncorrect(name) => report(
                Code::ERRCODE_INVALID_PASSWORD,
                format!("passphrase is not correct for keyring {}", quoted(&name)),
                None,
            ),
            HcError::NotEncrypted(column) => report(
                Code::ERRCODE_DATA_CORRUPTED,
                format!("protected column {} holds a value that is not encrypted", quoted(&column)),
                Some("It was written around han_crypto's trigger (e.g. with session_replication_role = replica or the trigger disabled)."),
            ),
            HcError::ProtectedColumnType { column, kind, actual } => report(
                Code::ERRCODE_DATATYPE_MISMATCH,
                format!("protected column {} has type {actual}, but han_crypto seals it as {kind}", quoted(&column)),
                Some("The column's type changed after protect(). Change it back, or unprotect() the column and protect it again."),
            ),
            HcError::MissingProtectedColumn(column) => report(
                Code::ERRCODE_UNDEFINED_COLUMN,
                format!("column {} that han_crypto's protection relies on does not exist in this table", quoted(&column)),
                Some("Run han_crypto.protect() again, or han_crypto.unprotect() the table."),
            ),
            HcError::Refused { code, message, hint } => report(code, message, hint.as_deref()),
            HcError::TriggerMisuse => report(
                Code::ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                "han_crypto._protect_trigger() must fire BEFORE INSERT OR UPDATE OR DELETE FOR EACH ROW".into(),
                Some("Only han_crypto.protect() creates this trigger; drop any other trigger that uses it."),
            ),
            HcError::ReadOnly(what) => report(
                Code::ERRCODE_READ_ONLY_SQL_TRANSACTION,
                format!("{what} writes han_crypto's catalog, which a read-only transaction cannot"),
                Some("Run it on the primary, in a read-write transaction. Reads and decryption work on standbys."),
            ),
            HcError::Catalog(what) => report(
                Code::ERRCODE_INTERNAL_ERROR,
                format!("han_crypto could not read its catalog: {what}"),
                Some("This is a defect in han_crypto; please report it with the statement that caused it."),
            ),
            HcError::InvalidUtf8 => report(
                Code::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                "decrypted text is not valid UTF-8".into(),
                Some("Use han_crypto.decrypt_bytea() to get the raw bytes."),
            ),
            HcError::NoKeyring(column) => report(
                Code::ERRCODE_NOT_NULL_VIOLATION,
                match column {
                    Some(c) => format!("the row has no keyring: its keyring column {} is NULL", quoted(&c)),
                    None => "the row has no keyring: its keyring column is NULL".into(),
                },
                Some("Every row of a protected table names the keyring its values are sealed under; a NOT NULL constraint on that column says so up front."),
            ),
            HcError::NullArgument(arg) => report(
                Code::ERRCODE_NULL_VALUE_NOT_ALLOWED,
                format!("argument \"{arg}\" must not be NULL"),
                None,
            ),
        }
    }
}

fn core_report(e: CoreError) -> Parts {
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
        CoreError::KdfPolicy(_) => report(
            Code::ERRCODE_INVALID_PARAMETER_VALUE,
            msg,
            Some("Stored KDF parameters must lie between the policy floor and han_crypto.kdf_max_memory."),
        ),
        CoreError::OutOfMemory(_) => report(Code::ERRCODE_OUT_OF_MEMORY, msg, None),
        CoreError::Token(_) => report(Code::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, msg, None),
        CoreError::BadPublicKey(_) => report(Code::ERRCODE_INVALID_PARAMETER_VALUE, msg, None),
    }
}
