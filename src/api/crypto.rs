//! encrypt / decrypt. The jsonb variants are thin SQL wrappers in
//! sql/finalize.sql over `_encrypt_json` / `_decrypt_json`, so that jsonb is
//! converted by PostgreSQL's own (lossless) text I/O.

use han_crypto_core::envelope::{self, ContentType};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::error::{HcError, HcResult};
use crate::keyring;

fn required<'a>(value: Option<&'a str>, name: &'static str) -> HcResult<&'a str> {
    value.ok_or(HcError::NullArgument(name))
}

fn seal(
    content: ContentType,
    data: Option<&[u8]>,
    keyring: Option<&str>,
    context: Option<&str>,
) -> Result<Option<Vec<u8>>, ErrorReport> {
    let keyring = required(keyring, "keyring")?;
    let context = required(context, "context")?;
    let Some(data) = data else { return Ok(None) };
    let (key_ref, key) = keyring::encryption_key(keyring)?;
    let sealed = envelope::seal(&key, key_ref, content, data, context.as_bytes()).map_err(HcError::from)?;
    Ok(Some(sealed))
}

/// Authenticates and decrypts, checking the stored content type is one of `accepted`.
fn open(
    envelope_bytes: Option<&[u8]>,
    context: Option<&str>,
    accepted: &[ContentType],
    wanted: &'static str,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, ErrorReport> {
    let context = required(context, "context")?;
    let Some(bytes) = envelope_bytes else { return Ok(None) };
    let env = envelope::parse(bytes).map_err(HcError::from)?;
    let key = keyring::key(env.header.key)?;
    let plain = env.open(&key, context.as_bytes()).map_err(HcError::from)?;
    if !accepted.contains(&env.header.content) {
        return Err(HcError::ContentMismatch { stored: env.header.content, wanted }.into());
    }
    Ok(Some(plain))
}

fn into_text(plain: zeroize::Zeroizing<Vec<u8>>) -> Result<String, ErrorReport> {
    // Authenticated text was valid UTF-8 when sealed; checking again is cheap
    // and keeps a malformed string out of the server no matter what.
    std::str::from_utf8(&plain).map(str::to_owned).map_err(|_| {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
            "decrypted text is not valid UTF-8",
            "han_crypto",
        )
    })
}

/// Encrypts text under `keyring`, bound to `context`.
#[pg_extern(name = "encrypt", volatile, parallel_unsafe)]
fn encrypt_text(
    data: Option<&str>,
    keyring: default!(Option<&str>, "'default'"),
    context: default!(Option<&str>, "''"),
) -> Result<Option<Vec<u8>>, ErrorReport> {
    seal(ContentType::Text, data.map(str::as_bytes), keyring, context)
}

/// Encrypts bytes under `keyring`, bound to `context`.
#[pg_extern(name = "encrypt", volatile, parallel_unsafe)]
fn encrypt_bytea(
    data: Option<&[u8]>,
    keyring: default!(Option<&str>, "'default'"),
    context: default!(Option<&str>, "''"),
) -> Result<Option<Vec<u8>>, ErrorReport> {
    seal(ContentType::Bytes, data, keyring, context)
}

/// Encrypts jsonb given as its text form (called by `encrypt(jsonb, ...)`).
#[pg_extern(volatile, parallel_unsafe)]
fn _encrypt_json(
    data: Option<&str>,
    keyring: Option<&str>,
    context: Option<&str>,
) -> Result<Option<Vec<u8>>, ErrorReport> {
    seal(ContentType::Json, data.map(str::as_bytes), keyring, context)
}

/// Decrypts an envelope holding text (or jsonb, returned as its text).
#[pg_extern(name = "decrypt", volatile, parallel_unsafe)]
fn decrypt_text(
    envelope: Option<&[u8]>,
    context: default!(Option<&str>, "''"),
) -> Result<Option<String>, ErrorReport> {
    open(envelope, context, &[ContentType::Text, ContentType::Json], "text")?
        .map(into_text)
        .transpose()
}

/// Decrypts any envelope to its raw bytes.
#[pg_extern(volatile, parallel_unsafe)]
fn decrypt_bytea(
    envelope: Option<&[u8]>,
    context: default!(Option<&str>, "''"),
) -> Result<Option<Vec<u8>>, ErrorReport> {
    let all = [ContentType::Bytes, ContentType::Text, ContentType::Json];
    Ok(open(envelope, context, &all, "bytea")?.map(|p| p.to_vec()))
}

/// Decrypts an envelope holding jsonb to its text (called by `decrypt_jsonb`).
#[pg_extern(volatile, parallel_unsafe)]
fn _decrypt_json(envelope: Option<&[u8]>, context: Option<&str>) -> Result<Option<String>, ErrorReport> {
    open(envelope, context, &[ContentType::Json], "jsonb")?
        .map(into_text)
        .transpose()
}
