//! Redaction through a real client: prompts with keys stored redacted and
//! encrypted, operators' rules reaching other sessions at their next
//! statement, the rule tables' privileges, and secrets kept out of the
//! server log and error messages.

use std::sync::OnceLock;

use han_crypto_tests::{expect_error, shared, Client, Cluster};

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

const AWS_KEY: &str = "AKIAZ7Q4XPLM3VN2B6RT";
const PEM_BODY: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDAC4AWkdwKYSd8";

fn cluster() -> &'static Cluster {
    static ROLES: OnceLock<()> = OnceLock::new();
    let key = "5".repeat(64);
    let c = shared(
        &CLUSTER,
        "redaction",
        &[("HAN_CRYPTO_ROOT_KEY", &key)],
        &["log_statement = 'all'"],
    );
    ROLES.get_or_init(|| {
        c.connect("postgres")
            .batch_execute(
                "CREATE EXTENSION han_crypto CASCADE;
                 CREATE ROLE platform LOGIN; GRANT han_crypto_app TO platform;
                 CREATE ROLE operator LOGIN; GRANT han_crypto_admin TO operator;
                 CREATE ROLE nosy LOGIN;",
            )
            .unwrap()
    });
    c
}

fn prompts_db(name: &str) -> Client {
    let mut c = cluster().fresh_db(name);
    c.batch_execute(
        "SELECT han_crypto.create_keyring('team_a');
         SELECT han_crypto.grant_access('team_a', 'alice', 'writer');
         CREATE TABLE sessions (id bigserial PRIMARY KEY, team text NOT NULL, prompt text, metadata jsonb);
         SELECT han_crypto.protect('sessions', ARRAY['prompt', 'metadata'], 'team');
         GRANT SELECT, INSERT ON sessions, sessions_decrypted TO platform;
         GRANT USAGE ON SEQUENCE sessions_id_seq TO platform;",
    )
    .unwrap();
    c
}

#[test]
fn prompt_with_aws_key_and_pem_is_stored_redacted() {
    let mut admin = prompts_db("redact_prompt");
    let mut app = cluster().connect_as("redact_prompt", "platform");
    let prompt = format!(
        "please deploy with {AWS_KEY}\n-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\nKs14IReLcYgADhoXk56ZzXI=\n-----END PRIVATE KEY-----\nthanks"
    );
    let meta = serde_json::json!({"env": {"DB_PASSWORD": "hunter2isgreat"}, "turns": 3});
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor('alice')", &[])
        .unwrap();
    // Bind parameters, as the platform's API sends them.
    tx.execute(
        "INSERT INTO sessions (team, prompt, metadata) VALUES ($1, $2, $3)",
        &[&"team_a", &prompt, &meta],
    )
    .unwrap();
    let row = tx
        .query_one("SELECT prompt, metadata FROM sessions_decrypted", &[])
        .unwrap();
    let stats: Vec<(String, i64)> = tx
        .query(
            "SELECT kind, redactions FROM han_crypto.redaction_stats() ORDER BY kind",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    tx.commit().unwrap();
    let read: String = row.get(0);
    assert_eq!(
        read,
        "please deploy with [REDACTED:aws_access_key_id]\n[REDACTED:private_key]\nthanks"
    );
    let read_meta: serde_json::Value = row.get(1);
    assert_eq!(
        read_meta,
        serde_json::json!({"env": {"DB_PASSWORD": "[REDACTED:password]"}, "turns": 3})
    );
    assert_eq!(
        stats,
        vec![
            ("aws_access_key_id".into(), 1),
            ("password".into(), 1),
            ("private_key".into(), 1)
        ]
    );
    // The stored column is an envelope; neither it nor the view has the key.
    let stored: String = admin
        .query_one("SELECT prompt FROM sessions", &[])
        .unwrap()
        .get(0);
    assert!(stored.starts_with("hc1:") && !stored.contains(AWS_KEY));
    // The values were bind parameters: the server log does not have them
    // either (log_statement = 'all' logs the statement with $n).
    let log = cluster().log();
    assert!(!log.contains(PEM_BODY), "PEM body reached the server log");
    assert!(!log.contains(AWS_KEY), "AWS key reached the server log");
}

#[test]
fn rule_changes_reach_other_sessions_at_their_next_statement() {
    let _ = prompts_db("redact_rules");
    let mut reader = cluster().connect_as("redact_rules", "platform");
    let mut operator = cluster().connect_as("redact_rules", "operator");
    let text = "ticket ACME-0123456789ABCDEF closed";
    let redact = |c: &mut Client| -> String {
        c.query_one("SELECT han_crypto.redact($1)", &[&text])
            .unwrap()
            .get(0)
    };
    assert_eq!(redact(&mut reader), text); // compiles and caches the rules
    operator
        .execute(
            "INSERT INTO han_crypto.redaction_rules (name, pattern, kind, keywords) VALUES ('acme', 'ACME-(?P<s>[0-9A-F]{16})', 'acme_key', '{acme-}')",
            &[],
        )
        .unwrap();
    assert_eq!(
        redact(&mut reader),
        "ticket ACME-[REDACTED:acme_key] closed"
    );
    operator
        .execute(
            "INSERT INTO han_crypto.redaction_allowlist (pattern) VALUES ('^0123456789ABCDEF$')",
            &[],
        )
        .unwrap();
    assert_eq!(redact(&mut reader), text);
    // A rolled-back change never takes effect.
    let mut tx = operator.transaction().unwrap();
    tx.execute("DELETE FROM han_crypto.redaction_allowlist", &[])
        .unwrap();
    tx.rollback().unwrap();
    assert_eq!(redact(&mut reader), text);
}

#[test]
fn only_administrators_edit_rules_and_bad_patterns_say_why() {
    let _ = prompts_db("redact_privs");
    let mut app = cluster().connect_as("redact_privs", "platform");
    let (code, _) = expect_error(
        &mut app,
        "INSERT INTO han_crypto.redaction_rules (name, pattern, kind) VALUES ('x', 'x', 'x')",
        &[],
    );
    assert_eq!(code, "42501");
    let mut nosy = cluster().connect_as("redact_privs", "nosy");
    let (code, _) = expect_error(
        &mut nosy,
        "SELECT * FROM han_crypto.redaction_allowlist",
        &[],
    );
    assert_eq!(code, "42501");
    let mut operator = cluster().connect_as("redact_privs", "operator");
    let (code, message) = expect_error(
        &mut operator,
        "INSERT INTO han_crypto.redaction_rules (name, pattern, kind) VALUES ('lookaround', '(?<=SECRET)x', 'x')",
        &[],
    );
    assert_eq!(code, "2201B");
    assert!(
        message.contains("invalid redaction pattern") && !message.contains("SECRET"),
        "{message}"
    );
    // Redaction itself is for everyone.
    let out: String = nosy
        .query_one("SELECT han_crypto.redact('PGPASSWORD=Tr0ub4dor psql')", &[])
        .unwrap()
        .get(0);
    assert_eq!(out, "PGPASSWORD=[REDACTED:password] psql");
}
