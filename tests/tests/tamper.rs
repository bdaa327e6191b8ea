//! Tampered, truncated, extended and re-contextualised envelopes through
//! SQL: each is refused with its documented SQLSTATE, never with partial
//! plaintext, and the backend survives every one of them.

use std::sync::OnceLock;

use han_crypto_tests::{shared, sqlstate, Client, Cluster};

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn db(name: &str) -> Client {
    let key = "7".repeat(64);
    shared(&CLUSTER, "tamper", &[("HAN_CRYPTO_ROOT_KEY", &key)], &[]).fresh_db(name)
}

fn decrypt_code(c: &mut Client, env: &[u8], ctx: &str) -> String {
    match c.query_one("SELECT han_crypto.decrypt_bytea($1, $2)", &[&env, &ctx]) {
        Ok(_) => String::new(),
        Err(e) => sqlstate(&e),
    }
}

/// The SQLSTATE a flipped bit at `pos` must produce (docs/ERRORS.md).
fn expected_code(pos: usize, flipped: &[u8]) -> &'static str {
    match pos {
        0..=5 | 28..=31 => "22P03",     // magic, version, algorithm, length
        6 if flipped[6] > 2 => "22P03", // unknown content type
        7 if flipped[7] > 1 => "22P03", // reserved flag bits
        // The compression flag is valid but authenticated: the tag fails.
        8..=23 => "42704", // names a keyring that does not exist
        24..=27 if flipped[24..28] == [0, 0, 0, 0] => "22P03", // key version 0
        24..=27 => "42704", // names a key version that does not exist
        _ => "XX001",      // content type, nonce, ciphertext, tag
    }
}

#[test]
fn every_bit_flip_is_rejected_with_its_sqlstate() {
    let mut c = db("tamper_flips");
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    for len in [0usize, 1, 16, 17] {
        let data = vec![0x41u8; len];
        let env: Vec<u8> = c
            .query_one(
                "SELECT han_crypto.encrypt($1::bytea, 'default', 'row 1')",
                &[&data],
            )
            .unwrap()
            .get(0);
        assert_eq!(decrypt_code(&mut c, &env, "row 1"), "");
        for pos in 0..env.len() {
            for bit in [0u8, 7] {
                let mut bad = env.clone();
                bad[pos] ^= 1 << bit;
                assert_eq!(
                    decrypt_code(&mut c, &bad, "row 1"),
                    expected_code(pos, &bad),
                    "len {len} pos {pos} bit {bit}"
                );
            }
        }
    }
    let after: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    assert_eq!(pid, after, "the backend survived");
}

#[test]
fn every_truncation_and_extension_is_22p03() {
    let mut c = db("tamper_cuts");
    let env: Vec<u8> = c
        .query_one("SELECT han_crypto.encrypt('truncate me')", &[])
        .unwrap()
        .get(0);
    for cut in 0..env.len() {
        assert_eq!(
            decrypt_code(&mut c, &env[..cut], ""),
            "22P03",
            "cut at {cut}"
        );
    }
    for extra in [1usize, 16] {
        let mut longer = env.clone();
        longer.extend(std::iter::repeat_n(0u8, extra));
        assert_eq!(decrypt_code(&mut c, &longer, ""), "22P03");
    }
    assert_eq!(decrypt_code(&mut c, b"not an envelope at all", ""), "22P03");
}

#[test]
fn changed_context_version_or_algorithm_is_refused() {
    let mut c = db("tamper_header");
    let env: Vec<u8> = c
        .query_one(
            "SELECT han_crypto.encrypt('x', 'default', 'sessions/prompt/42')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(decrypt_code(&mut c, &env, "sessions/prompt/43"), "XX001");
    assert_eq!(decrypt_code(&mut c, &env, ""), "XX001");
    for (pos, value) in [(4usize, 0u8), (4, 2), (4, 0xff), (5, 0), (5, 2), (5, 0xff)] {
        let mut bad = env.clone();
        bad[pos] = value;
        assert_eq!(
            decrypt_code(&mut c, &bad, "sessions/prompt/43"),
            "22P03",
            "byte {pos} = {value}"
        );
    }
    // A swapped content type is caught by the tag (the header is authenticated).
    let mut bad = env.clone();
    bad[6] = 0;
    assert_eq!(decrypt_code(&mut c, &bad, "sessions/prompt/42"), "XX001");
}

#[test]
fn an_envelope_from_another_database_names_an_unknown_keyring() {
    let mut a = db("tamper_db_a");
    let mut b = db("tamper_db_b");
    let env: Vec<u8> = a
        .query_one("SELECT han_crypto.encrypt('x')", &[])
        .unwrap()
        .get(0);
    b.query_one(
        "SELECT han_crypto.encrypt('make b''s default keyring')",
        &[],
    )
    .unwrap();
    let err = b
        .query_one("SELECT han_crypto.decrypt($1)", &[&env])
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42704");
}
