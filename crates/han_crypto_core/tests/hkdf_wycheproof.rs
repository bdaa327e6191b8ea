//! Wycheproof HKDF-SHA256 through han_crypto's `hkdf_sha256`.

mod common;
use common::{load, unhex};
use han_crypto_core::kdf::hkdf_sha256;

#[test]
fn wycheproof_hkdf_sha256() {
    let file = load("wycheproof_hkdf_sha256_test.json");
    let (mut valid, mut invalid) = (0, 0);
    for group in file["testGroups"].as_array().unwrap() {
        for t in group["tests"].as_array().unwrap() {
            let size = t["size"].as_u64().unwrap() as usize;
            let mut out = vec![0u8; size];
            let r = hkdf_sha256(
                &unhex(&t["ikm"]),
                &unhex(&t["salt"]),
                &[&unhex(&t["info"])],
                &mut out,
            );
            match t["result"].as_str().unwrap() {
                "valid" => {
                    r.unwrap();
                    assert_eq!(out, unhex(&t["okm"]), "tc {}", t["tcId"]);
                    valid += 1;
                }
                _ => {
                    assert!(r.is_err(), "tc {}", t["tcId"]);
                    invalid += 1;
                }
            }
        }
    }
    assert_eq!((valid, invalid), (83, 3));
}
