//! Envelope parsing and opening: no input may panic; only whole plaintexts
//! or errors come out; the fuzzer's own sealed inputs round-trip.
#![no_main]
use han_crypto_core::aead::XaesKey;
use han_crypto_core::envelope::{self, ContentType, KeyRef};
use han_crypto_core::keys::SecretKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = XaesKey::new(&SecretKey::from_bytes(&[7; 32]).unwrap());
    if let Ok(env) = envelope::parse(data) {
        if let Ok(plain) = env.open(&key, b"ctx") {
            assert_eq!(plain.len(), env.ciphertext.len());
        }
    }
    let kr = KeyRef { keyring_id: [1; 16], key_version: 1 };
    let sealed = envelope::seal(&key, kr, ContentType::Bytes, data, b"ctx").unwrap();
    let opened = envelope::parse(&sealed).unwrap().open(&key, b"ctx").unwrap();
    assert_eq!(&opened[..], data);
});
