//! Sealed boxes: write-only public-key encryption for writers who must not
//! read. HPKE base mode (RFC 9180) with DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256 and AES-256-GCM, from the `hpke` crate; X25519 from
//! x25519-dalek (ring cannot load a stored private key).
//!
//! Wire form (all of the first 56 bytes are the AEAD's associated data):
//!
//! ```text
//! magic 0x89 'H' 'C' 'S' (4) ‖ version 1 (1) ‖ suite 1 (1) ‖ content type (1)
//! ‖ flags 0 (1) ‖ recipient key id (16) ‖ enc (32) ‖ ciphertext ‖ tag (16)
//! ```
//!
//! The recipient key id is the first 16 bytes of SHA-256(public key): it
//! picks the private key, so opening never tries keys in turn.

use hpke::aead::{AeadTag, AesGcm256};
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

use crate::buffer;
use crate::envelope::ContentType;
use crate::keys::SecretKey;
use crate::{Error, Result};

/// First bytes of every sealed box.
pub const MAGIC: [u8; 4] = [0x89, b'H', b'C', b'S'];
/// Header length, including `enc`.
pub const HEADER_LEN: usize = 56;
const TAG_LEN: usize = 16;
const INFO: &[u8] = b"han_crypto sealed box v1";

/// Identifies a recipient public key: SHA-256(public key)[..16].
pub fn key_id(public: &[u8; 32]) -> [u8; 16] {
    let d = ring::digest::digest(&ring::digest::SHA256, public);
    let mut id = [0u8; 16];
    id.copy_from_slice(&d.as_ref()[..16]);
    id
}

/// A fresh X25519 key pair: (private key, public key).
pub fn generate_keypair() -> Result<(SecretKey, [u8; 32])> {
    let sk = SecretKey::generate()?;
    let secret = x25519_dalek::StaticSecret::from(*sk.expose());
    let public = x25519_dalek::PublicKey::from(&secret);
    Ok((sk, public.to_bytes()))
}

/// X25519 shared secret, refusing low-order inputs (RFC 7748 §6.1: an
/// all-zero result means the peer's key carried no contribution).
pub fn x25519(private: &[u8; 32], public: &[u8; 32]) -> Result<[u8; 32]> {
    let secret = x25519_dalek::StaticSecret::from(*private);
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*public));
    if !shared.was_contributory() {
        return Err(Error::BadPublicKey(
            "X25519 public key has low order (all-zero shared secret)",
        ));
    }
    Ok(shared.to_bytes())
}

/// Seals `plaintext` to `public_key` (32 bytes).
pub fn seal(public_key: &[u8], content: ContentType, plaintext: &[u8]) -> Result<Vec<u8>> {
    let pk: [u8; 32] = public_key
        .try_into()
        .map_err(|_| Error::BadPublicKey("public key must be 32 bytes"))?;
    let pk_r = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&pk)
        .map_err(|_| Error::BadPublicKey("public key is not a valid X25519 key"))?;
    let mut out = buffer::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN)?;
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[1, 1, content as u8, 0]);
    out.extend_from_slice(&key_id(&pk));
    let (enc, mut ctx) =
        hpke::setup_sender::<AesGcm256, HkdfSha256, X25519HkdfSha256>(&OpModeS::Base, &pk_r, INFO)
            .map_err(|_| Error::BadPublicKey("public key has low order"))?;
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(plaintext);
    let (header, body) = out.split_at_mut(HEADER_LEN);
    let tag = ctx
        .seal_inout_detached(body.into(), header)
        .map_err(|_| Error::TooLarge(plaintext.len()))?;
    out.extend_from_slice(&tag.to_bytes());
    Ok(out)
}

/// The recipient key id a sealed box names, after structural checks.
pub fn recipient(sealed: &[u8]) -> Result<[u8; 16]> {
    if sealed.len() < 4 || sealed[..4] != MAGIC {
        return Err(Error::NotAnEnvelope);
    }
    if sealed.len() < HEADER_LEN + 16 {
        return Err(Error::Truncated {
            expected: HEADER_LEN + 16,
            actual: sealed.len(),
        });
    }
    if sealed[4] != 1 {
        return Err(Error::UnsupportedVersion(sealed[4]));
    }
    if sealed[5] != 1 {
        return Err(Error::UnsupportedAlgorithm(sealed[5]));
    }
    if ContentType::from_id(sealed[6]).is_none() || sealed[7] != 0 {
        return Err(Error::MalformedHeader("unknown content type or flags"));
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&sealed[8..24]);
    Ok(id)
}

/// Opens a sealed box with the recipient's private key.
pub fn open(private: &SecretKey, sealed: &[u8]) -> Result<(ContentType, Zeroizing<Vec<u8>>)> {
    recipient(sealed)?;
    let content = ContentType::from_id(sealed[6]).expect("checked by recipient()");
    let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(private.expose())
        .map_err(|_| Error::AuthenticationFailed)?;
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&sealed[24..HEADER_LEN])
        .map_err(|_| Error::AuthenticationFailed)?;
    let mut ctx = hpke::setup_receiver::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk,
        &enc,
        INFO,
    )
    .map_err(|_| Error::AuthenticationFailed)?;
    let (body, tag) = sealed[HEADER_LEN..].split_at(sealed.len() - HEADER_LEN - TAG_LEN);
    let tag = AeadTag::<AesGcm256>::from_bytes(tag).map_err(|_| Error::AuthenticationFailed)?;
    let mut plain = Zeroizing::new(buffer::copy_of(body)?);
    ctx.open_inout_detached((&mut plain[..]).into(), &sealed[..HEADER_LEN], &tag)
        .map_err(|_| Error::AuthenticationFailed)?;
    Ok((content, plain))
}

/// The public key of a private key.
pub fn public_key(private: &SecretKey) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*private.expose())).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_and_misuse() {
        let (sk, pk) = generate_keypair().unwrap();
        let boxed = seal(&pk, ContentType::Text, b"write-only note").unwrap();
        assert_eq!(recipient(&boxed).unwrap(), key_id(&pk));
        let (ct, plain) = open(&sk, &boxed).unwrap();
        assert_eq!(
            (ct, &plain[..]),
            (ContentType::Text, &b"write-only note"[..])
        );
        let (other, _) = generate_keypair().unwrap();
        assert_eq!(
            open(&other, &boxed).unwrap_err(),
            Error::AuthenticationFailed
        );
        // A modified enc, and enc swapped between two boxes, both fail.
        let mut bad = boxed.clone();
        bad[30] ^= 1;
        assert!(open(&sk, &bad).is_err());
        let second = seal(&pk, ContentType::Text, b"another").unwrap();
        let mut swapped = boxed.clone();
        swapped[24..56].copy_from_slice(&second[24..56]);
        assert!(open(&sk, &swapped).is_err());
        // The content type is authenticated.
        let mut retyped = boxed.clone();
        retyped[6] = 0;
        assert!(open(&sk, &retyped).is_err());
        assert!(
            seal(&[0u8; 32], ContentType::Text, b"x").is_err(),
            "low-order key"
        );
        assert!(seal(&[1u8; 31], ContentType::Text, b"x").is_err());
    }
}
