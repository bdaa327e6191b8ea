//! The server log with every statement-logging knob on: passphrases and
//! tokens never reach it, however a call is written (comments, newlines,
//! quoting, named notation, PREPARE/EXECUTE, DO blocks, errors with
//! CONTEXT and parameters), only the secret arguments are masked, and no
//! statement can hide itself with a comment. Run with han_crypto preloaded
//! in every session and without.

use han_crypto_tests::{random_key_hex, Client, Cluster, VERBOSE_LOGGING};
const AWS_KEY: &str = "AKIAZ7Q4XPLM3VN2B6RT";

fn start(name: &str, preload: bool) -> Cluster {
    let mut gucs = VERBOSE_LOGGING.to_vec();
    if preload {
        gucs.push("session_preload_libraries = 'han_crypto'");
    }
    Cluster::start(name, &[("HAN_CRYPTO_ROOT_KEY", &random_key_hex())], &gucs)
}

fn pw(n: u32) -> String {
    format!("HANSENTINEL-pw-{n}-c0ffee")
}

/// Every way of passing a passphrase the review found, and its class.
fn pass_secrets_every_way(c: &mut Client) {
    c.batch_execute(&format!(
        "SELECT han_crypto.create_passphrase_keyring('kim', '{}')",
        pw(0)
    ))
    .unwrap();
    let statements = [
        format!("SELECT han_crypto.unlock/**/('kim', '{}')", pw(1)),
        format!("SELECT han_crypto.unlock --x\n('kim', '{}')", pw(2)),
        format!("SELECT \"han_crypto\".\"unlock\"  (  'kim' , '{}' )", pw(3)),
        format!(
            "SELECT han_crypto.unlock(passphrase => '{}', keyring => 'kim')",
            pw(4)
        ),
        format!("SELECT han_crypto.unlock('kim', E'{}\\'')", pw(5)),
        format!("SELECT han_crypto.unlock('kim', $q${}$q$)", pw(6)),
        format!(
            "PREPARE pu(text, text) AS SELECT han_crypto.unlock($1, $2); EXECUTE pu('kim', '{}')",
            pw(7)
        ),
        format!("EXECUTE pu('kim', '{}')", pw(8)),
        format!(
            "DO $$ BEGIN PERFORM han_crypto.unlock('kim', '{}'); END $$",
            pw(9)
        ),
        format!(
            "DO 'BEGIN PERFORM han_crypto.unlock(''kim'', ''{}''); END'",
            pw(10)
        ),
        format!(
            "SELECT han_crypto.change_passphrase('kim', '{}', '{}')",
            pw(0),
            pw(11)
        ),
        format!(
            "SELECT han_crypto.change_passphrase('kim', '{}', '{}')",
            pw(11),
            pw(0)
        ),
        format!(
            "SELECT han_crypto.create_passphrase_keyring('kim2', '{}', 'pbkdf2-sha256')",
            pw(12)
        ),
    ];
    for s in &statements {
        c.batch_execute(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    // Errors: inside a DO block (CONTEXT quotes the SQL), and with bind
    // parameters (CONTEXT lists them with log_parameter_max_length_on_error).
    let _ = c.batch_execute(&format!(
        "DO $$ BEGIN PERFORM han_crypto.unlock('kim', '{}'); RAISE EXCEPTION 'boom'; END $$",
        pw(13)
    ));
    let _ = c.batch_execute(&format!(
        "DO $$ BEGIN PERFORM han_crypto.unlock('no such keyring', '{}'); END $$",
        pw(14)
    ));
    let _ = c.query(
        "SELECT han_crypto.unlock($1, $2)",
        &[&"no such keyring", &pw(15)],
    );
    let ok: bool = c
        .query_one("SELECT han_crypto.unlock($1, $2)", &[&"kim", &pw(0)])
        .unwrap()
        .get(0);
    assert!(ok);
    let _ = c.batch_execute(&format!(
        "SELECT han_crypto.unlock('kim', '{}') garbage garbage",
        pw(16)
    ));
    let _ = c.query(
        "SELECT han_crypto.authenticate($1)",
        &[&format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", pw(17))],
    );
}

fn assert_no_passphrase_in(log: &str) {
    for n in 0..=17 {
        let p = pw(n);
        let hit = log.lines().find(|l| l.contains(&p));
        assert!(hit.is_none(), "passphrase {n} in the log: {hit:?}");
    }
}

#[test]
fn passphrases_never_reach_the_log_however_the_call_is_written() {
    for preload in [true, false] {
        let cluster = start(if preload { "logs-pre" } else { "logs-nopre" }, preload);
        let mut c = cluster.fresh_db("logs");
        pass_secrets_every_way(&mut c);
        let log = cluster.log();
        assert_no_passphrase_in(&log);
        // Only the secret argument is masked: the rest stays readable.
        assert!(
            log.contains("han_crypto.unlock/**/('kim', [REDACTED:passphrase])"),
            "the masked statement is still logged"
        );
        assert!(
            log.contains("$1 = 'kim'"),
            "non-secret bind parameters stay visible"
        );
        assert!(log.contains("[REDACTED:passphrase]"));
        assert!(log.contains("[REDACTED:old_passphrase]"));
        assert!(log.contains("[REDACTED:token]"));
    }
}

#[test]
fn a_comment_naming_a_secret_function_hides_nothing_from_the_log() {
    let cluster = start("logs-evasion", false);
    let mut c = cluster.fresh_db("logs");
    c.batch_execute("SELECT han_crypto.version()").unwrap();
    c.batch_execute("/* unlock( */ SELECT 'HANVISIBLE-1'")
        .unwrap();
    c.query("/* authenticate( */ SELECT $1::text", &[&"HANVISIBLE-2"])
        .unwrap();
    let _ = c.batch_execute("/* unlock( */ SELECT 1/0, 'HANVISIBLE-3'");
    let _ = c.batch_execute("SELECT 'unlock(' AS x, 'HANVISIBLE-4'");
    let _ = c.batch_execute("-- change_passphrase(\nSELECT 'HANVISIBLE-5'");
    let log = cluster.log();
    for n in 1..=5 {
        assert!(
            log.contains(&format!("HANVISIBLE-{n}")),
            "statement {n} was hidden from the log"
        );
    }
    // The error's STATEMENT line is there too.
    assert!(log
        .lines()
        .any(|l| l.contains("STATEMENT:") && l.contains("HANVISIBLE-3")));
}

#[test]
fn warnings_and_notices_reach_clients_unchanged() {
    let cluster = start("logs-notices", true);
    cluster.fresh_db("logs");
    let (mut c, seen) = cluster.connect_collecting_notices("logs");
    c.batch_execute(
        "DO $$ BEGIN RAISE WARNING 'remember to call unlock( later'; RAISE NOTICE 'authenticate(x) is next'; END $$",
    )
    .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec!["remember to call unlock( later", "authenticate(x) is next"]
    );
}

/// An INSERT with bind parameters into a protected table, as the first
/// statement of a new connection: without preloading, the library loads
/// only when the trigger fires, after the statement was logged.
#[test]
fn the_first_write_of_a_new_connection_is_scrubbed_when_han_crypto_is_preloaded() {
    for preload in [true, false] {
        let cluster = start(
            if preload {
                "logs-first-pre"
            } else {
                "logs-first"
            },
            preload,
        );
        let mut c = cluster.fresh_db("logs");
        c.batch_execute(
            "SELECT han_crypto.create_keyring('team');
             CREATE TABLE notes (id int PRIMARY KEY, team text NOT NULL, body text);",
        )
        .unwrap();
        let (mut owner, warnings) = cluster.connect_collecting_notices("logs");
        owner
            .batch_execute("SELECT han_crypto.protect('notes', ARRAY['body'], 'team')")
            .unwrap();
        let warned = warnings
            .lock()
            .unwrap()
            .iter()
            .any(|w| w.contains("not preloaded"));
        assert_eq!(
            warned, !preload,
            "protect() warns exactly when the gap is open"
        );
        let mut fresh = cluster.connect("logs");
        let first = format!("first write {AWS_KEY}");
        fresh
            .execute(
                "INSERT INTO notes VALUES ($1, 'team', $2)",
                &[&1i32, &first],
            )
            .unwrap();
        let second = format!("second write {}", AWS_KEY.replace('Z', "Y"));
        fresh
            .execute(
                "INSERT INTO notes VALUES ($1, 'team', $2)",
                &[&2i32, &second],
            )
            .unwrap();
        let log = cluster.log();
        // Once loaded, every later statement is scrubbed.
        assert!(
            !log.contains(&second.replace("second write ", "")),
            "second write logged"
        );
        if preload {
            assert!(
                !log.contains(AWS_KEY),
                "first write of a preloaded session logged"
            );
        }
    }
}

#[test]
fn passphrases_are_not_echoed_by_the_errors_their_statements_cause() {
    let cluster = start("logs-echo", true);
    let mut c = cluster.fresh_db("logs");
    c.batch_execute(&format!(
        "SELECT han_crypto.create_passphrase_keyring('kim', '{}')",
        pw(0)
    ))
    .unwrap();
    for sql in [
        format!("SELECT han_crypto.unlock('kim' '{}')", pw(18)),
        format!("SELECT han_crypto.unlock('kim', '{}'::int::text)", pw(19)),
        format!(
            "SELECT han_crypto.unlock('kim', {})",
            pw(20).replace('-', "_")
        ),
        format!("SELECT han_crypto.unlock('kim', '{}", pw(21)),
    ] {
        let e = c.batch_execute(&sql).unwrap_err();
        assert!(han_crypto_tests::sqlstate(&e) != "XX000", "{sql}: {e}");
    }
    let log = cluster.log();
    for n in 18..=21 {
        for p in [pw(n), pw(n).replace('-', "_")] {
            let hit = log.lines().find(|l| l.contains(&p));
            assert!(hit.is_none(), "passphrase {n} echoed into the log: {hit:?}");
        }
    }
}

#[test]
fn a_deadlock_report_does_not_carry_another_sessions_passphrase() {
    let cluster = start("logs-deadlock", true);
    let mut c = cluster.fresh_db("logs");
    c.batch_execute(&format!(
        "SELECT han_crypto.create_passphrase_keyring('kim', '{}');
         CREATE TABLE dl1 (a int); CREATE TABLE dl2 (a int);
         ALTER DATABASE logs SET deadlock_timeout = '200ms';",
        pw(0)
    ))
    .unwrap();
    let mut a = cluster.connect("logs");
    let mut b = cluster.connect("logs");
    a.batch_execute("BEGIN; LOCK TABLE dl1").unwrap();
    b.batch_execute("BEGIN; LOCK TABLE dl2").unwrap();
    let sql = format!("SELECT han_crypto.unlock('kim', '{}') FROM dl2", pw(22));
    let waiter = std::thread::spawn(move || {
        let r = a.batch_execute(&sql);
        let _ = a.batch_execute("ROLLBACK");
        r.is_ok()
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = b.batch_execute("SELECT * FROM dl1");
    let _ = b.batch_execute("ROLLBACK");
    waiter.join().unwrap();
    let log = cluster.log();
    assert!(log.contains("deadlock detected"), "the deadlock happened");
    assert!(
        !log.contains(&pw(22)),
        "a deadlock report carried the passphrase"
    );
}

#[test]
fn debug_print_parse_does_not_dump_a_passphrase() {
    let cluster = start("logs-debugprint", true);
    let mut c = cluster.fresh_db("logs");
    c.batch_execute(&format!(
        "SELECT han_crypto.create_passphrase_keyring('kim', '{}')",
        pw(0)
    ))
    .unwrap();
    c.batch_execute(&format!(
        "SET debug_print_parse = on; SET debug_print_rewritten = on; SET debug_print_plan = on;
         SELECT han_crypto.unlock('kim', '{}');",
        pw(23)
    ))
    .unwrap();
    let log = cluster.log();
    assert!(
        log.contains("tree hidden by han_crypto"),
        "the trees were hidden"
    );
    // The tree prints constants as byte values: none of the passphrase's.
    let bytes: Vec<String> = pw(23).bytes().map(|b| b.to_string()).collect();
    assert!(
        !log.contains(&bytes.join(" ")),
        "the passphrase's bytes are in a tree"
    );
}

#[test]
fn no_statement_can_hide_behind_the_masking_rules() {
    let cluster = start("logs-hide", true);
    let mut c = cluster.fresh_db("logs");
    c.batch_execute(
        "CREATE FUNCTION public.unlock(int, text) RETURNS text LANGUAGE sql AS $$ SELECT $2 $$;
         CREATE FUNCTION public.run(text) RETURNS text LANGUAGE sql AS $$ SELECT $1 $$;",
    )
    .unwrap();
    // Another schema's function named unlock is not han_crypto's.
    c.batch_execute("SELECT public.unlock(1, public.run('HANVISIBLE-10'))")
        .unwrap();
    // Even in a secret argument, calls stay visible; only values are masked.
    let _ = c.batch_execute("SELECT han_crypto.unlock('kim', public.run('x'))");
    // With standard_conforming_strings off, backslashes escape quotes in
    // plain strings: the lexer must read the statement as the server does.
    c.batch_execute("SET standard_conforming_strings = off")
        .unwrap();
    c.batch_execute("SELECT 'p\\', han_crypto.unlock(1, ', 1; SELECT 'HANVISIBLE-11'")
        .unwrap();
    let log = cluster.log();
    assert!(
        log.contains("HANVISIBLE-10"),
        "a look-alike unlock hid its arguments"
    );
    assert!(
        log.contains("public.run("),
        "a call inside a secret argument was hidden"
    );
    assert!(
        log.contains("HANVISIBLE-11"),
        "a statement hid with standard_conforming_strings = off"
    );
}

/// What the planner computes from a passphrase (`upper('…')` folded into a
/// constant) shows in auto_explain's plans, in every format, and an invalid
/// input error quotes the computed value: neither is in the statement's
/// text, so both are hidden for statements that pass a secret.
#[test]
fn a_passphrase_computed_by_the_statement_stays_out_of_plans_and_input_errors() {
    let cluster = start("logs-computed", true);
    let mut c = cluster.fresh_db("logs");
    c.batch_execute(&format!(
        "SELECT han_crypto.create_passphrase_keyring('kim', '{}')",
        pw(0)
    ))
    .unwrap();
    c.batch_execute(
        "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;
         SET auto_explain.log_verbose = on; SET auto_explain.log_nested_statements = on;",
    )
    .unwrap();
    for (n, format) in ["text", "json", "yaml", "xml"].iter().enumerate() {
        c.batch_execute(&format!("SET auto_explain.log_format = {format}"))
            .unwrap();
        c.batch_execute(&format!(
            "SELECT han_crypto.unlock('kim', upper('xsntplan{n}-computed'))"
        ))
        .unwrap();
        c.batch_execute(&format!(
            "WITH s(p) AS (VALUES (upper('xsntcte{n}-computed'))) SELECT han_crypto.unlock('kim', p) FROM s"
        ))
        .unwrap();
    }
    for sql in [
        "SELECT han_crypto.unlock('kim', upper('xsntcast-computed')::int::text)",
        "SELECT han_crypto.unlock('kim', reverse('xsntuuid-computed')::uuid::text)",
    ] {
        assert!(c.batch_execute(sql).is_err());
    }
    let log = cluster.log().to_uppercase();
    assert!(
        log.contains("PLAN HIDDEN BY HAN_CRYPTO"),
        "plans were hidden"
    );
    for (i, line) in log.lines().enumerate() {
        assert!(!line.contains("XSNT"), "log line {i}: {line}");
        assert!(!line.contains("DETUPMOC"), "log line {i}: {line}");
    }
    // A plan of a statement that passes nothing secret is still logged.
    c.batch_execute("SET auto_explain.log_format = text; SELECT upper('visible-plan')")
        .unwrap();
    assert!(cluster.log().contains("visible-plan"));
}

#[test]
fn secrets_in_single_quotes_are_scrubbed_from_logged_parameters() {
    // The log doubles a parameter's quotes (`PGPASSWORD=''…''`); the
    // scanner must read the value as it was sent.
    let cluster = start("logs-quoted", true);
    let mut c = cluster.fresh_db("logs");
    c.batch_execute(
        "SELECT han_crypto.create_keyring('team');
         CREATE TABLE notes (id int PRIMARY KEY, team text NOT NULL, body text);
         SELECT han_crypto.protect('notes', ARRAY['body'], 'team');",
    )
    .unwrap();
    let secrets = [
        "Qz81!vbq7Lm",
        "Wp4@nrt6Ks2",
        "Hx7#plm3Zq9",
        "Jk5%trw8Mn1",
        "Rv3&kzp9Qd4",
    ];
    let bodies = [
        format!("run PGPASSWORD='{}' psql -h db", secrets[0]),
        format!("config:\n  password: '{}'\n", secrets[1]),
        format!("mysql -u root --password='{}' app", secrets[2]),
    ];
    for (i, body) in bodies.iter().enumerate() {
        c.execute(
            "INSERT INTO notes VALUES ($1, 'team', $2)",
            &[&(i as i32), body],
        )
        .unwrap();
    }
    // In a statement's own string constants, quoted as SQL quotes them.
    c.batch_execute(
        "INSERT INTO notes VALUES (10, 'team', 'run PGPASSWORD=''Jk5%trw8Mn1'' psql');
         INSERT INTO notes VALUES (11, 'team', E'config:\\n  password: \\'Rv3&kzp9Qd4\\'\\n');",
    )
    .unwrap();
    // And in the parameters an error's CONTEXT repeats.
    let err = c.execute(
        "INSERT INTO notes VALUES ($1, 'team', $2)",
        &[&0i32, &bodies[0]],
    );
    assert!(err.is_err(), "the duplicate key fails");
    let log = cluster.log();
    for s in secrets {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(s)).collect();
        assert!(lines.is_empty(), "{s} reached the log: {lines:#?}");
    }
    assert!(
        log.contains("parameters: $1 = '0'"),
        "parameters are logged at all"
    );
}
