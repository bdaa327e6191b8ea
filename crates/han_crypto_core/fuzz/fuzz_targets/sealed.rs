//! Sealed-box parsing and opening never panic on arbitrary bytes.
#![no_main]
use han_crypto_core::keys::SecretKey;
use han_crypto_core::sealed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sealed::recipient(data);
    let _ = sealed::open(&SecretKey::from_bytes(&[9; 32]).unwrap(), data);
});
