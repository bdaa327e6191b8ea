//! Sealed boxes: anyone with a keyring's public key can seal; only the
//! keyring's members can open.

use han_crypto_core::envelope::{self, ContentType};
use han_crypto_core::keys::SecretKey;
use han_crypto_core::sealed;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::catalog;
use crate::error::{quoted, HcError, HcResult};
use crate::keyring::{self, Access};
use crate::varlena::{OwnedBytea, OwnedText};

fn keypair_context(key_id: &[u8; 16]) -> String {
    format!("han_crypto/keypair/{}", hex_lower(key_id))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates an X25519 key pair for a keyring and returns its public key.
/// The private key is stored sealed under the keyring's own key. Needs
/// keyring admin.
#[pg_extern(volatile, parallel_unsafe)]
fn create_keypair(keyring: &str) -> Result<Vec<u8>, ErrorReport> {
    let ring = keyring::by_name(keyring)?;
    keyring::authorize(&ring, Access::Manage)?;
    let (key_ref, key) = keyring::encryption_key(keyring)?;
    let (private, public) = sealed::generate_keypair().map_err(HcError::from)?;
    let key_id = sealed::key_id(&public);
    let stored = envelope::seal(
        &key,
        key_ref,
        ContentType::Bytes,
        private.expose(),
        keypair_context(&key_id).as_bytes(),
    )
    .map_err(HcError::from)?;
    catalog::insert_keypair(&key_id, &ring.id, &public, &stored)?;
    Ok(public.to_vec())
}

/// Seals text to a public key (no key or membership needed).
#[pg_extern(name = "seal", volatile, parallel_safe)]
fn seal_text(
    public_key: Option<&[u8]>,
    data: Option<&str>,
) -> Result<Option<Vec<u8>>, ErrorReport> {
    let public_key = public_key.ok_or(HcError::NullArgument("public_key"))?;
    data.map(|d| {
        sealed::seal(public_key, ContentType::Text, d.as_bytes())
            .map_err(|e| HcError::from(e).into())
    })
    .transpose()
}

/// Seals bytes to a public key.
#[pg_extern(name = "seal", volatile, parallel_safe)]
fn seal_bytea(
    public_key: Option<&[u8]>,
    data: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, ErrorReport> {
    let public_key = public_key.ok_or(HcError::NullArgument("public_key"))?;
    data.map(|d| {
        sealed::seal(public_key, ContentType::Bytes, d).map_err(|e| HcError::from(e).into())
    })
    .transpose()
}

fn open(keyring: &str, boxed: &[u8]) -> HcResult<(ContentType, zeroize::Zeroizing<Vec<u8>>)> {
    let key_id = sealed::recipient(boxed)?;
    let ring = keyring::by_name(keyring)?;
    let (owner, stored) = catalog::keypair(&key_id)
        .filter(|(owner, _)| *owner == ring.id)
        .ok_or_else(|| {
            HcError::InvalidArgument(format!(
                "sealed box is not addressed to a key pair of keyring {q_keyring}",
                q_keyring = quoted(keyring)
            ))
        })?;
    debug_assert_eq!(owner, ring.id);
    keyring::authorize(&ring, Access::Decrypt)?;
    let env = envelope::parse(&stored)?;
    let key_ref = env.header.key;
    let opened = keyring::decryption_key(key_ref).and_then(|key| {
        let private = env.open(&key, keypair_context(&key_id).as_bytes())?;
        let sk = SecretKey::from_bytes(&private)?;
        Ok(sealed::open(&sk, boxed)?)
    });
    keyring::audit_key_use("open_sealed", key_ref, opened.as_ref().map(|_| ()))?;
    opened
}

/// Opens a sealed box holding text, as a member of `keyring`.
#[pg_extern(volatile, parallel_unsafe)]
fn open_sealed(keyring: &str, sealed_box: &[u8]) -> Result<OwnedText, ErrorReport> {
    let (content, plain) = open(keyring, sealed_box)?;
    if content == ContentType::Bytes {
        return Err(HcError::ContentMismatch {
            stored: content,
            wanted: "text",
        }
        .into());
    }
    Ok(OwnedText::copy_of_utf8(&plain)?)
}

/// Opens any sealed box to its bytes, as a member of `keyring`.
#[pg_extern(volatile, parallel_unsafe)]
fn open_sealed_bytea(keyring: &str, sealed_box: &[u8]) -> Result<OwnedBytea, ErrorReport> {
    Ok(OwnedBytea::copy_of(&open(keyring, sealed_box)?.1)?)
}
