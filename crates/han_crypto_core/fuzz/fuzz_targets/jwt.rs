//! JWT verification never panics, and never accepts a token not signed
//! with the secret.
#![no_main]
use han_crypto_core::jwt::{verify_hs256, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        let policy = Policy { now: 1_800_000_000, leeway: 0, principal_claim: "sub", max_lifetime: Some(86_400), audience: None, issuer: None };
        assert!(verify_hs256(token, b"fuzz secret the fuzzer cannot sign with", &policy).is_err());
    }
});
