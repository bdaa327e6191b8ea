//! The RFC 9180 base-mode vector for DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256
//! / AES-256-GCM, and Wycheproof X25519 through han_crypto's `x25519`, which
//! must refuse every all-zero shared secret.

mod common;
use common::{load, unhex};
use han_crypto_core::sealed::x25519;
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, Serializable};

#[test]
fn rfc9180_base_mode_vector() {
    let file = load("hpke_rfc9180_x25519_sha256_aes256gcm_base.json");
    let v = if file["vectors"].is_array() {
        &file["vectors"][0]
    } else {
        &file["vectors"]
    };
    assert_eq!(
        (
            v["mode"].as_u64(),
            v["kem_id"].as_u64(),
            v["kdf_id"].as_u64(),
            v["aead_id"].as_u64()
        ),
        (Some(0), Some(32), Some(1), Some(2))
    );
    // The crate stores private keys clamped (RFC 7748 §5); compare likewise.
    let clamp = |mut k: Vec<u8>| {
        k[0] &= 248;
        k[31] &= 127;
        k[31] |= 64;
        k
    };
    let (sk_r, pk_r) = X25519HkdfSha256::derive_keypair(&unhex(&v["ikmR"]));
    assert_eq!(clamp(sk_r.to_bytes().to_vec()), clamp(unhex(&v["skRm"])));
    assert_eq!(pk_r.to_bytes().to_vec(), unhex(&v["pkRm"]));
    let (sk_e, pk_e) = X25519HkdfSha256::derive_keypair(&unhex(&v["ikmE"]));
    assert_eq!(clamp(sk_e.to_bytes().to_vec()), clamp(unhex(&v["skEm"])));
    assert_eq!(pk_e.to_bytes().to_vec(), unhex(&v["enc"]));
    // The raw DH agrees with the KEM's keys (sanity of the X25519 wrapper).
    let skr: [u8; 32] = unhex(&v["skRm"]).try_into().unwrap();
    let pke: [u8; 32] = unhex(&v["pkEm"]).try_into().unwrap();
    x25519(&skr, &pke).unwrap();

    let enc = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(&unhex(&v["enc"])).unwrap();
    let mut ctx = hpke::setup_receiver::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk_r,
        &enc,
        &unhex(&v["info"]),
    )
    .unwrap();
    let encryptions = v["encryptions"].as_array().unwrap();
    assert_eq!(encryptions.len(), 257);
    for (i, e) in encryptions.iter().enumerate() {
        let pt = ctx
            .open(&unhex(&e["ct"]), &unhex(&e["aad"]))
            .unwrap_or_else(|_| panic!("encryption {i}"));
        assert_eq!(pt, unhex(&e["pt"]), "encryption {i}");
    }
    for x in v["exports"].as_array().unwrap() {
        let mut out = vec![0u8; x["L"].as_u64().unwrap() as usize];
        ctx.export(&unhex(&x["exporter_context"]), &mut out)
            .unwrap();
        assert_eq!(out, unhex(&x["exported_value"]));
    }
}

#[test]
fn wycheproof_x25519_and_zero_shared_secrets() {
    let file = load("wycheproof_x25519_test.json");
    let (mut matched, mut refused_zero) = (0, 0);
    for g in file["testGroups"].as_array().unwrap() {
        for t in g["tests"].as_array().unwrap() {
            let private: [u8; 32] = unhex(&t["private"]).try_into().unwrap();
            let public: [u8; 32] = unhex(&t["public"]).try_into().unwrap();
            let flags: Vec<&str> = t["flags"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f.as_str())
                .collect();
            let r = x25519(&private, &public);
            if flags.contains(&"ZeroSharedSecret") {
                assert!(r.is_err(), "tc {}: all-zero secret accepted", t["tcId"]);
                refused_zero += 1;
            } else {
                assert_eq!(r.unwrap().to_vec(), unhex(&t["shared"]), "tc {}", t["tcId"]);
                matched += 1;
            }
        }
    }
    assert_eq!((matched, refused_zero), (264 + 223, 31));
}
