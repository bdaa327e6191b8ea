//! Several roles and connections at once: ordinary roles use the functions
//! without any privilege on han_crypto's tables; search_path tricks cannot
//! reach the code that runs as the extension owner; concurrent first use
//! creates one default keyring.

use std::sync::OnceLock;
use std::thread;

use han_crypto_tests::{expect_error, shared, Client, Cluster};

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn cluster() -> &'static Cluster {
    static ROLE: OnceLock<()> = OnceLock::new();
    let key = "9".repeat(64);
    let c = shared(&CLUSTER, "roles", &[("HAN_CRYPTO_ROOT_KEY", &key)], &[]);
    ROLE.get_or_init(|| {
        c.connect("postgres")
            .batch_execute("CREATE ROLE regress_app LOGIN")
            .unwrap()
    });
    c
}

fn db_with_app_role(name: &str) -> Client {
    let mut c = cluster().fresh_db(name);
    c.batch_execute(&format!(
        "GRANT CREATE ON SCHEMA public TO regress_app; GRANT CREATE ON DATABASE {name} TO regress_app;"
    ))
    .unwrap();
    c
}

#[test]
fn an_ordinary_role_encrypts_but_cannot_touch_internals() {
    let _admin = db_with_app_role("roles_basic");
    let mut app = cluster().connect_as("roles_basic", "regress_app");
    let back: String = app
        .query_one(
            "SELECT han_crypto.decrypt(han_crypto.encrypt('as app'))",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(back, "as app");
    for sql in [
        "SELECT * FROM han_crypto.keyrings",
        "SELECT * FROM han_crypto._root_key_check",
        "SELECT han_crypto.root_key_status()",
        "DELETE FROM han_crypto.keyrings",
    ] {
        let (code, _) = expect_error(&mut app, sql, &[]);
        assert_eq!(code, "42501", "{sql}");
    }
    let current: String = app
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        current, "regress_app",
        "identity restored after the owner switch"
    );
}

#[test]
fn search_path_objects_are_never_used_with_owner_rights() {
    let _admin = db_with_app_role("roles_hijack");
    let mut app = cluster().connect_as("roles_hijack", "regress_app");
    // A trap operator and a shadow table, first on the search_path.
    app.batch_execute(
        "CREATE SCHEMA trap;
         CREATE TABLE trap.fired (who text);
         CREATE FUNCTION trap.eq(text, text) RETURNS boolean LANGUAGE sql AS
           $$ INSERT INTO trap.fired VALUES (current_user) RETURNING true $$;
         CREATE OPERATOR trap.= (LEFTARG = text, RIGHTARG = text, FUNCTION = trap.eq);
         CREATE TABLE trap.keyrings (id uuid, name text, active_version int);
         SET search_path = trap, pg_catalog, public;",
    )
    .unwrap();
    let back: String = app
        .query_one(
            "SELECT han_crypto.decrypt(han_crypto.encrypt('not hijacked'))",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(back, "not hijacked");
    let fired: i64 = app
        .query_one("SELECT count(*) FROM trap.fired", &[])
        .unwrap()
        .get(0);
    assert_eq!(fired, 0, "a caller's operator ran inside han_crypto");
}

#[test]
fn concurrent_first_use_creates_one_default_keyring() {
    let mut admin = db_with_app_role("roles_race");
    let handles: Vec<_> = (0..8)
        .map(|i| {
            thread::spawn(move || {
                let mut c = cluster().connect_as(
                    "roles_race",
                    if i % 2 == 0 {
                        "postgres"
                    } else {
                        "regress_app"
                    },
                );
                let envs: Vec<Vec<u8>> = (0..50)
                    .map(|j| {
                        c.query_one(
                            "SELECT han_crypto.encrypt($1::text)",
                            &[&format!("{i}/{j}")],
                        )
                        .unwrap()
                        .get(0)
                    })
                    .collect();
                envs
            })
        })
        .collect();
    let all: Vec<Vec<u8>> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let rings: i64 = admin
        .query_one("SELECT count(*) FROM han_crypto.keyrings", &[])
        .unwrap()
        .get(0);
    assert_eq!(rings, 1);
    // Every envelope decrypts in a fresh session of another role.
    let mut other = cluster().connect_as("roles_race", "regress_app");
    for env in &all {
        other
            .query_one("SELECT han_crypto.decrypt($1)", &[env])
            .unwrap();
    }
    let distinct: i64 = admin
        .query_one(
            "SELECT count(DISTINCT substring(e FROM 33 FOR 24)) FROM unnest($1::bytea[]) e",
            &[&all],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        distinct as usize,
        all.len(),
        "nonces are unique across backends"
    );
}

#[test]
fn internal_functions_are_not_executable_by_public() {
    let mut admin = db_with_app_role("roles_grants");
    // Functions PUBLIC may execute: exactly the documented data functions.
    let rows = admin
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p \
             WHERE p.pronamespace = 'han_crypto'::regnamespace \
               AND has_function_privilege('public', p.oid, 'EXECUTE') ORDER BY 1",
            &[],
        )
        .unwrap();
    let public: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        public,
        [
            "han_crypto._can_read_keyring(text)",
            "han_crypto._create_view(regclass)",
            "han_crypto._decrypt_json(bytea,text)",
            "han_crypto._encrypt_json(text,text,text)",
            "han_crypto._forget_dropped_table(oid)",
            "han_crypto._forget_protected_columns(oid,text[])",
            "han_crypto._is_sealed(text,text)",
            "han_crypto._open_bytea(bytea,text,text,text,text[],boolean)",
            "han_crypto._open_expression(text,name,text,name,name[],boolean)",
            "han_crypto._open_json(jsonb,text,text,text,text[],boolean)",
            "han_crypto._open_text(text,text,text,text,text[],boolean)",
            "han_crypto._protect_trigger()",
            "han_crypto._redact_json(text)",
            "han_crypto._register_protection(oid,text,text,text[],text[],text[],text,jsonb)",
            "han_crypto._unregister_protection(oid)",
            "han_crypto._view_write()",
            "han_crypto.actor_info()",
            "han_crypto.change_passphrase(text,text,text)",
            "han_crypto.current_actor()",
            "han_crypto.decrypt(bytea,text)",
            "han_crypto.decrypt_bytea(bytea,text)",
            "han_crypto.decrypt_jsonb(bytea,text)",
            "han_crypto.encrypt(bytea,text,text)",
            "han_crypto.encrypt(jsonb,text,text)",
            "han_crypto.encrypt(text,text,text)",
            "han_crypto.envelope_from_json(jsonb)",
            "han_crypto.envelope_info(bytea)",
            "han_crypto.envelope_to_json(bytea)",
            "han_crypto.key_cache_stats()",
            "han_crypto.lock(text)",
            "han_crypto.open_sealed(text,bytea)",
            "han_crypto.open_sealed_bytea(text,bytea)",
            "han_crypto.protect(regclass,text[],text,boolean,jsonb)",
            "han_crypto.redact(text)",
            "han_crypto.redact_jsonb(jsonb)",
            "han_crypto.redaction_stats()",
            "han_crypto.redaction_types()",
            "han_crypto.reset_redaction_stats()",
            "han_crypto.scan_secrets(text)",
            "han_crypto.seal(bytea,bytea)",
            "han_crypto.seal(bytea,text)",
            "han_crypto.unlock(text,text)",
            "han_crypto.unprotect(regclass,integer,text[])",
            "han_crypto.version()",
        ]
    );
}
