//! Nothing secret escapes into the server log or error text, with every
//! logging surface turned up (THREATS.md §0 / §3): the root key never, and
//! plaintext or context never in han_crypto's own messages.

use han_crypto_tests::{error_text, random_key_hex, Cluster, VERBOSE_LOGGING};

#[test]
fn no_key_or_plaintext_in_logs_or_errors() {
    let key = random_key_hex();
    let cluster = Cluster::start("leaks", &[("HAN_CRYPTO_ROOT_KEY", &key)], VERBOSE_LOGGING);
    let mut c = cluster.fresh_db("leaks");
    let plain = "HANSENTINEL-plain-7f3a";
    let ctx = "HANSENTINEL-ctx-91b2";
    // Sent as bind parameters, encrypted, then failing decryptions of every kind.
    let env: Vec<u8> = c
        .query_one(
            "SELECT han_crypto.encrypt($1::text, 'default', $2)",
            &[&plain, &ctx],
        )
        .unwrap()
        .get(0);
    let mut errors = Vec::new();
    let mut tampered = env.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    for (sql, arg, context) in [
        (
            "SELECT han_crypto.decrypt($1, $2)",
            env.clone(),
            "HANSENTINEL-wrong-ctx",
        ),
        ("SELECT han_crypto.decrypt($1, $2)", tampered, ctx),
        ("SELECT han_crypto.decrypt($1, $2)", env[..40].to_vec(), ctx),
        ("SELECT han_crypto.decrypt_jsonb($1, $2)", env.clone(), ctx),
    ] {
        let e = c.query_one(sql, &[&arg, &context]).unwrap_err();
        errors.push(error_text(&e));
    }
    for text in &errors {
        assert!(
            !text.contains("HANSENTINEL"),
            "error text carries caller data: {text}"
        );
        assert!(!text.contains(&key));
    }
    let log = cluster.log();
    assert!(
        log.contains("HANSENTINEL-plain"),
        "logging is on (the statement's own parameters are logged)"
    );
    assert!(
        !log.to_lowercase().contains(&key),
        "root key in the server log"
    );
    // han_crypto's ERROR lines carry no caller data; only PostgreSQL's own
    // statement/parameter lines may repeat what the client sent.
    for line in log.lines().filter(|l| l.contains("ERROR:")) {
        assert!(!line.contains("HANSENTINEL"), "ERROR line leaks: {line}");
    }
}
