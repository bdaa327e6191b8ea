//! Keyrings through a real client with several roles and connections:
//! team membership, revocation in a live session, the transaction-scoped
//! actor, JWT authentication, the per-backend key cache, passphrase keyrings
//! and sealed boxes.

use std::sync::OnceLock;

use han_crypto_core::jwt::sign_hs256;
use han_crypto_tests::{expect_error, shared, Client, Cluster};
use serde_json::json;

const JWT_SECRET: &str = "platform-jwt-secret-HANSENTINEL-jwt";

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn cluster() -> &'static Cluster {
    static ROLES: OnceLock<()> = OnceLock::new();
    let key = "3".repeat(64);
    let c = shared(
        &CLUSTER,
        "keyrings",
        &[
            ("HAN_CRYPTO_ROOT_KEY", &key),
            ("HAN_CRYPTO_JWT_SECRET", JWT_SECRET),
        ],
        &[],
    );
    ROLES.get_or_init(|| {
        c.connect("postgres")
            .batch_execute(
                "CREATE EXTENSION han_crypto CASCADE; -- creates the han_crypto_* roles
                 CREATE ROLE platform LOGIN; GRANT han_crypto_app TO platform;
                 CREATE ROLE outsider LOGIN;",
            )
            .unwrap()
    });
    c
}

/// A fresh database with teams a..d, one sealed row each, as the superuser.
fn teams_db(name: &str) -> Client {
    let mut c = cluster().fresh_db(name);
    c.batch_execute(
        "CREATE TABLE notes (team text, body bytea);
         GRANT SELECT, INSERT ON notes TO platform, outsider;
         SELECT han_crypto.create_keyring(t) FROM unnest(ARRAY['team_a','team_b','team_c','team_d']) t;
         INSERT INTO notes SELECT t, han_crypto.encrypt('secret of ' || t, t) FROM unnest(ARRAY['team_a','team_b','team_c','team_d']) t;",
    )
    .unwrap();
    c
}

fn as_actor(c: &mut Client, actor: &str, sql: &str) -> Result<Vec<postgres::Row>, postgres::Error> {
    let mut tx = c.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor($1)", &[&actor])
        .unwrap();
    let rows = tx.query(sql, &[]);
    if rows.is_ok() {
        tx.commit().unwrap();
    }
    rows
}

#[test]
fn a_user_in_three_teams_reads_those_three_and_no_other() {
    let mut admin = teams_db("kr_teams");
    for t in ["team_a", "team_b", "team_c"] {
        admin
            .execute(
                "SELECT han_crypto.grant_access($1, 'alice', 'reader')",
                &[&t],
            )
            .unwrap();
    }
    let mut app = cluster().connect_as("kr_teams", "platform");
    for t in ["team_a", "team_b", "team_c"] {
        let rows = as_actor(
            &mut app,
            "alice",
            &format!("SELECT han_crypto.decrypt(body) FROM notes WHERE team = '{t}'"),
        )
        .unwrap();
        assert_eq!(rows[0].get::<_, String>(0), format!("secret of {t}"));
    }
    let err = as_actor(
        &mut app,
        "alice",
        "SELECT han_crypto.decrypt(body) FROM notes WHERE team = 'team_d'",
    )
    .unwrap_err();
    assert_eq!(han_crypto_tests::sqlstate(&err), "42501");
    // A reader cannot write.
    let err = as_actor(
        &mut app,
        "alice",
        "SELECT han_crypto.encrypt('x', 'team_a')",
    )
    .unwrap_err();
    assert_eq!(han_crypto_tests::sqlstate(&err), "42501");
    // The platform role itself (no actor named) is no member either.
    let (code, _) = expect_error(
        &mut app,
        "SELECT han_crypto.decrypt(body) FROM notes WHERE team = 'team_a'",
        &[],
    );
    assert_eq!(code, "42501");
}

#[test]
fn revocation_takes_effect_in_a_session_that_already_used_the_key() {
    let mut admin = teams_db("kr_revoke");
    admin
        .execute(
            "SELECT han_crypto.grant_access('team_a', 'bob', 'writer')",
            &[],
        )
        .unwrap();
    let mut app = cluster().connect_as("kr_revoke", "platform");
    as_actor(
        &mut app,
        "bob",
        "SELECT han_crypto.decrypt(body) FROM notes WHERE team = 'team_a'",
    )
    .unwrap();
    as_actor(
        &mut app,
        "bob",
        "SELECT han_crypto.encrypt('still allowed', 'team_a')",
    )
    .unwrap();
    let revoked: bool = admin
        .query_one("SELECT han_crypto.revoke_access('team_a', 'bob')", &[])
        .unwrap()
        .get(0);
    assert!(revoked);
    let err = as_actor(
        &mut app,
        "bob",
        "SELECT han_crypto.decrypt(body) FROM notes WHERE team = 'team_a'",
    )
    .unwrap_err();
    assert_eq!(han_crypto_tests::sqlstate(&err), "42501");
    let err = as_actor(&mut app, "bob", "SELECT han_crypto.encrypt('x', 'team_a')").unwrap_err();
    assert_eq!(han_crypto_tests::sqlstate(&err), "42501");
}

#[test]
fn the_actor_lasts_exactly_one_transaction() {
    let _admin = teams_db("kr_scope");
    let mut app = cluster().connect_as("kr_scope", "platform");
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor('carol', '10.1.2.3')", &[])
        .unwrap();
    let who: String = tx
        .query_one("SELECT han_crypto.current_actor()", &[])
        .unwrap()
        .get(0);
    assert_eq!(who, "carol");
    let info: serde_json::Value = tx
        .query_one("SELECT han_crypto.actor_info()", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        (info["via"].as_str(), info["client_addr"].as_str()),
        (Some("set_actor"), Some("10.1.2.3"))
    );
    tx.commit().unwrap();
    let who: String = app
        .query_one("SELECT han_crypto.current_actor()", &[])
        .unwrap()
        .get(0);
    assert_eq!(who, "platform", "the actor did not outlive its transaction");
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor('carol')", &[])
        .unwrap();
    tx.rollback().unwrap();
    let who: String = app
        .query_one("SELECT han_crypto.current_actor()", &[])
        .unwrap()
        .get(0);
    assert_eq!(who, "platform");
    // Only han_crypto_app roles may name an actor.
    let mut outsider = cluster().connect_as("kr_scope", "outsider");
    let (code, _) = expect_error(&mut outsider, "SELECT han_crypto.set_actor('carol')", &[]);
    assert_eq!(code, "42501");
}

#[test]
fn jwt_authentication_accepts_only_valid_hs256_tokens() {
    let mut admin = teams_db("kr_jwt");
    admin
        .execute(
            "SELECT han_crypto.grant_access('team_b', 'user-7', 'reader')",
            &[],
        )
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let hs = json!({"alg": "HS256", "typ": "JWT"});
    let good = sign_hs256(
        &hs,
        &json!({"sub": "user-7", "exp": now + 600}),
        JWT_SECRET.as_bytes(),
    );
    let mut app = cluster().connect_as("kr_jwt", "platform");
    {
        let mut tx = app.transaction().unwrap();
        let who: String = tx
            .query_one("SELECT han_crypto.authenticate($1)", &[&good])
            .unwrap()
            .get(0);
        assert_eq!(who, "user-7");
        let s: String = tx
            .query_one(
                "SELECT han_crypto.decrypt(body) FROM notes WHERE team = 'team_b'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(s, "secret of team_b");
        tx.commit().unwrap();
    }
    let b64 = |v: &serde_json::Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let forged = sign_hs256(
        &hs,
        &json!({"sub": "user-7", "exp": now + 600}),
        b"not the platform secret",
    );
    let expired = sign_hs256(
        &hs,
        &json!({"sub": "user-7", "exp": now - 10}),
        JWT_SECRET.as_bytes(),
    );
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none"})),
        b64(&json!({"sub": "user-7", "exp": now + 600}))
    );
    let rs256 = sign_hs256(
        &json!({"alg": "RS256"}),
        &json!({"sub": "user-7", "exp": now + 600}),
        JWT_SECRET.as_bytes(),
    );
    for (what, token) in [
        ("forged", forged),
        ("expired", expired),
        ("alg none", none),
        ("RS256", rs256),
        ("garbage", "x.y.z".into()),
    ] {
        let (code, text) = expect_error(&mut app, "SELECT han_crypto.authenticate($1)", &[&token]);
        assert_eq!(code, "28000", "{what}");
        assert!(
            !text.contains(&token) && !text.contains("HANSENTINEL"),
            "{what}: {text}"
        );
    }
    let mut outsider = cluster().connect_as("kr_jwt", "outsider");
    let (code, _) = expect_error(
        &mut outsider,
        "SELECT han_crypto.authenticate($1)",
        &[&good],
    );
    assert_eq!(code, "42501");
}

#[test]
fn a_fresh_backend_unwraps_each_key_once_and_derives_none() {
    let mut admin = cluster().fresh_db("kr_cache");
    admin
        .batch_execute(
            "SELECT han_crypto.create_keyring('t' || i) FROM generate_series(1, 10) i;
             CREATE TABLE rows AS SELECT i, han_crypto.encrypt('row ' || i, 't' || (i % 10 + 1)) AS body FROM generate_series(1, 2000) i;",
        )
        .unwrap();
    let mut fresh = cluster().connect("kr_cache");
    let n: i64 = fresh
        .query_one("SELECT count(han_crypto.decrypt(body)) FROM rows", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2000);
    let stats: serde_json::Value = fresh
        .query_one("SELECT han_crypto.key_cache_stats()", &[])
        .unwrap()
        .get(0);
    // Argon2id ran once per keyring version, when it was created; a new
    // backend unwraps the stored key instead.
    assert_eq!(stats["key_loads"], 10, "{stats}");
    assert_eq!(stats["derivations"], 0, "{stats}");
    fresh
        .query_one("SELECT count(han_crypto.decrypt(body)) FROM rows", &[])
        .unwrap();
    let stats: serde_json::Value = fresh
        .query_one("SELECT han_crypto.key_cache_stats()", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        stats["key_loads"], 10,
        "second pass derives nothing: {stats}"
    );
}

#[test]
fn sealed_boxes_are_write_only_for_non_members() {
    let mut admin = teams_db("kr_sealed");
    let pk: Vec<u8> = admin
        .query_one("SELECT han_crypto.create_keypair('team_c')", &[])
        .unwrap()
        .get(0);
    assert_eq!(pk.len(), 32);
    let mut outsider = cluster().connect_as("kr_sealed", "outsider");
    let sealed: Vec<u8> = outsider
        .query_one("SELECT han_crypto.seal($1, 'tip for team c'::text)", &[&pk])
        .unwrap()
        .get(0);
    let (code, _) = expect_error(
        &mut outsider,
        "SELECT han_crypto.open_sealed('team_c', $1)",
        &[&sealed],
    );
    assert_eq!(code, "42501");
    let opened: String = admin
        .query_one("SELECT han_crypto.open_sealed('team_c', $1)", &[&sealed])
        .unwrap()
        .get(0);
    assert_eq!(opened, "tip for team c");
    let (code, _) = expect_error(
        &mut admin,
        "SELECT han_crypto.open_sealed('team_a', $1)",
        &[&sealed],
    );
    assert_eq!(code, "22023", "addressed to another keyring");
    let (code, _) = expect_error(
        &mut admin,
        "SELECT han_crypto.seal($1, 'x'::text)",
        &[&vec![0u8; 32]],
    );
    assert_eq!(code, "22023", "low-order public key");
}

#[test]
fn wrapped_secrets_swapped_between_keyrings_fail_loudly() {
    let mut admin = teams_db("kr_swap");
    // Move team_b's wrapped secret onto team_a's row (catalog tampering).
    admin
        .batch_execute(
            "UPDATE han_crypto.keyring_versions v SET wrapped_key = o.wrapped_key, wrapped_data_key = o.wrapped_data_key
             FROM han_crypto.keyring_versions o
             WHERE v.keyring_id = (SELECT id FROM han_crypto.keyrings WHERE name = 'team_a')
               AND o.keyring_id = (SELECT id FROM han_crypto.keyrings WHERE name = 'team_b')",
        )
        .unwrap();
    let mut fresh = cluster().connect("kr_swap");
    let (code, text) = expect_error(
        &mut fresh,
        "SELECT han_crypto.decrypt(body) FROM notes WHERE team = 'team_a'",
        &[],
    );
    assert_eq!(code, "XX001", "{text}");
    assert!(text.contains("team_a"), "{text}");
    let ok: String = fresh
        .query_one(
            "SELECT han_crypto.decrypt(body) FROM notes WHERE team = 'team_b'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ok, "secret of team_b");
}
