//! pg_dump + pg_restore into a fresh database keeps every value decryptable:
//! the keyring ids inside envelopes and the root key-check value travel with
//! the dump, and a restore under another root key says so clearly.

use han_crypto_tests::{random_key_hex, sqlstate, Cluster};

#[test]
fn dump_and_restore_keeps_values_decryptable() {
    let key = random_key_hex();
    let cluster = Cluster::start("dump", &[("HAN_CRYPTO_ROOT_KEY", &key)], &[]);
    let mut c = cluster.fresh_db("source");
    c.batch_execute(
        "CREATE TABLE notes (id int PRIMARY KEY, body bytea);
         INSERT INTO notes SELECT i, han_crypto.encrypt('note ' || i, 'default', 'notes/' || i) FROM generate_series(1, 100) i;",
    )
    .unwrap();
    let dump = cluster.dir.join("source.dump");
    let st = cluster
        .client_program("pg_dump")
        .args(["-Fc", "-f"])
        .arg(&dump)
        .arg("source")
        .status()
        .unwrap();
    assert!(st.success());
    let mut r = cluster.restore_into("restored", &dump, &[]);
    let ok: i64 = r
        .query_one("SELECT count(*) FROM notes WHERE han_crypto.decrypt(body, 'notes/' || id) = 'note ' || id", &[])
        .unwrap()
        .get(0);
    assert_eq!(ok, 100);
    let rings: i64 = r
        .query_one("SELECT count(*) FROM han_crypto.keyrings", &[])
        .unwrap()
        .get(0);
    assert_eq!(rings, 1, "exactly the dumped default keyring, no duplicate");

    // The trail does not travel: the restored database has a chain of its
    // own, which holds only what happened after the restore, and verifies.
    let source_chain: Vec<u8> = c
        .query_one("SELECT chain_id FROM han_crypto_audit._chain", &[])
        .unwrap()
        .get(0);
    let restored_chain: Vec<u8> = r
        .query_one("SELECT chain_id FROM han_crypto_audit._chain", &[])
        .unwrap()
        .get(0);
    assert_ne!(
        source_chain, restored_chain,
        "a restored database starts its own chain"
    );
    let source_events: i64 = c
        .query_one("SELECT count(*) FROM han_crypto_audit._events", &[])
        .unwrap()
        .get(0);
    assert!(source_events > 0);
    let restored_actions: Vec<String> = r
        .query("SELECT DISTINCT action FROM han_crypto_audit._events", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(
        !restored_actions.iter().any(|a| a == "encrypt"),
        "the source's encrypt events came along: {restored_actions:?}"
    );
    let ok: bool = r
        .query_one("SELECT ok FROM han_crypto.audit_verify()", &[])
        .unwrap()
        .get(0);
    assert!(ok);

    // The same dump restored under a different root key: one clear error.
    cluster.restart_with_env(&[("HAN_CRYPTO_ROOT_KEY", &random_key_hex())]);
    let mut r = cluster.connect("restored");
    let err = r
        .query_one(
            "SELECT han_crypto.decrypt(body, 'notes/1') FROM notes WHERE id = 1",
            &[],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&err), "F0000");
}
