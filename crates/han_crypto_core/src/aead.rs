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
//!   messages at a collision probability of 2^-32. Built exactly as the spec
//!   composes it: the NIST SP 800-108r1 CMAC-based subkey derivation from the
//!   `aes` block cipher, then ring's AES-256-GCM; checked against the C2SP
//!   vectors in tests/xaes_c2sp.rs.
//!
//! A failed open never yields partial plaintext: RustCrypto verifies the tag
//! before decrypting, ring zeroes its output on failure, and han_crypto wipes
//! the buffer again either way.

use aes::cipher::BlockCipherEncrypt;
use aes::Aes256;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use ring::aead::{Aad, LessSafeKey, UnboundKey, AES_256_GCM};
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

/// An XAES-256-GCM key, expanded once and reused for many messages. The
/// AES key schedule is zeroized on drop (`aes` with its `zeroize` feature).
pub struct XaesKey {
    aes: Aes256,
    /// K1 of the spec: L = AES-256_K(0^128) doubled in GF(2^128).
    k1: Zeroizing<[u8; 16]>,
}

impl XaesKey {
    /// Expands `key` for repeated use (spec steps 1 and 2).
    pub fn new(key: &SecretKey) -> Self {
        let aes = Aes256::new_from_slice(key.expose()).expect("a SecretKey is always 32 bytes");
        let mut l = aes::Block::default();
        aes.encrypt_block(&mut l);
        let mut k1 = Zeroizing::new([0u8; 16]);
        let mut carry = 0u8;
        for i in (0..16).rev() {
            k1[i] = (l[i] << 1) | carry;
            carry = l[i] >> 7;
        }
        // Constant-time conditional reduction by x^128 + x^7 + x^2 + x + 1.
        k1[15] ^= 0x87 & 0u8.wrapping_sub(carry);
        l.as_mut_slice().zeroize();
        Self { aes, k1 }
    }

    /// The per-message AES-256-GCM key for nonce half `n1` (spec steps 3-5):
    /// AES_K(M1 xor K1) || AES_K(M2 xor K1), M_i = 0x00 || i || 'X' || 0x00 || N[:12].
    fn subkey(&self, n1: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        for (i, half) in out.chunks_exact_mut(16).enumerate() {
            let mut block = aes::Block::default();
            block[..4].copy_from_slice(&[0, i as u8 + 1, b'X', 0]);
            block[4..].copy_from_slice(n1);
            for (b, k) in block.iter_mut().zip(self.k1.iter()) {
                *b ^= k;
            }
            self.aes.encrypt_block(&mut block);
            half.copy_from_slice(&block);
            block.as_mut_slice().zeroize();
        }
        out
    }

    fn message_key(&self, nonce: &[u8; XAES_NONCE_LEN]) -> (LessSafeKey, ring::aead::Nonce) {
        let (n1, n2) = nonce.split_at(12);
        let subkey = self.subkey(n1);
        let key =
            LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &subkey[..]).expect("32-byte key"));
        let n2: [u8; 12] = n2.try_into().expect("24-byte nonce");
        (key, ring::aead::Nonce::assume_unique_for_key(n2))
    }

    /// Encrypts `buf` in place and returns the tag.
    pub fn seal_in_place(
        &self,
        nonce: &[u8; XAES_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let (key, n) = self.message_key(nonce);
        let len = buf.len();
        let tag = key
            .seal_in_place_separate_tag(n, Aad::from(aad), buf)
            .map_err(|_| Error::TooLarge(len))?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Verifies `tag` and decrypts `buf` in place. On failure `buf` is wiped.
    pub fn open_in_place(
        &self,
        nonce: &[u8; XAES_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        let (key, n) = self.message_key(nonce);
        let tag = ring::aead::Tag::from(*tag);
        if key
            .open_in_place_separate_tag(n, Aad::from(aad), tag, buf, 0..)
            .is_err()
        {
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
                Error::InvalidNonceLength {
                    expected: 12,
                    actual: nlen
                }
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
