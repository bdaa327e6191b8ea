//! The C2SP XAES-256-GCM vectors through the envelope cipher.

mod common;
use common::{load, unhex};
use han_crypto_core::aead::XaesKey;
use han_crypto_core::keys::SecretKey;

fn seal(key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Vec<u8> {
    let key = XaesKey::new(&SecretKey::from_bytes(key).unwrap());
    let mut buf = msg.to_vec();
    let tag = key
        .seal_in_place(nonce.try_into().unwrap(), aad, &mut buf)
        .unwrap();
    buf.extend_from_slice(&tag);
    buf
}

#[test]
fn c2sp_explicit_vectors() {
    let file = load("xaes256gcm_c2sp_test.json");
    let tests = file["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2);
    for t in tests {
        let (key, nonce, aad, msg) = (
            unhex(&t["key"]),
            unhex(&t["nonce"]),
            unhex(&t["aad"]),
            unhex(&t["plaintext"]),
        );
        let sealed = seal(&key, &nonce, &aad, &msg);
        assert_eq!(sealed, unhex(&t["ciphertextAndTag"]), "tc {}", t["tcId"]);
        let k = XaesKey::new(&SecretKey::from_bytes(&key).unwrap());
        let (body, tag) = sealed.split_at(sealed.len() - 16);
        let mut body = body.to_vec();
        k.open_in_place(
            nonce.as_slice().try_into().unwrap(),
            &aad,
            &mut body,
            tag.try_into().unwrap(),
        )
        .unwrap();
        assert_eq!(body, msg);
    }
}
