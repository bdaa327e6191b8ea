//! The scanner never panics, reports spans on character boundaries, and
//! redaction is idempotent, whatever the text.
#![no_main]
use han_crypto_core::redact::{builtin, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for f in builtin().scan(text, Policy::ALL) {
            assert!(f.start < f.end && text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        }
        let once = builtin().redact(text, Policy::ALL).0.into_owned();
        assert_eq!(builtin().redact(&once, Policy::ALL).0, once);
    }
});
