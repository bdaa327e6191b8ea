//! Signed checkpoints: an Ed25519 signature over the chain head at a
//! sequence number. Checkpoints form a chain of their own (each names the
//! digest of the one before), so a removed or replayed checkpoint shows.
//!
//! ```text
//! msg    = "han_crypto audit v1 checkpoint\0" ‖ chain_id ‖ u64 n ‖ u64 seq
//!          ‖ head(32) ‖ i64 ts_us ‖ prev_digest(32) ‖ key_id(8)
//! sig    = Ed25519(signing key, msg)
//! digest = SHA-256(msg ‖ sig)          (the next checkpoint's prev_digest)
//! prev_digest of checkpoint 1 = SHA-256("han_crypto audit v1 checkpoints\0" ‖ chain_id)
//! ```
//!
//! The signing key is derived from the root key (HKDF-SHA256, salt the chain
//! id), so it is never stored and never passes through SQL; the public key is
//! all a verifier needs.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde_json::{json, Value as Json};
use zeroize::Zeroizing;

use super::chain::{sha256, ChainId, Hash};
use super::AuditError;

const CHECKPOINT_LABEL: &[u8] = b"han_crypto audit v1 checkpoint\0";
const FIRST_PREV_LABEL: &[u8] = b"han_crypto audit v1 checkpoints\0";
const SIGNING_INFO: &[u8] = b"han_crypto/v1/audit-signing";

/// The first 8 bytes of SHA-256 of a public key: names the key that signed.
pub type KeyId = [u8; 8];

/// One signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// 1, 2, 3, … without gaps.
    pub n: u64,
    /// The last event the checkpoint covers.
    pub seq: u64,
    /// The chain hash after event `seq`.
    pub head: Hash,
    pub ts_us: i64,
    pub prev_digest: Hash,
    pub key_id: KeyId,
    pub signature: [u8; 64],
}

impl Checkpoint {
    /// The signed message.
    pub fn message(&self, chain_id: &ChainId) -> Vec<u8> {
        message(
            chain_id,
            self.n,
            self.seq,
            &self.head,
            self.ts_us,
            &self.prev_digest,
            &self.key_id,
        )
    }

    /// What the next checkpoint's `prev_digest` must be.
    pub fn digest(&self, chain_id: &ChainId) -> Hash {
        sha256(&[&self.message(chain_id), &self.signature])
    }

    /// JSON form (hex for every byte string), as exported and logged.
    pub fn to_json(&self) -> Json {
        json!({
            "n": self.n,
            "seq": self.seq,
            "head": hex::encode(self.head),
            "ts_us": self.ts_us,
            "prev_digest": hex::encode(self.prev_digest),
            "key_id": hex::encode(self.key_id),
            "signature": hex::encode(self.signature),
        })
    }

    /// Inverse of [`Checkpoint::to_json`]; unknown keys are an error.
    pub fn from_json(json: &Json) -> Result<Checkpoint, AuditError> {
        let bad = |why: &str| AuditError::Malformed(format!("checkpoint JSON: {why}"));
        let obj = json.as_object().ok_or_else(|| bad("not an object"))?;
        const KEYS: [&str; 7] = [
            "n",
            "seq",
            "head",
            "ts_us",
            "prev_digest",
            "key_id",
            "signature",
        ];
        if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(AuditError::Malformed(format!(
                "checkpoint JSON: unknown key {k:?}"
            )));
        }
        let uint = |k: &str| obj.get(k).and_then(Json::as_u64).ok_or_else(|| bad(k));
        let bytes = |k: &str| -> Result<Vec<u8>, AuditError> {
            obj.get(k)
                .and_then(Json::as_str)
                .and_then(|s| hex::decode(s).ok())
                .ok_or_else(|| bad(k))
        };
        Ok(Checkpoint {
            n: uint("n")?,
            seq: uint("seq")?,
            head: fixed(bytes("head")?).ok_or_else(|| bad("head"))?,
            ts_us: obj
                .get("ts_us")
                .and_then(Json::as_i64)
                .ok_or_else(|| bad("ts_us"))?,
            prev_digest: fixed(bytes("prev_digest")?).ok_or_else(|| bad("prev_digest"))?,
            key_id: fixed(bytes("key_id")?).ok_or_else(|| bad("key_id"))?,
            signature: fixed(bytes("signature")?).ok_or_else(|| bad("signature"))?,
        })
    }
}

fn fixed<const N: usize>(v: Vec<u8>) -> Option<[u8; N]> {
    v.try_into().ok()
}

fn message(
    chain_id: &ChainId,
    n: u64,
    seq: u64,
    head: &Hash,
    ts_us: i64,
    prev_digest: &Hash,
    key_id: &KeyId,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(CHECKPOINT_LABEL.len() + 16 + 8 * 3 + 32 * 2 + 8);
    m.extend_from_slice(CHECKPOINT_LABEL);
    m.extend_from_slice(chain_id);
    m.extend_from_slice(&n.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(head);
    m.extend_from_slice(&ts_us.to_be_bytes());
    m.extend_from_slice(prev_digest);
    m.extend_from_slice(key_id);
    m
}

/// `prev_digest` of checkpoint 1: binds the first checkpoint to its chain.
pub fn first_prev_digest(chain_id: &ChainId) -> Hash {
    sha256(&[FIRST_PREV_LABEL, chain_id])
}

/// The public half: all that verification needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditPublicKey(VerifyingKey);

impl AuditPublicKey {
    /// From the 32-byte Ed25519 public key.
    pub fn from_bytes(bytes: &[u8]) -> Result<AuditPublicKey, AuditError> {
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| AuditError::Malformed("public key is not 32 bytes".into()))?;
        VerifyingKey::from_bytes(&bytes)
            .map(AuditPublicKey)
            .map_err(|_| AuditError::Malformed("public key is not a curve point".into()))
    }

    /// From 64 hexadecimal digits.
    pub fn from_hex(text: &str) -> Result<AuditPublicKey, AuditError> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| AuditError::Malformed("public key is not hexadecimal".into()))?;
        AuditPublicKey::from_bytes(&bytes)
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// The id checkpoints carry to name this key.
    pub fn key_id(&self) -> KeyId {
        sha256(&[&self.to_bytes()])[..8]
            .try_into()
            .expect("8 bytes")
    }

    /// Whether `cp` carries a valid signature by this key (strict RFC 8032
    /// verification: no malleable or small-order signatures).
    pub fn verifies(&self, chain_id: &ChainId, cp: &Checkpoint) -> bool {
        if cp.key_id != self.key_id() {
            return false;
        }
        let sig = ed25519_dalek::Signature::from_bytes(&cp.signature);
        self.0.verify_strict(&cp.message(chain_id), &sig).is_ok()
    }
}

impl AuditPublicKey {
    /// Whether `signature` is this key's over `message` (strict, as above).
    pub fn verifies_message(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.0.verify_strict(message, &sig).is_ok()
    }
}

/// The signing half. Zeroized on drop (ed25519-dalek's `zeroize` feature).
pub struct AuditSigningKey(SigningKey);

impl std::fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditSigningKey(..)")
    }
}

impl AuditSigningKey {
    /// Derives the signing key of `chain_id`, key `version`, from the root
    /// key, so that it needs no storage of its own.
    pub fn derive(
        root_key: &crate::keys::SecretKey,
        chain_id: &ChainId,
        version: u32,
    ) -> Result<AuditSigningKey, AuditError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        crate::kdf::hkdf_sha256(
            root_key.expose(),
            chain_id,
            &[SIGNING_INFO, &version.to_be_bytes()],
            seed.as_mut(),
        )
        .map_err(|_| AuditError::Malformed("signing key derivation failed".into()))?;
        Ok(AuditSigningKey(SigningKey::from_bytes(&seed)))
    }

    /// From a raw 32-byte Ed25519 seed (tests and the RFC 8032 vectors).
    pub fn from_seed(seed: &[u8; 32]) -> AuditSigningKey {
        AuditSigningKey(SigningKey::from_bytes(seed))
    }

    pub fn public_key(&self) -> AuditPublicKey {
        AuditPublicKey(self.0.verifying_key())
    }

    /// Signs an arbitrary message (used by the RFC 8032 vector test).
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// Makes checkpoint `n` over the chain head `head` at `seq`.
    pub fn checkpoint(
        &self,
        chain_id: &ChainId,
        n: u64,
        seq: u64,
        head: Hash,
        ts_us: i64,
        prev_digest: Hash,
    ) -> Checkpoint {
        let key_id = self.public_key().key_id();
        let msg = message(chain_id, n, seq, &head, ts_us, &prev_digest, &key_id);
        Checkpoint {
            n,
            seq,
            head,
            ts_us,
            prev_digest,
            key_id,
            signature: self.sign_bytes(&msg),
        }
    }
}
