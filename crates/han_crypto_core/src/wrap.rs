//! Key wrapping: a key encrypted under a key-encryption key with AES-256-GCM,
//! bound by its associated data to what it is and whose it is, so a wrapped
//! key moved to another keyring, version or purpose fails to unwrap.
//!
//! Wire form: nonce (12) ‖ ciphertext (32) ‖ tag (16) = 60 bytes. Random
//! 96-bit nonces are fine here: a key-encryption key wraps a handful of keys,
//! far below GCM's 2^32 bound.

use crate::aead::{aes256gcm_open, aes256gcm_seal, GCM_NONCE_LEN, TAG_LEN};
use crate::keys::{fill_random, SecretKey, KEY_LEN};
use crate::{Error, Result};

/// Length of a wrapped 32-byte key.
pub const WRAPPED_LEN: usize = GCM_NONCE_LEN + KEY_LEN + TAG_LEN;

/// What a wrapped key is, bound into its associated data.
#[derive(Debug, Clone, Copy)]
pub struct WrapContext<'a> {
    /// Role of the key, e.g. `keyring-secret`, `passphrase-data-key`.
    pub purpose: &'a str,
    /// Keyring it belongs to.
    pub keyring_id: [u8; 16],
    /// Version within the keyring.
    pub version: u32,
}

impl WrapContext<'_> {
    /// Canonical, unambiguous encoding (length-prefixed purpose).
    fn encode(&self) -> Vec<u8> {
        let mut ad = Vec::with_capacity(40 + self.purpose.len());
        ad.extend_from_slice(b"han_crypto/v1/wrap");
        ad.extend_from_slice(&(self.purpose.len() as u32).to_be_bytes());
        ad.extend_from_slice(self.purpose.as_bytes());
        ad.extend_from_slice(&self.keyring_id);
        ad.extend_from_slice(&self.version.to_be_bytes());
        ad
    }
}

/// Wraps `key` under `kek`.
pub fn wrap_key(kek: &SecretKey, key: &SecretKey, ctx: &WrapContext<'_>) -> Result<Vec<u8>> {
    let mut nonce = [0u8; GCM_NONCE_LEN];
    fill_random(&mut nonce)?;
    let sealed = aes256gcm_seal(kek.expose(), &nonce, &ctx.encode(), key.expose())?;
    let mut out = Vec::with_capacity(WRAPPED_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Unwraps a key; [`Error::AuthenticationFailed`] for a wrong KEK (such as a
/// wrong passphrase), a different context, or altered bytes.
pub fn unwrap_key(kek: &SecretKey, wrapped: &[u8], ctx: &WrapContext<'_>) -> Result<SecretKey> {
    if wrapped.len() != WRAPPED_LEN {
        return Err(Error::AuthenticationFailed);
    }
    let (nonce, body) = wrapped.split_at(GCM_NONCE_LEN);
    let plain = aes256gcm_open(kek.expose(), nonce, &ctx.encode(), body)?;
    SecretKey::from_bytes(&plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_keys_are_bound_to_their_context() {
        let kek = SecretKey::generate().unwrap();
        let key = SecretKey::generate().unwrap();
        let ctx = WrapContext {
            purpose: "keyring-secret",
            keyring_id: [1; 16],
            version: 1,
        };
        let w = wrap_key(&kek, &key, &ctx).unwrap();
        assert_eq!(w.len(), WRAPPED_LEN);
        assert_eq!(unwrap_key(&kek, &w, &ctx).unwrap().expose(), key.expose());
        for other in [
            WrapContext {
                purpose: "passphrase-data-key",
                ..ctx
            },
            WrapContext {
                keyring_id: [2; 16],
                ..ctx
            },
            WrapContext { version: 2, ..ctx },
        ] {
            assert_eq!(
                unwrap_key(&kek, &w, &other).unwrap_err(),
                Error::AuthenticationFailed
            );
        }
        let wrong = SecretKey::generate().unwrap();
        assert_eq!(
            unwrap_key(&wrong, &w, &ctx).unwrap_err(),
            Error::AuthenticationFailed
        );
        assert_eq!(
            unwrap_key(&kek, &w[..59], &ctx).unwrap_err(),
            Error::AuthenticationFailed
        );
    }
}
