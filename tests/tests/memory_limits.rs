//! A value too large for the memory the server may use must be an `ERROR`
//! (SQLSTATE 53200), never an aborted backend: Rust's ordinary allocation
//! aborts the process when memory runs out, and an aborted backend makes
//! the postmaster restart the whole cluster. The server here runs with an
//! address-space limit (as under `vm.overcommit_memory = 2`, PostgreSQL's
//! recommended setting, or a container's memory limit), and every role that
//! can call a function or write a protected table sends values sized to run
//! out of it somewhere along each path.

use han_crypto_tests::{random_key_hex, sqlstate, Cluster};

/// Sizes of the values sent (MB): together they reach the limit at every
/// step of each path (the input, Rust's buffers, PostgreSQL's result copy).
const SIZES_MB: &[u64] = &[200, 450];

#[test]
fn values_too_large_for_the_servers_memory_are_errors_not_cluster_restarts() {
    let c = Cluster::start(
        "memlimit",
        &[
            ("HAN_CRYPTO_ROOT_KEY", &random_key_hex()),
            // pgcluster.sh starts the server under `ulimit -v` with this.
            ("PG_ADDRESS_SPACE_KB", "1500000"),
        ],
        &[],
    );
    let mut admin = c.fresh_db("mem");
    admin
        .batch_execute(
            "CREATE ROLE nobody LOGIN;
             CREATE ROLE writer LOGIN;
             GRANT CREATE ON SCHEMA public TO writer;
             SELECT han_crypto.create_keyring('mem_team');
             SELECT han_crypto.grant_access('mem_team', 'writer', 'writer');",
        )
        .unwrap();
    let mut writer = c.connect_as("mem", "writer");
    writer
        .batch_execute(
            "CREATE TABLE notes (id serial PRIMARY KEY, team text, t text, j jsonb, b bytea);
             SELECT han_crypto.protect('notes', ARRAY['t', 'j', 'b'], 'team');
             CREATE TABLE packed (id serial PRIMARY KEY, team text, t text);
             SELECT han_crypto.protect('packed', ARRAY['t'], 'team', options => '{\"compress\": true}');
             INSERT INTO packed (team, t) VALUES ('mem_team', repeat('compressible ', 3000000));",
        )
        .unwrap();
    let mut nobody = c.connect_as("mem", "nobody");
    let kp: Vec<u8> = admin
        .query_one("SELECT han_crypto.create_keypair('mem_team')", &[])
        .unwrap()
        .get(0);
    admin
        .execute(
            "GRANT SELECT ON notes_decrypted, packed_decrypted TO nobody",
            &[],
        )
        .unwrap();

    let mut outcomes = Vec::new();
    for &mb in SIZES_MB {
        let n = mb * 1_000_000;
        let x = format!("repeat('x', {n})");
        // Any role: key-less functions and the default keyring.
        let public_calls = [
            format!("SELECT length(han_crypto.envelope_to_json(han_crypto.encrypt({x}))::text)"),
            format!("SELECT length(han_crypto.envelope_from_json(han_crypto.envelope_to_json(han_crypto.encrypt({x}))))"),
            format!("SELECT length(han_crypto.decrypt(han_crypto.encrypt({x})))"),
            format!("SELECT length(han_crypto.decrypt_bytea(han_crypto.encrypt({x}::bytea)))"),
            format!("SELECT length(han_crypto.redact({x} || ' AKIAQYLPMN5HHHFPZAM2'))"),
            format!("SELECT length(han_crypto.redact_jsonb(jsonb_build_object('k', {x}))::text)"),
            format!("SELECT length(han_crypto.seal('\\x{}'::bytea, {x}))", hex::encode(&kp)),
        ];
        for sql in &public_calls {
            outcomes.push((sql.clone(), run(&mut nobody, sql)));
        }
        // A writer: the protection trigger on every column kind, and reads.
        let writer_calls = [
            format!("INSERT INTO notes (team, t) VALUES ('mem_team', {x})"),
            format!("INSERT INTO notes (team, j) VALUES ('mem_team', jsonb_build_object('k', {x}))"),
            format!("INSERT INTO notes (team, b) VALUES ('mem_team', {x}::bytea)"),
            "SELECT sum(length(t)), sum(length(b)) FROM notes_decrypted".to_string(),
            "SELECT sum(length(j::text)) FROM notes_decrypted".to_string(),
            "SELECT length(t) FROM packed_decrypted".to_string(),
            format!("SELECT length(han_crypto.open_sealed('mem_team', han_crypto.seal('\\x{}'::bytea, {x})))", hex::encode(&kp)),
        ];
        for sql in &writer_calls {
            outcomes.push((sql.clone(), run(&mut writer, sql)));
        }
        // Each round reads only its own rows.
        run(&mut writer, "TRUNCATE notes");
    }

    for (sql, outcome) in &outcomes {
        assert!(
            outcome == "ok" || outcome == "53200" || outcome == "54000",
            "{sql}: {outcome} (expected success, 53200 or 54000)"
        );
    }
    assert!(
        outcomes.iter().any(|(_, o)| o == "53200"),
        "the limit was never reached: the test proves nothing"
    );
    let log = c.log();
    for abort in [
        "terminated by signal",
        "memory allocation of",
        "all server processes terminated",
    ] {
        assert!(!log.contains(abort), "server log shows `{abort}`");
    }
}

/// `ok`, or the SQLSTATE of the error; `lost` if the connection died.
fn run(c: &mut postgres::Client, sql: &str) -> String {
    match c.simple_query(sql) {
        Ok(_) => "ok".into(),
        Err(e) if e.as_db_error().is_some() => sqlstate(&e),
        Err(e) => format!("lost ({e})"),
    }
}
