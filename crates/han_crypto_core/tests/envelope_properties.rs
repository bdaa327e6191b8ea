//! Property tests of the envelope: round trips at every size class, total
//! parsing, and rejection of every single-byte change and truncation.

use std::collections::HashSet;

use han_crypto_core::aead::XaesKey;
use han_crypto_core::envelope::{self, ContentType, KeyRef, HEADER_LEN};
use han_crypto_core::envelope_json;
use han_crypto_core::keys::SecretKey;
use han_crypto_core::Error;
use proptest::prelude::*;

const KR: KeyRef = KeyRef {
    keyring_id: [0x11; 16],
    key_version: 1,
};

fn key() -> XaesKey {
    XaesKey::new(&SecretKey::from_bytes(&[0x5a; 32]).unwrap())
}

fn round_trip(content: ContentType, data: &[u8], ctx: &[u8]) {
    let k = key();
    let sealed = envelope::seal(&k, KR, content, data, ctx).unwrap();
    let parsed = envelope::parse(&sealed).unwrap();
    assert_eq!(parsed.header.content, content);
    assert_eq!(&*parsed.open(&k, ctx).unwrap(), data);
    let json = envelope_json::to_json(&sealed).unwrap();
    assert_eq!(envelope_json::from_json(&json).unwrap(), sealed);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn bytes_round_trip_up_to_1mib(
        len in prop_oneof![0usize..64, 64usize..4096, 4096usize..(1 << 20), Just(1usize << 20)],
        seed in any::<u8>(),
        ctx in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        round_trip(ContentType::Bytes, &data, &ctx);
    }

    #[test]
    fn multibyte_text_round_trips(s in "\\PC{0,300}", ctx in "\\PC{0,20}") {
        round_trip(ContentType::Text, s.as_bytes(), ctx.as_bytes());
    }

    #[test]
    fn parse_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = envelope::parse(&bytes);
        let _ = envelope_json::to_json(&bytes);
    }

    #[test]
    fn parse_is_total_on_envelope_like_prefixes(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut bytes = envelope::MAGIC.to_vec();
        bytes.push(1);
        bytes.extend(tail);
        let _ = envelope::parse(&bytes);
    }
}

#[test]
fn json_documents_round_trip() {
    for doc in [
        r#"{}"#,
        r#"[]"#,
        r#"{"a": [1, 2.5e300, "ü", null, true], "b": {"c": "日本"}}"#,
    ] {
        round_trip(ContentType::Json, doc.as_bytes(), b"");
    }
}

#[test]
fn every_single_byte_change_is_rejected() {
    let k = key();
    for len in [0usize, 1, 16, 17] {
        let data = vec![0xc3u8; len];
        let sealed = envelope::seal(&k, KR, ContentType::Bytes, &data, b"ctx").unwrap();
        for pos in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                bad[pos] ^= 1 << bit;
                let outcome = envelope::parse(&bad).and_then(|e| {
                    // A changed keyring id or key version would select another
                    // key in real use; with the same key it must still fail.
                    e.open(&k, b"ctx").map(|_| ())
                });
                let err = outcome.expect_err("a flipped bit was accepted");
                if pos >= HEADER_LEN {
                    assert_eq!(err, Error::AuthenticationFailed, "len {len} pos {pos}");
                }
            }
        }
    }
}

#[test]
fn nonces_do_not_repeat_over_a_million_envelopes() {
    let k = key();
    let mut seen = HashSet::with_capacity(1 << 20);
    for _ in 0..(1 << 20) {
        let sealed = envelope::seal(&k, KR, ContentType::Bytes, b"", b"").unwrap();
        let nonce: [u8; 24] = sealed[32..56].try_into().unwrap();
        assert!(seen.insert(nonce), "nonce repeated");
    }
}
