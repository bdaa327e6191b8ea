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

// Which routines PUBLIC may execute, each with the reason it is safe for any
// input from anyone: tests/pg_regress/sql/public_surface.sql.
