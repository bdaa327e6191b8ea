//! Passphrase keyrings: nothing usable at rest, unlock per actor and
//! session, wrong passphrases counted and never logged, and KDF parameters,
//! concurrency and cancellation kept under control.

use han_crypto_tests::{expect_error, random_key_hex, sqlstate, Cluster, VERBOSE_LOGGING};

const PASS: &str = "counselor passphrase HANSENTINEL-good-3f9";
const WRONG: &str = "HANSENTINEL-wrong-passphrase-77c1";

fn cluster_with_logging(name: &str) -> Cluster {
    let key = random_key_hex();
    Cluster::start(name, &[("HAN_CRYPTO_ROOT_KEY", &key)], VERBOSE_LOGGING)
}

#[test]
fn passphrase_keyring_is_zero_knowledge_at_rest_and_never_logged() {
    let cluster = cluster_with_logging("pp-zk");
    let mut c = cluster.fresh_db("pp");
    c.query_one(
        "SELECT han_crypto.create_passphrase_keyring('counselor_kim', $1)",
        &[&PASS],
    )
    .unwrap();
    c.batch_execute(
        "CREATE TABLE notes (id int, body bytea);
         INSERT INTO notes VALUES (1, han_crypto.encrypt('patient note', 'counselor_kim', 'notes/1'));",
    )
    .unwrap();

    // A fresh session with the whole database and the root key, no passphrase.
    let mut fresh = cluster.connect("pp");
    let (code, text) = expect_error(
        &mut fresh,
        "SELECT han_crypto.decrypt(body, 'notes/1') FROM notes",
        &[],
    );
    assert_eq!(code, "55000", "{text}");
    // A wrong passphrase: false, counted, no error.
    let ok: bool = fresh
        .query_one("SELECT han_crypto.unlock('counselor_kim', $1)", &[&WRONG])
        .unwrap()
        .get(0);
    assert!(!ok);
    let failures: i64 = fresh
        .query_one(
            "SELECT failed_unlocks FROM han_crypto.keyring_info WHERE name = 'counselor_kim'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(failures, 1);
    let ok: bool = fresh
        .query_one("SELECT han_crypto.unlock('counselor_kim', $1)", &[&PASS])
        .unwrap()
        .get(0);
    assert!(ok);
    let note: String = fresh
        .query_one("SELECT han_crypto.decrypt(body, 'notes/1') FROM notes", &[])
        .unwrap()
        .get(0);
    assert_eq!(note, "patient note");
    fresh.batch_execute("SELECT han_crypto.lock()").unwrap();
    let (code, _) = expect_error(
        &mut fresh,
        "SELECT han_crypto.decrypt(body, 'notes/1') FROM notes",
        &[],
    );
    assert_eq!(code, "55000");

    // Changing the passphrase re-encrypts nothing; the old one stops working.
    let new_pass = "a brand new passphrase HANSENTINEL-new-01";
    fresh
        .execute(
            "SELECT han_crypto.change_passphrase('counselor_kim', $1, $2)",
            &[&PASS, &new_pass],
        )
        .unwrap();
    let mut later = cluster.connect("pp");
    let ok: bool = later
        .query_one("SELECT han_crypto.unlock('counselor_kim', $1)", &[&PASS])
        .unwrap()
        .get(0);
    assert!(!ok);
    let ok: bool = later
        .query_one(
            "SELECT han_crypto.unlock('counselor_kim', $1)",
            &[&new_pass],
        )
        .unwrap()
        .get(0);
    assert!(ok);
    let note: String = later
        .query_one("SELECT han_crypto.decrypt(body, 'notes/1') FROM notes", &[])
        .unwrap()
        .get(0);
    assert_eq!(note, "patient note");

    let log = cluster.log();
    assert!(log.contains("han_crypto"), "statements were logged");
    assert!(
        log.contains("[REDACTED:passphrase]") && log.contains("[REDACTED:new_passphrase]"),
        "the log hook masked the secret bind parameters"
    );
    assert!(
        log.contains("$1 = 'counselor_kim'") || log.contains("counselor_kim"),
        "and kept the rest of the statement visible"
    );
    for secret in [PASS, WRONG, new_pass] {
        assert!(!log.contains(secret), "a passphrase reached the server log");
    }
}

#[test]
fn unlock_is_per_actor_not_per_connection() {
    let cluster = Cluster::start(
        "pp-actor",
        &[("HAN_CRYPTO_ROOT_KEY", &random_key_hex())],
        &[],
    );
    let mut c = cluster.fresh_db("pp");
    c.batch_execute("CREATE ROLE platform LOGIN; GRANT han_crypto_app TO platform")
        .unwrap();
    c.batch_execute("BEGIN").unwrap();
    c.execute("SELECT han_crypto.set_actor('kim')", &[])
        .unwrap();
    c.execute(
        "SELECT han_crypto.create_passphrase_keyring('kim_notes', $1)",
        &[&PASS],
    )
    .unwrap();
    c.batch_execute("COMMIT").unwrap();
    let mut app = cluster.connect_as("pp", "platform");
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor('kim')", &[])
        .unwrap();
    let ok: bool = tx
        .query_one("SELECT han_crypto.unlock('kim_notes', $1)", &[&PASS])
        .unwrap()
        .get(0);
    assert!(ok);
    tx.execute("SELECT han_crypto.encrypt('by kim', 'kim_notes')", &[])
        .unwrap();
    tx.commit().unwrap();
    // The next transaction on the same pooled connection, as someone else.
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor('someone_else')", &[])
        .unwrap();
    let err = tx
        .query_one("SELECT han_crypto.encrypt('x', 'kim_notes')", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
}

#[test]
fn stored_kdf_parameters_are_capped_and_derivations_bounded() {
    let cluster = Cluster::start(
        "pp-caps",
        &[("HAN_CRYPTO_ROOT_KEY", &random_key_hex())],
        &[],
    );
    let mut c = cluster.fresh_db("pp");
    c.query_one(
        "SELECT han_crypto.create_passphrase_keyring('big', $1)",
        &[&PASS],
    )
    .unwrap();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    // 4 GiB of Argon2 memory planted in storage: refused before any allocation.
    c.batch_execute(
        "UPDATE han_crypto.keyring_versions SET kdf = '{\"alg\": \"argon2id\", \"m_kib\": 4194304, \"t\": 3, \"p\": 4}'",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (code, text) = expect_error(&mut c, "SELECT han_crypto.unlock('big', $1)", &[&PASS]);
    assert_eq!(code, "22023", "{text}");
    assert!(
        started.elapsed().as_millis() < 1000,
        "refused without running the KDF"
    );
    // Parameters below the floor are refused too (downgrade).
    c.batch_execute("UPDATE han_crypto.keyring_versions SET kdf = '{\"alg\": \"argon2id\", \"m_kib\": 8, \"t\": 1, \"p\": 1}'")
        .unwrap();
    let (code, _) = expect_error(&mut c, "SELECT han_crypto.unlock('big', $1)", &[&PASS]);
    assert_eq!(code, "22023");
    let same: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    assert_eq!(pid, same, "the backend survived");
}

#[test]
fn an_attacker_holding_advisory_locks_cannot_block_key_derivation() {
    let cluster = Cluster::start(
        "pp-slots",
        &[("HAN_CRYPTO_ROOT_KEY", &random_key_hex())],
        &[],
    );
    let mut c = cluster.fresh_db("pp");
    c.batch_execute("CREATE ROLE mallory LOGIN").unwrap();
    c.query_one(
        "SELECT han_crypto.create_passphrase_keyring('slots', $1)",
        &[&PASS],
    )
    .unwrap();
    c.batch_execute("SELECT han_crypto.create_keyring('team_slots')")
        .unwrap();
    // An unprivileged role takes every advisory lock the old slot scheme
    // used, and more, and sits on them.
    let mut mallory = cluster.connect_as("pp", "mallory");
    mallory
        .batch_execute(
            "BEGIN;
             SELECT pg_advisory_xact_lock(1212369732, n) FROM generate_series(0, 63) n;
             SELECT pg_advisory_lock(1212369732::bigint * 65536 + n) FROM generate_series(0, 63) n;",
        )
        .unwrap();
    let started = std::time::Instant::now();
    let mut other = cluster.connect("pp");
    let ok: bool = other
        .query_one("SELECT han_crypto.unlock('slots', $1)", &[&PASS])
        .unwrap()
        .get(0);
    assert!(ok);
    other
        .batch_execute(
            "SELECT han_crypto.create_keyring('team_slots_2');
             SELECT han_crypto.decrypt(han_crypto.encrypt('x', 'team_slots'));",
        )
        .unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "key use waited on the attacker's locks: {:?}",
        started.elapsed()
    );
    mallory.batch_execute("ROLLBACK").unwrap();

    // A statement timeout shorter than one derivation cancels the unlock.
    other
        .batch_execute("SELECT han_crypto.lock(); SET statement_timeout = '3ms'")
        .unwrap();
    let (code, _) = expect_error(
        &mut other,
        "SELECT han_crypto.unlock('slots', $1)",
        &[&PASS],
    );
    assert_eq!(code, "57014");
    other.batch_execute("RESET statement_timeout").unwrap();
    let ok: bool = other
        .query_one("SELECT han_crypto.unlock('slots', $1)", &[&PASS])
        .unwrap()
        .get(0);
    assert!(ok, "the session is usable after the cancel");
}

#[test]
fn busy_derivation_slots_make_others_wait_a_bounded_time_then_fail_with_53000() {
    let cluster = Cluster::start(
        "pp-busy",
        &[("HAN_CRYPTO_ROOT_KEY", &random_key_hex())],
        &[
            "han_crypto.kdf_max_concurrent = 1",
            "han_crypto.kdf_wait_timeout = 0",
        ],
    );
    let mut c = cluster.fresh_db("pp");
    c.query_one(
        "SELECT han_crypto.create_passphrase_keyring('slow', $1)",
        &[&PASS],
    )
    .unwrap();
    c.query_one(
        "SELECT han_crypto.create_passphrase_keyring('other', $1)",
        &[&PASS],
    )
    .unwrap();
    // A slow derivation (256 MiB, 10 passes) occupies the only slot.
    c.batch_execute(
        "UPDATE han_crypto.keyring_versions SET kdf = '{\"alg\": \"argon2id\", \"m_kib\": 262144, \"t\": 10, \"p\": 1}'
         WHERE keyring_id = (SELECT id FROM han_crypto.keyrings WHERE name = 'slow')",
    )
    .unwrap();
    let slow = {
        let mut s = cluster.connect("pp");
        std::thread::spawn(move || {
            s.query_one("SELECT han_crypto.unlock('slow', $1)", &[&PASS])
                .map(|r| r.get::<_, bool>(0))
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(400));
    let mut other = cluster.connect("pp");
    let (code, text) = expect_error(
        &mut other,
        "SELECT han_crypto.unlock('other', $1)",
        &[&PASS],
    );
    assert_eq!(code, "53000", "{text}");
    let slow_result = slow.join().unwrap().unwrap();
    assert!(
        !slow_result,
        "a wrong key derived from the altered parameters"
    );
    let ok: bool = other
        .query_one("SELECT han_crypto.unlock('other', $1)", &[&PASS])
        .unwrap()
        .get(0);
    assert!(ok, "the slot is free again once the derivation ended");
}
