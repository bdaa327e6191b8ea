//! The JSON form: any JSON is accepted or refused without panicking, and
//! whatever is accepted converts back to the same JSON.
#![no_main]
use han_crypto_core::envelope_json::{from_json, to_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = to_json(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(bin) = from_json(text) {
            assert_eq!(from_json(&to_json(&bin).unwrap()).unwrap(), bin);
        }
    }
});
