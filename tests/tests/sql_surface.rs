//! The SQL surface through a real client: types, NULLs, sizes, the JSON
//! form, and the SQLSTATE of every user mistake.

use std::sync::OnceLock;

use han_crypto_tests::{expect_error, shared, Client, Cluster};

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn db(name: &str) -> Client {
    let key = "5".repeat(64);
    shared(&CLUSTER, "surface", &[("HAN_CRYPTO_ROOT_KEY", &key)], &[]).fresh_db(name)
}

#[test]
fn text_round_trips_including_empty_multibyte_and_large() {
    let mut c = db("surface_text");
    for s in [
        "",
        "a",
        "grüße 世界 🎉",
        &"x".repeat(1 << 20),
        &"ü".repeat(100_000),
    ] {
        let back: String = c
            .query_one(
                "SELECT han_crypto.decrypt(han_crypto.encrypt($1::text))",
                &[&s],
            )
            .unwrap()
            .get(0);
        assert_eq!(back, s);
    }
}

#[test]
fn bytea_and_jsonb_round_trip_losslessly() {
    let mut c = db("surface_types");
    let bytes: Vec<u8> = (0..=255u8).collect();
    let back: Vec<u8> = c
        .query_one(
            "SELECT han_crypto.decrypt_bytea(han_crypto.encrypt($1::bytea))",
            &[&bytes],
        )
        .unwrap()
        .get(0);
    assert_eq!(back, bytes);
    // Numbers beyond f64 precision survive: jsonb goes through PostgreSQL's own text I/O.
    let doc = r#"{"big": 123456789012345678901234567890.000000000000000000001, "s": "ü", "a": [null, true, {}]}"#;
    let same: bool = c
        .query_one("SELECT han_crypto.decrypt_jsonb(han_crypto.encrypt($1::text::jsonb))::text = $1::text::jsonb::text", &[&doc])
        .unwrap()
        .get(0);
    assert!(same);
    let empty: bool = c
        .query_one(
            "SELECT han_crypto.decrypt_jsonb(han_crypto.encrypt('{}'::jsonb)) = '{}'::jsonb",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(empty);
}

#[test]
fn null_in_null_out_but_null_keyring_or_context_is_an_error() {
    let mut c = db("surface_null");
    let all_null: bool = c
        .query_one(
            "SELECT han_crypto.encrypt(NULL::text) IS NULL AND han_crypto.encrypt(NULL::bytea) IS NULL \
                AND han_crypto.encrypt(NULL::jsonb) IS NULL AND han_crypto.decrypt(NULL) IS NULL \
                AND han_crypto.decrypt_bytea(NULL) IS NULL AND han_crypto.decrypt_jsonb(NULL) IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(all_null);
    let (code, text) = expect_error(&mut c, "SELECT han_crypto.encrypt('x', NULL)", &[]);
    assert_eq!(code, "22004");
    assert!(text.contains("keyring"), "{text}");
    let (code, _) = expect_error(
        &mut c,
        "SELECT han_crypto.decrypt(han_crypto.encrypt('x'), NULL)",
        &[],
    );
    assert_eq!(code, "22004");
}

#[test]
fn unknown_keyring_and_wrong_type_have_their_own_sqlstates() {
    let mut c = db("surface_errors");
    let (code, text) = expect_error(
        &mut c,
        "SELECT han_crypto.encrypt('x', 'no_such_team')",
        &[],
    );
    assert_eq!(code, "42704");
    assert!(text.contains("no_such_team"), "{text}");
    let (code, text) = expect_error(
        &mut c,
        "SELECT han_crypto.decrypt(han_crypto.encrypt('\\x01'::bytea))",
        &[],
    );
    assert_eq!(code, "42804");
    assert!(text.contains("decrypt_bytea"), "{text}");
    let (code, _) = expect_error(
        &mut c,
        "SELECT han_crypto.decrypt_jsonb(han_crypto.encrypt('text'))",
        &[],
    );
    assert_eq!(code, "42804");
    // Text and jsonb envelopes both decrypt to text; any envelope to bytes.
    let s: String = c
        .query_one(
            "SELECT han_crypto.decrypt(han_crypto.encrypt('[1]'::jsonb))",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(s, "[1]");
    let b: Vec<u8> = c
        .query_one(
            "SELECT han_crypto.decrypt_bytea(han_crypto.encrypt('hi'))",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(b, b"hi");
}

#[test]
fn envelope_info_describes_without_secrets() {
    let mut c = db("surface_info");
    let info: serde_json::Value = c
        .query_one("SELECT han_crypto.envelope_info(han_crypto.encrypt('HANSENTINEL-info', 'default', 'ctx-sentinel'))", &[])
        .unwrap()
        .get(0);
    assert_eq!(info["algorithm"], "XAES-256-GCM");
    assert_eq!(info["keyring"], "default");
    assert_eq!(info["key_version"], 1);
    assert_eq!(info["content_type"], "text");
    assert_eq!(info["plaintext_bytes"], 16);
    assert_eq!(info["envelope_bytes"], 16 + 72);
    let text = info.to_string();
    assert!(!text.contains("HANSENTINEL") && !text.contains("ctx-sentinel"));
}

#[test]
fn json_form_converts_losslessly_both_ways() {
    let mut c = db("surface_json");
    let same: bool = c
        .query_one(
            "WITH e AS (SELECT han_crypto.encrypt('round trip', 'default', 'c') AS b) \
             SELECT han_crypto.envelope_from_json(han_crypto.envelope_to_json(b)) = b \
                AND han_crypto.decrypt(han_crypto.envelope_from_json(han_crypto.envelope_to_json(b)), 'c') = 'round trip' FROM e",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(same);
    let j: serde_json::Value = c
        .query_one(
            "SELECT han_crypto.envelope_to_json(han_crypto.encrypt('x'))",
            &[],
        )
        .unwrap()
        .get(0);
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["v", "alg", "kid", "kv", "iv", "ct", "tag", "meta"] {
        assert!(keys.contains(&k), "missing {k}");
    }
    let back: serde_json::Value = c
        .query_one(
            "SELECT han_crypto.envelope_to_json(han_crypto.envelope_from_json($1))",
            &[&j],
        )
        .unwrap()
        .get(0);
    assert_eq!(back, j);
    // Malformed JSON forms: 22P02, naming the field, never echoing the value.
    let mut bad = j.clone();
    bad["iv"] = serde_json::json!("HANSENTINEL-not-base64!");
    let (code, text) = expect_error(&mut c, "SELECT han_crypto.envelope_from_json($1)", &[&bad]);
    assert_eq!(code, "22P02");
    assert!(
        text.contains("\"iv\"") && !text.contains("HANSENTINEL"),
        "{text}"
    );
    let (code, _) = expect_error(&mut c, "SELECT han_crypto.envelope_from_json('[]')", &[]);
    assert_eq!(code, "22P02");
}

#[test]
fn version_is_the_package_version() {
    let mut c = db("surface_version");
    let v: String = c
        .query_one("SELECT han_crypto.version()", &[])
        .unwrap()
        .get(0);
    assert_eq!(v, "0.1.0");
}
