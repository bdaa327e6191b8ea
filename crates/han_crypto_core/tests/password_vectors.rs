//! Argon2id (RFC 9106 §5.3 and the reference implementation's KATs) and
//! Wycheproof PBKDF2-HMAC-SHA256, through han_crypto's own KDF functions.

mod common;
use common::{load, unhex};
use han_crypto_core::password::{argon2id, pbkdf2_sha256};

#[test]
fn argon2id_known_answers() {
    let file = load("argon2id_test.json");
    let (mut valid, mut invalid, mut other_version) = (0, 0, 0);
    for t in file["tests"].as_array().unwrap() {
        let id = &t["tcId"];
        if t["version"] != 19 {
            other_version += 1; // v0x10 is not offered: han_crypto only computes v1.3
            continue;
        }
        let num = |k: &str| t[k].as_u64().unwrap() as u32;
        let mut out = vec![0u8; t["tagLength"].as_u64().unwrap() as usize];
        let opt = |k: &str| t.get(k).map(unhex).unwrap_or_default();
        let r = argon2id(
            &unhex(&t["password"]),
            &unhex(&t["salt"]),
            &opt("secret"),
            &opt("associatedData"),
            num("memoryKiB"),
            num("iterations"),
            num("parallelism"),
            &mut out,
        );
        match t["result"].as_str().unwrap() {
            "valid" => {
                r.unwrap_or_else(|e| panic!("tc {id}: {e}"));
                assert_eq!(out, unhex(&t["tag"]), "tc {id}");
                valid += 1;
            }
            _ => {
                assert!(r.is_err(), "tc {id} must be rejected");
                invalid += 1;
            }
        }
    }
    assert_eq!((valid, invalid, other_version), (9, 2, 1));
}

#[test]
fn wycheproof_pbkdf2_hmac_sha256() {
    let file = load("wycheproof_pbkdf2_hmacsha256_test.json");
    let mut n = 0;
    for g in file["testGroups"].as_array().unwrap() {
        for t in g["tests"].as_array().unwrap() {
            let mut out = vec![0u8; t["dkLen"].as_u64().unwrap() as usize];
            pbkdf2_sha256(
                &unhex(&t["password"]),
                &unhex(&t["salt"]),
                t["iterationCount"].as_u64().unwrap() as u32,
                &mut out,
            )
            .unwrap();
            assert_eq!(t["result"], "valid");
            assert_eq!(out, unhex(&t["dk"]), "tc {}", t["tcId"]);
            n += 1;
        }
    }
    assert_eq!(n, 60);
}
