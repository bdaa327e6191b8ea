//! Reversible redaction (issue #15): a column protected with
//! `{"redaction": "quarantine"}` keeps each removed value sealed under the
//! quarantine keyring, and an admin of that keyring puts a false positive
//! back. Real clients, several roles: the application writing as its
//! users, the curator who restores, and roles that must not.

use std::sync::OnceLock;

use han_crypto_tests::{error_text, shared, sqlstate, Client, Cluster};

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

const DB_PASSWORD: &str = "Xk29!vbq7Lm";
const AWS_KEY: &str = "AKIAZ7Q4XPLM3VN2B6RT";

fn cluster() -> &'static Cluster {
    static ROLES: OnceLock<()> = OnceLock::new();
    let key = "6".repeat(64);
    let c = shared(
        &CLUSTER,
        "quarantine",
        &[("HAN_CRYPTO_ROOT_KEY", &key)],
        &["log_statement = 'all'", "log_min_error_statement = debug5"],
    );
    ROLES.get_or_init(|| {
        c.connect("postgres")
            .batch_execute(
                "CREATE EXTENSION han_crypto CASCADE;
                 CREATE ROLE platform LOGIN; GRANT han_crypto_app TO platform;
                 CREATE ROLE curator LOGIN;
                 CREATE ROLE janitor LOGIN; GRANT han_crypto_admin TO janitor;
                 CREATE ROLE nosy LOGIN;",
            )
            .unwrap()
    });
    c
}

/// A database with `sessions` protected with quarantine: the application
/// (as actor alice) writes team_a; curator administers the quarantine
/// keyring and writes team_a; bob only writes team_a.
fn sessions_db(name: &str, options: &str) -> Client {
    let mut c = cluster().fresh_db(name);
    c.batch_execute(&format!(
        "SELECT han_crypto.create_keyring('team_a');
         SELECT han_crypto.grant_access('team_a', 'alice', 'writer');
         SELECT han_crypto.grant_access('team_a', 'bob', 'writer');
         SELECT han_crypto.grant_access('team_a', 'curator', 'writer');
         SELECT han_crypto.create_keyring('quarantine');
         SELECT han_crypto.grant_access('quarantine', 'curator', 'admin');
         CREATE TABLE sessions (id bigint PRIMARY KEY, team text NOT NULL, prompt text, metadata jsonb);
         SELECT han_crypto.protect('sessions', ARRAY['prompt', 'metadata'], 'team', options => '{options}');
         GRANT SELECT, INSERT, UPDATE, DELETE ON sessions, sessions_decrypted TO platform, curator, nosy;"
    ))
    .unwrap();
    c
}

/// The statement failed with `state`, and its message (or hint) says `words`.
fn refused(r: Result<Vec<postgres::Row>, postgres::Error>, state: &str, words: &str) {
    let e = r.expect_err("expected an error");
    let text = error_text(&e);
    assert_eq!(sqlstate(&e), state, "{text}");
    assert!(text.contains(words), "{text}");
}

const QUARANTINE: &str = r#"{"redaction": "quarantine"}"#;

fn write_as(c: &mut Client, actor: &str, id: i64, prompt: &str, meta: &serde_json::Value) {
    let mut tx = c.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor($1)", &[&actor])
        .unwrap();
    tx.execute(
        "INSERT INTO sessions (id, team, prompt, metadata) VALUES ($1, 'team_a', $2, $3)
         ON CONFLICT (id) DO UPDATE SET prompt = EXCLUDED.prompt, metadata = EXCLUDED.metadata",
        &[&id, &prompt, meta],
    )
    .unwrap();
    tx.commit().unwrap();
}

fn read_as(c: &mut Client, actor: &str, id: i64) -> (Option<String>, Option<serde_json::Value>) {
    let mut tx = c.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor($1)", &[&actor])
        .unwrap();
    let row = tx
        .query_one(
            "SELECT prompt, metadata FROM sessions_decrypted WHERE id = $1",
            &[&id],
        )
        .unwrap();
    tx.commit().unwrap();
    (row.get(0), row.get(1))
}

/// restore_redactions() for row `id`'s `column`, as `c`'s role.
fn restore(c: &mut Client, id: &str, column: &str) -> Result<i32, postgres::Error> {
    c.query_one(
        "SELECT han_crypto.restore_redactions('sessions', $1::text, $2::text)",
        &[&id, &column],
    )
    .map(|r| r.get(0))
}

fn kept(c: &mut Client) -> i64 {
    c.query_one("SELECT count(*) FROM han_crypto.quarantine", &[])
        .unwrap()
        .get(0)
}

fn prompt() -> String {
    format!("connect with PGPASSWORD='{DB_PASSWORD}' psql -h db, then deploy with {AWS_KEY}")
}

#[test]
fn a_false_positive_comes_back_for_the_quarantine_admin() {
    let mut admin = sessions_db("q_restore", QUARANTINE);
    let mut app = cluster().connect_as("q_restore", "platform");
    let meta = serde_json::json!({"env": {"DB_PASSWORD": DB_PASSWORD}, "note": "say \"hi\"\n"});
    write_as(&mut app, "alice", 1, &prompt(), &meta);

    // Readers see markers, as with plain redaction.
    let (p, m) = read_as(&mut app, "alice", 1);
    let p = p.unwrap();
    assert!(!p.contains(DB_PASSWORD) && !p.contains(AWS_KEY), "{p}");
    assert!(p.contains("[REDACTED:"), "{p}");
    assert_eq!(m.unwrap()["env"]["DB_PASSWORD"], "[REDACTED:password]");
    assert_eq!(kept(&mut admin), 3);

    // The curator sees where and what type, never the values.
    let mut curator = cluster().connect_as("q_restore", "curator");
    let listed: Vec<(String, i32, String)> = curator
        .query(
            "SELECT column_name, ordinal, kind FROM han_crypto.quarantined('sessions') ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed
        .iter()
        .all(|(c, _, _)| c == "metadata" || c == "prompt"));

    // Putting the prompt's values back: the view shows the original text.
    let n = restore(&mut curator, "1", "prompt").unwrap();
    assert_eq!(n, 2);
    assert_eq!(read_as(&mut app, "alice", 1).0.unwrap(), prompt());
    // And the jsonb column's, with its escapes intact.
    let n: i32 = curator
        .query_one(
            "SELECT han_crypto.restore_redactions('sessions', ARRAY['1'], 'metadata')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    assert_eq!(read_as(&mut app, "alice", 1).1.unwrap(), meta);
    // What was put back is no longer kept; the stored column is sealed.
    assert_eq!(kept(&mut admin), 0);
    let stored: String = admin
        .query_one("SELECT prompt FROM sessions WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert!(stored.starts_with("hc1:") && !stored.contains(DB_PASSWORD));
    // Restoring again finds nothing to do.
    let n = restore(&mut curator, "1", "prompt").unwrap();
    assert_eq!(n, 0);
}

#[test]
fn only_an_admin_of_the_quarantine_keyring_who_writes_the_row_restores() {
    let mut admin = sessions_db("q_rights", QUARANTINE);
    let mut app = cluster().connect_as("q_rights", "platform");
    write_as(&mut app, "alice", 1, &prompt(), &serde_json::json!({}));
    let restore_sql = "SELECT han_crypto.restore_redactions('sessions', '1', 'prompt')";
    let list = "SELECT * FROM han_crypto.quarantined('sessions')";
    // A writer of the row's keyring who is no quarantine admin (the
    // application acting as alice), and a role that is neither.
    for (role, actor) in [("platform", Some("alice")), ("nosy", None)] {
        let mut c = cluster().connect_as("q_rights", role);
        let mut tx = c.transaction().unwrap();
        if let Some(a) = actor {
            tx.execute("SELECT han_crypto.set_actor($1)", &[&a])
                .unwrap();
        }
        refused(tx.query(restore_sql, &[]), "42501", "admin");
        drop(tx);
        let mut tx = c.transaction().unwrap();
        if let Some(a) = actor {
            tx.execute("SELECT han_crypto.set_actor($1)", &[&a])
                .unwrap();
        }
        refused(tx.query(list, &[]), "42501", "admin");
    }
    // A quarantine admin who may not write the row's keyring.
    admin
        .batch_execute("SELECT han_crypto.revoke_access('team_a', 'curator')")
        .unwrap();
    let mut curator = cluster().connect_as("q_rights", "curator");
    refused(curator.query(restore_sql, &[]), "42501", "team_a");
    assert_eq!(kept(&mut admin), 2, "a refused restore keeps everything");
    let (p, _) = read_as(&mut app, "alice", 1);
    assert!(!p.unwrap().contains(DB_PASSWORD));
}

#[test]
fn the_quarantine_table_is_closed_to_every_role() {
    let mut admin = sessions_db("q_table", QUARANTINE);
    let mut app = cluster().connect_as("q_table", "platform");
    write_as(&mut app, "alice", 1, &prompt(), &serde_json::json!({}));
    for role in ["platform", "curator", "nosy"] {
        let mut c = cluster().connect_as("q_table", role);
        for sql in [
            "SELECT * FROM han_crypto.quarantine",
            "DELETE FROM han_crypto.quarantine",
            "UPDATE han_crypto.quarantine SET expires_at = now() + interval '99 years'",
            "INSERT INTO han_crypto.quarantine (binding, column_name, row_key, ordinal, kind, sealed, expires_at) \
             VALUES ('x', 'y', '{1}', 0, 'z', '\\x00', now())",
            "SELECT han_crypto.purge_quarantine()",
        ] {
            refused(c.query(sql, &[]), "42501", "permission denied");
        }
    }
    assert_eq!(kept(&mut admin), 2);
}

#[test]
fn kept_values_are_sealed_and_never_logged() {
    let mut admin = sessions_db("q_sealed", QUARANTINE);
    let mut app = cluster().connect_as("q_sealed", "platform");
    write_as(&mut app, "alice", 1, &prompt(), &serde_json::json!({}));
    let rows = admin
        .query("SELECT sealed, kind FROM han_crypto.quarantine", &[])
        .unwrap();
    for r in &rows {
        let sealed: Vec<u8> = r.get(0);
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains(DB_PASSWORD) && !text.contains(AWS_KEY));
    }
    let mut curator = cluster().connect_as("q_sealed", "curator");
    restore(&mut curator, "1", "prompt").unwrap();
    let log = cluster().log();
    for secret in [DB_PASSWORD, AWS_KEY] {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            lines.is_empty(),
            "a kept value reached the server log: {lines:#?}"
        );
    }
}

#[test]
fn a_new_value_or_a_deleted_row_forgets_what_was_kept() {
    let mut admin = sessions_db("q_forget", QUARANTINE);
    let mut app = cluster().connect_as("q_forget", "platform");
    write_as(&mut app, "alice", 1, &prompt(), &serde_json::json!({}));
    write_as(&mut app, "alice", 2, &prompt(), &serde_json::json!({}));
    assert_eq!(kept(&mut admin), 4);
    // Row 1 gets a new prompt without secrets: its old entries no longer
    // match its markers.
    write_as(
        &mut app,
        "alice",
        1,
        "nothing secret here",
        &serde_json::json!({}),
    );
    assert_eq!(kept(&mut admin), 2);
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor('alice')", &[])
        .unwrap();
    tx.execute("DELETE FROM sessions WHERE id = 2", &[])
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(kept(&mut admin), 0);
    // A rolled-back write keeps nothing either.
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor('alice')", &[])
        .unwrap();
    tx.execute(
        "INSERT INTO sessions (id, team, prompt) VALUES (3, 'team_a', $1)",
        &[&prompt()],
    )
    .unwrap();
    tx.rollback().unwrap();
    assert_eq!(kept(&mut admin), 0);
}

#[test]
fn expired_values_are_purged_and_never_restored() {
    let mut admin = sessions_db(
        "q_expiry",
        r#"{"redaction": "quarantine", "quarantine_days": 1}"#,
    );
    let mut app = cluster().connect_as("q_expiry", "platform");
    write_as(&mut app, "alice", 1, &prompt(), &serde_json::json!({}));
    let days: f64 = admin
        .query_one(
            "SELECT min(extract(epoch FROM expires_at - quarantined_at) / 86400)::float8 FROM han_crypto.quarantine",
            &[],
        )
        .unwrap()
        .get(0);
    assert!((days - 1.0).abs() < 0.01, "{days}");
    admin
        .batch_execute("UPDATE han_crypto.quarantine SET expires_at = now() - interval '1 second'")
        .unwrap();
    let mut curator = cluster().connect_as("q_expiry", "curator");
    let n = restore(&mut curator, "1", "prompt").unwrap();
    assert_eq!(n, 0);

    write_as(&mut app, "alice", 2, &prompt(), &serde_json::json!({}));
    admin
        .batch_execute("UPDATE han_crypto.quarantine SET expires_at = now() - interval '1 second' WHERE row_key = '{2}'")
        .unwrap();
    // Administrators purge (a scheduled job runs as one).
    let mut janitor = cluster().connect_as("q_expiry", "janitor");
    let purged: i64 = janitor
        .query_one("SELECT han_crypto.purge_quarantine()", &[])
        .unwrap()
        .get(0);
    // Row 1's two (expired above) and row 2's two.
    assert_eq!(purged, 4);
    assert_eq!(kept(&mut admin), 0);
}

#[test]
fn a_kept_value_moved_to_another_row_does_not_open() {
    let mut admin = sessions_db("q_tamper", QUARANTINE);
    let mut app = cluster().connect_as("q_tamper", "platform");
    write_as(&mut app, "alice", 1, &prompt(), &serde_json::json!({}));
    write_as(
        &mut app,
        "bob",
        2,
        "harmless PGPASSWORD='another1A!' text",
        &serde_json::json!({}),
    );
    // A superuser swaps row 1's first entry onto row 2's marker.
    admin
        .batch_execute(
            "WITH two AS (DELETE FROM han_crypto.quarantine WHERE row_key = '{2}' RETURNING value_tag)
             INSERT INTO han_crypto.quarantine (binding, column_name, row_key, value_tag, ordinal, kind, sealed, expires_at)
             SELECT binding, column_name, '{2}', (SELECT value_tag FROM two LIMIT 1), ordinal, kind, sealed, expires_at
             FROM han_crypto.quarantine WHERE row_key = '{1}' AND ordinal = 0;",
        )
        .unwrap();
    let mut curator = cluster().connect_as("q_tamper", "curator");
    refused(
        curator.query(
            "SELECT han_crypto.restore_redactions('sessions', '2', 'prompt')",
            &[],
        ),
        "XX001",
        "authentication",
    );
    let (p, _) = read_as(&mut app, "bob", 2);
    assert!(!p.unwrap().contains(DB_PASSWORD));
}

#[test]
fn protect_refuses_a_quarantine_it_cannot_keep() {
    let mut c = cluster().fresh_db("q_refuse");
    c.batch_execute(
        "SELECT han_crypto.create_keyring('team_a');
         CREATE TABLE notes (id int PRIMARY KEY, team text NOT NULL, body text);",
    )
    .unwrap();
    let protect = |opts: &str| {
        format!("SELECT han_crypto.protect('notes', ARRAY['body'], 'team', options => '{opts}')")
    };
    // No quarantine keyring yet; the 'default' root keyring is every
    // role's; unknown modes and retentions.
    refused(
        c.query(&protect(QUARANTINE), &[]),
        "42704",
        "\"quarantine\" does not exist",
    );
    refused(
        c.query(
            &protect(r#"{"redaction": "quarantine", "quarantine_keyring": "default"}"#),
            &[],
        ),
        "42809",
        "team or user",
    );
    refused(
        c.query(&protect(r#"{"redaction": "keep"}"#), &[]),
        "22023",
        "redaction",
    );
    for days in ["0", "3651", "1.5", "\"30\""] {
        refused(
            c.query(
                &protect(&format!(
                    r#"{{"redaction": "quarantine", "quarantine_days": {days}}}"#
                )),
                &[],
            ),
            "22023",
            "quarantine_days",
        );
    }
    // Off by default: plain redaction keeps nothing.
    c.batch_execute("SELECT han_crypto.grant_access('team_a', current_user, 'writer')")
        .unwrap();
    c.query(&protect("{}"), &[]).unwrap();
    c.execute("INSERT INTO notes VALUES (1, 'team_a', $1)", &[&prompt()])
        .unwrap();
    assert_eq!(kept(&mut c), 0);
}

#[test]
fn a_discarded_insert_or_a_move_to_another_team_keeps_what_the_row_kept() {
    let mut admin = sessions_db("q_upsert", QUARANTINE);
    admin
        .batch_execute(
            "SELECT han_crypto.create_keyring('team_b');
             SELECT han_crypto.grant_access('team_b', 'alice', 'writer');
             SELECT han_crypto.grant_access('team_b', 'curator', 'writer');",
        )
        .unwrap();
    let mut app = cluster().connect_as("q_upsert", "platform");
    write_as(&mut app, "alice", 1, &prompt(), &serde_json::json!({}));
    write_as(&mut app, "alice", 2, &prompt(), &serde_json::json!({}));
    // The trigger runs for a row ON CONFLICT DO NOTHING then discards: what
    // it kept for that row must not replace what row 1 kept.
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor('alice')", &[])
        .unwrap();
    tx.execute(
        "INSERT INTO sessions (id, team, prompt) VALUES (1, 'team_a', 'other PGPASSWORD=Zz11!aaBBcc')
         ON CONFLICT (id) DO NOTHING",
        &[],
    )
    .unwrap();
    // Row 2 moves to another team: sealed again, its kept values follow.
    tx.execute("UPDATE sessions SET team = 'team_b' WHERE id = 2", &[])
        .unwrap();
    tx.commit().unwrap();
    let mut curator = cluster().connect_as("q_upsert", "curator");
    for id in ["1", "2"] {
        let n = restore(&mut curator, id, "prompt").unwrap();
        assert_eq!(n, 2, "row {id}");
        let (p, _) = read_as(&mut app, "alice", id.parse().unwrap());
        assert_eq!(p.unwrap(), prompt(), "row {id}");
    }
}

#[test]
fn a_table_owners_trigger_never_runs_with_the_restorers_rights() {
    // mallory owns a quarantined table and asks the curator to restore a
    // "false positive" in it; her trigger tries to restore alice's secret
    // and copy it out with the curator's rights.
    let mut admin = sessions_db("q_trojan", QUARANTINE);
    let mut app = cluster().connect_as("q_trojan", "platform");
    write_as(&mut app, "alice", 1, &prompt(), &serde_json::json!({}));
    admin
        .batch_execute(
            "CREATE ROLE mallory LOGIN;
             GRANT CREATE ON SCHEMA public TO mallory;
             SELECT han_crypto.create_keyring('team_m');
             SELECT han_crypto.grant_access('team_m', 'mallory', 'writer');
             SELECT han_crypto.grant_access('team_m', 'curator', 'writer');",
        )
        .or_else(|_| {
            // The role exists already (another database of this cluster).
            admin.batch_execute(
                "GRANT CREATE ON SCHEMA public TO mallory;
                 SELECT han_crypto.create_keyring('team_m');
                 SELECT han_crypto.grant_access('team_m', 'mallory', 'writer');
                 SELECT han_crypto.grant_access('team_m', 'curator', 'writer');",
            )
        })
        .unwrap();
    let mut mallory = cluster().connect_as("q_trojan", "mallory");
    mallory
        .batch_execute(&format!(
            "CREATE TABLE loot (s text);
             GRANT INSERT ON loot TO PUBLIC;
             CREATE TABLE bait (id int PRIMARY KEY, team text NOT NULL, note text);
             SELECT han_crypto.protect('bait', ARRAY['note'], 'team', options => '{QUARANTINE}');
             CREATE FUNCTION trojan() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 PERFORM han_crypto.restore_redactions('public.sessions', '1', 'prompt');
                 INSERT INTO public.loot SELECT prompt FROM public.sessions_decrypted WHERE id = 1;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER a BEFORE UPDATE ON bait FOR EACH ROW EXECUTE FUNCTION trojan();
             INSERT INTO bait VALUES (10, 'team_m', 'a false positive PGPASSWORD=''Lm3!xq8Rt5'' here');
             GRANT SELECT, UPDATE ON bait TO curator;"
        ))
        .unwrap();
    let mut curator = cluster().connect_as("q_trojan", "curator");
    // The trigger runs as mallory, who is no quarantine admin: it fails,
    // and with it the restore.
    let r = curator.query(
        "SELECT han_crypto.restore_redactions('bait', '10', 'note')",
        &[],
    );
    refused(r, "42501", "mallory");
    let loot: i64 = admin
        .query_one("SELECT count(*) FROM loot", &[])
        .unwrap()
        .get(0);
    assert_eq!(loot, 0);
    let (p, _) = read_as(&mut app, "alice", 1);
    assert!(
        !p.unwrap().contains(DB_PASSWORD),
        "alice's secret stays kept"
    );
    // Without the trojan, the same restore works (as the owner, whose
    // trigger checks pass: the curator writes team_m).
    mallory.batch_execute("DROP TRIGGER a ON bait").unwrap();
    let n: i32 = curator
        .query_one(
            "SELECT han_crypto.restore_redactions('bait', '10', 'note')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[test]
fn restoring_needs_the_tables_privileges_and_respects_row_security() {
    let mut admin = sessions_db("q_acl", QUARANTINE);
    let mut app = cluster().connect_as("q_acl", "platform");
    write_as(&mut app, "alice", 1, &prompt(), &serde_json::json!({}));
    let mut curator = cluster().connect_as("q_acl", "curator");
    admin
        .batch_execute("REVOKE UPDATE ON sessions FROM curator")
        .unwrap();
    refused(
        curator.query(
            "SELECT han_crypto.restore_redactions('sessions', '1', 'prompt')",
            &[],
        ),
        "42501",
        "SELECT and UPDATE",
    );
    admin
        .batch_execute(
            "GRANT UPDATE ON sessions TO curator;
             ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;",
        )
        .unwrap();
    refused(
        curator.query(
            "SELECT han_crypto.restore_redactions('sessions', '1', 'prompt')",
            &[],
        ),
        "42501",
        "row security",
    );
    assert_eq!(kept(&mut admin), 2);
}

#[test]
fn truncate_drop_and_unprotect_forget_what_was_kept() {
    let mut admin = sessions_db("q_gone", QUARANTINE);
    let mut app = cluster().connect_as("q_gone", "platform");
    write_as(&mut app, "alice", 1, &prompt(), &serde_json::json!({}));
    assert_eq!(kept(&mut admin), 2);
    admin.batch_execute("TRUNCATE sessions").unwrap();
    assert_eq!(kept(&mut admin), 0, "TRUNCATE");
    write_as(&mut app, "alice", 1, &prompt(), &serde_json::json!({}));
    admin
        .batch_execute("CALL han_crypto.unprotect('sessions', columns => ARRAY['prompt'])")
        .unwrap();
    assert_eq!(kept(&mut admin), 0, "unprotect of the column");
    admin
        .batch_execute(&format!(
            "SELECT han_crypto.protect('sessions', ARRAY['prompt', 'metadata'], 'team', options => '{QUARANTINE}')"
        ))
        .unwrap();
    write_as(&mut app, "alice", 2, &prompt(), &serde_json::json!({}));
    assert_eq!(kept(&mut admin), 2);
    admin.batch_execute("DROP TABLE sessions CASCADE").unwrap();
    assert_eq!(kept(&mut admin), 0, "DROP TABLE");
}

#[test]
fn a_table_created_under_a_renamed_tables_name_gets_its_own_binding() {
    let mut admin = sessions_db("q_binding", QUARANTINE);
    let mut app = cluster().connect_as("q_binding", "platform");
    write_as(&mut app, "alice", 1, &prompt(), &serde_json::json!({}));
    admin
        .batch_execute(&format!(
            "ALTER TABLE sessions RENAME TO sessions_old;
             ALTER VIEW sessions_decrypted RENAME TO sessions_old_decrypted;
             CREATE TABLE sessions (id bigint PRIMARY KEY, team text NOT NULL, prompt text, metadata jsonb);
             SELECT han_crypto.protect('sessions', ARRAY['prompt'], 'team', options => '{QUARANTINE}');"
        ))
        .unwrap();
    let bindings: Vec<String> = admin
        .query(
            "SELECT DISTINCT binding FROM han_crypto.protected ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(bindings, ["public.sessions", "public.sessions#2"]);
    // The new table's rows and deletions touch nothing the old one kept.
    admin
        .batch_execute(
            "INSERT INTO sessions VALUES (1, 'team_a', 'x PGPASSWORD=''Qq1!ww2Ee3'' y');
             DELETE FROM sessions WHERE id = 1;",
        )
        .unwrap();
    let listed: i64 = admin
        .query_one(
            "SELECT count(*) FROM han_crypto.quarantined('sessions_old')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(listed, 2);
    let listed_new: i64 = admin
        .query_one(
            "SELECT count(*) FROM han_crypto.quarantined('sessions')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(listed_new, 0);
}

#[test]
fn char_keys_and_malformed_column_options_are_refused() {
    let mut c = cluster().fresh_db("q_odd");
    c.batch_execute(
        "SELECT han_crypto.create_keyring('team_a');
         SELECT han_crypto.create_keyring('quarantine');
         CREATE TABLE c (id char(5) PRIMARY KEY, team text NOT NULL, note text);
         CREATE TABLE d (id int PRIMARY KEY, team text NOT NULL, note text);",
    )
    .unwrap();
    refused(
        c.query("SELECT han_crypto.protect('c', ARRAY['note'], 'team')", &[]),
        "42804",
        "character",
    );
    for spec in [r#""quarantine""#, r#"["x"]"#, "null"] {
        refused(
            c.query(
                &format!(
                    "SELECT han_crypto.protect('d', ARRAY['note'], 'team', options => '{{\"columns\": {{\"note\": {spec}}}}}')"
                ),
                &[],
            ),
            "22023",
            "must be an object",
        );
    }
}
