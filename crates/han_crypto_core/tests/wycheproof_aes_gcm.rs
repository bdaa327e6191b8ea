//! Every AES-256 case of Wycheproof's aes_gcm_test.json through han_crypto's
//! own AES-256-GCM entry points. Valid cases must reproduce ciphertext and
//! tag and decrypt back; invalid ones must be rejected; cases with IVs other
//! than 96 bits must be refused by the API. Each class is counted so that a
//! silently skipped case fails the test.

mod common;
use common::{load, unhex};
use han_crypto_core::aead::{aes256gcm_open, aes256gcm_seal};
use han_crypto_core::Error;

#[test]
fn wycheproof_aes_256_gcm() {
    let file = load("wycheproof_aes_gcm_test.json");
    let (mut valid, mut invalid, mut other_iv) = (0, 0, 0);
    for group in file["testGroups"].as_array().unwrap() {
        if group["keySize"] != 256 {
            continue;
        }
        let iv_bits = group["ivSize"].as_u64().unwrap();
        for t in group["tests"].as_array().unwrap() {
            let id = &t["tcId"];
            let (key, iv, aad, msg) = (
                unhex(&t["key"]),
                unhex(&t["iv"]),
                unhex(&t["aad"]),
                unhex(&t["msg"]),
            );
            assert_eq!(key.len() * 8, 256, "tc {id}: key length");
            let mut ct_tag = unhex(&t["ct"]);
            ct_tag.extend(unhex(&t["tag"]));
            if iv_bits != 96 {
                let expected = Error::InvalidNonceLength {
                    expected: 12,
                    actual: iv.len(),
                };
                assert_eq!(
                    aes256gcm_seal(&key, &iv, &aad, &msg).unwrap_err(),
                    expected,
                    "tc {id}"
                );
                assert_eq!(
                    aes256gcm_open(&key, &iv, &aad, &ct_tag).unwrap_err(),
                    expected,
                    "tc {id}"
                );
                other_iv += 1;
                continue;
            }
            match t["result"].as_str().unwrap() {
                "valid" => {
                    assert_eq!(
                        aes256gcm_seal(&key, &iv, &aad, &msg).unwrap(),
                        ct_tag,
                        "tc {id}"
                    );
                    assert_eq!(
                        &*aes256gcm_open(&key, &iv, &aad, &ct_tag).unwrap(),
                        &msg[..],
                        "tc {id}"
                    );
                    valid += 1;
                }
                "invalid" => {
                    assert_eq!(
                        aes256gcm_open(&key, &iv, &aad, &ct_tag).unwrap_err(),
                        Error::AuthenticationFailed,
                        "tc {id}"
                    );
                    invalid += 1;
                }
                other => panic!("tc {id}: unexpected result {other}"),
            }
        }
    }
    // Counts from shared/vectors/README.md: 105 AES-256 tests, 66 with a 96-bit IV.
    assert_eq!((valid, invalid, other_iv), (39, 27, 39));
}
