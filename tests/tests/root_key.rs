//! Root key sources (environment, file setting, generated file), the
//! key-check value that turns a wrong key into one clear error, and the key
//! never being visible through SQL.

use std::os::unix::fs::PermissionsExt;

use han_crypto_tests::{error_text, expect_error, random_key_hex, sqlstate, Cluster};

#[test]
fn wrong_or_malformed_environment_key_is_a_clear_error() {
    let key = random_key_hex();
    let cluster = Cluster::start("rk-env", &[("HAN_CRYPTO_ROOT_KEY", &key)], &[]);
    let mut c = cluster.fresh_db("rk");
    let env: Vec<u8> = c
        .query_one("SELECT han_crypto.encrypt('survives restarts')", &[])
        .unwrap()
        .get(0);
    let status: serde_json::Value = c
        .query_one("SELECT han_crypto.root_key_status()", &[])
        .unwrap()
        .get(0);
    assert_eq!(status["source"], "environment");
    assert!(!status.to_string().contains(&key));

    let other = random_key_hex();
    cluster.restart_with_env(&[("HAN_CRYPTO_ROOT_KEY", &other)]);
    let mut c = cluster.connect("rk");
    let (code, text) = expect_error(&mut c, "SELECT han_crypto.decrypt($1)", &[&env]);
    assert_eq!(code, "F0000");
    assert!(text.contains("does not match"), "{text}");
    assert!(!text.contains(&other) && !text.contains(&key));
    // Encrypting under the wrong key is refused too: no data sealed under it.
    let (code, _) = expect_error(&mut c, "SELECT han_crypto.encrypt('x')", &[]);
    assert_eq!(code, "F0000");

    let malformed = format!("{}zz", &key[..62]);
    cluster.restart_with_env(&[("HAN_CRYPTO_ROOT_KEY", &malformed)]);
    let mut c = cluster.connect("rk");
    let (code, text) = expect_error(&mut c, "SELECT han_crypto.decrypt($1)", &[&env]);
    assert_eq!(code, "F0000");
    assert!(
        text.contains("HAN_CRYPTO_ROOT_KEY") && !text.contains(&key[..62]),
        "{text}"
    );

    cluster.restart_with_env(&[("HAN_CRYPTO_ROOT_KEY", &key)]);
    let mut c = cluster.connect("rk");
    let back: String = c
        .query_one("SELECT han_crypto.decrypt($1)", &[&env])
        .unwrap()
        .get(0);
    assert_eq!(back, "survives restarts");
}

#[test]
fn generated_key_file_is_private_and_reused() {
    let cluster = Cluster::start("rk-gen", &[], &[]);
    let mut c = cluster.fresh_db("rk");
    let env: Vec<u8> = c
        .query_one("SELECT han_crypto.encrypt('embedded default')", &[])
        .unwrap()
        .get(0);
    let path = cluster.data_dir().join("han_crypto_root.key");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let status: serde_json::Value = c
        .query_one("SELECT han_crypto.root_key_status()", &[])
        .unwrap()
        .get(0);
    assert_eq!(status["source"], "generated");
    let key_hex = std::fs::read_to_string(&path).unwrap();
    assert!(!status.to_string().contains(key_hex.trim()));
    cluster.restart_with_env(&[]);
    let mut c = cluster.connect("rk");
    let back: String = c
        .query_one("SELECT han_crypto.decrypt($1)", &[&env])
        .unwrap()
        .get(0);
    assert_eq!(back, "embedded default");
}

#[test]
fn key_file_setting_is_superuser_only_and_checked() {
    let cluster = Cluster::start("rk-file", &[], &[]);
    let key = random_key_hex();
    let file = cluster.dir.join("root.key");
    std::fs::write(&file, format!("{key}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let uid = std::fs::metadata(cluster.data_dir()).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::process::Command::new("chown")
        .arg(format!("{}", std::os::unix::fs::MetadataExt::uid(&uid)))
        .arg(&file)
        .status();

    let mut c = cluster.fresh_db("rk");
    c.batch_execute(&format!(
        "ALTER SYSTEM SET han_crypto.root_key_file = '{}'",
        file.display()
    ))
    .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    let mut c = cluster.connect("rk");
    let status: serde_json::Value = c
        .query_one("SELECT han_crypto.root_key_status()", &[])
        .unwrap()
        .get(0);
    assert_eq!(status["source"], "file");
    let env: Vec<u8> = c
        .query_one("SELECT han_crypto.encrypt('from a file')", &[])
        .unwrap()
        .get(0);

    // Ordinary roles can neither set nor read the setting. Before the library
    // is loaded in a session, SET only makes a placeholder; PostgreSQL drops
    // it when han_crypto defines the real superuser-only setting.
    c.batch_execute("CREATE ROLE regress_app LOGIN").unwrap();
    let mut app = cluster.connect_as("rk", "regress_app");
    let _ = app.batch_execute("SET han_crypto.root_key_file = '/nonexistent/key'");
    let back: String = app
        .query_one("SELECT han_crypto.decrypt($1)", &[&env])
        .unwrap()
        .get(0);
    assert_eq!(
        back, "from a file",
        "a non-superuser's placeholder was applied"
    );
    let err = app
        .batch_execute("SET han_crypto.root_key_file = '/nonexistent/key'")
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    let err = app
        .batch_execute("SHOW han_crypto.root_key_file")
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501");

    // A group-readable key file is refused, as PostgreSQL refuses such TLS keys.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut fresh = cluster.connect("rk");
    let (code, text) = expect_error(&mut fresh, "SELECT han_crypto.decrypt($1)", &[&env]);
    assert_eq!(code, "F0000");
    assert!(
        text.contains("group or world access") && !text.contains(&key),
        "{text}"
    );
}

#[test]
fn the_key_is_not_visible_through_sql() {
    let key = random_key_hex();
    let cluster = Cluster::start("rk-hidden", &[("HAN_CRYPTO_ROOT_KEY", &key)], &[]);
    let mut c = cluster.fresh_db("rk");
    c.query_one("SELECT han_crypto.encrypt('x')", &[]).unwrap();
    // Every setting, every han_crypto table and function result, as text.
    let rows = c
        .query(
            "SELECT string_agg(name || '=' || coalesce(setting, ''), ' ') FROM pg_settings \
             UNION ALL SELECT string_agg(t::text, ' ') FROM han_crypto.keyrings t \
             UNION ALL SELECT string_agg(t::text, ' ') FROM han_crypto._root_key_check t \
             UNION ALL SELECT han_crypto.root_key_status()::text",
            &[],
        )
        .unwrap();
    for r in rows {
        let text: Option<String> = r.get(0);
        assert!(
            !text.unwrap_or_default().to_lowercase().contains(&key),
            "root key visible through SQL"
        );
    }
    let log = cluster.log();
    assert!(!log.contains(&key), "root key in the server log");
    let _ = error_text;
}
