//! Password-based key derivation: Argon2id (RFC 9106) and PBKDF2-HMAC-SHA256
//! (RFC 8018), with a policy checked *before* any work or allocation.
//!
//! Parameters are stored beside the keys they protect, so a writer of the
//! catalog controls them: too weak is a downgrade, too strong a denial of
//! service (argon2 would try to allocate up to 4 TiB, and a failed
//! allocation aborts the whole PostgreSQL backend). [`KdfLimits`] bounds both
//! ways, and Argon2's memory is reserved fallibly so exhaustion is an error.

use std::num::NonZeroU32;

use argon2::{Algorithm, Argon2, Block, ParamsBuilder, Version};
use serde_json::{json, Value};

use crate::{Error, Result};

/// Length of the salts han_crypto generates (128 bits, RFC 9106 §3.1).
pub const SALT_LEN: usize = 16;

/// A password KDF and its cost parameters, as stored with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KdfSpec {
    /// Argon2id v1.3: memory in KiB, iterations, lanes.
    Argon2id { m_kib: u32, t: u32, p: u32 },
    /// PBKDF2-HMAC-SHA256 with this many iterations.
    Pbkdf2Sha256 { iterations: u32 },
}

/// The bounds stored parameters must lie within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfLimits {
    /// Argon2id memory ceiling in KiB.
    pub argon2_max_m_kib: u32,
    /// Argon2id iteration ceiling.
    pub argon2_max_t: u32,
    /// Argon2id lane ceiling.
    pub argon2_max_p: u32,
    /// PBKDF2 iteration ceiling.
    pub pbkdf2_max_iterations: u32,
}

impl Default for KdfLimits {
    fn default() -> Self {
        Self {
            argon2_max_m_kib: 256 * 1024,
            argon2_max_t: 10,
            argon2_max_p: 8,
            pbkdf2_max_iterations: 10_000_000,
        }
    }
}

/// Floors: OWASP's Argon2id minimum (19 MiB, t=2, p=1, or equivalents with
/// more memory) and PBKDF2-HMAC-SHA256's 600,000 iterations.
pub const ARGON2_MIN_M_KIB: u32 = 19 * 1024;
/// Minimum Argon2id iterations.
pub const ARGON2_MIN_T: u32 = 1;
/// Minimum PBKDF2-HMAC-SHA256 iterations (OWASP).
pub const PBKDF2_MIN_ITERATIONS: u32 = 600_000;

impl KdfSpec {
    /// OWASP's recommended Argon2id floor: m = 19 MiB, t = 2, p = 1 (~25 ms here).
    pub const ARGON2ID_DEFAULT: KdfSpec = KdfSpec::Argon2id {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };
    /// PBKDF2-HMAC-SHA256 at OWASP's 600,000 iterations (~100 ms here).
    pub const PBKDF2_DEFAULT: KdfSpec = KdfSpec::Pbkdf2Sha256 {
        iterations: 600_000,
    };

    /// Checks floors and ceilings. Runs before any derivation.
    pub fn check(&self, limits: &KdfLimits) -> Result<()> {
        match *self {
            KdfSpec::Argon2id { m_kib, t, p } => {
                if m_kib < ARGON2_MIN_M_KIB
                    || t < ARGON2_MIN_T
                    || p < 1
                    || (m_kib < 46 * 1024 && t < 2)
                {
                    return Err(Error::KdfPolicy("Argon2id parameters are below the policy floor (m >= 19 MiB with t >= 2, or m >= 46 MiB)"));
                }
                if m_kib > limits.argon2_max_m_kib
                    || t > limits.argon2_max_t
                    || p > limits.argon2_max_p
                {
                    return Err(Error::KdfPolicy(
                        "Argon2id parameters exceed the configured ceiling",
                    ));
                }
                if m_kib < 8 * p {
                    return Err(Error::KdfPolicy(
                        "Argon2id memory must be at least 8 KiB per lane",
                    ));
                }
            }
            KdfSpec::Pbkdf2Sha256 { iterations } => {
                if iterations < PBKDF2_MIN_ITERATIONS {
                    return Err(Error::KdfPolicy(
                        "PBKDF2 iterations are below the policy floor of 600000",
                    ));
                }
                if iterations > limits.pbkdf2_max_iterations {
                    return Err(Error::KdfPolicy(
                        "PBKDF2 iterations exceed the configured ceiling",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks the policy, then derives `out` from `password` and `salt`.
    pub fn derive(
        &self,
        password: &[u8],
        salt: &[u8],
        limits: &KdfLimits,
        out: &mut [u8],
    ) -> Result<()> {
        self.check(limits)?;
        if salt.len() < SALT_LEN {
            return Err(Error::KdfPolicy("salt is shorter than 16 bytes"));
        }
        match *self {
            KdfSpec::Argon2id { m_kib, t, p } => {
                argon2id(password, salt, &[], &[], m_kib, t, p, out)
            }
            KdfSpec::Pbkdf2Sha256 { iterations } => pbkdf2_sha256(password, salt, iterations, out),
        }
    }

    /// Stored form: `{"alg": "argon2id", "m_kib": …, "t": …, "p": …}` or
    /// `{"alg": "pbkdf2-sha256", "iterations": …}`.
    pub fn to_json(&self) -> Value {
        match *self {
            KdfSpec::Argon2id { m_kib, t, p } => {
                json!({"alg": "argon2id", "m_kib": m_kib, "t": t, "p": p})
            }
            KdfSpec::Pbkdf2Sha256 { iterations } => {
                json!({"alg": "pbkdf2-sha256", "iterations": iterations})
            }
        }
    }

    /// Parses the stored form strictly (no policy check: see [`KdfSpec::check`]).
    pub fn from_json(v: &Value) -> Result<Self> {
        let bad = || Error::KdfPolicy("stored KDF parameters are malformed");
        let num = |k: &str| {
            v.get(k)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(bad)
        };
        match v.get("alg").and_then(Value::as_str) {
            Some("argon2id") => Ok(KdfSpec::Argon2id {
                m_kib: num("m_kib")?,
                t: num("t")?,
                p: num("p")?,
            }),
            Some("pbkdf2-sha256") => Ok(KdfSpec::Pbkdf2Sha256 {
                iterations: num("iterations")?,
            }),
            _ => Err(bad()),
        }
    }

    /// Looks up a KDF by the name SQL callers use.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "argon2id" => Some(Self::ARGON2ID_DEFAULT),
            "pbkdf2-sha256" | "pbkdf2" => Some(Self::PBKDF2_DEFAULT),
            _ => None,
        }
    }
}

/// Raw Argon2id v1.3 with optional secret and associated data (RFC 9106).
/// No policy: callers go through [`KdfSpec::derive`]; tests use it for KATs.
/// Memory is reserved fallibly: exhaustion is [`Error::OutOfMemory`].
#[allow(clippy::too_many_arguments)]
pub fn argon2id(
    password: &[u8],
    salt: &[u8],
    secret: &[u8],
    ad: &[u8],
    m_kib: u32,
    t: u32,
    p: u32,
    out: &mut [u8],
) -> Result<()> {
    let invalid = |_| Error::KdfPolicy("Argon2id parameters are invalid");
    let mut builder = ParamsBuilder::new();
    builder
        .m_cost(m_kib)
        .t_cost(t)
        .p_cost(p)
        .output_len(out.len());
    if !ad.is_empty() {
        builder.data(argon2::AssociatedData::new(ad).map_err(invalid)?);
    }
    let params = builder.build().map_err(invalid)?;
    let argon = if secret.is_empty() {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
    } else {
        Argon2::new_with_secret(secret, Algorithm::Argon2id, Version::V0x13, params.clone())
            .map_err(invalid)?
    };
    let mut blocks: Vec<Block> = Vec::new();
    blocks
        .try_reserve_exact(params.block_count())
        .map_err(|_| Error::OutOfMemory(u64::from(m_kib) * 1024))?;
    blocks.resize(params.block_count(), Block::default());
    let r = argon
        .hash_password_into_with_memory(password, salt, out, &mut blocks)
        .map_err(invalid);
    // The blocks hold password-derived state.
    for b in blocks.iter_mut() {
        *b = Block::default();
    }
    r
}

/// Raw PBKDF2-HMAC-SHA256 (ring). No policy: see [`KdfSpec::derive`].
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) -> Result<()> {
    let n = NonZeroU32::new(iterations)
        .ok_or(Error::KdfPolicy("PBKDF2 needs at least one iteration"))?;
    ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, n, salt, password, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_weak_and_huge_parameters_before_work() {
        let limits = KdfLimits::default();
        assert!(KdfSpec::ARGON2ID_DEFAULT.check(&limits).is_ok());
        assert!(KdfSpec::PBKDF2_DEFAULT.check(&limits).is_ok());
        assert!(KdfSpec::Argon2id {
            m_kib: 8,
            t: 1,
            p: 1
        }
        .check(&limits)
        .is_err());
        // 4 GiB from a tampered catalog row: refused without allocating.
        let huge = KdfSpec::Argon2id {
            m_kib: 4 * 1024 * 1024,
            t: 3,
            p: 4,
        };
        let mut out = [0u8; 32];
        assert_eq!(
            huge.derive(b"pw", &[0; 16], &limits, &mut out).unwrap_err(),
            Error::KdfPolicy("Argon2id parameters exceed the configured ceiling")
        );
        assert!(KdfSpec::Pbkdf2Sha256 { iterations: 1000 }
            .check(&limits)
            .is_err());
    }

    #[test]
    fn stored_form_round_trips_and_rejects_garbage() {
        for spec in [KdfSpec::ARGON2ID_DEFAULT, KdfSpec::PBKDF2_DEFAULT] {
            assert_eq!(KdfSpec::from_json(&spec.to_json()).unwrap(), spec);
        }
        assert!(KdfSpec::from_json(&json!({"alg": "scrypt"})).is_err());
        assert!(
            KdfSpec::from_json(&json!({"alg": "argon2id", "m_kib": -1, "t": 1, "p": 1})).is_err()
        );
    }
}
