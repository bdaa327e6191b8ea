//! The audit trail against real servers and clients: events survive the
//! caller's ROLLBACK and errors, concurrent backends make one contiguous
//! chain, a missing writer fails closed, crashes lose nothing acknowledged,
//! and every tamper a superuser makes is named, at the same seq, by
//! audit_verify() and by the offline CLI.

use std::process::Command;
use std::sync::OnceLock;

use han_crypto_tests::{cli, expect_error, shared, Client, Cluster};

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn cluster() -> &'static Cluster {
    let key = "5".repeat(64);
    shared(&CLUSTER, "audit", &[("HAN_CRYPTO_ROOT_KEY", &key)], &[])
}

fn last_seq(c: &mut Client) -> i64 {
    c.query_one(
        "SELECT coalesce(max(seq), 0) FROM han_crypto_audit._events",
        &[],
    )
    .unwrap()
    .get(0)
}

/// (action, outcome) of the events after `after`, once everything queued
/// before is committed.
fn events_after(c: &mut Client, after: i64) -> Vec<(String, String, Option<i64>)> {
    c.batch_execute("SELECT han_crypto.audit_checkpoint()")
        .unwrap();
    c.query(
        "SELECT action, outcome, row_count FROM han_crypto_audit.events WHERE seq > $1 ORDER BY seq",
        &[&after],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

fn verify(c: &mut Client) -> (bool, Option<i64>, Option<String>) {
    let r = c
        .query_one(
            "SELECT ok, first_bad_seq, reason FROM han_crypto.audit_verify()",
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

fn envelope(c: &mut Client, text: &str) -> Vec<u8> {
    c.query_one("SELECT han_crypto.encrypt($1)", &[&text])
        .unwrap()
        .get(0)
}

#[test]
fn rollback_keeps_decrypt_view_read_unlock_and_failed_decrypt() {
    let mut c = cluster().fresh_db("audit_rollback");
    c.batch_execute(
        "CREATE TABLE notes (id int PRIMARY KEY, ring text NOT NULL, body text);
         SELECT han_crypto.protect('notes', ARRAY['body'], 'ring');
         INSERT INTO notes VALUES (1, 'default', 'first'), (2, 'default', 'second');
         SELECT han_crypto.create_passphrase_keyring('diary', 'correct horse battery staple')",
    )
    .unwrap();
    let env = envelope(&mut c, "kept secret");
    let mut bad = env.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let before = last_seq(&mut c);
    c.batch_execute("BEGIN").unwrap();
    c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
        .unwrap();
    c.query("SELECT body FROM notes_decrypted", &[]).unwrap();
    let unlocked: bool = c
        .query_one(
            "SELECT han_crypto.unlock('diary', 'wrong passphrase here')",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!unlocked);
    c.batch_execute("SAVEPOINT s").unwrap();
    let (code, _) = expect_error(&mut c, "SELECT han_crypto.decrypt($1)", &[&bad]);
    assert_eq!(code, "XX001");
    c.batch_execute("ROLLBACK").unwrap();
    let got = events_after(&mut c, before);
    let actions: Vec<(&str, &str)> = got
        .iter()
        .map(|(a, o, _)| (a.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("decrypt", "ok"),
            ("view_read", "ok"),
            ("unlock", "failed"),
            ("decrypt", "failed")
        ],
        "{got:?}"
    );
    // The view read of two rows is one event that counts both.
    assert_eq!(got[1].2, Some(2), "{got:?}");
    assert!(verify(&mut c).0);
}

#[test]
fn statement_failing_after_decrypt_keeps_its_event() {
    let mut c = cluster().fresh_db("audit_error_after");
    let env = envelope(&mut c, "x");
    let before = last_seq(&mut c);
    let (code, _) = expect_error(
        &mut c,
        "SELECT han_crypto.decrypt($1), 1 / (SELECT 0)",
        &[&env],
    );
    assert_eq!(code, "22012");
    let got = events_after(&mut c, before);
    assert_eq!(
        got.first().map(|g| (g.0.as_str(), g.1.as_str())),
        Some(("decrypt", "ok"))
    );
}

#[test]
fn eight_connections_make_one_contiguous_chain() {
    let cl = cluster();
    let mut c = cl.fresh_db("audit_concurrent");
    let env = envelope(&mut c, "shared value");
    let before = last_seq(&mut c);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let env = env.clone();
            let mut c = cl.connect("audit_concurrent");
            std::thread::spawn(move || {
                for _ in 0..500 {
                    // One statement each: 500 events per connection.
                    c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    c.batch_execute("SELECT han_crypto.audit_checkpoint()")
        .unwrap();
    let r = c
        .query_one(
            "SELECT count(*) FILTER (WHERE kind = 'begin'), count(*), max(seq) - min(seq) + 1,
                    count(DISTINCT prev_hash)
             FROM han_crypto_audit._events WHERE seq > $1",
            &[&before],
        )
        .unwrap();
    let begins: i64 = r.get(0);
    let rows: i64 = r.get(1);
    let span: i64 = r.get(2);
    let distinct_prev: i64 = r.get(3);
    assert!(begins >= 4000, "{begins} begin events for 4000 statements");
    assert_eq!(rows, span, "sequence has gaps");
    assert_eq!(distinct_prev, rows, "the chain forked");
    assert_eq!(verify(&mut c), (true, None, None));
}

#[test]
fn no_background_worker_slot_fails_closed_with_53000() {
    let key = "6".repeat(64);
    let cl = Cluster::start("audit-noslot", &[("HAN_CRYPTO_ROOT_KEY", &key)], &[]);
    let mut c = cl.fresh_db("noslot");
    let env = envelope(&mut c, "top secret");
    c.batch_execute("ALTER SYSTEM SET max_worker_processes = 0")
        .unwrap();
    drop(c);
    cl.restart_with_env(&[("HAN_CRYPTO_ROOT_KEY", &key)]);
    let mut c = cl.connect("noslot");
    for sql in [
        "SELECT han_crypto.decrypt($1)",
        "SELECT han_crypto.decrypt_bytea($1)",
    ] {
        let (code, text) = expect_error(&mut c, sql, &[&env]);
        assert_eq!(code, "53000", "{sql}: {text}");
        assert!(text.contains("max_worker_processes"), "{text}");
        assert!(!text.contains("top secret"));
    }
    // encrypt is audited too: it fails closed before sealing anything.
    let (code, _) = expect_error(&mut c, "SELECT han_crypto.encrypt('more')", &[]);
    assert_eq!(code, "53000");
    // The asynchronous mode is closed to a missing writer too.
    c.batch_execute("SET han_crypto.audit_mode = async")
        .unwrap();
    let (code, _) = expect_error(&mut c, "SELECT han_crypto.decrypt($1)", &[&env]);
    assert_eq!(code, "53000");
    assert!(!cl.log().contains("top secret"));
}

fn writer_pid(c: &mut Client) -> i32 {
    let status: serde_json::Value = c
        .query_one("SELECT han_crypto.audit_status()", &[])
        .unwrap()
        .get(0);
    status["writer"]["pid"].as_i64().expect("a running writer") as i32
}

#[test]
fn sigkill_of_the_writer_loses_no_acknowledged_event() {
    sigkill_of_the_writer("durable", "audit-kill");
}

/// In the asynchronous mode what was queued but not committed is lost (the
/// documented promise); what was committed stays, the chain verifies, and
/// writing resumes.
#[test]
fn sigkill_of_the_writer_in_async_mode_keeps_every_committed_event() {
    sigkill_of_the_writer("async", "audit-kill-async");
}

fn sigkill_of_the_writer(mode: &str, name: &str) {
    let key = "8".repeat(64);
    let cl = Cluster::start(
        name,
        &[("HAN_CRYPTO_ROOT_KEY", &key)],
        &[&format!("han_crypto.audit_mode = {mode}")],
    );
    let mut c = cl.fresh_db("killed");
    let env = envelope(&mut c, "v");
    for _ in 0..200 {
        c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
            .unwrap();
    }
    // Durable: everything acknowledged; async: what is committed by now.
    let acknowledged = last_seq(&mut c);
    let pid = writer_pid(&mut c);
    // SAFETY: signalling a process of the test's own cluster.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    // The postmaster restarts every backend; reconnect until it is back.
    let mut c = loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        if let Ok(mut c) = std::panic::catch_unwind(|| cl.connect("killed")) {
            if c.query_one("SELECT 1", &[]).is_ok() {
                break c;
            }
        }
    };
    assert!(last_seq(&mut c) >= acknowledged);
    c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
        .unwrap();
    assert!(last_seq(&mut c) > acknowledged, "writing resumes");
    assert_eq!(verify(&mut c), (true, None, None));
}

#[test]
fn drop_database_is_not_blocked_by_its_writer() {
    let cl = cluster();
    let mut c = cl.fresh_db("audit_dropped");
    let env = envelope(&mut c, "v");
    c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
        .unwrap();
    drop(c);
    let mut admin = cl.connect("postgres");
    admin.batch_execute("DROP DATABASE audit_dropped").unwrap();
}

/// The CLI's verdict on the database's export: (ok, first bad seq, reason).
fn cli_verdict(cl: &Cluster, db: &str, c: &mut Client) -> (bool, Option<i64>, Option<String>) {
    let key: String = c
        .query_one("SELECT han_crypto.audit_public_key()", &[])
        .unwrap()
        .get(0);
    let lines: Vec<String> = c
        .query("SELECT * FROM han_crypto.audit_export()", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let path = std::env::temp_dir().join(format!("hc-export-{db}-{}.jsonl", std::process::id()));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = Command::new(cli())
        .args(["audit", "verify"])
        .arg(&path)
        .args(["--public-key", &key, "--json"])
        .output()
        .unwrap();
    let _ = cl;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(if v["ok"] == true { 0 } else { 1 }));
    (
        v["ok"].as_bool().unwrap(),
        v["first_bad_seq"].as_i64(),
        v["reason"].as_str().map(str::to_owned),
    )
}

/// Superuser tampering with the guards off: each kind, in a database of its
/// own, is named by SQL and CLI alike.
#[test]
fn every_tamper_is_named_by_sql_and_cli_at_the_same_seq() {
    let cl = cluster();
    let tampers: &[(&str, &str)] = &[
        ("edit", "UPDATE han_crypto_audit._events SET actor = 'mallory' WHERE seq = 3"),
        ("delete_middle", "DELETE FROM han_crypto_audit._events WHERE seq = 3"),
        (
            "forged_insert",
            "UPDATE han_crypto_audit._events SET seq = seq + 1000000 WHERE seq >= 3;
             UPDATE han_crypto_audit._events SET seq = seq - 999999 WHERE seq >= 1000000;
             INSERT INTO han_crypto_audit._events
               SELECT 3, ts, kind, xid, session_user_name, current_user_name, 'forged', actor_via,
                      client_addr, application_name, backend_pid, action, object, keyring, key_version,
                      outcome, sqlstate, row_count, row_keys, begin_seq, detail, prev_hash,
                      '\\x00000000000000000000000000000000000000000000000000000000000000ff'
               FROM han_crypto_audit._events WHERE seq = 2",
        ),
        (
            "swap",
            "UPDATE han_crypto_audit._events SET seq = 1000003 WHERE seq = 3;
             UPDATE han_crypto_audit._events SET seq = 3 WHERE seq = 4;
             UPDATE han_crypto_audit._events SET seq = 4 WHERE seq = 1000003",
        ),
        (
            "checkpoint_signature_forged",
            "UPDATE han_crypto_audit._checkpoints SET signature = set_byte(signature, 0, get_byte(signature, 0) # 1)",
        ),
        ("delete_all", "DELETE FROM han_crypto_audit._events WHERE seq >= 2"),
        // What audit_archive removes, without its marker: a deleted start.
        (
            "delete_prefix_like_an_archive",
            "DELETE FROM han_crypto_audit._events WHERE seq <= 3;
             DELETE FROM han_crypto_audit._checkpoints WHERE seq < 3",
        ),
        // A planted last seq: reading the trail must not wrap around.
        (
            "planted_max_seq",
            "INSERT INTO han_crypto_audit._events (seq, ts, kind, action, outcome, prev_hash, hash)
               SELECT 9223372036854775807, ts, kind, action, outcome, hash, sha256(hash)
               FROM han_crypto_audit._events WHERE seq = 2",
        ),
        // The same with a marker appended (hash-linked, but unsigned).
        (
            "delete_prefix_with_a_forged_marker",
            "DELETE FROM han_crypto_audit._events WHERE seq <= 3;
             DELETE FROM han_crypto_audit._checkpoints WHERE seq < 3;
             INSERT INTO han_crypto_audit._events (seq, ts, kind, action, outcome, detail, prev_hash, hash)
               SELECT seq + 1, ts, 'marker', 'archive', 'ok', '{\"through_seq\": 3}', hash, sha256(hash)
               FROM han_crypto_audit._events ORDER BY seq DESC LIMIT 1",
        ),
    ];
    for (name, tamper) in tampers {
        let db = format!("audit_tamper_{name}");
        let mut c = cl.fresh_db(&db);
        let env = envelope(&mut c, "v");
        for _ in 0..6 {
            c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
                .unwrap();
        }
        c.batch_execute("SELECT han_crypto.audit_checkpoint()")
            .unwrap();
        assert_eq!(verify(&mut c), (true, None, None), "{name}: before");
        assert!(cli_verdict(cl, &db, &mut c).0, "{name}: CLI before");
        c.batch_execute(&format!(
            "ALTER EVENT TRIGGER han_crypto_audit_ddl DISABLE;
             ALTER TABLE han_crypto_audit._events DISABLE TRIGGER han_crypto_append_only;
             ALTER TABLE han_crypto_audit._checkpoints DISABLE TRIGGER han_crypto_append_only;
             SET session_replication_role = origin;
             {tamper};
             ALTER TABLE han_crypto_audit._events ENABLE ALWAYS TRIGGER han_crypto_append_only;
             ALTER TABLE han_crypto_audit._checkpoints ENABLE ALWAYS TRIGGER han_crypto_append_only;
             ALTER EVENT TRIGGER han_crypto_audit_ddl ENABLE ALWAYS"
        ))
        .unwrap();
        let sql = verify(&mut c);
        let offline = cli_verdict(cl, &db, &mut c);
        assert!(!sql.0, "{name}: SQL says intact");
        assert_eq!(sql, offline, "{name}: SQL and CLI disagree");
    }
}

#[test]
fn trail_is_readable_by_auditors_only_and_writable_by_nobody() {
    let cl = cluster();
    let mut c = cl.fresh_db("audit_privileges");
    c.batch_execute(
        "DROP ROLE IF EXISTS aud_reader; DROP ROLE IF EXISTS aud_app; DROP ROLE IF EXISTS aud_nobody;
         CREATE ROLE aud_reader LOGIN IN ROLE han_crypto_auditor;
         CREATE ROLE aud_app LOGIN IN ROLE han_crypto_app;
         CREATE ROLE aud_nobody LOGIN;",
    )
    .unwrap();
    let env = envelope(&mut c, "v");
    c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
        .unwrap();
    for role in ["aud_app", "aud_nobody"] {
        let mut r = cl.connect_as("audit_privileges", role);
        for sql in [
            "SELECT * FROM han_crypto_audit.events",
            "SELECT * FROM han_crypto_audit._events",
            "SELECT * FROM han_crypto.audit_verify()",
            "SELECT * FROM han_crypto.audit_export()",
        ] {
            let (code, _) = expect_error(&mut r, sql, &[]);
            assert_eq!(code, "42501", "{role}: {sql}");
        }
    }
    let mut a = cl.connect_as("audit_privileges", "aud_reader");
    assert!(
        a.query("SELECT * FROM han_crypto_audit.events", &[])
            .unwrap()
            .len()
            >= 2
    );
    assert!(verify(&mut a).0);
    for sql in [
        "UPDATE han_crypto_audit._events SET actor = 'x'",
        "DELETE FROM han_crypto_audit._events",
        "TRUNCATE han_crypto_audit._events",
        "INSERT INTO han_crypto_audit._checkpoints SELECT * FROM han_crypto_audit._checkpoints",
    ] {
        let (code, _) = expect_error(&mut a, sql, &[]);
        assert_eq!(code, "42501", "auditor: {sql}");
    }
    // Lowering the level is a superuser's act.
    let (code, _) = expect_error(&mut a, "SET han_crypto.audit_level = row", &[]);
    assert_eq!(code, "42501");
}

/// A superuser who rewrites an event and recomputes every later hash (the
/// chain is unkeyed) still cannot sign: the checkpoints expose it.
#[test]
fn rewrite_with_recomputed_hashes_fails_the_signatures() {
    use han_crypto_core::audit::{link, Event, Field, Value};
    let cl = cluster();
    let db = "audit_rewrite";
    let mut c = cl.fresh_db(db);
    let env = envelope(&mut c, "v");
    for _ in 0..6 {
        c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
            .unwrap();
    }
    c.batch_execute("SELECT han_crypto.audit_checkpoint()")
        .unwrap();
    let lines: Vec<String> = c
        .query("SELECT * FROM han_crypto.audit_export()", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut prev: Option<[u8; 32]> = None;
    let mut updates = String::from(
        "ALTER EVENT TRIGGER han_crypto_audit_ddl DISABLE;
         ALTER TABLE han_crypto_audit._events DISABLE TRIGGER han_crypto_append_only;",
    );
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] != "event" {
            continue;
        }
        let mut e = Event::from_json(&v["event"]).unwrap();
        if e.seq < 3 {
            prev = Some(
                hex::decode(v["hash"].as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap(),
            );
            continue;
        }
        if e.seq == 3 {
            e.set(Field::Actor, Value::Text("mallory".into())).unwrap();
        }
        let p = prev.unwrap();
        let h = link(&p, &e.encode());
        updates += &format!(
            "UPDATE han_crypto_audit._events SET actor = {actor}, prev_hash = '\\x{p}', hash = '\\x{h}' WHERE seq = {seq};",
            actor = if e.seq == 3 { "'mallory'".to_string() } else { "actor".to_string() },
            p = hex::encode(p),
            h = hex::encode(h),
            seq = e.seq
        );
        prev = Some(h);
    }
    updates += "ALTER TABLE han_crypto_audit._events ENABLE ALWAYS TRIGGER han_crypto_append_only;
                ALTER EVENT TRIGGER han_crypto_audit_ddl ENABLE ALWAYS;";
    c.batch_execute(&updates).unwrap();
    let sql = verify(&mut c);
    assert!(!sql.0, "a recomputed chain verified");
    assert_eq!(sql, cli_verdict(cl, db, &mut c));
}

/// Sentinels sent through every audited path (a plaintext, a passphrase, a
/// JWT and its secret, a secret the redactor removes, a secret-looking
/// application_name) never reach the trail; the trail
/// holds the accesses, with redaction types and counts only. Lowering the
/// audit level is recorded.
#[test]
fn no_sentinel_reaches_the_trail_or_the_log_and_level_changes_are_recorded() {
    use han_crypto_core::jwt::sign_hs256;
    let key = "9".repeat(64);
    let jwt_secret = "jwt-secret-SENTINEL-0123456789abcdefghij";
    let mut gucs = han_crypto_tests::VERBOSE_LOGGING.to_vec();
    gucs.push("han_crypto.audit_writer_idle_timeout = 0");
    // The mirror on: every event's line in the server log is checked too.
    gucs.push("han_crypto.audit_log_mirror = events");
    let cl = Cluster::start(
        "audit-sentinel",
        &[
            ("HAN_CRYPTO_ROOT_KEY", &key),
            ("HAN_CRYPTO_JWT_SECRET", jwt_secret),
        ],
        &gucs,
    );
    let mut c = cl.fresh_db("sentinel");
    let plain = "PLAINTEXT-SENTINEL-7f3a";
    let pass = "PASSPHRASE-SENTINEL-91cc";
    let aws = "AKIAQYLPMN5HHHFPZAM2";
    let aws_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzQ8sEntiNL";
    c.batch_execute(&format!(
        "CREATE ROLE sentinel_app LOGIN IN ROLE han_crypto_app;
         SET application_name = 'app {aws}';
         SELECT han_crypto.create_keyring('team');
         SELECT han_crypto.grant_access('team', 'user-1', 'writer');
         SELECT han_crypto.create_passphrase_keyring('diary', '{pass}');
         CREATE TABLE notes (id int PRIMARY KEY, ring text NOT NULL, body text);
         SELECT han_crypto.protect('notes', ARRAY['body'], 'ring');
         INSERT INTO notes VALUES (1, 'team', '{plain} aws_secret_access_key = {aws_secret}');
         SELECT body FROM notes_decrypted;
         SELECT han_crypto.unlock('diary', '{pass}');
         SELECT han_crypto.unlock('diary', 'wrong-{pass}');
         SELECT han_crypto.decrypt(han_crypto.encrypt('{plain}', 'diary'));
         GRANT SELECT ON notes, notes_decrypted TO sentinel_app;"
    ))
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token = sign_hs256(
        &serde_json::json!({"alg": "HS256", "typ": "JWT"}),
        &serde_json::json!({"sub": "user-1", "exp": now + 600}),
        jwt_secret.as_bytes(),
    );
    let forged = sign_hs256(
        &serde_json::json!({"alg": "HS256", "typ": "JWT"}),
        &serde_json::json!({"sub": "user-1", "exp": now + 600}),
        b"not-the-secret-at-all-0123456789abcdef",
    );
    let mut app = cl.connect_as("sentinel", "sentinel_app");
    app.batch_execute("BEGIN").unwrap();
    app.query_one("SELECT han_crypto.authenticate($1)", &[&token])
        .unwrap();
    app.query("SELECT body FROM notes_decrypted", &[]).unwrap();
    app.batch_execute("COMMIT").unwrap();
    let _ = app.query_one("SELECT han_crypto.authenticate($1)", &[&forged]);
    // A superuser lowers the level: recorded before the next access.
    c.batch_execute("SET han_crypto.audit_level = row").unwrap();
    c.query("SELECT body FROM notes_decrypted", &[]).unwrap();
    c.batch_execute("RESET han_crypto.audit_level").unwrap();
    c.query("SELECT body FROM notes_decrypted", &[]).unwrap();
    c.batch_execute("SELECT han_crypto.audit_checkpoint()")
        .unwrap();

    let trail: String = c
        .query_one(
            "SELECT string_agg(e::text, E'\\n' ORDER BY seq) FROM han_crypto_audit._events e",
            &[],
        )
        .unwrap()
        .get(0);
    let log = cl.log();
    let token_sig = token.rsplit('.').next().unwrap().to_string();
    for s in [
        plain,
        pass,
        aws,
        aws_secret,
        jwt_secret,
        token.as_str(),
        token_sig.as_str(),
    ] {
        assert!(!trail.contains(s), "{s} is in the trail");
    }
    // What only the trail's own lines (checkpoints, standby events) could
    // carry into the log; statements are the log scrubber's (tests/leaks.rs).
    for s in [jwt_secret, token_sig.as_str()] {
        assert!(!log.contains(s), "{s} is in the server log");
    }
    assert!(
        log.contains("han_crypto audit checkpoint"),
        "checkpoints are mirrored to the log"
    );
    // The events mirror: each committed event once, as its export line.
    let mirrored: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| l.split_once("han_crypto audit event "))
        .map(|(_, j)| serde_json::from_str(j).expect("a mirrored event is one JSON line"))
        .collect();
    let exported: Vec<serde_json::Value> = c
        .query("SELECT * FROM han_crypto.audit_export()", &[])
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(r.get::<_, &str>(0)).unwrap())
        .filter(|j: &serde_json::Value| j["type"] == "event")
        .collect();
    assert!(!exported.is_empty());
    assert_eq!(
        mirrored, exported,
        "the mirror holds exactly the exported events"
    );
    let actions: Vec<(String, String, Option<String>, Option<String>)> = c
        .query(
            "SELECT action, outcome, actor_via, detail::text FROM han_crypto_audit.events ORDER BY seq",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let has = |a: &str, o: &str| actions.iter().any(|x| x.0 == a && x.1 == o);
    for (a, o) in [
        ("create_keyring", "ok"),
        ("grant", "ok"),
        ("protect", "ok"),
        ("sealed_write", "ok"),
        ("redact", "ok"),
        ("view_read", "ok"),
        ("unlock", "ok"),
        ("unlock", "failed"),
        ("authenticate", "ok"),
        ("authenticate", "failed"),
        ("config", "ok"),
    ] {
        assert!(has(a, o), "no {a}/{o} event in {actions:?}");
    }
    let redact = actions.iter().find(|x| x.0 == "redact").unwrap();
    assert!(
        redact.3.as_deref().unwrap_or("").contains("types"),
        "{redact:?}"
    );
    let jwt_read = actions
        .iter()
        .any(|x| x.0 == "view_read" && x.2.as_deref() == Some("jwt"));
    assert!(
        jwt_read,
        "the app user's read is attributed to the JWT actor: {actions:?}"
    );
    let configs: Vec<_> = actions.iter().filter(|x| x.0 == "config").collect();
    assert_eq!(configs.len(), 2, "row, then back to statement: {configs:?}");
}

#[test]
fn immediate_shutdown_keeps_every_acknowledged_event() {
    let key = "a".repeat(64);
    let env = [("HAN_CRYPTO_ROOT_KEY", key.as_str())];
    let cl = Cluster::start("audit-immediate", &env, &[]);
    let mut c = cl.fresh_db("immediate");
    let value = envelope(&mut c, "v");
    for _ in 0..50 {
        c.query_one("SELECT han_crypto.decrypt($1)", &[&value])
            .unwrap();
    }
    let acknowledged = last_seq(&mut c);
    drop(c);
    let pid: i32 = std::fs::read_to_string(cl.data_dir().join("postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SIGQUIT to the postmaster: an immediate shutdown, no checkpoint.
    // SAFETY: signalling the test's own server.
    unsafe { libc::kill(pid, libc::SIGQUIT) };
    // SAFETY: signal 0 only asks whether the process still exists.
    while unsafe { libc::kill(pid, 0) } == 0 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    cl.restart_with_env(&env);
    let mut c = cl.connect("immediate");
    assert!(last_seq(&mut c) >= acknowledged, "acknowledged events lost");
    c.query_one("SELECT han_crypto.decrypt($1)", &[&value])
        .unwrap();
    assert!(last_seq(&mut c) > acknowledged, "writing resumes");
    assert_eq!(verify(&mut c), (true, None, None));
}

#[test]
fn terminating_the_writer_loses_nothing_and_the_next_call_starts_another() {
    let mut c = cluster().fresh_db("audit_terminate");
    let value = envelope(&mut c, "v");
    c.query_one("SELECT han_crypto.decrypt($1)", &[&value])
        .unwrap();
    let first = writer_pid(&mut c);
    let before = last_seq(&mut c);
    // With a timeout: returns once the writer has drained and exited.
    c.query_one("SELECT pg_terminate_backend($1, 10000)", &[&first])
        .unwrap();
    c.query_one("SELECT han_crypto.decrypt($1)", &[&value])
        .unwrap();
    let second = writer_pid(&mut c);
    assert_ne!(first, second, "a new writer serves the next call");
    assert!(last_seq(&mut c) > before);
    assert_eq!(verify(&mut c), (true, None, None));
}

/// A superuser who appends a well-formed event (correct hash, next seq)
/// while the writer is away does not get it signed: every batch is signed
/// as it commits, so the next writer finds an unsigned event, refuses to
/// extend the chain, and audited calls fail closed.
#[test]
fn a_forged_unsigned_tail_is_never_signed() {
    use han_crypto_core::audit::{link, Event, Field, Kind, Value};
    let key = "b".repeat(64);
    let cl = Cluster::start("audit-forge", &[("HAN_CRYPTO_ROOT_KEY", &key)], &[]);
    let mut c = cl.fresh_db("forge");
    let value = envelope(&mut c, "v");
    c.query_one("SELECT han_crypto.decrypt($1)", &[&value])
        .unwrap();
    let pid = writer_pid(&mut c);
    c.query_one("SELECT pg_terminate_backend($1, 10000)", &[&pid])
        .unwrap();
    let last = c
        .query_one(
            "SELECT seq, hash FROM han_crypto_audit._events ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .unwrap();
    let (seq, prev): (i64, Vec<u8>) = (last.get(0), last.get(1));
    let mut e = Event::new(seq as u64 + 1, 1_796_000_000_000_000, Kind::Single);
    e.set(Field::Actor, Value::Text("alice".into())).unwrap();
    e.set(Field::Action, Value::Text("decrypt".into())).unwrap();
    e.set(Field::Outcome, Value::Text("ok".into())).unwrap();
    let h = link(&prev.clone().try_into().unwrap(), &e.encode());
    c.batch_execute(&format!(
        "ALTER EVENT TRIGGER han_crypto_audit_ddl DISABLE;
         ALTER TABLE han_crypto_audit._events DISABLE TRIGGER han_crypto_append_only;
         INSERT INTO han_crypto_audit._events (seq, ts, kind, actor, action, outcome, prev_hash, hash)
           VALUES ({}, to_timestamp(0) + 1796000000000000 * interval '1 microsecond', 'single',
                   'alice', 'decrypt', 'ok', '\\x{}', '\\x{}');
         ALTER TABLE han_crypto_audit._events ENABLE ALWAYS TRIGGER han_crypto_append_only;
         ALTER EVENT TRIGGER han_crypto_audit_ddl ENABLE ALWAYS;",
        seq + 1,
        hex::encode(&prev),
        hex::encode(h)
    ))
    .unwrap();
    let (code, text) = expect_error(&mut c, "SELECT han_crypto.decrypt($1)", &[&value]);
    assert_eq!(code, "53000", "{text}");
    assert!(cl.log().contains("follows the last checkpoint unsigned"));
    let r = c
        .query_one(
            "SELECT ok, unsigned_tail FROM han_crypto.audit_verify()",
            &[],
        )
        .unwrap();
    assert_eq!(r.get::<_, i64>(1), 1, "the forged event stays unsigned");
}

#[test]
fn database_settings_cannot_stop_the_writer() {
    let mut c = cluster().fresh_db("audit_readonly_db");
    c.batch_execute(
        "ALTER DATABASE audit_readonly_db SET default_transaction_read_only = on;
         ALTER DATABASE audit_readonly_db SET default_transaction_isolation = 'serializable';",
    )
    .unwrap();
    let value: Vec<u8> = c
        .query_one("SELECT han_crypto.encrypt('v')", &[])
        .unwrap()
        .get(0);
    let mut fresh = cluster().connect("audit_readonly_db");
    let plain: String = fresh
        .query_one("SELECT han_crypto.decrypt($1)", &[&value])
        .unwrap()
        .get(0);
    assert_eq!(plain, "v");
}

/// What callers type where a name goes (a passphrase passed as a keyring
/// name, a token as an actor) is redacted before it reaches the
/// append-only trail; control and direction characters are escaped; one
/// statement making up thousands of names is a bounded number of events.
#[test]
fn caller_supplied_names_are_cleaned_and_bounded() {
    let mut c = cluster().fresh_db("audit_names");
    let before = last_seq(&mut c);
    let token = "ghp_R7tQ2mX9vL4kW8nB3cF6hJ1pS5dZ0aYe4Kq2";
    let _ = c.query_one("SELECT han_crypto.lock($1)", &[&token]);
    let _ = c.query_one(
        "SELECT han_crypto.encrypt('x', 'postgresql://bob:Sup3rS3cretPassw0rd@db/x')",
        &[],
    );
    let _ = c.query_one("SELECT han_crypto.lock(E'a\\u202Eb\\nc')", &[]);
    c.batch_execute(
        "DO $$ BEGIN FOR i IN 1..500 LOOP
           BEGIN PERFORM han_crypto.encrypt('x', 'made-up-' || i); EXCEPTION WHEN others THEN NULL; END;
         END LOOP; END $$",
    )
    .unwrap();
    c.batch_execute("SELECT han_crypto.audit_checkpoint()")
        .unwrap();
    let trail: String = c
        .query_one(
            "SELECT string_agg(e::text, E'\\n') FROM han_crypto_audit._events e WHERE seq > $1",
            &[&before],
        )
        .unwrap()
        .get(0);
    assert!(!trail.contains(token), "a token in the trail");
    assert!(
        !trail.contains("Sup3rS3cretPassw0rd"),
        "a password in the trail"
    );
    assert!(
        !trail.contains('\u{202E}'),
        "a direction override in the trail"
    );
    let flood: i64 = c
        .query_one(
            "SELECT count(*) FROM han_crypto_audit._events WHERE seq > $1 AND action = 'encrypt' AND kind <> 'end'",
            &[&before],
        )
        .unwrap()
        .get(0);
    assert!(
        flood <= 70,
        "{flood} events for one statement's 500 made-up keyrings"
    );
}

/// The closing count of a statement whose writer went away before the
/// transaction ended is sent with the backend's next event, not lost.
#[test]
fn a_statement_count_survives_a_writer_restart() {
    let mut c = cluster().fresh_db("audit_pending_end");
    c.batch_execute(
        "CREATE TABLE notes (id int PRIMARY KEY, ring text NOT NULL, body text);
         SELECT han_crypto.protect('notes', ARRAY['body'], 'ring');
         INSERT INTO notes SELECT i, 'default', 'row ' || i FROM generate_series(1, 30) i;",
    )
    .unwrap();
    let before = last_seq(&mut c);
    let mut reader = cluster().connect("audit_pending_end");
    reader.batch_execute("BEGIN").unwrap();
    reader
        .query("SELECT body FROM notes_decrypted", &[])
        .unwrap();
    let pid = writer_pid(&mut c);
    c.query_one("SELECT pg_terminate_backend($1, 10000)", &[&pid])
        .unwrap();
    reader.batch_execute("COMMIT").unwrap();
    let value = envelope(&mut reader, "next");
    reader
        .query_one("SELECT han_crypto.decrypt($1)", &[&value])
        .unwrap();
    c.batch_execute("SELECT han_crypto.audit_checkpoint()")
        .unwrap();
    let r = c
        .query_one(
            "SELECT row_count, incomplete FROM han_crypto_audit.events
              WHERE seq > $1 AND action = 'view_read' ORDER BY seq LIMIT 1",
            &[&before],
        )
        .unwrap();
    assert_eq!(r.get::<_, Option<i64>>(0), Some(30));
    assert!(!r.get::<_, bool>(1));
}

/// CREATE EXTENSION and its first use in one transaction (a migration, a
/// multi-statement setup query): the creating backend writes the events
/// itself, signed at commit; after commit the writer carries on the chain.
#[test]
fn create_extension_and_use_in_one_transaction() {
    let cl = cluster();
    let mut admin = cl.connect("postgres");
    admin
        .batch_execute("DROP DATABASE IF EXISTS audit_one_tx")
        .unwrap();
    admin.batch_execute("CREATE DATABASE audit_one_tx").unwrap();
    let mut c = cl.connect("audit_one_tx");
    c.batch_execute(
        "CREATE EXTENSION han_crypto CASCADE;
         SELECT han_crypto.create_keyring('team');
         CREATE TABLE notes (id int PRIMARY KEY, ring text NOT NULL, body text);
         SELECT han_crypto.protect('notes', ARRAY['body'], 'ring');
         INSERT INTO notes VALUES (1, 'team', 'one'), (2, 'team', 'two');
         SELECT body FROM notes_decrypted;",
    )
    .unwrap();
    c.query("SELECT body FROM notes_decrypted", &[]).unwrap();
    c.batch_execute("SELECT han_crypto.audit_checkpoint()")
        .unwrap();
    let actions: Vec<String> = c
        .query(
            "SELECT action FROM han_crypto_audit.events ORDER BY seq",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for a in ["create_keyring", "protect", "sealed_write", "view_read"] {
        assert!(actions.iter().any(|x| x == a), "no {a} in {actions:?}");
    }
    assert_eq!(verify(&mut c), (true, None, None));
    // Rolled back, the trail goes with the extension.
    let mut admin = cl.connect("postgres");
    admin
        .batch_execute("DROP DATABASE IF EXISTS audit_one_tx_rb")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE audit_one_tx_rb")
        .unwrap();
    let mut r = cl.connect("audit_one_tx_rb");
    r.batch_execute(
        "BEGIN; CREATE EXTENSION han_crypto CASCADE; SELECT han_crypto.create_keyring('team'); ROLLBACK;
         CREATE EXTENSION han_crypto CASCADE;",
    )
    .unwrap();
    let n: i64 = r
        .query_one("SELECT count(*) FROM han_crypto_audit._events", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn async_mode_queues_events_that_a_checkpoint_then_finds_committed() {
    let mut c = cluster().fresh_db("audit_async");
    c.batch_execute(
        "CREATE TABLE notes (id int PRIMARY KEY, ring text NOT NULL, body text);
         SELECT han_crypto.protect('notes', ARRAY['body'], 'ring');
         INSERT INTO notes SELECT g, 'default', 'note ' || g FROM generate_series(1, 5) g;
         CREATE ROLE async_app LOGIN IN ROLE han_crypto_app;
         GRANT SELECT ON notes, notes_decrypted TO async_app;",
    )
    .unwrap();
    // Weakening the promise is a superuser's decision, and recorded.
    // Before the library is loaded in a session, SET makes a placeholder,
    // which loading the library then refuses (a WARNING): the mode stays.
    let mut app = cluster().connect_as("audit_async", "async_app");
    app.batch_execute("SET han_crypto.audit_mode = async")
        .unwrap();
    app.query("SELECT * FROM notes_decrypted", &[]).unwrap();
    let mode: String = app
        .query_one("SHOW han_crypto.audit_mode", &[])
        .unwrap()
        .get(0);
    assert_eq!(mode, "durable");
    // Once it is loaded, SET itself is refused.
    let (code, _) = expect_error(&mut app, "SET han_crypto.audit_mode = async", &[]);
    assert_eq!(code, "42501");
    let env = envelope(&mut c, "queued");
    let before = last_seq(&mut c);
    c.batch_execute("SET han_crypto.audit_mode = async")
        .unwrap();
    for id in 1..=5 {
        let body: String = c
            .query_one("SELECT body FROM notes_decrypted WHERE id = $1", &[&id])
            .unwrap()
            .get(0);
        assert_eq!(body, format!("note {id}"));
    }
    c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
        .unwrap();
    c.batch_execute("BEGIN").unwrap();
    c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
        .unwrap();
    c.batch_execute("ROLLBACK").unwrap();
    let got = events_after(&mut c, before);
    let mut expected = vec![("config".to_string(), "ok".to_string(), Some(1))];
    expected.extend((0..5).map(|_| ("view_read".into(), "ok".into(), Some(1))));
    expected.extend((0..2).map(|_| ("decrypt".into(), "ok".into(), Some(1))));
    assert_eq!(
        got, expected,
        "the switch first, then every access, counted"
    );
    let stored: i64 = c
        .query_one(
            "SELECT count(*) FROM han_crypto_audit._events WHERE seq > $1 AND action = 'view_read'",
            &[&before],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        stored, 5,
        "asynchronous: one event per statement, no begin and end"
    );
    let status: String = c
        .query_one("SELECT han_crypto.audit_status()->>'mode'", &[])
        .unwrap()
        .get(0);
    assert_eq!(status, "async");
    assert!(verify(&mut c).0);
}

/// Row keys are the application's values: quotes, backslashes, commas,
/// braces and the word NULL must come back as written, and the chain
/// (which hashes them) must still verify.
#[test]
fn row_keys_with_quotes_braces_and_backslashes_are_stored_as_written() {
    let mut c = cluster().fresh_db("audit_row_keys");
    let keys = ["a\"b", "c\\d", "{e}", "NULL", " f ", "g,h"];
    c.batch_execute(
        "CREATE TABLE notes (k text PRIMARY KEY, ring text NOT NULL, body text);
         SELECT han_crypto.protect('notes', ARRAY['body'], 'ring');",
    )
    .unwrap();
    for k in keys {
        c.execute("INSERT INTO notes VALUES ($1, 'default', 'x')", &[&k])
            .unwrap();
    }
    let before = last_seq(&mut c);
    c.query("SELECT body FROM notes_decrypted", &[]).unwrap();
    c.batch_execute("SELECT han_crypto.audit_checkpoint()")
        .unwrap();
    let row = c
        .query_one(
            "SELECT row_count, row_keys FROM han_crypto_audit.events WHERE seq > $1 AND action = 'view_read'",
            &[&before],
        )
        .unwrap();
    assert_eq!(row.get::<_, Option<i64>>(0), Some(keys.len() as i64));
    let mut got: Vec<String> = row.get(1);
    let mut want: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(verify(&mut c), (true, None, None));
}

/// Retention: the old segment comes out as an export that verifies
/// offline, and is removed only if the caller commits;
/// a marker names who archived what, what remains verifies in SQL and
/// offline, and archiving again continues from where the last one stopped.
#[test]
fn archiving_removes_only_an_exported_segment_and_the_rest_still_verifies() {
    let cl = cluster();
    let mut c = cl.fresh_db("audit_archive");
    c.batch_execute(
        "CREATE ROLE archivist LOGIN IN ROLE han_crypto_auditor;
         CREATE ROLE archive_app LOGIN IN ROLE han_crypto_app;",
    )
    .unwrap();
    let env = envelope(&mut c, "v");
    let key: String = c
        .query_one("SELECT han_crypto.audit_public_key()", &[])
        .unwrap()
        .get(0);
    let mut aud = cl.connect_as("audit_archive", "archivist");
    let mut app = cl.connect_as("audit_archive", "archive_app");
    let (code, _) = expect_error(
        &mut app,
        "SELECT * FROM han_crypto.audit_archive(now())",
        &[],
    );
    assert_eq!(code, "42501", "the application cannot archive");
    // Under REPEATABLE READ its DELETE would see an older snapshot than its
    // export: refused.
    aud.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .unwrap();
    let (code, _) = expect_error(
        &mut aud,
        "SELECT * FROM han_crypto.audit_archive(now())",
        &[],
    );
    assert_eq!(code, "55000");
    aud.batch_execute("ROLLBACK").unwrap();
    let count = |c: &mut Client| -> i64 {
        c.query_one("SELECT count(*) FROM han_crypto_audit._events", &[])
            .unwrap()
            .get(0)
    };

    let mut through_prev = 0i64;
    for round in 0..2 {
        for _ in 0..5 {
            c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
                .unwrap();
        }
        c.batch_execute("SELECT han_crypto.audit_checkpoint()")
            .unwrap();
        let cutoff: std::time::SystemTime =
            c.query_one("SELECT clock_timestamp()", &[]).unwrap().get(0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        for _ in 0..3 {
            c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
                .unwrap();
        }
        c.batch_execute("SELECT han_crypto.audit_checkpoint()")
            .unwrap();
        let before_count = count(&mut c);
        // Read but rolled back: nothing is removed.
        aud.batch_execute("BEGIN").unwrap();
        let lines: Vec<String> = aud
            .query("SELECT * FROM han_crypto.audit_archive($1)", &[&cutoff])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        aud.batch_execute("ROLLBACK").unwrap();
        assert_eq!(
            count(&mut c) - before_count,
            1,
            "only the attempt's archive_start marker was added"
        );
        // Read whole and committed: removed.
        let lines_again: Vec<String> = aud
            .query("SELECT * FROM han_crypto.audit_archive($1)", &[&cutoff])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(lines.len(), lines_again.len());
        let path =
            std::env::temp_dir().join(format!("hc-archive-{round}-{}.jsonl", std::process::id()));
        std::fs::write(&path, lines_again.join("\n") + "\n").unwrap();
        let offline = cli_verify_file(&path, &key);
        assert_eq!(
            offline["ok"], true,
            "round {round}: the archive verifies offline: {offline}"
        );
        let header: serde_json::Value = serde_json::from_str(&lines_again[0]).unwrap();
        assert_eq!(header["from_seq"].as_i64().unwrap(), through_prev + 1);
        let through = header["to_seq"].as_i64().unwrap();
        let end: serde_json::Value = serde_json::from_str(lines_again.last().unwrap()).unwrap();
        let first: i64 = c
            .query_one("SELECT min(seq) FROM han_crypto_audit._events", &[])
            .unwrap()
            .get(0);
        assert_eq!(
            first,
            through + 1,
            "everything up to the segment's end is gone"
        );
        let marker = c
            .query_one(
                "SELECT session_user_name, (detail->>'through_seq')::bigint, detail->>'export_sha256'
                   FROM han_crypto_audit.events WHERE kind = 'marker' AND action = 'archive'
                   ORDER BY seq DESC LIMIT 1",
                &[],
            )
            .unwrap();
        assert_eq!(marker.get::<_, String>(0), "archivist");
        assert_eq!(marker.get::<_, i64>(1), through);
        assert_eq!(marker.get::<_, String>(2), end["sha256"].as_str().unwrap());
        assert_eq!(
            verify(&mut c),
            (true, None, None),
            "round {round}: the rest verifies"
        );
        assert_eq!(
            cli_verdict(cl, "audit_archive", &mut c),
            (true, None, None),
            "round {round}: the rest verifies offline"
        );
        through_prev = through;
    }
    // The writer starts again on the archived trail and extends it.
    let pid = writer_pid(&mut c);
    c.query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
        .unwrap();
    assert_eq!(verify(&mut c), (true, None, None));
    // Nothing old enough: no rows, nothing removed.
    let none = aud
        .query("SELECT * FROM han_crypto.audit_archive('2000-01-01')", &[])
        .unwrap();
    assert!(none.is_empty());
}

/// An archive rolled back (whole, or to a savepoint) leaves only its
/// `archive_start` marker, which explains nothing: a superuser who later
/// deletes exactly that segment with the guards off is reported as having
/// deleted it, in SQL and offline.
#[test]
fn a_rolled_back_archive_cannot_excuse_a_later_deletion() {
    let cl = cluster();
    let mut c = cl.fresh_db("audit_archive_rollback");
    let env = envelope(&mut c, "v");
    for _ in 0..4 {
        c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
            .unwrap();
    }
    c.batch_execute("SELECT han_crypto.audit_checkpoint()")
        .unwrap();
    let cutoff: std::time::SystemTime =
        c.query_one("SELECT clock_timestamp()", &[]).unwrap().get(0);
    std::thread::sleep(std::time::Duration::from_millis(20));
    c.query_one("SELECT han_crypto.decrypt($1)", &[&env])
        .unwrap();
    c.batch_execute("SELECT han_crypto.audit_checkpoint()")
        .unwrap();
    let markers = |c: &mut Client, action: &str| -> i64 {
        c.query_one(
            "SELECT count(*) FROM han_crypto_audit._events WHERE kind = 'marker' AND action = $1",
            &[&action],
        )
        .unwrap()
        .get(0)
    };
    let stored = |c: &mut Client| -> i64 {
        c.query_one(
            "SELECT count(*) FROM han_crypto_audit._events WHERE kind <> 'marker'",
            &[],
        )
        .unwrap()
        .get(0)
    };
    let before = stored(&mut c);
    let mut through = 0i64;
    for how in ["ROLLBACK", "SAVEPOINT"] {
        c.batch_execute("BEGIN").unwrap();
        if how == "SAVEPOINT" {
            c.batch_execute("SAVEPOINT s").unwrap();
        }
        let lines: Vec<String> = c
            .query("SELECT * FROM han_crypto.audit_archive($1)", &[&cutoff])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let header: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        through = header["to_seq"].as_i64().unwrap();
        if how == "SAVEPOINT" {
            c.batch_execute("ROLLBACK TO SAVEPOINT s; COMMIT").unwrap();
        } else {
            c.batch_execute("ROLLBACK").unwrap();
        }
        assert_eq!(stored(&mut c), before, "{how}: nothing was removed");
        assert_eq!(markers(&mut c, "archive"), 0, "{how}: no completed archive");
    }
    assert_eq!(
        markers(&mut c, "archive_start"),
        2,
        "each attempt is on record"
    );
    assert_eq!(verify(&mut c), (true, None, None));
    // Later, the same removal behind the trail's back.
    let anchor: i64 = c
        .query_one(
            "SELECT n FROM han_crypto_audit._checkpoints WHERE seq = $1",
            &[&through],
        )
        .unwrap()
        .get(0);
    c.batch_execute(&format!(
        "ALTER EVENT TRIGGER han_crypto_audit_ddl DISABLE;
         ALTER TABLE han_crypto_audit._events DISABLE TRIGGER han_crypto_append_only;
         ALTER TABLE han_crypto_audit._checkpoints DISABLE TRIGGER han_crypto_append_only;
         DELETE FROM han_crypto_audit._events WHERE seq <= {through};
         DELETE FROM han_crypto_audit._checkpoints WHERE n < {anchor};
         ALTER TABLE han_crypto_audit._events ENABLE ALWAYS TRIGGER han_crypto_append_only;
         ALTER TABLE han_crypto_audit._checkpoints ENABLE ALWAYS TRIGGER han_crypto_append_only;
         ALTER EVENT TRIGGER han_crypto_audit_ddl ENABLE ALWAYS"
    ))
    .unwrap();
    let sql = verify(&mut c);
    assert_eq!(
        (sql.0, sql.1, sql.2.as_deref()),
        (false, Some(1), Some("deleted"))
    );
    assert_eq!(cli_verdict(cl, "audit_archive_rollback", &mut c), sql);
}

fn cli_verify_file(path: &std::path::Path, key: &str) -> serde_json::Value {
    let out = Command::new(cli())
        .args(["audit", "verify"])
        .arg(path)
        .args(["--public-key", key, "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}
