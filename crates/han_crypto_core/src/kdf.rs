//! Key derivation. HKDF-SHA256 (RFC 5869, from ring) turns one high-entropy
//! key into independent keys per purpose; the password KDFs (Argon2id,
//! PBKDF2) arrive with passphrase keyrings.

use ring::hkdf;

use crate::keys::SecretKey;
use crate::{Error, Result};

/// Output length wrapper so ring's HKDF can fill any size up to 255 × 32.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256 extract-and-expand into `out`. `info` parts are concatenated.
/// Fails only when `out` is longer than 255 × 32 bytes (RFC 5869 §2.3).
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[&[u8]], out: &mut [u8]) -> Result<()> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let okm = prk
        .expand(info, Len(out.len()))
        .map_err(|_| Error::TooLarge(out.len()))?;
    okm.fill(out).map_err(|_| Error::TooLarge(out.len()))
}

const KEYRING_SALT: &[u8] = b"han_crypto/v1/keyring-key";

/// The data key of version `version` of a keyring whose key is derived from
/// the root key. Binding the keyring id and version into `info` makes every
/// (keyring, version) key independent: one leaking says nothing of another.
pub fn derive_keyring_key(root: &SecretKey, keyring_id: &[u8; 16], version: u32) -> SecretKey {
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    hkdf_sha256(
        root.expose(),
        KEYRING_SALT,
        &[keyring_id, &version.to_be_bytes()],
        &mut out[..],
    )
    .expect("32 bytes is within HKDF-SHA256's output limit");
    SecretKey::from_bytes(&out[..]).expect("32-byte buffer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_keys_are_independent_per_id_and_version() {
        let root = SecretKey::from_bytes(&[1; 32]).unwrap();
        let a1 = derive_keyring_key(&root, &[0xaa; 16], 1);
        let a2 = derive_keyring_key(&root, &[0xaa; 16], 2);
        let b1 = derive_keyring_key(&root, &[0xbb; 16], 1);
        let again = derive_keyring_key(&root, &[0xaa; 16], 1);
        assert_eq!(a1.expose(), again.expose());
        assert_ne!(a1.expose(), a2.expose());
        assert_ne!(a1.expose(), b1.expose());
    }
}
