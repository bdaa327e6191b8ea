//! Reads on a hot standby: a streaming replica made with pg_basebackup
//! (the generated root key file comes along with the data directory).
//! Decrypting, encrypting, reading through the views, unlocking an
//! existing passphrase keyring and the key cache all work there; what must
//! write fails with 25006 and a hint, never an internal error.

use han_crypto_tests::{expect_error, Cluster};

const PASS: &str = "standby passphrase HANSENTINEL-sb";

#[test]
fn every_read_path_works_on_a_hot_standby_and_writes_fail_with_25006() {
    // No HAN_CRYPTO_ROOT_KEY: the key is generated in the data directory.
    let primary = Cluster::start(
        "sb-primary",
        &[],
        &[
            "wal_level = replica",
            "max_wal_senders = 4",
            "log_min_messages = debug1",
        ],
    );
    let mut p = primary.fresh_db("sb");
    p.batch_execute(&format!(
        "SELECT han_crypto.create_keyring('team');
         SELECT han_crypto.create_passphrase_keyring('notes', '{PASS}');
         CREATE TABLE sessions (id int PRIMARY KEY, team text NOT NULL, prompt text, meta jsonb);
         SELECT han_crypto.protect('sessions', ARRAY['prompt', 'meta'], 'team');
         INSERT INTO sessions VALUES (1, 'team', 'read me on the replica', '{{\"k\": 1}}');
         CREATE TABLE envs AS SELECT han_crypto.encrypt('default keyring value') AS d,
                                     han_crypto.encrypt('team value', 'team') AS t,
                                     han_crypto.encrypt('counselor note', 'notes') AS n;"
    ))
    .unwrap();
    let standby = primary.standby("sb-standby");
    standby.catch_up_with(&primary);

    // Fresh backends on the standby: the first key use of each writes nothing.
    let mut s = standby.connect("sb");
    let (d, t): (String, String) = {
        let r = s
            .query_one(
                "SELECT han_crypto.decrypt(d), han_crypto.decrypt(t) FROM envs",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        (d.as_str(), t.as_str()),
        ("default keyring value", "team value")
    );
    let mut s = standby.connect("sb");
    let back: String = s
        .query_one(
            "SELECT han_crypto.decrypt(han_crypto.encrypt('x'::text))",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(back, "x");
    let mut s = standby.connect("sb");
    let prompt: String = s
        .query_one("SELECT prompt FROM sessions_decrypted WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(prompt, "read me on the replica");
    let stats: serde_json::Value = s
        .query_one("SELECT han_crypto.key_cache_stats()", &[])
        .unwrap()
        .get(0);
    assert_eq!(stats["derivations"], 0, "{stats}");

    // Unlocking an existing passphrase keyring, and a failed unlock: false,
    // reported in the standby's log (nothing can be written there).
    let wrong: bool = s
        .query_one(
            "SELECT han_crypto.unlock('notes', $1)",
            &[&"not the passphrase"],
        )
        .unwrap()
        .get(0);
    assert!(!wrong);
    let ok: bool = s
        .query_one("SELECT han_crypto.unlock('notes', $1)", &[&PASS])
        .unwrap()
        .get(0);
    assert!(ok);
    let note: String = s
        .query_one("SELECT han_crypto.decrypt(n) FROM envs", &[])
        .unwrap()
        .get(0);
    assert_eq!(note, "counselor note");
    assert!(standby
        .log()
        .contains("failed unlock of keyring \"notes\" by \"postgres\""));

    // What must write: 25006 with a hint, never XX000.
    for sql in [
        "SELECT han_crypto.create_keyring('another')",
        "SELECT han_crypto.grant_access('team', 'someone', 'reader')",
        "SELECT han_crypto.revoke_access('team', 'postgres')",
        "SELECT han_crypto.create_keypair('team')",
        "SELECT han_crypto.change_passphrase('notes', 'standby passphrase HANSENTINEL-sb', 'a new passphrase')",
        "SELECT han_crypto.encrypt('x', 'no such keyring')",
        "INSERT INTO sessions VALUES (2, 'team', 'no writes here', NULL)",
        "SELECT han_crypto.protect('sessions', ARRAY['prompt', 'meta'], 'team')",
    ] {
        let (code, text) = expect_error(&mut s, sql, &[]);
        assert!(
            code == "25006" || (sql.contains("no such keyring") && code == "42704"),
            "{sql}: {code} {text}"
        );
    }
    let (code, text) = expect_error(&mut s, "SELECT han_crypto.create_keyring('another')", &[]);
    assert_eq!(code, "25006");
    assert!(text.contains("primary"), "the hint says where: {text}");
    assert!(
        !standby.log().contains("XX000"),
        "an internal error on the standby"
    );
}
