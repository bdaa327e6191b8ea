//! Authenticated encryption primitives, composed only from RustCrypto's
//! audited AES-GCM implementations.
//!
//! * [`aes256gcm_seal`] / [`aes256gcm_open`]: plain AES-256-GCM with a 96-bit
//!   nonce, for key wrapping and for checking the implementation against the
//!   Wycheproof vectors. Any other key or nonce length is refused: GCM with
//!   non-96-bit IVs goes through GHASH and has a history of broken
//!   implementations, so that code path simply does not exist here.
//! * [`XaesKey`]: XAES-256-GCM (C2SP), the envelope cipher. Its 192-bit random
//!   nonce derives a fresh AES-256-GCM subkey per message, which lifts the
//!   NIST SP 800-38D limit of 2^32 random-nonce messages per key to about 2^80
//!   messages at a collision probability of 2^-32.
//!
//! Decryption checks the tag before producing any plaintext (RustCrypto
//! computes GHASH over the ciphertext first), and the buffer is wiped on
//! failure, so a failed open never yields partial plaintext.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use xaes_256_gcm::Xaes256Gcm;
use zeroize::{Zeroize, Zeroizing};

use crate::keys::{SecretKey, KEY_LEN};
use crate::{Error, Result};

/// AES-GCM nonce length accepted by [`aes256gcm_seal`] (96 bits).
pub const GCM_NONCE_LEN: usize = 12;
/// XAES-256-GCM nonce length (192 bits).
pub const XAES_NONCE_LEN: usize = 24;
/// Authentication tag length for both algorithms (128 bits).
pub const TAG_LEN: usize = 16;

fn gcm_cipher(key: &[u8]) -> Result<Aes256Gcm> {
    if key.len() != KEY_LEN {
        return Err(Error::InvalidKeyLength(key.len()));
    }
    Aes256Gcm::new_from_slice(key).map_err(|_| Error::InvalidKeyLength(key.len()))
}

fn gcm_nonce(nonce: &[u8]) -> Result<Nonce<aes_gcm::aead::consts::U12>> {
    Nonce::try_from(nonce).map_err(|_| Error::InvalidNonceLength {
        expected: GCM_NONCE_LEN,
        actual: nonce.len(),
    })
}

/// AES-256-GCM encryption: returns `ciphertext ‖ tag`.
pub fn aes256gcm_seal(key: &[u8], nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let cipher = gcm_cipher(key)?;
    let nonce = gcm_nonce(nonce)?;
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad, out.as_mut_slice().into())
        .map_err(|_| Error::TooLarge(plaintext.len()))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// AES-256-GCM decryption of `ciphertext ‖ tag`. All or nothing.
pub fn aes256gcm_open(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ciphertext_and_tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let cipher = gcm_cipher(key)?;
    let nonce = gcm_nonce(nonce)?;
    let body_len = ciphertext_and_tag
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(Error::AuthenticationFailed)?;
    let (body, tag) = ciphertext_and_tag.split_at(body_len);
    let tag = Tag::try_from(tag).map_err(|_| Error::AuthenticationFailed)?;
    let mut out = Zeroizing::new(body.to_vec());
    match cipher.decrypt_inout_detached(&nonce, aad, out.as_mut_slice().into(), &tag) {
        Ok(()) => Ok(out),
        Err(_) => Err(Error::AuthenticationFailed), // `out` is wiped on drop
    }
}

/// An XAES-256-GCM key, expanded once and reused for many messages.
/// The expanded AES key schedule is zeroized on drop by the crate.
pub struct XaesKey(Xaes256Gcm);

impl XaesKey {
    /// Expands `key` for repeated use.
    pub fn new(key: &SecretKey) -> Self {
        // Built straight from the borrowed key bytes: no stray copy to wipe.
        Self(Xaes256Gcm::new_from_slice(key.expose()).expect("a SecretKey is always 32 bytes"))
    }

    /// Encrypts `buf` in place and returns the tag.
    pub fn seal_in_place(
        &self,
        nonce: &[u8; XAES_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let n = xaes_256_gcm::Nonce::from(*nonce);
        let len = buf.len();
        let tag = self
            .0
            .encrypt_inout_detached(&n, aad, buf.into())
            .map_err(|_| Error::TooLarge(len))?;
        Ok(tag.into())
    }

    /// Verifies `tag` and decrypts `buf` in place. On failure `buf` is wiped.
    pub fn open_in_place(
        &self,
        nonce: &[u8; XAES_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        let n = xaes_256_gcm::Nonce::from(*nonce);
        let t = xaes_256_gcm::Tag::from(*tag);
        if self.0.decrypt_inout_detached(&n, aad, (&mut *buf).into(), &t).is_err() {
            buf.zeroize();
            return Err(Error::AuthenticationFailed);
        }
        Ok(())
    }
}

impl std::fmt::Debug for XaesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("XaesKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_other_key_and_nonce_lengths() {
        for klen in [0usize, 16, 24, 31, 33, 64] {
            let key = vec![7u8; klen];
            assert_eq!(
                aes256gcm_seal(&key, &[0; 12], b"", b"x").unwrap_err(),
                Error::InvalidKeyLength(klen)
            );
        }
        for nlen in [0usize, 1, 8, 11, 13, 16, 24, 128] {
            let nonce = vec![0u8; nlen];
            assert_eq!(
                aes256gcm_seal(&[1; 32], &nonce, b"", b"x").unwrap_err(),
                Error::InvalidNonceLength { expected: 12, actual: nlen }
            );
        }
    }

    #[test]
    fn failed_open_wipes_buffer() {
        let key = XaesKey::new(&SecretKey::from_bytes(&[9; 32]).unwrap());
        let nonce = [3u8; XAES_NONCE_LEN];
        let mut buf = b"attack at dawn".to_vec();
        let tag = key.seal_in_place(&nonce, b"ctx", &mut buf).unwrap();
        let mut bad = buf.clone();
        assert!(key.open_in_place(&nonce, b"other", &mut bad, &tag).is_err());
        assert!(bad.iter().all(|&b| b == 0));
        key.open_in_place(&nonce, b"ctx", &mut buf, &tag).unwrap();
        assert_eq!(buf, b"attack at dawn");
    }
}
