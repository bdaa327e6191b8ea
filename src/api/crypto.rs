//! encrypt / decrypt. Output is sealed or opened straight into the datum
//! PostgreSQL returns (src/varlena.rs). The jsonb variants are thin SQL
//! wrappers in sql/finalize.sql over `_encrypt_json` / `_decrypt_json`, so
//! jsonb is converted by PostgreSQL's own (lossless) text I/O.

use han_crypto_core::envelope::{self, ContentType, Envelope};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::audit::{self, Access};
use crate::error::{HcError, HcResult};
use crate::keyring;
use crate::varlena::{OwnedBytea, OwnedText};

fn required<'a>(value: Option<&'a str>, name: &'static str) -> HcResult<&'a str> {
    value.ok_or(HcError::NullArgument(name))
}

/// Records a refusal that came before any key was at hand (keyring name
/// only), and passes the error on.
fn audit_refusal(action: &'static str, keyring: &str, e: HcError) -> HcError {
    let access = Access::new(action).keyring(keyring).failure(&e);
    match audit::record(access) {
        Ok(()) => e,
        Err(audit_error) => audit_error,
    }
}

fn seal(
    content: ContentType,
    data: Option<&[u8]>,
    keyring: Option<&str>,
    context: Option<&str>,
) -> Result<Option<OwnedBytea>, ErrorReport> {
    let keyring = required(keyring, "keyring")?;
    let context = required(context, "context")?;
    let Some(data) = data else { return Ok(None) };
    let (key_ref, key) =
        keyring::encryption_key(keyring).map_err(|e| audit_refusal("encrypt", keyring, e))?;
    keyring::audit_key_use("encrypt", key_ref, Ok(()))?;
    let len = envelope::sealed_len(data.len()).map_err(HcError::from)?;
    let sealed = OwnedBytea::build(len, |out| {
        Ok(envelope::seal_into(
            &key,
            key_ref,
            content,
            data,
            context.as_bytes(),
            out,
        )?)
    })?;
    Ok(Some(sealed))
}

/// Authenticates and decrypts `env` into `out`, then checks the stored
/// content type is one the caller accepts. The check comes after
/// authentication so that a tampered header reports tampering (XX001), not a
/// type mismatch; on any failure `out` is wiped.
fn open_checked(
    env: &Envelope<'_>,
    context: &str,
    accepted: &[ContentType],
    wanted: &'static str,
    out: &mut [u8],
) -> HcResult<()> {
    let key_ref = env.header.key;
    let key = keyring::decryption_key(key_ref).map_err(|e| {
        keyring::audit_key_use("decrypt", key_ref, Err(&e))
            .err()
            .unwrap_or(e)
    })?;
    let opened = env
        .open_into(&key, context.as_bytes(), out)
        .map_err(HcError::from);
    let result = opened.and_then(|()| {
        if accepted.contains(&env.header.content) {
            Ok(())
        } else {
            Err(HcError::ContentMismatch {
                stored: env.header.content,
                wanted,
            })
        }
    });
    let recorded = keyring::audit_key_use("decrypt", key_ref, result.as_ref().copied())
        // A honeytoken alerts on any attempt, opened or not.
        .and_then(|()| crate::honeytoken::check(env, "decrypt", None));
    if let Err(e) = recorded {
        out.fill(0);
        return Err(e);
    }
    if result.is_err() {
        out.fill(0);
    }
    result
}

/// [`open_checked`] for compressed envelopes (made by protect() with the
/// `compress` option): their plaintext length is known only after opening,
/// so they cannot be opened straight into the result datum.
fn open_compressed_checked(
    env: &Envelope<'_>,
    context: &str,
    accepted: &[ContentType],
    wanted: &'static str,
) -> HcResult<zeroize::Zeroizing<Vec<u8>>> {
    let key_ref = env.header.key;
    let key = keyring::decryption_key(key_ref).map_err(|e| {
        keyring::audit_key_use("decrypt", key_ref, Err(&e))
            .err()
            .unwrap_or(e)
    })?;
    let plain = env.open(&key, context.as_bytes()).map_err(HcError::from);
    let result = plain.and_then(|p| {
        if accepted.contains(&env.header.content) {
            Ok(p)
        } else {
            Err(HcError::ContentMismatch {
                stored: env.header.content,
                wanted,
            })
        }
    });
    keyring::audit_key_use("decrypt", key_ref, result.as_ref().map(|_| ()))?;
    crate::honeytoken::check(env, "decrypt", None)?;
    result
}

fn open_text(
    envelope: Option<&[u8]>,
    context: Option<&str>,
    accepted: &[ContentType],
    wanted: &'static str,
) -> Result<Option<OwnedText>, ErrorReport> {
    let context = required(context, "context")?;
    let Some(bytes) = envelope else {
        return Ok(None);
    };
    let env = envelope::parse(bytes).map_err(HcError::from)?;
    if env.is_compressed() {
        let plain = open_compressed_checked(&env, context, accepted, wanted)?;
        return Ok(Some(OwnedText::copy_of_utf8(&plain)?));
    }
    let text = OwnedText::build_utf8(env.ciphertext.len(), |out| {
        open_checked(&env, context, accepted, wanted, out)
    })?;
    Ok(Some(text))
}

/// Encrypts text under `keyring`, bound to `context`.
#[pg_extern(name = "encrypt", volatile, parallel_unsafe)]
fn encrypt_text(
    data: Option<&str>,
    keyring: default!(Option<&str>, "'default'"),
    context: default!(Option<&str>, "''"),
) -> Result<Option<OwnedBytea>, ErrorReport> {
    seal(ContentType::Text, data.map(str::as_bytes), keyring, context)
}

/// Encrypts bytes under `keyring`, bound to `context`.
#[pg_extern(name = "encrypt", volatile, parallel_unsafe)]
fn encrypt_bytea(
    data: Option<&[u8]>,
    keyring: default!(Option<&str>, "'default'"),
    context: default!(Option<&str>, "''"),
) -> Result<Option<OwnedBytea>, ErrorReport> {
    seal(ContentType::Bytes, data, keyring, context)
}

/// Encrypts jsonb given as its text form (called by `encrypt(jsonb, ...)`).
#[pg_extern(volatile, parallel_unsafe)]
fn _encrypt_json(
    data: Option<&str>,
    keyring: Option<&str>,
    context: Option<&str>,
) -> Result<Option<OwnedBytea>, ErrorReport> {
    seal(ContentType::Json, data.map(str::as_bytes), keyring, context)
}

/// Decrypts an envelope holding text (or jsonb, returned as its text).
#[pg_extern(name = "decrypt", volatile, parallel_unsafe)]
fn decrypt_text(
    envelope: Option<&[u8]>,
    context: default!(Option<&str>, "''"),
) -> Result<Option<OwnedText>, ErrorReport> {
    open_text(
        envelope,
        context,
        &[ContentType::Text, ContentType::Json],
        "text",
    )
}

/// Decrypts any envelope to its raw bytes.
#[pg_extern(volatile, parallel_unsafe)]
fn decrypt_bytea(
    envelope: Option<&[u8]>,
    context: default!(Option<&str>, "''"),
) -> Result<Option<OwnedBytea>, ErrorReport> {
    let context = required(context, "context")?;
    let Some(bytes) = envelope else {
        return Ok(None);
    };
    let all = [ContentType::Bytes, ContentType::Text, ContentType::Json];
    let env = envelope::parse(bytes).map_err(HcError::from)?;
    if env.is_compressed() {
        let plain = open_compressed_checked(&env, context, &all, "bytea")?;
        return Ok(Some(OwnedBytea::copy_of(&plain)?));
    }
    let out = OwnedBytea::build(env.ciphertext.len(), |out| {
        open_checked(&env, context, &all, "bytea", out)
    })?;
    Ok(Some(out))
}

/// Decrypts an envelope holding jsonb to its text (called by `decrypt_jsonb`).
#[pg_extern(volatile, parallel_unsafe)]
fn _decrypt_json(
    envelope: Option<&[u8]>,
    context: Option<&str>,
) -> Result<Option<OwnedText>, ErrorReport> {
    open_text(envelope, context, &[ContentType::Json], "jsonb")
}
