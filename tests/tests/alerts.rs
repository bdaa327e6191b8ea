//! Access monitoring against a real server: each built-in rule fires when
//! its threshold is crossed and not below it, a probe that rolls back
//! still alerts, a LISTENing client gets the payload within a second,
//! eight probing connections make one throttled alert, honeytokens alert
//! through the view and through decrypt() of a copied ciphertext, no alert
//! carries a plaintext, and only administrators edit the rules.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use han_crypto_tests::{expect_error, shared, Client, Cluster};

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn cluster() -> &'static Cluster {
    let key = "7".repeat(64);
    shared(&CLUSTER, "alerts", &[("HAN_CRYPTO_ROOT_KEY", &key)], &[])
}

/// The next alert payload delivered to `listener` within a second.
fn next_alert(listener: &mut Client) -> Option<(String, String)> {
    use postgres::fallible_iterator::FallibleIterator;
    let n = listener
        .notifications()
        .timeout_iter(Duration::from_secs(1))
        .next()
        .unwrap()?;
    Some((n.channel().to_owned(), n.payload().to_owned()))
}

const SENTINEL: &str = "sentinel-plaintext-7f3a9c";

/// A tampered envelope of the sentinel (one bit flipped in its tag).
fn tampered(c: &mut Client) -> Vec<u8> {
    let mut env: Vec<u8> = c
        .query_one("SELECT han_crypto.encrypt($1)", &[&SENTINEL])
        .unwrap()
        .get(0);
    let last = env.len() - 1;
    env[last] ^= 1;
    env
}

fn fail_decrypt(c: &mut Client, bad: &[u8]) {
    let (code, msg) = expect_error(c, "SELECT han_crypto.decrypt($1)", &[&bad]);
    if code != "XX001" {
        for l in cluster()
            .log()
            .lines()
            .filter(|l| l.contains("writer") || l.contains("ERROR") || l.contains("PANIC"))
            .take(30)
        {
            eprintln!("LOG: {l}");
        }
    }
    assert_eq!(code, "XX001", "{msg}");
}

/// Everything queued is committed (and evaluated) once a checkpoint returns.
fn settle(c: &mut Client) {
    c.batch_execute("SELECT han_crypto.audit_checkpoint()")
        .unwrap();
}

/// (event_count, repeats) of each alert of `rule`, oldest first.
fn alerts(c: &mut Client, rule: &str) -> Vec<(i64, i64, String)> {
    settle(c);
    c.query(
        "SELECT event_count, repeats, subject FROM han_crypto_audit.alerts WHERE rule = $1 ORDER BY id",
        &[&rule],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// Only `rule` enabled, with `threshold`.
fn only_rule(c: &mut Client, rule: &str, threshold: i64) {
    c.execute(
        "UPDATE han_crypto.alert_rules SET enabled = (name = $1),
                threshold = CASE WHEN name = $1 THEN $2 ELSE threshold END",
        &[&rule, &threshold],
    )
    .unwrap();
}

#[test]
fn failed_decrypts_alert_at_the_threshold_even_when_rolled_back_and_reach_a_listener_within_a_second(
) {
    let cl = cluster();
    let mut c = cl.fresh_db("alerts_probe");
    only_rule(&mut c, "failed_decrypts_per_actor", 3);
    let bad = tampered(&mut c);
    let mut listener = cl.connect("alerts_probe");
    listener.batch_execute("LISTEN han_crypto_alerts").unwrap();
    let mut probe = cl.connect("alerts_probe");
    probe.batch_execute("BEGIN").unwrap();
    for _ in 0..2 {
        probe.batch_execute("SAVEPOINT s").unwrap();
        fail_decrypt(&mut probe, &bad);
        probe.batch_execute("ROLLBACK TO SAVEPOINT s").unwrap();
    }
    probe.batch_execute("ROLLBACK").unwrap();
    assert!(
        alerts(&mut c, "failed_decrypts_per_actor").is_empty(),
        "2 of 3: no alert"
    );
    probe.batch_execute("BEGIN").unwrap();
    fail_decrypt(&mut probe, &bad);
    let sent = Instant::now();
    let (channel, body) = next_alert(&mut listener).expect("a notification within 1 s");
    assert!(sent.elapsed() < Duration::from_secs(1));
    probe.batch_execute("ROLLBACK").unwrap();
    assert_eq!(channel, "han_crypto_alerts");
    let payload: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["rule"], "failed_decrypts_per_actor");
    assert_eq!(payload["severity"], "warning");
    assert_eq!(payload["count"], 3);
    assert_eq!(payload["subject"], "postgres");
    assert!(!body.contains(SENTINEL));
    let got = alerts(&mut c, "failed_decrypts_per_actor");
    assert_eq!(got, [(3, 0, "postgres".to_owned())]);
    // The alert is an event of the chain, which still verifies.
    let (alert_events, ok): (i64, bool) = {
        let r = c
            .query_one(
                "SELECT (SELECT count(*) FROM han_crypto_audit.events
                          WHERE action = 'alert' AND object = 'failed_decrypts_per_actor'),
                        (SELECT ok FROM han_crypto.audit_verify())",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((alert_events, ok), (1, true));
    let leaked: i64 = c
        .query_one(
            "SELECT count(*) FROM han_crypto_audit.alerts a WHERE a::text LIKE '%' || $1 || '%'",
            &[&SENTINEL],
        )
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0);
    // An auditor acknowledges it, once; the acknowledgement is recorded.
    c.batch_execute("CREATE ROLE probe_auditor LOGIN IN ROLE han_crypto_auditor")
        .unwrap();
    let mut aud = cl.connect_as("alerts_probe", "probe_auditor");
    let id = payload["id"].as_i64().unwrap();
    let first: bool = aud
        .query_one(
            "SELECT han_crypto.acknowledge_alert($1, 'looked at it')",
            &[&id],
        )
        .unwrap()
        .get(0);
    let again: bool = aud
        .query_one("SELECT han_crypto.acknowledge_alert($1)", &[&id])
        .unwrap()
        .get(0);
    assert_eq!((first, again), (true, false));
    let (code, _) = expect_error(&mut aud, "SELECT han_crypto.acknowledge_alert(-1)", &[]);
    assert_eq!(code, "42704");
    let by: String = c
        .query_one(
            "SELECT acknowledged_by FROM han_crypto_audit.alerts WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(by, "probe_auditor");
    settle(&mut c);
    let recorded: i64 = c
        .query_one(
            "SELECT count(*) FROM han_crypto_audit.events WHERE action = 'acknowledge_alert'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(recorded, 1);
}

#[test]
fn eight_probing_connections_make_one_throttled_alert() {
    let cl = cluster();
    let mut c = cl.fresh_db("alerts_throttle");
    only_rule(&mut c, "failed_decrypts_per_actor", 5);
    let bad = tampered(&mut c);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let bad = bad.clone();
            std::thread::spawn(move || {
                let mut p = cluster().connect("alerts_throttle");
                for _ in 0..10 {
                    fail_decrypt(&mut p, &bad);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let got = alerts(&mut c, "failed_decrypts_per_actor");
    assert_eq!(got.len(), 1, "one open alert per rule and subject: {got:?}");
    assert_eq!(got[0].0, 80, "the count covers every probe");
    assert_eq!(
        got[0].1, 75,
        "every failure after the fifth repeats the open alert"
    );
}

#[test]
fn honeytokens_alert_through_the_view_and_through_decrypt_of_a_copied_ciphertext() {
    let cl = cluster();
    let mut c = cl.fresh_db("alerts_honey");
    c.batch_execute(
        "CREATE TABLE notes (id int PRIMARY KEY, ring text NOT NULL, body text, blob bytea);
         SELECT han_crypto.protect('notes', ARRAY['body', 'blob'], 'ring');
         INSERT INTO notes VALUES (1, 'default', 'real note', '\\x01');",
    )
    .unwrap();
    let planted: i32 = c
        .query_one(
            "SELECT han_crypto.plant_honeytoken('notes', $1::jsonb)",
            &[&serde_json::json!({"id": 999, "ring": "default", "body": SENTINEL, "blob": "\\x0203"})],
        )
        .unwrap()
        .get(0);
    assert_eq!(planted, 2);
    // A legitimate read by key touches no honeytoken.
    c.query("SELECT body FROM notes_decrypted WHERE id = 1", &[])
        .unwrap();
    assert!(alerts(&mut c, "honeytoken").is_empty());
    let mut listener = cl.connect("alerts_honey");
    listener.batch_execute("LISTEN han_crypto_alerts").unwrap();
    c.query("SELECT body FROM notes_decrypted", &[]).unwrap();
    let first: Vec<serde_json::Value> = next_alert(&mut listener)
        .map(|(_, b)| serde_json::from_str(&b).unwrap())
        .into_iter()
        .collect();
    assert_eq!(first.len(), 1, "the view read alerts");
    assert_eq!(first[0]["rule"], "honeytoken");
    assert_eq!(first[0]["severity"], "critical");
    assert_eq!(first[0]["subject"], "public.notes");
    // The decoy's ciphertext, copied out and decrypted directly (with any
    // context: an attempt is enough).
    let blob: Vec<u8> = c
        .query_one("SELECT blob FROM notes WHERE id = 999", &[])
        .unwrap()
        .get(0);
    let _ = c.query("SELECT han_crypto.decrypt_bytea($1)", &[&blob]);
    let again: Vec<serde_json::Value> = next_alert(&mut listener)
        .map(|(_, b)| serde_json::from_str(&b).unwrap())
        .into_iter()
        .collect();
    assert_eq!(again.len(), 1, "decrypt() of the copy alerts too");
    assert_eq!(again[0]["rule"], "honeytoken");
    let reads: i64 = c
        .query_one(
            "SELECT count(*) FROM han_crypto_audit.events WHERE action = 'honeytoken_read'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(reads >= 2);
    for payload in first.iter().chain(&again) {
        assert!(!payload.to_string().contains(SENTINEL));
    }
}

#[test]
fn failed_unlocks_bulk_reads_denials_and_new_addresses_fire_exactly_at_their_thresholds() {
    let cl = cluster();
    let mut c = cl.fresh_db("alerts_rules");
    c.batch_execute(
        "SELECT han_crypto.create_passphrase_keyring('diary', 'correct horse battery staple');
         CREATE TABLE notes (id int PRIMARY KEY, ring text NOT NULL, body text);
         SELECT han_crypto.protect('notes', ARRAY['body'], 'ring');
         INSERT INTO notes SELECT g, 'default', 'n' || g FROM generate_series(1, 6) g;
         CREATE ROLE alert_app LOGIN IN ROLE han_crypto_app;
         GRANT SELECT ON notes, notes_decrypted TO alert_app;",
    )
    .unwrap();
    // Failed unlocks: 2 is below 3; the third alerts.
    only_rule(&mut c, "failed_unlocks_per_keyring", 3);
    for _ in 0..2 {
        c.batch_execute("SELECT han_crypto.unlock('diary', 'wrong')")
            .unwrap();
    }
    assert!(alerts(&mut c, "failed_unlocks_per_keyring").is_empty());
    c.batch_execute("SELECT han_crypto.unlock('diary', 'wrong')")
        .unwrap();
    assert_eq!(
        alerts(&mut c, "failed_unlocks_per_keyring"),
        [(3, 0, "diary".to_owned())]
    );
    // Bulk read by one statement: 5 rows is not more than 5; 6 is.
    only_rule(&mut c, "bulk_read_statement", 5);
    c.query("SELECT body FROM notes_decrypted WHERE id <= 5", &[])
        .unwrap();
    assert!(alerts(&mut c, "bulk_read_statement").is_empty());
    c.query("SELECT body FROM notes_decrypted", &[]).unwrap();
    let bulk = alerts(&mut c, "bulk_read_statement");
    assert_eq!(bulk.len(), 1);
    assert_eq!(bulk[0].0, 6);
    // A new client address for an actor known on the keyring.
    only_rule(&mut c, "new_client_address", 1);
    let mut app = cl.connect_as("alerts_rules", "alert_app");
    for addr in ["192.0.2.1", "192.0.2.1"] {
        app.batch_execute(&format!(
            "BEGIN; SELECT han_crypto.set_actor('ann', '{addr}'); SELECT body FROM notes_decrypted WHERE id = 1; COMMIT"
        ))
        .unwrap();
    }
    assert!(
        alerts(&mut c, "new_client_address").is_empty(),
        "first and same address"
    );
    app.batch_execute(
        "BEGIN; SELECT han_crypto.set_actor('ann', '198.51.100.9'); SELECT body FROM notes_decrypted WHERE id = 1; COMMIT",
    )
    .unwrap();
    assert_eq!(
        alerts(&mut c, "new_client_address"),
        [(1, 0, "ann".to_owned())]
    );
    // Denied reads: a non-member's view read shows NULL and is refused.
    c.batch_execute(
        "SELECT han_crypto.create_keyring('team_x', 'team');
         INSERT INTO notes VALUES (101, 'team_x', 'x1'), (102, 'team_x', 'x2');",
    )
    .unwrap();
    only_rule(&mut c, "denied_reads_per_actor", 3);
    app.batch_execute(
        "BEGIN; SELECT han_crypto.set_actor('bob'); SELECT body FROM notes_decrypted WHERE id > 100; COMMIT",
    )
    .unwrap();
    assert!(
        alerts(&mut c, "denied_reads_per_actor").is_empty(),
        "2 of 3"
    );
    app.batch_execute(
        "BEGIN; SELECT han_crypto.set_actor('bob'); SELECT body FROM notes_decrypted WHERE id = 101; COMMIT",
    )
    .unwrap();
    assert_eq!(
        alerts(&mut c, "denied_reads_per_actor"),
        [(3, 0, "bob".to_owned())]
    );
    // Off hours: the default keyring allowed only in an hour that is not now.
    c.batch_execute(
        "UPDATE han_crypto.alert_rules SET params = jsonb_build_object('keyrings', jsonb_build_object('default',
            jsonb_build_object('time_zone', 'Asia/Tokyo',
              'from', to_char((now() AT TIME ZONE 'Asia/Tokyo') + interval '2 hours', 'HH24:00'),
              'to', to_char((now() AT TIME ZONE 'Asia/Tokyo') + interval '3 hours', 'HH24:00'))))
          WHERE name = 'off_hours'",
    )
    .unwrap();
    only_rule(&mut c, "off_hours", 1);
    c.query("SELECT body FROM notes_decrypted WHERE id = 1", &[])
        .unwrap();
    assert_eq!(alerts(&mut c, "off_hours"), [(1, 0, "default".to_owned())]);
    // Per actor too: the same wrong passphrases, counted for whoever gave them.
    only_rule(&mut c, "failed_unlocks_per_actor", 2);
    c.batch_execute("SELECT han_crypto.unlock('diary', 'wrong')")
        .unwrap();
    assert!(alerts(&mut c, "failed_unlocks_per_actor").is_empty());
    c.batch_execute("SELECT han_crypto.unlock('diary', 'wrong')")
        .unwrap();
    assert_eq!(alerts(&mut c, "failed_unlocks_per_actor").len(), 1);
    // Values read by one actor within the window: 3 + 3 is more than 5.
    only_rule(&mut c, "bulk_read_per_actor", 5);
    c.query("SELECT body FROM notes_decrypted WHERE id <= 3", &[])
        .unwrap();
    assert!(alerts(&mut c, "bulk_read_per_actor").is_empty());
    c.query(
        "SELECT body FROM notes_decrypted WHERE id BETWEEN 4 AND 6",
        &[],
    )
    .unwrap();
    let window = alerts(&mut c, "bulk_read_per_actor");
    assert_eq!((window.len(), window[0].0), (1, 6));
    // Failed decrypts per client address, whichever actors they claim.
    only_rule(&mut c, "failed_decrypts_per_client", 3);
    let bad = tampered(&mut c);
    for (i, actor) in ["a1", "a2", "a3"].iter().enumerate() {
        app.batch_execute(&format!(
            "BEGIN; SELECT han_crypto.set_actor('{actor}', '203.0.113.50')"
        ))
        .unwrap();
        fail_decrypt(&mut app, &bad);
        app.batch_execute("ROLLBACK").unwrap();
        let got = alerts(&mut c, "failed_decrypts_per_client");
        if i < 2 {
            assert!(got.is_empty(), "{} of 3", i + 1);
        } else {
            assert_eq!(got, [(3, 0, "203.0.113.50".to_owned())]);
        }
    }
    // Alert events the writer adds never shift a statement's closing
    // counts off the event that opened it.
    let orphans: i64 = c
        .query_one(
            "SELECT count(*) FROM han_crypto_audit._events x WHERE x.kind = 'end' AND NOT EXISTS (
               SELECT 1 FROM han_crypto_audit._events b
                WHERE b.seq = x.begin_seq AND b.kind = 'begin' AND b.action = x.action)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(orphans, 0);
    // The report counts what happened.
    let row = c
        .query_one(
            "SELECT failed_unlocks, alerts FROM han_crypto.audit_report(now() - interval '1 hour', now() + interval '1 hour')
              WHERE keyring = 'diary' AND actor IS NOT NULL",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 5, "the five wrong passphrases");
}

#[test]
fn rule_edits_by_non_admins_are_refused_and_admin_edits_are_audited() {
    let cl = cluster();
    let mut c = cl.fresh_db("alerts_edit");
    c.batch_execute(
        "CREATE ROLE rules_app LOGIN IN ROLE han_crypto_app;
         CREATE ROLE rules_admin LOGIN IN ROLE han_crypto_admin;
         CREATE ROLE rules_auditor LOGIN IN ROLE han_crypto_auditor;",
    )
    .unwrap();
    for role in ["rules_app", "rules_auditor"] {
        let mut r = cl.connect_as("alerts_edit", role);
        for sql in [
            "UPDATE han_crypto.alert_rules SET enabled = false",
            "DELETE FROM han_crypto.alert_rules",
            "INSERT INTO han_crypto.alert_rules (name, kind, subject, threshold, severity) VALUES ('x', 'honeytoken', 'table', 1, 'info')",
            "SELECT han_crypto.plant_honeytoken('pg_class', '{}')",
        ] {
            let (code, _) = expect_error(&mut r, sql, &[]);
            assert_eq!(code, "42501", "{role}: {sql}");
        }
    }
    let mut app = cl.connect_as("alerts_edit", "rules_app");
    for sql in [
        "SELECT * FROM han_crypto_audit.alerts",
        "SELECT han_crypto.acknowledge_alert(1)",
    ] {
        let (code, _) = expect_error(&mut app, sql, &[]);
        assert_eq!(code, "42501", "{sql}");
    }
    let mut admin = cl.connect_as("alerts_edit", "rules_admin");
    admin
        .batch_execute(
            "UPDATE han_crypto.alert_rules SET threshold = 7 WHERE name = 'denied_reads_per_actor'",
        )
        .unwrap();
    settle(&mut c);
    let who: String = c
        .query_one(
            "SELECT session_user_name FROM han_crypto_audit.events WHERE action = 'alert_rules_change' ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(who, "rules_admin");
    // A change to the rules is itself an alert.
    assert!(!alerts(&mut c, "monitoring_changes").is_empty());
    // A rule an administrator breaks (CHECKs aside) cannot stop the writer.
    let (code, _) = expect_error(
        &mut admin,
        "UPDATE han_crypto.alert_rules SET threshold = 0 WHERE name = 'honeytoken'",
        &[],
    );
    assert_eq!(code, "23514");
    admin
        .batch_execute(
            "UPDATE han_crypto.alert_rules SET params = '{\"keyrings\": {\"default\": {\"from\": \"99:00\", \"to\": \"x\"}}}' WHERE name = 'off_hours'",
        )
        .unwrap();
    c.query_one("SELECT han_crypto.encrypt('still works')", &[])
        .unwrap();
    settle(&mut c);
}
