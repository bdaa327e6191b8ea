//! Attacks with nothing but SQL, each named after what it tries: crashing
//! the server through the protection trigger, rewriting another team's
//! rows, forging JWTs with a weak secret or an endless lifetime, keeping an
//! actor past a rolled-back savepoint, and reading Rust backtraces.

use std::sync::OnceLock;

use han_crypto_core::jwt::sign_hs256;
use han_crypto_tests::{expect_error, random_key_hex, shared, Client, Cluster};
use serde_json::json;

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
const JWT_SECRET: &str = "the-platform-jwt-secret-HANSENTINEL-0123456789";

fn cluster() -> &'static Cluster {
    shared(
        &CLUSTER,
        "hardening",
        &[
            ("HAN_CRYPTO_ROOT_KEY", &random_key_hex()),
            ("HAN_CRYPTO_JWT_SECRET", JWT_SECRET),
            // Backtraces must not reach clients even when the server asks for them.
            ("RUST_BACKTRACE", "1"),
        ],
        &["log_min_messages = debug1"],
    )
}

/// The platform: one application role (owner of the sessions table),
/// two teams, and a user who writes for team A only.
fn platform_db(name: &str) -> Client {
    let mut c = cluster().fresh_db(name);
    c.batch_execute(
        "DO $$ BEGIN CREATE ROLE platform LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
         GRANT han_crypto_app TO platform;
         GRANT CREATE ON SCHEMA public TO platform;
         SET ROLE platform;
         SELECT han_crypto.set_actor('admin-a');
         SELECT han_crypto.create_keyring('team_a');
         SELECT han_crypto.grant_access('team_a', 'writer-a', 'writer');
         SELECT han_crypto.set_actor('admin-b');
         SELECT han_crypto.create_keyring('team_b');
         SELECT han_crypto.grant_access('team_b', 'writer-b', 'writer');
         SELECT han_crypto.set_actor('admin-a');
         CREATE TABLE sessions (id int PRIMARY KEY, team text NOT NULL, prompt text, meta jsonb);
         SELECT han_crypto.protect('sessions', ARRAY['prompt', 'meta'], 'team');
         RESET ROLE;",
    )
    .unwrap();
    c
}

fn as_actor(c: &mut Client, actor: &str, sql: &str) -> Result<(), postgres::Error> {
    let mut tx = c.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor($1)", &[&actor])
        .unwrap();
    tx.batch_execute(sql)?;
    tx.commit()
}

fn actor_error(c: &mut Client, actor: &str, sql: &str) -> String {
    match as_actor(c, actor, sql) {
        Ok(()) => panic!("{actor} was allowed: {sql}"),
        Err(e) => han_crypto_tests::sqlstate(&e),
    }
}

fn read(c: &mut Client, actor: &str, id: i32) -> Option<String> {
    let mut tx = c.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor($1)", &[&actor])
        .unwrap();
    let v: Option<String> = tx
        .query_one(
            "SELECT prompt FROM sessions_decrypted WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    v
}

#[test]
fn a_writer_of_team_a_cannot_replay_an_old_ciphertext_into_a_team_b_row() {
    let mut c = platform_db("hd_replay");
    let mut app = cluster().connect_as("hd_replay", "platform");
    as_actor(
        &mut app,
        "writer-b",
        "INSERT INTO sessions VALUES (1, 'team_b', 'version one of B', NULL)",
    )
    .unwrap();
    let old: String = c
        .query_one("SELECT prompt FROM sessions WHERE id = 1", &[])
        .unwrap()
        .get(0);
    as_actor(
        &mut app,
        "writer-b",
        "UPDATE sessions SET prompt = 'version two of B' WHERE id = 1",
    )
    .unwrap();
    let second: String = c
        .query_one("SELECT prompt FROM sessions WHERE id = 1", &[])
        .unwrap()
        .get(0);
    // The old ciphertext authenticates for this very row: the trigger used
    // to keep it for anyone. Now only writers of team_b may put it back.
    let replay = format!("UPDATE sessions SET prompt = '{old}' WHERE id = 1");
    assert_eq!(actor_error(&mut app, "writer-a", &replay), "42501");
    assert_eq!(
        read(&mut app, "writer-b", 1).as_deref(),
        Some("version two of B")
    );
    // Nor may team A erase B's values.
    assert_eq!(
        actor_error(
            &mut app,
            "writer-a",
            "UPDATE sessions SET prompt = NULL WHERE id = 1"
        ),
        "42501"
    );
    // A writer of B may (it could write anything there anyway).
    as_actor(&mut app, "writer-b", &replay).unwrap();
    assert_eq!(
        read(&mut app, "writer-b", 1).as_deref(),
        Some("version one of B")
    );
    // A non-member gets the same 42501 for an envelope as for plaintext:
    // the authenticity check is no oracle, and forces no key derivation.
    let replay_second = format!("UPDATE sessions SET prompt = '{second}' WHERE id = 1");
    assert_eq!(actor_error(&mut app, "stranger", &replay_second), "42501");
    assert_eq!(
        actor_error(
            &mut app,
            "stranger",
            "UPDATE sessions SET prompt = 'plain' WHERE id = 1"
        ),
        "42501"
    );
}

#[test]
fn a_writer_of_team_a_cannot_take_over_a_team_b_row_by_changing_its_keyring() {
    let _c = platform_db("hd_takeover");
    let mut app = cluster().connect_as("hd_takeover", "platform");
    as_actor(
        &mut app,
        "writer-b",
        "INSERT INTO sessions VALUES (2, 'team_b', 'B owns this', '{\"k\": 1}')",
    )
    .unwrap();
    for attack in [
        "UPDATE sessions SET team = 'team_a', prompt = 'now mine', meta = NULL WHERE id = 2",
        "UPDATE sessions SET team = 'team_a', prompt = NULL, meta = NULL WHERE id = 2",
        "UPDATE sessions SET team = 'team_a' WHERE id = 2",
        "UPDATE sessions_decrypted SET team = 'team_a', prompt = 'via the view' WHERE id = 2",
    ] {
        assert_eq!(
            actor_error(&mut app, "writer-a", attack),
            "42501",
            "{attack}"
        );
    }
    assert_eq!(
        read(&mut app, "writer-b", 2).as_deref(),
        Some("B owns this")
    );
    // Writers of both keyrings may move a row: it re-encrypts.
    let mut admin = cluster().connect_as("hd_takeover", "platform");
    as_actor(
        &mut admin,
        "admin-b",
        "SELECT han_crypto.grant_access('team_b', 'writer-a', 'writer')",
    )
    .unwrap();
    as_actor(
        &mut app,
        "writer-a",
        "UPDATE sessions SET team = 'team_a' WHERE id = 2",
    )
    .unwrap();
    assert_eq!(
        read(&mut app, "writer-a", 2).as_deref(),
        Some("B owns this")
    );
}

#[test]
fn restore_by_the_table_owner_keeps_sealed_values_without_keyring_membership() {
    let mut c = platform_db("hd_restore");
    let mut app = cluster().connect_as("hd_restore", "platform");
    as_actor(
        &mut app,
        "writer-b",
        "INSERT INTO sessions VALUES (3, 'team_b', 'kept by restore', NULL)",
    )
    .unwrap();
    let sealed: String = c
        .query_one("SELECT prompt FROM sessions WHERE id = 3", &[])
        .unwrap()
        .get(0);
    // The owner, acting as itself (as pg_restore does), is no member of
    // team_b, yet may write back what authenticates for the row.
    app.batch_execute(&format!(
        "DELETE FROM sessions WHERE id = 3; INSERT INTO sessions VALUES (3, 'team_b', '{sealed}', NULL)"
    ))
    .unwrap();
    assert_eq!(
        read(&mut app, "writer-b", 3).as_deref(),
        Some("kept by restore")
    );
    // As an application user it may not.
    app.batch_execute("DELETE FROM sessions WHERE id = 3")
        .unwrap();
    let insert = format!("INSERT INTO sessions VALUES (3, 'team_b', '{sealed}', NULL)");
    assert_eq!(actor_error(&mut app, "writer-a", &insert), "42501");
}

fn token(claims: serde_json::Value, secret: &[u8]) -> String {
    sign_hs256(&json!({"alg": "HS256", "typ": "JWT"}), &claims, secret)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn tokens_signed_with_a_short_or_empty_secret_never_authenticate() {
    let root = random_key_hex();
    let cluster = Cluster::start(
        "hd-jwt-short",
        &[
            ("HAN_CRYPTO_ROOT_KEY", &root),
            ("HAN_CRYPTO_JWT_SECRET", ""),
        ],
        &[],
    );
    let mut c = cluster.fresh_db("hd");
    let forged = token(json!({"sub": "admin", "exp": now() + 60}), b"");
    let (code, text) = expect_error(&mut c, "SELECT han_crypto.authenticate($1)", &[&forged]);
    assert_eq!(code, "55000", "{text}");
    assert!(text.contains("32 bytes"), "{text}");
    cluster.restart_with_env(&[
        ("HAN_CRYPTO_ROOT_KEY", &root),
        ("HAN_CRYPTO_JWT_SECRET", "short-secret"),
    ]);
    let mut c = cluster.connect("hd");
    let t = token(json!({"sub": "admin", "exp": now() + 60}), b"short-secret");
    let (code, _) = expect_error(&mut c, "SELECT han_crypto.authenticate($1)", &[&t]);
    assert_eq!(code, "55000");
}

#[test]
fn tokens_valid_for_years_or_for_another_audience_are_refused() {
    let mut c = cluster().fresh_db("hd_jwt");
    let secret = JWT_SECRET.as_bytes();
    let ok = token(
        json!({"sub": "u1", "iat": now(), "exp": now() + 600}),
        secret,
    );
    let who: String = c
        .query_one("SELECT han_crypto.authenticate($1)", &[&ok])
        .unwrap()
        .get(0);
    assert_eq!(who, "u1");
    let forever = token(
        json!({"sub": "u1", "exp": now() + 10 * 365 * 86_400}),
        secret,
    );
    let (code, text) = expect_error(&mut c, "SELECT han_crypto.authenticate($1)", &[&forever]);
    assert_eq!(code, "28000", "{text}");
    assert!(text.contains("lifetime"), "{text}");
    // Audience and issuer, once configured, are required.
    c.batch_execute(
        "ALTER DATABASE hd_jwt SET han_crypto.jwt_audience = 'sessions-api';
         ALTER DATABASE hd_jwt SET han_crypto.jwt_issuer = 'https://auth.example';",
    )
    .unwrap();
    let mut c = cluster().connect("hd_jwt");
    let (code, _) = expect_error(&mut c, "SELECT han_crypto.authenticate($1)", &[&ok]);
    assert_eq!(code, "28000");
    let right = token(
        json!({"sub": "u1", "exp": now() + 600, "aud": "sessions-api", "iss": "https://auth.example"}),
        secret,
    );
    let who: String = c
        .query_one("SELECT han_crypto.authenticate($1)", &[&right])
        .unwrap()
        .get(0);
    assert_eq!(who, "u1");
    let other_aud = token(
        json!({"sub": "u1", "exp": now() + 600, "aud": "billing", "iss": "https://auth.example"}),
        secret,
    );
    let (code, _) = expect_error(&mut c, "SELECT han_crypto.authenticate($1)", &[&other_aud]);
    assert_eq!(code, "28000");
}

#[test]
fn an_actor_named_in_a_rolled_back_savepoint_does_not_survive_it() {
    let mut c = cluster().fresh_db("hd_savepoint");
    let actor = |c: &mut Client| -> String {
        c.query_one("SELECT han_crypto.current_actor()", &[])
            .unwrap()
            .get(0)
    };
    c.batch_execute(
        "BEGIN; SELECT han_crypto.set_actor('alice');
         SAVEPOINT s1; SELECT han_crypto.set_actor('mallory');",
    )
    .unwrap();
    assert_eq!(actor(&mut c), "mallory");
    c.batch_execute("ROLLBACK TO SAVEPOINT s1").unwrap();
    assert_eq!(actor(&mut c), "alice");
    // Nested savepoints, one released, the outer one rolled back.
    c.batch_execute(
        "SAVEPOINT s2; SELECT han_crypto.set_actor('bob');
         SAVEPOINT s3; SELECT han_crypto.set_actor('carol'); RELEASE SAVEPOINT s3;",
    )
    .unwrap();
    assert_eq!(actor(&mut c), "carol");
    c.batch_execute("ROLLBACK TO SAVEPOINT s2").unwrap();
    assert_eq!(actor(&mut c), "alice");
    c.batch_execute("COMMIT").unwrap();
    assert_eq!(actor(&mut c), "postgres");
    // An error caught by PL/pgSQL rolls its block back, actor included.
    c.batch_execute(
        "BEGIN; SELECT han_crypto.set_actor('alice');
         DO $$ BEGIN
             PERFORM han_crypto.set_actor('mallory');
             PERFORM 1 / 0;
         EXCEPTION WHEN division_by_zero THEN NULL;
         END $$;",
    )
    .unwrap();
    assert_eq!(actor(&mut c), "alice");
    c.batch_execute("COMMIT").unwrap();
}

/// Every way in to the protection trigger and the internal functions that
/// the review found, and their class, run by a role that can only create
/// its own (temporary) tables. Then the server log must show no backend
/// killed by a signal, and the connection must still be the same backend.
#[test]
fn no_role_can_crash_the_server_through_the_protection_trigger_or_internal_functions() {
    let mut c = cluster().fresh_db("hd_crash");
    c.batch_execute(
        "CREATE ROLE crasher LOGIN;
         GRANT CREATE ON SCHEMA public TO crasher;
         SELECT han_crypto.create_keyring('crash_team');
         SELECT han_crypto.grant_access('crash_team', 'crasher', 'writer');",
    )
    .unwrap();
    let mut m = cluster().connect_as("hd_crash", "crasher");
    let pid: i32 = m.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let attacks = [
        // (1) the internal helper with whatever kinds it once accepted
        "CREATE TEMP TABLE t1 (id int PRIMARY KEY, team text, b bigint)",
        "SELECT han_crypto._register_protection('t1'::regclass::oid, ARRAY['b'], 'team', '{}')",
        "CREATE TRIGGER zz BEFORE INSERT ON t1 FOR EACH ROW EXECUTE FUNCTION han_crypto._protect_trigger()",
        "INSERT INTO t1 VALUES (1, 'crash_team', 42)",
        // (2) documented calls: protect, drop the view, change the type
        "CREATE TABLE t2 (id int PRIMARY KEY, team text, b text, j jsonb, r bytea)",
        "SELECT han_crypto.protect('t2', ARRAY['b', 'j', 'r'], 'team')",
        "DROP VIEW t2_decrypted",
        "ALTER TABLE t2 ALTER COLUMN b TYPE bigint USING 0",
        "ALTER TABLE t2 ALTER COLUMN r TYPE int USING 0",
        "ALTER TABLE t2 DROP COLUMN j, ADD COLUMN j int",
        "INSERT INTO t2 VALUES (1, 'crash_team', 7, NULL, NULL)",
        // the trigger fired in every other way
        "CREATE TRIGGER s AFTER INSERT ON t2 FOR EACH STATEMENT EXECUTE FUNCTION han_crypto._protect_trigger()",
        "INSERT INTO t2 (id, team) VALUES (2, 'crash_team')",
        "DROP TRIGGER s ON t2",
        "CREATE TRIGGER d BEFORE DELETE ON t2 FOR EACH ROW EXECUTE FUNCTION han_crypto._protect_trigger()",
        "DELETE FROM t2",
        "DROP TRIGGER d ON t2",
        "CREATE TRIGGER tr BEFORE TRUNCATE ON t2 FOR EACH STATEMENT EXECUTE FUNCTION han_crypto._protect_trigger()",
        "TRUNCATE t2",
        "DROP TRIGGER tr ON t2",
        "CREATE VIEW v2 AS SELECT * FROM t2",
        "CREATE TRIGGER i INSTEAD OF INSERT ON v2 FOR EACH ROW EXECUTE FUNCTION han_crypto._protect_trigger()",
        "INSERT INTO v2 (id, team) VALUES (3, 'crash_team')",
        // a partition of another type under a protected parent
        "CREATE TABLE p (id int, team text, b text, PRIMARY KEY (id)) PARTITION BY RANGE (id)",
        "SELECT han_crypto.protect('p', ARRAY['b'], 'team')",
        "CREATE TABLE p1 (id int, team text, b bigint)",
        "ALTER TABLE p ATTACH PARTITION p1 FOR VALUES FROM (0) TO (100)",
        "INSERT INTO p VALUES (1, 'crash_team', '5')",
        // internal functions with hostile input
        "SELECT han_crypto._open_text('hc1:AAAA', '', '', NULL, ARRAY[NULL]::text[])",
        "SELECT han_crypto._open_bytea('\\x00'::bytea, repeat('x', 100000), '', 'crash_team', ARRAY[]::text[], true)",
        "SELECT han_crypto._open_json('{\"han_crypto\": \"AAAA\"}', '', '', 'crash_team', '{}')",
        "SELECT han_crypto._forget_protected_columns('t2'::regclass::oid, ARRAY[NULL, 'b'])",
        "SELECT han_crypto._register_protection('t2'::regclass::oid, ARRAY[NULL]::text[], 'team', '{}')",
        "SELECT han_crypto._register_protection(0::oid, ARRAY['b'], 'team', '{}')",
        "SELECT han_crypto._is_sealed(NULL, NULL)",
        "SELECT han_crypto._create_view(0::oid::regclass)",
        "SELECT han_crypto._unprotect_batch('t2', -1)",
        "SELECT han_crypto._unprotect_finish('t2', NULL)",
        "SELECT han_crypto._can_read_keyring(repeat('k', 10000))",
    ];
    for sql in attacks {
        // Failures are expected and fine; only the backend's survival counts.
        let _ = m.batch_execute(sql);
    }
    let calls = hostile_calls(&mut c, &mut m, "crasher");
    assert!(calls > 200, "only {calls} hostile calls");
    // A superuser may call everything: the same again as postgres.
    let mut su = cluster().connect("hd_crash");
    let su_pid: i32 = su.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    hostile_calls(&mut c, &mut su, "postgres");
    let same: i32 = su.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    assert_eq!(su_pid, same, "the superuser's backend survived every call");
    let same: i32 = m.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    assert_eq!(pid, same, "the attacker's backend survived every attack");
    let log = cluster().log();
    assert!(
        !log.contains("terminated by signal") && !log.contains("server process was terminated"),
        "a backend crashed: {log}"
    );
    // And no Rust backtrace reached the log.
    assert!(!log.contains("stack backtrace"), "backtrace in log");
}

/// Every routine `role` may execute, with hostile values in each argument
/// position in turn (the list comes from the catalog). Returns the count.
fn hostile_calls(catalog: &mut Client, m: &mut Client, role: &str) -> usize {
    let routines = catalog
        .query(
            "SELECT p.proname::text, p.prokind::text,
                    ARRAY(SELECT pg_catalog.format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) t)::text[]
             FROM pg_proc p
             WHERE p.pronamespace = 'han_crypto'::regnamespace
               AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
               AND has_function_privilege($1, p.oid, 'EXECUTE')",
            &[&role],
        )
        .unwrap();
    let mut calls = 0;
    for r in &routines {
        let (name, kind, types): (String, String, Vec<String>) = (r.get(0), r.get(1), r.get(2));
        for position in 0..types.len() {
            for bad in hostile_values(&types[position]) {
                let args: Vec<String> = types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        if i == position {
                            bad.clone()
                        } else {
                            ordinary_value(t)
                        }
                    })
                    .collect();
                let verb = if kind == "p" { "CALL" } else { "SELECT" };
                let sql = format!("{verb} han_crypto.{name}({})", args.join(", "));
                if let Err(e) = m.batch_execute(&sql) {
                    let code = han_crypto_tests::sqlstate(&e);
                    assert!(
                        code != "XX000" && !code.is_empty(),
                        "an internal error (or a lost connection) for {sql}: {e}"
                    );
                }
                calls += 1;
            }
        }
    }
    calls
}

/// An ordinary value of a type, for the argument positions not under attack.
fn ordinary_value(t: &str) -> String {
    match t {
        "text" => "'crash_team'".into(),
        "bytea" => "'\\x00'::bytea".into(),
        "jsonb" => "'{}'::jsonb".into(),
        "text[]" => "ARRAY['b']".into(),
        "name[]" => "ARRAY['id']::name[]".into(),
        "name" => "'b'::name".into(),
        "integer" | "bigint" | "smallint" => "1".into(),
        "boolean" => "false".into(),
        "oid" => "'t2'::regclass::oid".into(),
        "regclass" => "'t2'::regclass".into(),
        "real" => "0".into(),
        "inet" => "'127.0.0.1'::inet".into(),
        other => format!("NULL::{other}"),
    }
}

/// Values of a type chosen to break a careless implementation.
fn hostile_values(t: &str) -> Vec<String> {
    let v: &[&str] = match t {
        "text" => &[
            "NULL",
            "''",
            "repeat('x', 1000000)",
            "'hc1:' || repeat('A', 200)",
            "'hc1:'",
            "'{\"han_crypto\": \"AAAA\"}'",
            "repeat('ü', 10000)",
            "'\\x00'",
        ],
        "bytea" => &[
            "NULL",
            "''::bytea",
            "'\\x00'::bytea",
            "'\\x89484345'::bytea",
            "decode('894843450101010100' || repeat('ff', 200), 'hex')",
            "decode(repeat('ff', 100000), 'hex')",
        ],
        "jsonb" => &[
            "NULL",
            "'[]'::jsonb",
            "'null'::jsonb",
            "'\"x\"'::jsonb",
            "'{\"han_crypto\": 1}'::jsonb",
            "(repeat('[', 1000) || repeat(']', 1000))::jsonb",
            "'{\"columns\": {\"b\": []}, \"redact_groups\": [1]}'::jsonb",
        ],
        "text[]" | "name[]" => &[
            "NULL",
            "'{}'",
            "'{NULL}'",
            "ARRAY[repeat('x', 10000)]",
            "ARRAY(SELECT 'c' || i FROM generate_series(1, 10000) i)",
            "'{{a,b},{c,d}}'",
        ],
        "name" => &["NULL", "''", "repeat('n', 63)"],
        "integer" | "smallint" => &["NULL", "0", "-1", "2147483647", "-2147483648"],
        "bigint" => &["NULL", "-1", "9223372036854775807"],
        "boolean" => &["NULL", "true"],
        "oid" => &[
            "NULL",
            "0",
            "4294967295",
            "'pg_class'::regclass::oid",
            "'han_crypto.keyrings'::regclass::oid",
        ],
        "regclass" => &["NULL", "0", "'pg_class'", "'han_crypto.keyrings'", "'v2'"],
        "real" => &["NULL", "'NaN'", "'Infinity'", "-1"],
        "inet" => &["NULL", "'::1'", "'0.0.0.0/0'"],
        _ => &["NULL"],
    };
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_view_planted_under_the_decrypting_views_name_is_never_adopted() {
    let mut c = cluster().fresh_db("hd_planted");
    c.batch_execute(
        "CREATE ROLE planter LOGIN; GRANT CREATE ON SCHEMA public TO planter;
         SELECT han_crypto.create_keyring('plant_team');
         CREATE TABLE public.secrets (id int PRIMARY KEY, team text NOT NULL, ssn text);",
    )
    .unwrap();
    let mut m = cluster().connect_as("hd_planted", "planter");
    m.batch_execute(
        "CREATE TABLE public.stolen (x text); GRANT ALL ON public.stolen TO PUBLIC;
         CREATE FUNCTION public.evil() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN
           INSERT INTO public.stolen VALUES (current_user); RETURN NEW; END$$;
         CREATE VIEW public.secrets_decrypted AS SELECT;
         CREATE TRIGGER a_evil INSTEAD OF INSERT OR UPDATE OR DELETE ON public.secrets_decrypted
           FOR EACH ROW EXECUTE FUNCTION public.evil();
         GRANT ALL ON public.secrets_decrypted TO PUBLIC;",
    )
    .unwrap();
    let (code, text) = expect_error(
        &mut c,
        "SELECT han_crypto.protect('public.secrets', ARRAY['ssn'], 'team')",
        &[],
    );
    assert_eq!(code, "42P07", "{text}");
    let owner: String = c
        .query_one(
            "SELECT relowner::regrole::text FROM pg_class WHERE oid = 'public.secrets_decrypted'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        owner, "planter",
        "the planted view kept its owner and got nothing"
    );
}

#[test]
fn writes_through_the_view_follow_the_table_across_a_rename_not_its_old_name() {
    let mut c = cluster().fresh_db("hd_rename");
    c.batch_execute(
        "CREATE ROLE lookalike LOGIN; GRANT CREATE ON SCHEMA public TO lookalike;
         SELECT han_crypto.create_keyring('rn_team');
         CREATE TABLE public.vault (id int PRIMARY KEY, team text NOT NULL, ssn text);
         SELECT han_crypto.protect('public.vault', ARRAY['ssn'], 'team');
         ALTER TABLE public.vault RENAME TO vault_v2;",
    )
    .unwrap();
    let mut m = cluster().connect_as("hd_rename", "lookalike");
    m.batch_execute(
        "CREATE TABLE public.vault (id int, team text, ssn text); GRANT ALL ON public.vault TO PUBLIC;",
    )
    .unwrap();
    c.batch_execute("INSERT INTO public.vault_decrypted VALUES (7, 'rn_team', '999-99-9999')")
        .unwrap();
    let in_lookalike: i64 = c
        .query_one("SELECT count(*) FROM public.vault", &[])
        .unwrap()
        .get(0);
    assert_eq!(in_lookalike, 0, "the write went to the look-alike table");
    let sealed: bool = c
        .query_one(
            "SELECT ssn LIKE 'hc1:%' FROM public.vault_v2 WHERE id = 7",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(sealed, "the write reached the protected table, sealed");
}

#[test]
fn a_superuser_never_runs_another_roles_triggers_with_superuser_rights_through_protect() {
    let mut c = cluster().fresh_db("hd_owner_code");
    c.batch_execute(
        "CREATE ROLE tricky LOGIN; GRANT CREATE ON SCHEMA public TO tricky;
         SELECT han_crypto.create_keyring('oc_team');
         SELECT han_crypto.grant_access('oc_team', 'tricky', 'writer');",
    )
    .unwrap();
    let mut m = cluster().connect_as("hd_owner_code", "tricky");
    m.batch_execute(
        "CREATE TABLE public.mt (id int PRIMARY KEY, team text NOT NULL, body text);
         CREATE TABLE public.seen (who text, su boolean); GRANT ALL ON public.seen TO PUBLIC;
         CREATE FUNCTION public.spy() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN
           INSERT INTO public.seen SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
           RETURN NEW; END$$;
         CREATE TRIGGER a_spy BEFORE UPDATE ON public.mt FOR EACH ROW EXECUTE FUNCTION public.spy();
         INSERT INTO public.mt VALUES (1, 'oc_team', 'x');",
    )
    .unwrap();
    let (code, _) = expect_error(
        &mut c,
        "SELECT han_crypto.protect('public.mt', ARRAY['body'], 'team')",
        &[],
    );
    assert_eq!(code, "42501");
    // As the owner it works, and the owner's trigger runs as the owner.
    c.batch_execute(
        "SET ROLE tricky; SELECT han_crypto.protect('public.mt', ARRAY['body'], 'team'); RESET ROLE;",
    )
    .unwrap();
    let err = c
        .batch_execute("CALL han_crypto.unprotect('public.mt')")
        .unwrap_err();
    assert_eq!(han_crypto_tests::sqlstate(&err), "42501");
    let as_superuser: i64 = c
        .query_one("SELECT count(*) FROM public.seen WHERE su", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        as_superuser, 0,
        "the owner's trigger ran with superuser rights"
    );
}

#[test]
fn a_writer_of_team_a_cannot_delete_a_team_b_row_to_reinsert_its_key() {
    let _c = platform_db("hd_delete");
    let mut app = cluster().connect_as("hd_delete", "platform");
    as_actor(
        &mut app,
        "writer-b",
        "INSERT INTO sessions VALUES (5, 'team_b', 'B keeps this', NULL)",
    )
    .unwrap();
    assert_eq!(
        actor_error(&mut app, "writer-a", "DELETE FROM sessions WHERE id = 5"),
        "42501"
    );
    assert_eq!(
        actor_error(
            &mut app,
            "writer-a",
            "DELETE FROM sessions_decrypted WHERE id = 5"
        ),
        "42501"
    );
    as_actor(&mut app, "writer-b", "DELETE FROM sessions WHERE id = 5").unwrap();
}

#[test]
fn key_columns_whose_text_depends_on_session_settings_are_refused() {
    let mut c = cluster().fresh_db("hd_keytypes");
    c.batch_execute(
        "SELECT han_crypto.create_keyring('kt_team');
         CREATE TABLE events (at timestamptz PRIMARY KEY, team text NOT NULL, body text);
         CREATE TABLE readings (v float8 PRIMARY KEY, team text NOT NULL, body text);",
    )
    .unwrap();
    for t in ["events", "readings"] {
        let (code, text) = expect_error(
            &mut c,
            &format!("SELECT han_crypto.protect('{t}', ARRAY['body'], 'team')"),
            &[],
        );
        assert_eq!(code, "42804", "{t}: {text}");
    }
}

#[test]
fn han_crypto_refuses_to_install_in_a_database_that_is_not_utf8() {
    let mut admin = cluster().connect("postgres");
    admin
        .batch_execute("DROP DATABASE IF EXISTS hd_latin1")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE hd_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
        .unwrap();
    let mut c = cluster().connect("hd_latin1");
    let (code, text) = expect_error(&mut c, "CREATE EXTENSION han_crypto CASCADE", &[]);
    assert_eq!(code, "0A000", "{text}");
}

#[test]
fn an_invalidation_flood_does_not_lock_other_sessions_passphrase_keyrings() {
    let mut c = cluster().fresh_db("hd_flood");
    c.batch_execute(
        "CREATE ROLE flooder LOGIN; GRANT CREATE ON SCHEMA public TO flooder;
         SELECT han_crypto.create_passphrase_keyring('flood_kim', 'a passphrase for the flood test');",
    )
    .unwrap();
    let mut victim = cluster().connect("hd_flood");
    let ok: bool = victim
        .query_one(
            "SELECT han_crypto.unlock('flood_kim', 'a passphrase for the flood test')",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(ok);
    // Overflow the shared invalidation queue while the victim is idle.
    let mut f = cluster().connect_as("hd_flood", "flooder");
    f.batch_execute(
        "DO $$ BEGIN FOR i IN 1..1500 LOOP
           EXECUTE 'CREATE TEMP TABLE flood (a int)'; EXECUTE 'DROP TABLE flood';
         END LOOP; END $$;",
    )
    .unwrap();
    let back: String = victim
        .query_one(
            "SELECT han_crypto.decrypt(han_crypto.encrypt('still unlocked', 'flood_kim'))",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(back, "still unlocked");
}

#[test]
fn an_open_transaction_after_the_first_key_use_blocks_others_for_a_bounded_time_only() {
    let mut c = cluster().fresh_db("hd_first_use");
    c.batch_execute("CREATE ROLE holder LOGIN").unwrap();
    let mut h = cluster().connect_as("hd_first_use", "holder");
    // The first use in this database inserts the default keyring and the
    // root key-check value, and the holder keeps its transaction open.
    h.batch_execute("BEGIN; SELECT han_crypto.encrypt('x');")
        .unwrap();
    let mut other = cluster().connect("hd_first_use");
    other
        .batch_execute("SET statement_timeout = '30s'")
        .unwrap();
    let started = std::time::Instant::now();
    let r = other.batch_execute("SELECT han_crypto.encrypt('y')");
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(15),
        "waited {waited:?}"
    );
    if let Err(e) = r {
        assert_eq!(han_crypto_tests::sqlstate(&e), "55P03", "{e}");
    }
    h.batch_execute("COMMIT").unwrap();
    other
        .batch_execute("SELECT han_crypto.encrypt('y')")
        .unwrap();
}

/// A member revoked while one of its sessions is inside a REPEATABLE READ
/// transaction: the invalidation reaches that session, which must re-read
/// the membership as it is now, not as its old snapshot shows it (and then
/// keep the stale row cached for good, past COMMIT).
#[test]
fn a_revoked_member_inside_an_old_snapshot_loses_access_at_the_next_statement_and_after_commit() {
    let mut admin = cluster().fresh_db("hd_stale");
    admin
        .batch_execute(
            "CREATE ROLE stale_reader LOGIN;
             SELECT han_crypto.create_keyring('stale_team');
             SELECT han_crypto.grant_access('stale_team', 'stale_reader', 'reader');",
        )
        .unwrap();
    let env: Vec<u8> = admin
        .query_one("SELECT han_crypto.encrypt('before', 'stale_team')", &[])
        .unwrap()
        .get(0);
    for isolation in ["REPEATABLE READ", "SERIALIZABLE"] {
        let mut r = cluster().connect_as("hd_stale", "stale_reader");
        admin
            .batch_execute("SELECT han_crypto.grant_access('stale_team', 'stale_reader', 'reader')")
            .unwrap();
        r.batch_execute(&format!("BEGIN ISOLATION LEVEL {isolation}"))
            .unwrap();
        let plain: String = r
            .query_one("SELECT han_crypto.decrypt($1)", &[&env])
            .unwrap()
            .get(0);
        assert_eq!(plain, "before");
        admin
            .batch_execute("SELECT han_crypto.revoke_access('stale_team', 'stale_reader')")
            .unwrap();
        let (state, _) = expect_error(&mut r, "SELECT han_crypto.decrypt($1)", &[&env]);
        assert_eq!(state, "42501", "{isolation}: revoked member still decrypts");
        r.batch_execute("ROLLBACK").unwrap();
        let (state, _) = expect_error(&mut r, "SELECT han_crypto.decrypt($1)", &[&env]);
        assert_eq!(
            state, "42501",
            "{isolation}: revoked member decrypts after the transaction"
        );
    }
}

/// A column protected while a writer's transaction holds an older snapshot:
/// from its next statement the writer's backend seals the new column too,
/// instead of caching the configuration its snapshot shows and writing
/// plaintext into the heap (and making the view fail for every reader).
#[test]
fn a_column_protected_under_a_writers_old_snapshot_is_sealed_from_its_next_statement() {
    let mut owner = cluster().fresh_db("hd_stalecfg");
    owner
        .batch_execute(
            "CREATE ROLE stale_writer LOGIN;
             SELECT han_crypto.create_keyring('cfg_team');
             SELECT han_crypto.grant_access('cfg_team', 'stale_writer', 'writer');
             CREATE TABLE t3 (id int PRIMARY KEY, team text NOT NULL, a text, b text);
             GRANT ALL ON t3 TO stale_writer;
             SELECT han_crypto.protect('t3', ARRAY['a'], 'team');",
        )
        .unwrap();
    let mut w = cluster().connect_as("hd_stalecfg", "stale_writer");
    w.batch_execute("INSERT INTO t3 VALUES (1, 'cfg_team', 'A1', 'B1')")
        .unwrap();
    w.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class")
        .unwrap();
    owner
        .batch_execute("SELECT han_crypto.protect('t3', ARRAY['a', 'b'], 'team')")
        .unwrap();
    w.batch_execute("INSERT INTO t3 VALUES (2, 'cfg_team', 'A2', 'PLAIN-B2'); COMMIT")
        .unwrap();
    w.batch_execute("INSERT INTO t3 VALUES (3, 'cfg_team', 'A3', 'PLAIN-B3')")
        .unwrap();
    let plain: i64 = owner
        .query_one("SELECT count(*) FROM t3 WHERE b LIKE 'PLAIN%'", &[])
        .unwrap()
        .get(0);
    assert_eq!(plain, 0, "plaintext stored in a protected column");
    let read: Vec<String> = w
        .query("SELECT b FROM t3_decrypted WHERE id > 1 ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(read, ["PLAIN-B2", "PLAIN-B3"]);
}

/// REVOKE on a protected table must also take the view away: the view reads
/// with its owner's rights, so a grant left on it is a way around the
/// revocation. Covers the owner revoking, PUBLIC, and a role that holds a
/// grant option on the table but no rights on the view.
#[test]
fn revoking_on_a_protected_table_revokes_on_its_decrypting_view() {
    let mut owner = cluster().fresh_db("hd_acl");
    owner
        .batch_execute(
            "CREATE ROLE acl_user LOGIN;
             CREATE ROLE acl_delegate LOGIN;
             CREATE TABLE s (id int PRIMARY KEY, team text, body text);
             GRANT SELECT, INSERT ON s TO acl_user;
             GRANT SELECT ON s TO acl_delegate WITH GRANT OPTION;
             SELECT han_crypto.protect('s', ARRAY['body'], 'team');",
        )
        .unwrap();
    let view_privs = |c: &mut Client, role: &str| -> (bool, bool) {
        let r = c
            .query_one(
                "SELECT has_table_privilege($1, 's_decrypted', 'SELECT'),
                        has_table_privilege($1, 's_decrypted', 'INSERT')",
                &[&role],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(view_privs(&mut owner, "acl_user"), (true, true));
    owner
        .batch_execute("REVOKE INSERT ON s FROM acl_user")
        .unwrap();
    assert_eq!(view_privs(&mut owner, "acl_user"), (true, false));
    owner
        .batch_execute("REVOKE ALL ON s FROM acl_user")
        .unwrap();
    assert_eq!(view_privs(&mut owner, "acl_user"), (false, false));
    let mut u = cluster().connect_as("hd_acl", "acl_user");
    let (state, _) = expect_error(&mut u, "SELECT * FROM s_decrypted", &[]);
    assert_eq!(state, "42501");
    // A grant made by a grant-option holder, and its revocation.
    let mut d = cluster().connect_as("hd_acl", "acl_delegate");
    d.batch_execute("GRANT SELECT ON s TO acl_user").unwrap();
    assert_eq!(view_privs(&mut owner, "acl_user"), (true, false));
    d.batch_execute("REVOKE SELECT ON s FROM acl_user").unwrap();
    assert_eq!(view_privs(&mut owner, "acl_user"), (false, false));
    // PUBLIC both ways; a grant made on the view alone does not stay.
    owner.batch_execute("GRANT SELECT ON s TO PUBLIC").unwrap();
    assert_eq!(view_privs(&mut owner, "acl_user"), (true, false));
    owner
        .batch_execute("REVOKE SELECT ON s FROM PUBLIC")
        .unwrap();
    assert_eq!(view_privs(&mut owner, "acl_user"), (false, false));
    owner
        .batch_execute("GRANT SELECT ON s_decrypted TO acl_user; GRANT SELECT ON s TO acl_delegate")
        .unwrap();
    assert_eq!(view_privs(&mut owner, "acl_user"), (false, false));
    // A view another role puts at the recorded name is not the table's: the
    // mirroring (which runs with its definer's rights) grants nothing on it.
    owner
        .batch_execute("DROP VIEW s_decrypted; GRANT CREATE ON SCHEMA public TO acl_delegate")
        .unwrap();
    d.batch_execute("CREATE VIEW s_decrypted AS SELECT * FROM s")
        .unwrap();
    owner
        .batch_execute("GRANT SELECT ON s TO acl_user")
        .unwrap();
    assert_eq!(view_privs(&mut owner, "acl_user"), (false, false));
}

/// A keyring admin revoking someone (anyone, even a non-member) from their
/// own keyring must not lock the passphrase keyrings that other actors have
/// unlocked in other sessions.
#[test]
fn a_keyring_admin_revoking_cannot_lock_other_actors_passphrase_keyrings() {
    let mut admin = cluster().fresh_db("hd_lockdos");
    admin
        .batch_execute(
            "CREATE ROLE pp_owner LOGIN IN ROLE han_crypto_app;
             CREATE ROLE team_admin LOGIN IN ROLE han_crypto_app;
             SELECT han_crypto.create_keyring('dos_team');
             SELECT han_crypto.grant_access('dos_team', 'team_admin', 'admin');
             SELECT han_crypto.grant_access('dos_team', 'someone', 'reader');",
        )
        .unwrap();
    let mut p = cluster().connect_as("hd_lockdos", "pp_owner");
    p.batch_execute(
        "SELECT han_crypto.create_passphrase_keyring('pp_dos', 'correct horse battery staple')",
    )
    .unwrap();
    p.batch_execute("SELECT han_crypto.unlock('pp_dos', 'correct horse battery staple')")
        .unwrap();
    let env: Vec<u8> = p
        .query_one("SELECT han_crypto.encrypt('mine', 'pp_dos')", &[])
        .unwrap()
        .get(0);
    let mut t = cluster().connect_as("hd_lockdos", "team_admin");
    for who in ["nobody-at-all", "someone"] {
        t.batch_execute(&format!(
            "SELECT han_crypto.revoke_access('dos_team', '{who}')"
        ))
        .unwrap();
        let plain: String = p
            .query_one("SELECT han_crypto.decrypt($1)", &[&env])
            .unwrap()
            .get(0);
        assert_eq!(
            plain, "mine",
            "revoking {who} locked another actor's keyring"
        );
    }
}

/// A validly signed token whose principal is no name set_actor would
/// accept (100,000 characters, an embedded NUL, control characters) must
/// not become the actor: names end up in rows, messages and the log.
#[test]
fn tokens_naming_an_oversized_or_control_character_principal_are_refused() {
    let mut c = cluster().fresh_db("hd_jwt_sub");
    let secret = JWT_SECRET.as_bytes();
    for sub in [
        "x".repeat(100_000),
        "x\u{0}y".into(),
        "line\nbreak".into(),
        String::new(),
        "admin\u{202E}nimda".into(),
        "ad\u{200B}min".into(),
    ] {
        let t = token(
            json!({"sub": sub, "iat": now(), "exp": now() + 600}),
            secret,
        );
        let (code, _) = expect_error(&mut c, "SELECT han_crypto.authenticate($1)", &[&t]);
        assert_eq!(code, "28000", "sub of {} chars", sub.len());
    }
    let (code, _) = expect_error(&mut c, "SELECT han_crypto.set_actor($1)", &[&"a\u{7}b"]);
    assert_eq!(code, "22023");
}

/// Role names that need quoting reach the view as themselves (never a role
/// whose name is their quoted form), and revocations by DROP OWNED's
/// cascade or after a schema rename reach it too.
#[test]
fn grants_mirrored_onto_a_view_survive_quoted_role_names_drop_owned_and_renames() {
    let mut owner = cluster().fresh_db("hd_acl2");
    owner
        .batch_execute(
            r#"CREATE ROLE "Bob" LOGIN;
               CREATE ROLE """Bob""" LOGIN;
               CREATE ROLE carol LOGIN;
               CREATE ROLE dave LOGIN;
               CREATE SCHEMA ms;
               CREATE TABLE ms.notes (id int PRIMARY KEY, team text, body text);
               SELECT han_crypto.protect('ms.notes', ARRAY['body'], 'team');
               GRANT USAGE ON SCHEMA ms TO PUBLIC;"#,
        )
        .unwrap();
    let can = |c: &mut Client, role: &str, rel: &str| -> bool {
        c.query_one(
            "SELECT has_table_privilege($1, $2, 'SELECT')",
            &[&role, &rel],
        )
        .unwrap()
        .get(0)
    };
    owner
        .batch_execute(r#"GRANT SELECT ON ms.notes TO "Bob""#)
        .unwrap();
    assert!(can(&mut owner, "Bob", "ms.notes_decrypted"));
    assert!(!can(&mut owner, "\"Bob\"", "ms.notes_decrypted"));
    owner
        .batch_execute(r#"REVOKE SELECT ON ms.notes FROM "Bob""#)
        .unwrap();
    assert!(!can(&mut owner, "Bob", "ms.notes_decrypted"));
    // DROP OWNED revokes what the dropped role granted.
    owner
        .batch_execute("GRANT SELECT ON ms.notes TO carol WITH GRANT OPTION")
        .unwrap();
    let mut c = cluster().connect_as("hd_acl2", "carol");
    c.batch_execute("GRANT SELECT ON ms.notes TO dave").unwrap();
    assert!(can(&mut owner, "dave", "ms.notes_decrypted"));
    owner.batch_execute("DROP OWNED BY carol").unwrap();
    assert!(!can(&mut owner, "dave", "ms.notes"));
    assert!(!can(&mut owner, "dave", "ms.notes_decrypted"));
    // A renamed schema leaves the recorded view name stale: still mirrored.
    owner
        .batch_execute("GRANT SELECT ON ms.notes TO dave; ALTER SCHEMA ms RENAME TO ms2")
        .unwrap();
    owner
        .batch_execute("REVOKE SELECT ON ms2.notes FROM dave")
        .unwrap();
    assert!(!can(&mut owner, "dave", "ms2.notes_decrypted"));
    // And the view still follows the table to a new owner.
    owner
        .batch_execute("ALTER TABLE ms2.notes OWNER TO dave")
        .unwrap();
    let view_owner: String = owner
        .query_one(
            "SELECT relowner::regrole::text FROM pg_class WHERE oid = 'ms2.notes_decrypted'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(view_owner, "dave");
}

/// A han_crypto function reached from a parallel query (a wrapper marked
/// PARALLEL SAFE, run with parallel plans forced) is no internal error.
#[test]
fn key_use_in_parallel_mode_is_no_internal_error() {
    let mut c = cluster().fresh_db("hd_parallel");
    c.batch_execute(
        "CREATE FUNCTION w(e bytea) RETURNS text LANGUAGE plpgsql PARALLEL SAFE
             AS $$BEGIN RETURN han_crypto.decrypt(e, 'c'); END$$;
         CREATE TABLE env AS SELECT han_crypto.encrypt('in parallel', 'default', 'c') AS e;
         ANALYZE env;
         -- PG16 renamed force_parallel_mode to debug_parallel_query.
         SELECT pg_catalog.set_config(
             CASE WHEN pg_catalog.current_setting('server_version_num')::int >= 160000
                  THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false);",
    )
    .unwrap();
    match c.query("SELECT w(e) FROM env", &[]) {
        Ok(rows) => assert_eq!(rows[0].get::<_, String>(0), "in parallel"),
        Err(e) => assert_ne!(han_crypto_tests::sqlstate(&e), "XX000", "{e}"),
    }
}
