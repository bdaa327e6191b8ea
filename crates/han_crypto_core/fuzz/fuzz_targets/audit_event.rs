//! The audit event decoder never panics, and whatever it accepts re-encodes
//! to exactly the bytes it was given (one encoding per event).
#![no_main]
use han_crypto_core::audit::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Event::decode(data) {
        assert_eq!(e.encode(), data);
        let j = e.to_json();
        assert_eq!(Event::from_json(&j).unwrap(), e);
    }
});
