//! A dump from one PostgreSQL major version restored into the next (the
//! upgrade path of managed PostgreSQL: dump the old server, restore into a
//! new one with the new version's pg_restore) under the same root key: every
//! protected value decrypts, exactly once, to what was written, and the
//! restored database keeps protecting and unlocking.
//!
//! It needs two servers with han_crypto installed, so it is ignored in the
//! ordinary integration run; `scripts/run-tests.sh cross-version` runs it
//! with HAN_CRYPTO_FROM_PG_CONFIG (default: $PG_CONFIG, else Debian's 15)
//! and HAN_CRYPTO_TO_PG_CONFIG.

use std::path::{Path, PathBuf};

use han_crypto_tests::{default_pg_config, pg_config_value, random_key_hex, Client, Cluster};

const PASSPHRASE: &str = "correct horse battery staple, across versions";

const SETUP: &str = "
    SELECT han_crypto.create_keyring('team_a'), han_crypto.create_keyring('team_b');
    SELECT han_crypto.grant_access('team_a', 'postgres', 'writer'), han_crypto.grant_access('team_b', 'postgres', 'writer');
    CREATE TABLE sessions (
        id bigserial PRIMARY KEY, team text NOT NULL,
        prompt text, metadata jsonb, attachment bytea);
    SELECT han_crypto.protect('sessions', ARRAY['prompt', 'metadata', 'attachment'], 'team');
    INSERT INTO sessions (team, prompt, metadata, attachment)
        SELECT CASE WHEN i % 2 = 0 THEN 'team_a' ELSE 'team_b' END,
               'prompt ' || i || CASE WHEN i % 10 = 0 THEN ' with key AKIAZ7QX3RDV5TEN2MWB' ELSE '' END,
               jsonb_build_object('i', i, 'tags', jsonb_build_array('x', i)),
               CASE WHEN i % 3 = 0 THEN NULL ELSE convert_to('bytes ' || i, 'UTF8') END
        FROM generate_series(1, 300) i;
    CREATE TABLE plain_envelopes (id int PRIMARY KEY, env bytea);
    INSERT INTO plain_envelopes SELECT i, han_crypto.encrypt('loose ' || i, 'team_a', 'loose/' || i)
        FROM generate_series(1, 50) i;";

/// Every protected row as its members read it, in a stable text form.
fn readable(c: &mut Client) -> Vec<String> {
    c.query(
        "SELECT format('%s|%s|%s|%s|%s', id, team, prompt, metadata, encode(attachment, 'escape'))
           FROM sessions_decrypted ORDER BY id",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Every keyring with its id and active version.
fn keyrings(c: &mut Client) -> Vec<String> {
    c.query(
        "SELECT format('%s|%s|%s', name, id, active_version) FROM han_crypto.keyrings ORDER BY name",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn bindir(pg_config: &Path) -> PathBuf {
    PathBuf::from(pg_config_value(pg_config, "bindir"))
}

#[test]
#[ignore = "needs two PostgreSQL versions with han_crypto: run by scripts/run-tests.sh cross-version"]
fn a_dump_from_one_major_version_restores_into_the_next_and_every_value_decrypts_exactly_once() {
    let from = std::env::var_os("HAN_CRYPTO_FROM_PG_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(default_pg_config);
    let to = PathBuf::from(
        std::env::var_os("HAN_CRYPTO_TO_PG_CONFIG")
            .expect("HAN_CRYPTO_TO_PG_CONFIG names the server to restore into"),
    );
    let key = random_key_hex();
    let env = [("HAN_CRYPTO_ROOT_KEY", key.as_str())];

    let old = Cluster::start_on(&from, "xv-from", &env, &[]);
    let mut src = old.fresh_db("xv");
    src.batch_execute(SETUP).unwrap();
    src.execute(
        "SELECT han_crypto.create_passphrase_keyring('counselor', $1)",
        &[&PASSPHRASE],
    )
    .unwrap();
    src.execute("SELECT han_crypto.unlock('counselor', $1)", &[&PASSPHRASE])
        .unwrap();
    src.batch_execute(
        "CREATE TABLE notes (id int PRIMARY KEY, body bytea);
         INSERT INTO notes VALUES (1, han_crypto.encrypt('a counselor note', 'counselor', 'notes/1'));",
    )
    .unwrap();
    let before = readable(&mut src);
    let rings_before = keyrings(&mut src);
    assert_eq!(before.len(), 300);
    assert!(
        !before.iter().any(|r| r.contains("AKIAZ7QX3RDV5TEN2MWB")),
        "redaction ran before the dump"
    );
    let old_version: String = src
        .query_one("SHOW server_version_num", &[])
        .unwrap()
        .get(0);

    // The old version's own pg_dump: PostgreSQL 15.20 marks every column
    // with an internal attribute option (pg_attver) that its pg_dump leaves
    // out, but 17.11's pg_dump copies into the dump and 17.11's server
    // refuses, for any table, with or without han_crypto.
    let new = Cluster::start_on(&to, "xv-to", &env, &[]);
    let dump = new.dir.join("xv.dump");
    let out = std::process::Command::new(bindir(&from).join("pg_dump"))
        .args(["-h"])
        .arg(&old.dir)
        .args(["-p", &old.port.to_string(), "-U", "postgres", "-Fc", "-f"])
        .arg(&dump)
        .arg("xv")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(src);
    drop(old);

    let mut r = new.restore_into("xv", &dump, &[]);
    let new_version: String = r.query_one("SHOW server_version_num", &[]).unwrap().get(0);
    assert_ne!(
        &old_version[..2],
        &new_version[..2],
        "the restore crosses a major version"
    );
    assert_eq!(
        readable(&mut r),
        before,
        "every row reads back exactly as before the upgrade, decrypted once"
    );
    // Exactly once: a trigger that sealed the restored envelopes again
    // would make the view return envelopes (`hc1:…`), not the text above.
    let loose: i64 = r
        .query_one(
            "SELECT count(*) FROM plain_envelopes WHERE han_crypto.decrypt(env, 'loose/' || id) = 'loose ' || id",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(loose, 50);
    assert_eq!(
        keyrings(&mut r),
        rings_before,
        "the same keyrings, ids and versions: none duplicated or re-created"
    );

    // The passphrase keyring opens with its passphrase, and only with it.
    r.execute("SELECT han_crypto.unlock('counselor', $1)", &[&PASSPHRASE])
        .unwrap();
    let note: String = r
        .query_one("SELECT han_crypto.decrypt(body, 'notes/1') FROM notes", &[])
        .unwrap()
        .get(0);
    assert_eq!(note, "a counselor note");

    // The restored table is still protected: new rows are sealed.
    r.batch_execute("INSERT INTO sessions (team, prompt) VALUES ('team_a', 'after the upgrade')")
        .unwrap();
    let plain: i64 = r
        .query_one(
            "SELECT count(*) FROM sessions WHERE prompt NOT LIKE 'hc1:%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(plain, 0, "no plaintext stored after the restore");
    let after: String = r
        .query_one(
            "SELECT prompt FROM sessions_decrypted WHERE prompt = 'after the upgrade'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(after, "after the upgrade");
}
