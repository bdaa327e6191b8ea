//! Key types. Every secret lives in zeroizing memory, has no `Clone`, and
//! prints as a placeholder, so it cannot leak through logs or error text.

use std::fmt;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

use crate::{Error, Result};

/// Length of every symmetric key han_crypto uses (AES-256).
pub const KEY_LEN: usize = 32;

/// A 256-bit secret key, wiped from memory when dropped.
pub struct SecretKey(Zeroizing<[u8; KEY_LEN]>);

impl SecretKey {
    /// Wraps exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| Error::InvalidKeyLength(bytes.len()))?;
        Ok(Self(Zeroizing::new(arr)))
    }

    /// Parses 64 hexadecimal characters (surrounding whitespace ignored).
    /// The error never contains the input.
    pub fn from_hex(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.len() != 2 * KEY_LEN {
            return Err(Error::InvalidKeyHex);
        }
        let mut buf = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(text, &mut buf[..]).map_err(|_| Error::InvalidKeyHex)?;
        Ok(Self(buf))
    }

    /// 32 fresh bytes from the operating system's CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut buf = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(&mut buf[..])?;
        Ok(Self(buf))
    }

    /// Lowercase hex, in zeroizing memory (for writing a key file).
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(&self.0[..]))
    }

    /// The raw key bytes. Callers must not copy them into non-zeroizing memory.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Fills `buf` from the OS CSPRNG (getrandom). Never from a counter or a
/// per-process seed: backends fork, and a copied generator state repeats.
pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    SystemRandom::new().fill(buf).map_err(|_| Error::Rng)
}

const ROOT_CHECK_LABEL: &[u8] = b"han_crypto/v1/root-key-check";

/// The key-check value of a root key: HMAC-SHA256(root, fixed label).
///
/// Stored beside the data so that a different root key is recognised as
/// such instead of producing authentication failures on every row. It reveals
/// nothing about the key (a PRF output on a public label).
pub fn root_key_check_value(root: &SecretKey) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, root.expose());
    let tag = hmac::sign(&key, ROOT_CHECK_LABEL);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Constant-time check of a stored key-check value against `root`.
pub fn root_key_matches(root: &SecretKey, stored_check: &[u8]) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, root.expose());
    hmac::verify(&key, ROOT_CHECK_LABEL, stored_check).is_ok()
}

/// Zeroizes a byte buffer in place (re-exported for callers without zeroize).
pub fn wipe(buf: &mut [u8]) {
    buf.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejections() {
        let k = SecretKey::generate().unwrap();
        let h = k.to_hex();
        let k2 = SecretKey::from_hex(&format!("  {}\n", &*h)).unwrap();
        assert_eq!(k.expose(), k2.expose());
        assert_eq!(
            SecretKey::from_hex("abc").unwrap_err(),
            Error::InvalidKeyHex
        );
        let bad = "zz".repeat(32);
        assert_eq!(SecretKey::from_hex(&bad).unwrap_err(), Error::InvalidKeyHex);
        assert_eq!(
            SecretKey::from_bytes(&[0u8; 16]).unwrap_err(),
            Error::InvalidKeyLength(16)
        );
    }

    #[test]
    fn debug_and_errors_never_show_key_material() {
        let text = "ab".repeat(32);
        let k = SecretKey::from_hex(&text).unwrap();
        assert!(!format!("{k:?}").contains("ab"));
        let err = SecretKey::from_hex(&"ag".repeat(32))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("ag"));
    }

    #[test]
    fn key_check_value_distinguishes_keys() {
        let a = SecretKey::generate().unwrap();
        let b = SecretKey::generate().unwrap();
        let kcv = root_key_check_value(&a);
        assert!(root_key_matches(&a, &kcv));
        assert!(!root_key_matches(&b, &kcv));
        assert!(!root_key_matches(&a, &kcv[..31]));
    }
}
