//! Where the root key comes from, in order:
//!
//! 1. `HAN_CRYPTO_ROOT_KEY` in the server's environment (64 hex characters) —
//!    how managed platforms such as Railway hand secrets to a service;
//! 2. the file named by `han_crypto.root_key_file` (superuser-only);
//! 3. the embedded default: `han_crypto_root.key` in the data directory,
//!    generated (mode 0600) on first use, with a NOTICE.
//!
//! A source that is present but broken is an error, never a silent fall
//! through to the next one. The key is loaded once per backend, kept in
//! zeroizing memory, checked against the key-check value stored in the
//! database, and never reaches SQL.

use std::cell::RefCell;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use han_crypto_core::keys::{root_key_check_value, root_key_matches, SecretKey};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::error::{HcError, HcResult};
use crate::{catalog, gucs};

/// Environment variable holding the root key as hex.
pub const ENV_VAR: &str = "HAN_CRYPTO_ROOT_KEY";
/// Name of the generated key file inside the data directory.
pub const GENERATED_FILE: &str = "han_crypto_root.key";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Environment,
    File(String),
    Generated(PathBuf),
}

impl Source {
    pub fn describe(&self) -> (&'static str, Option<String>) {
        match self {
            Source::Environment => ("environment", None),
            Source::File(p) => ("file", Some(p.clone())),
            Source::Generated(p) => ("generated", Some(p.display().to_string())),
        }
    }
}

/// The loaded root key and where it came from.
pub struct RootKey {
    pub key: SecretKey,
    pub source: Source,
    /// Whether this database's key-check value was found (true) or had to be
    /// recorded now / could not be recorded (false).
    pub check_was_stored: bool,
}

thread_local! {
    static LOADED: RefCell<Option<Rc<RootKey>>> = const { RefCell::new(None) };
}

/// Forgets the cached key (after a transaction that recorded the key-check
/// value aborted, so the check runs again).
pub fn forget() {
    LOADED.with(|l| l.borrow_mut().take());
}

/// The root key, loaded and verified on first use in this backend.
pub fn get() -> HcResult<Rc<RootKey>> {
    let wanted_file = gucs::root_key_file();
    if let Some(k) = LOADED.with(|l| l.borrow().clone()) {
        // Reload if a superuser pointed the setting elsewhere mid-session.
        let same = match (&k.source, &wanted_file) {
            (Source::File(p), Some(w)) => p == w,
            (Source::File(_), None) => false,
            (_, Some(_)) => matches!(k.source, Source::Environment),
            (_, None) => true,
        };
        if same {
            return Ok(k);
        }
    }
    let (key, source) = load(wanted_file)?;
    let check_was_stored = verify_against_database(&key)?;
    let loaded = Rc::new(RootKey {
        key,
        source,
        check_was_stored,
    });
    LOADED.with(|l| *l.borrow_mut() = Some(loaded.clone()));
    Ok(loaded)
}

/// The root key for a process that must not write the catalog (the audit
/// writer, whose inserts a client transaction recording the check value
/// could block): checked against the stored check value when there is one,
/// never recorded.
pub fn get_without_recording() -> HcResult<SecretKey> {
    let (key, _) = load(gucs::root_key_file())?;
    match catalog::root_key_check_value() {
        Some(stored) if !root_key_matches(&key, &stored) => Err(HcError::WrongRootKey),
        _ => Ok(key),
    }
}

fn load(file: Option<String>) -> HcResult<(SecretKey, Source)> {
    if let Some(value) = std::env::var_os(ENV_VAR) {
        let text = zeroize::Zeroizing::new(value.to_string_lossy().into_owned());
        let key = SecretKey::from_hex(&text).map_err(|_| HcError::RootKeyConfig {
            message: format!("{ENV_VAR} is set but is not 64 hexadecimal characters"),
            hint: "Generate a key with: openssl rand -hex 32",
        })?;
        return Ok((key, Source::Environment));
    }
    if let Some(path) = file {
        return Ok((read_key_file(Path::new(&path), true)?, Source::File(path)));
    }
    let path = generated_path();
    Ok((load_or_generate(&path)?, Source::Generated(path)))
}

fn generated_path() -> PathBuf {
    // SAFETY: DataDir is set by the postmaster before any backend runs SQL.
    let dir = unsafe { std::ffi::CStr::from_ptr(pg_sys::DataDir) };
    PathBuf::from(dir.to_string_lossy().into_owned()).join(GENERATED_FILE)
}

fn config_error(message: String, hint: &'static str) -> HcError {
    HcError::RootKeyConfig { message, hint }
}

/// Reads a key file; with `check_mode`, refuses files others could read
/// (the rule PostgreSQL applies to ssl_key_file).
fn read_key_file(path: &Path, check_mode: bool) -> HcResult<SecretKey> {
    let shown = path.display();
    let meta = fs::metadata(path).map_err(|e| {
        config_error(
            format!(
                "could not open han_crypto root key file \"{shown}\": {}",
                e.kind()
            ),
            "Check han_crypto.root_key_file and the file's ownership.",
        )
    })?;
    if check_mode {
        let mode = meta.mode() & 0o777;
        let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
        if mode & !allowed != 0 {
            return Err(config_error(
                format!("han_crypto root key file \"{shown}\" has group or world access"),
                "The file must be mode 0600 (or 0640 when owned by root): chmod 600 <file>.",
            ));
        }
    }
    let text = zeroize::Zeroizing::new(fs::read_to_string(path).map_err(|e| {
        config_error(
            format!(
                "could not read han_crypto root key file \"{shown}\": {}",
                e.kind()
            ),
            "Check the file's ownership and permissions.",
        )
    })?);
    SecretKey::from_hex(&text).map_err(|_| {
        config_error(
            format!("han_crypto root key file \"{shown}\" does not hold 64 hexadecimal characters"),
            "Generate a key with: openssl rand -hex 32",
        )
    })
}

/// Reads the generated key file, creating it first if no backend has yet.
/// Creation is atomic: a private temporary file is written and fsynced, then
/// hard-linked into place, so concurrent backends agree on one key.
fn load_or_generate(path: &Path) -> HcResult<SecretKey> {
    if path.exists() {
        return read_key_file(path, false);
    }
    let key = SecretKey::generate()?;
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(key.to_hex().as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    };
    let outcome = write().and_then(|_| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match outcome {
        Ok(()) => {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
                format!(
                    "han_crypto generated a new root key in \"{}\"",
                    path.display()
                ),
                "han_crypto",
            )
            .set_hint(
                "Back this file up: nothing encrypted under it can be decrypted without it. \
                 For production, set HAN_CRYPTO_ROOT_KEY in the server's environment instead.",
            )
            .report(PgLogLevel::NOTICE);
            Ok(key)
        }
        // Another backend won the race: use its key.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path, false),
        Err(e) => Err(config_error(
            format!(
                "could not create han_crypto root key file \"{}\": {}",
                path.display(),
                e.kind()
            ),
            "Set HAN_CRYPTO_ROOT_KEY or han_crypto.root_key_file instead.",
        )),
    }
}

/// Compares the key with the database's stored key-check value, recording
/// it on first use. Returns whether a value was already stored.
fn verify_against_database(key: &SecretKey) -> HcResult<bool> {
    match catalog::root_key_check_value() {
        Some(stored) if root_key_matches(key, &stored) => Ok(true),
        Some(_) => Err(HcError::WrongRootKey),
        None => {
            catalog::record_root_key_check_value(&root_key_check_value(key));
            // Another backend may have recorded a different key concurrently.
            match catalog::root_key_check_value() {
                Some(stored) if !root_key_matches(key, &stored) => Err(HcError::WrongRootKey),
                _ => Ok(false),
            }
        }
    }
}
