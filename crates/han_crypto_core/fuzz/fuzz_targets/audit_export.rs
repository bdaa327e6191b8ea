//! The export reader never panics, loops or over-allocates, whatever bytes
//! it is given (the CLI reads files an attacker may have written).
#![no_main]
use han_crypto_core::audit::export::verify_export;
use han_crypto_core::audit::AuditSigningKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = AuditSigningKey::from_seed(&[3u8; 32]).public_key();
    let _ = verify_export(data, &key, None);
});
