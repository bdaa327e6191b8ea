//! Transparent table protection through a real client: the platform's
//! sessions table, several roles and connections, swap attacks, COPY,
//! upserts, plaintext never on disk or in WAL, dump/restore, leaky
//! functions, owner changes, unprotect, and other sessions following
//! configuration changes.

use std::sync::OnceLock;

use han_crypto_tests::{expect_error, shared, sqlstate, Client, Cluster};

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn cluster() -> &'static Cluster {
    static ROLES: OnceLock<()> = OnceLock::new();
    let key = "4".repeat(64);
    let c = shared(&CLUSTER, "protect", &[("HAN_CRYPTO_ROOT_KEY", &key)], &[]);
    ROLES.get_or_init(|| {
        c.connect("postgres")
            .batch_execute(
                "CREATE EXTENSION han_crypto CASCADE;
                 CREATE ROLE platform LOGIN; GRANT han_crypto_app TO platform;
                 CREATE ROLE nosy LOGIN;
                 CREATE ROLE new_owner LOGIN;",
            )
            .unwrap()
    });
    c
}

/// The platform's sessions table, protected, with teams a and b; alice
/// writes for team_a, bob for team_b.
fn sessions_db(name: &str) -> Client {
    let mut c = cluster().fresh_db(name);
    c.batch_execute(
        "SELECT han_crypto.create_keyring('team_a'), han_crypto.create_keyring('team_b');
         SELECT han_crypto.grant_access('team_a', 'alice', 'writer'), han_crypto.grant_access('team_b', 'bob', 'writer');
         CREATE TABLE sessions (
             id bigserial PRIMARY KEY, team text NOT NULL, author text,
             prompt text, tool_output text, summary varchar, metadata jsonb, messages jsonb, attachment bytea);
         SELECT han_crypto.protect('sessions', ARRAY['prompt', 'tool_output', 'summary', 'metadata', 'messages', 'attachment'], 'team');
         GRANT SELECT, INSERT, UPDATE, DELETE ON sessions, sessions_decrypted TO platform;
         GRANT SELECT ON sessions, sessions_decrypted TO nosy;
         GRANT USAGE ON SEQUENCE sessions_id_seq TO platform;",
    )
    .unwrap();
    c
}

fn as_actor<T>(
    c: &mut Client,
    actor: &str,
    f: impl FnOnce(&mut postgres::Transaction<'_>) -> T,
) -> T {
    let mut tx = c.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor($1)", &[&actor])
        .unwrap();
    let r = f(&mut tx);
    tx.commit().unwrap();
    r
}

fn prompt_of(tx: &mut postgres::Transaction<'_>, id: i64) -> Option<String> {
    tx.query_one(
        "SELECT prompt FROM sessions_decrypted WHERE id = $1",
        &[&id],
    )
    .unwrap()
    .get(0)
}

#[test]
fn the_platform_writes_plain_sql_and_members_read_through_the_view() {
    let mut admin = sessions_db("pr_flow");
    let mut app = cluster().connect_as("pr_flow", "platform");
    as_actor(&mut app, "alice", |tx| {
        // Multi-row INSERT with bind parameters, every protected type.
        tx.execute(
            "INSERT INTO sessions (team, author, prompt, tool_output, summary, metadata, messages, attachment) VALUES
               ($1, 'alice', $2, $3, $4, $5::text::jsonb, $6::text::jsonb, $7),
               ($1, 'alice', '', NULL, NULL, '{}', '[]', ''::bytea)",
            &[&"team_a", &"fix the login bug", &"$ cargo test\nok", &"done", &r#"{"model": "x", "cost": 0.000000000001}"#,
              &r#"[{"role": "user", "text": "ü"}]"#, &vec![0u8, 1, 2]],
        )
        .unwrap();
        // INSERT … SELECT.
        tx.execute("INSERT INTO sessions (team, prompt) SELECT 'team_a', 'batch ' || i FROM generate_series(1, 3) i", &[])
            .unwrap();
    });
    as_actor(&mut app, "bob", |tx| {
        tx.execute(
            "INSERT INTO sessions (team, prompt) VALUES ('team_b', 'bob''s secret plan')",
            &[],
        )
        .unwrap();
    });
    // Alice reads team_a rows in full, and no plaintext of team_b.
    as_actor(&mut app, "alice", |tx| {
        let row = tx
            .query_one("SELECT prompt, tool_output, summary, metadata::text, messages::text, attachment FROM sessions_decrypted WHERE id = 1", &[])
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "fix the login bug");
        assert_eq!(row.get::<_, String>(1), "$ cargo test\nok");
        assert_eq!(row.get::<_, String>(2), "done");
        assert_eq!(
            row.get::<_, String>(3),
            r#"{"cost": 0.000000000001, "model": "x"}"#
        );
        assert_eq!(
            row.get::<_, String>(4),
            r#"[{"role": "user", "text": "ü"}]"#
        );
        assert_eq!(row.get::<_, Vec<u8>>(5), vec![0, 1, 2]);
        let empty = tx.query_one("SELECT prompt, metadata::text, messages::text, attachment FROM sessions_decrypted WHERE id = 2", &[]).unwrap();
        assert_eq!(
            (
                empty.get::<_, String>(0),
                empty.get::<_, String>(1),
                empty.get::<_, String>(2)
            ),
            ("".into(), "{}".into(), "[]".into())
        );
        assert_eq!(empty.get::<_, Vec<u8>>(3), Vec::<u8>::new());
        let theirs: Option<String> = tx
            .query_one(
                "SELECT prompt FROM sessions_decrypted WHERE team = 'team_b'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(theirs, None, "a non-member sees NULL");
    });
    // The table itself holds only envelopes; NULL stays NULL.
    let raw = admin
        .query_one("SELECT prompt, tool_output FROM sessions WHERE id = 2", &[])
        .unwrap();
    assert!(raw.get::<_, String>(0).starts_with("hc1:"));
    assert_eq!(raw.get::<_, Option<String>>(1), None);
    let plain_anywhere: i64 = admin
        .query_one(
            "SELECT count(*) FROM sessions WHERE prompt LIKE '%login%' OR prompt LIKE '%plan%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(plain_anywhere, 0);
    // A role with SELECT on everything but no membership: ciphertext and NULLs.
    let mut nosy = cluster().connect_as("pr_flow", "nosy");
    let visible: i64 = nosy
        .query_one("SELECT count(prompt) FROM sessions_decrypted", &[])
        .unwrap()
        .get(0);
    assert_eq!(visible, 0);
}

#[test]
fn updates_upserts_deletes_and_writes_through_the_view() {
    let mut admin = sessions_db("pr_dml");
    let mut app = cluster().connect_as("pr_dml", "platform");
    as_actor(&mut app, "alice", |tx| {
        tx.execute(
            "INSERT INTO sessions (id, team, prompt, summary) VALUES (1, 'team_a', 'first', 's')",
            &[],
        )
        .unwrap();
    });
    let before: String = admin
        .query_one("SELECT prompt FROM sessions WHERE id = 1", &[])
        .unwrap()
        .get(0);
    as_actor(&mut app, "alice", |tx| {
        // Another column: the ciphertext is not touched.
        tx.execute("UPDATE sessions SET author = 'alice' WHERE id = 1", &[])
            .unwrap();
    });
    let after: String = admin
        .query_one("SELECT prompt FROM sessions WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(before, after, "no re-encryption for an untouched column");
    as_actor(&mut app, "alice", |tx| {
        tx.execute("UPDATE sessions SET prompt = 'second' WHERE id = 1", &[])
            .unwrap();
        assert_eq!(prompt_of(tx, 1).as_deref(), Some("second"));
        // Upsert that takes EXCLUDED.prompt.
        tx.execute(
            "INSERT INTO sessions (id, team, prompt) VALUES (1, 'team_a', 'third') ON CONFLICT (id) DO UPDATE SET prompt = EXCLUDED.prompt",
            &[],
        )
        .unwrap();
        assert_eq!(prompt_of(tx, 1).as_deref(), Some("third"));
        // Through the view.
        tx.execute(
            "INSERT INTO sessions_decrypted (id, team, prompt) VALUES (2, 'team_a', 'via view')",
            &[],
        )
        .unwrap();
        tx.execute(
            "UPDATE sessions_decrypted SET prompt = 'edited via view' WHERE id = 2",
            &[],
        )
        .unwrap();
        assert_eq!(prompt_of(tx, 2).as_deref(), Some("edited via view"));
        let untouched: String = tx
            .query_one("SELECT summary FROM sessions_decrypted WHERE id = 1", &[])
            .unwrap()
            .get(0);
        assert_eq!(untouched, "s");
        tx.execute("DELETE FROM sessions_decrypted WHERE id = 2", &[])
            .unwrap();
        tx.execute("DELETE FROM sessions WHERE id = 1", &[])
            .unwrap();
    });
    let left: i64 = admin
        .query_one("SELECT count(*) FROM sessions", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    // A member of team_b only cannot write into team_a's rows.
    let mut app = cluster().connect_as("pr_dml", "platform");
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor('bob')", &[])
        .unwrap();
    let err = tx
        .execute(
            "INSERT INTO sessions (team, prompt) VALUES ('team_a', 'x')",
            &[],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
}

#[test]
fn copy_from_and_moving_a_row_to_another_team() {
    let mut admin = sessions_db("pr_copy");
    admin
        .execute(
            "SELECT han_crypto.grant_access('team_b', 'alice', 'writer')",
            &[],
        )
        .unwrap();
    let mut app = cluster().connect_as("pr_copy", "platform");
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT han_crypto.set_actor('alice')", &[])
        .unwrap();
    {
        let mut w = tx
            .copy_in("COPY sessions (id, team, prompt) FROM STDIN")
            .unwrap();
        use std::io::Write;
        for i in 1..=50 {
            writeln!(w, "{i}\tteam_a\tcopied prompt {i}").unwrap();
        }
        w.finish().unwrap();
    }
    assert_eq!(prompt_of(&mut tx, 7).as_deref(), Some("copied prompt 7"));
    // Re-keying a row to team_b re-encrypts it under team_b (writer on both).
    tx.execute("UPDATE sessions SET team = 'team_b' WHERE id = 7", &[])
        .unwrap();
    assert_eq!(prompt_of(&mut tx, 7).as_deref(), Some("copied prompt 7"));
    tx.commit().unwrap();
    let ring: String = admin
        .query_one("SELECT han_crypto.envelope_info(decode(substr(prompt, 5), 'base64'))->>'keyring' FROM sessions WHERE id = 7", &[])
        .unwrap()
        .get(0);
    assert_eq!(ring, "team_b");
    let sealed: i64 = admin
        .query_one(
            "SELECT count(*) FROM sessions WHERE prompt LIKE 'hc1:%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(sealed, 50);
}

#[test]
fn swapped_ciphertexts_fail_loudly_and_never_show_another_rows_plaintext() {
    let mut admin = sessions_db("pr_swap");
    admin
        .batch_execute(
            "SELECT han_crypto.grant_access('team_a', 'postgres', 'writer'), han_crypto.grant_access('team_b', 'postgres', 'writer');
             INSERT INTO sessions (id, team, prompt, summary) VALUES
               (1, 'team_a', 'row one', 'sum one'), (2, 'team_a', 'row two', 'sum two'), (3, 'team_b', 'team b row', 'x');
             CREATE TABLE sessions_copy (LIKE sessions INCLUDING ALL);
             SELECT han_crypto.protect('sessions_copy', ARRAY['prompt', 'summary'], 'team');
             INSERT INTO sessions_copy (id, team, prompt) VALUES (1, 'team_a', 'copy table row');",
        )
        .unwrap();
    // Row to row, column to column, team to team, table to table — written
    // around the trigger, as a table owner or a replica could.
    admin
        .batch_execute(
            "SET session_replication_role = replica;
             UPDATE sessions SET prompt = (SELECT prompt FROM sessions WHERE id = 2) WHERE id = 1;
             UPDATE sessions SET summary = (SELECT prompt FROM sessions WHERE id = 2) WHERE id = 2;
             UPDATE sessions SET team = 'team_a' WHERE id = 3;
             UPDATE sessions_copy SET prompt = (SELECT prompt FROM sessions WHERE id = 2) WHERE id = 1;
             RESET session_replication_role;",
        )
        .unwrap();
    for (sql, what) in [
        (
            "SELECT prompt FROM sessions_decrypted WHERE id = 1",
            "row to row",
        ),
        (
            "SELECT summary FROM sessions_decrypted WHERE id = 2",
            "column to column",
        ),
        (
            "SELECT prompt FROM sessions_decrypted WHERE id = 3",
            "team to team",
        ),
        (
            "SELECT prompt FROM sessions_copy_decrypted WHERE id = 1",
            "table to table",
        ),
    ] {
        let (code, text) = expect_error(&mut admin, sql, &[]);
        assert_eq!(code, "XX001", "{what}: {text}");
    }
    // With the trigger on, a copied ciphertext is just new plaintext: sealed
    // again for this row, and it reads back as the ciphertext string.
    admin
        .batch_execute("INSERT INTO sessions (id, team, prompt) VALUES (4, 'team_a', 'row four')")
        .unwrap();
    admin
        .batch_execute(
            "UPDATE sessions SET prompt = (SELECT prompt FROM sessions WHERE id = 2) WHERE id = 4",
        )
        .unwrap();
    let shown: String = admin
        .query_one("SELECT prompt FROM sessions_decrypted WHERE id = 4", &[])
        .unwrap()
        .get(0);
    assert!(shown.starts_with("hc1:"), "never row 2's plaintext");
    // Plaintext written around the trigger is reported, not shown.
    admin
        .batch_execute("SET session_replication_role = replica; UPDATE sessions SET prompt = 'sneaky' WHERE id = 2; RESET session_replication_role;")
        .unwrap();
    let (code, _) = expect_error(
        &mut admin,
        "SELECT prompt FROM sessions_decrypted WHERE id = 2",
        &[],
    );
    assert_eq!(code, "XX001");
}

#[test]
fn no_plaintext_in_table_files_or_wal() {
    let mut admin = sessions_db("pr_disk");
    admin
        .execute(
            "SELECT han_crypto.grant_access('team_a', 'postgres', 'writer')",
            &[],
        )
        .unwrap();
    let sentinel = format!("HANSENTINEL-disk-{}", std::process::id());
    let long = format!("{sentinel} {}", "padding that forces toast ".repeat(400));
    admin
        .execute(
            "INSERT INTO sessions (team, prompt, tool_output) VALUES ('team_a', $1, $2)",
            &[&sentinel, &long],
        )
        .unwrap();
    admin.batch_execute("CHECKPOINT").unwrap();
    let files: Vec<String> = admin
        .query(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.oid = 'sessions'::regclass
             UNION ALL SELECT pg_relation_filepath(reltoastrelid) FROM pg_class WHERE oid = 'sessions'::regclass",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let data = cluster().data_dir();
    let needle = sentinel.as_bytes();
    let contains = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    for f in files {
        let bytes = std::fs::read(data.join(&f)).unwrap_or_default();
        assert!(!contains(&bytes), "plaintext in {f}");
    }
    for entry in std::fs::read_dir(data.join("pg_wal")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert!(
                !contains(&std::fs::read(&path).unwrap()),
                "plaintext in WAL {}",
                path.display()
            );
        }
    }
    let back: String = admin
        .query_one("SELECT prompt FROM sessions_decrypted", &[])
        .unwrap()
        .get(0);
    assert_eq!(back, sentinel);
}

#[test]
fn a_leaky_function_sees_no_plaintext_of_rows_the_actor_may_not_read() {
    let mut admin = sessions_db("pr_leak");
    admin
        .execute(
            "SELECT han_crypto.grant_access('team_a', 'postgres', 'writer')",
            &[],
        )
        .unwrap();
    admin
        .execute(
            "SELECT han_crypto.grant_access('team_b', 'postgres', 'writer')",
            &[],
        )
        .unwrap();
    admin
        .batch_execute(
            "INSERT INTO sessions (team, prompt) VALUES ('team_a', 'HANSENTINEL-a'), ('team_b', 'HANSENTINEL-b');
             CREATE TABLE leaked (v text); GRANT INSERT, SELECT ON leaked TO nosy, platform;
             CREATE FUNCTION leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS
               $$ BEGIN INSERT INTO public.leaked VALUES ($1); RETURN true; END $$;
             GRANT EXECUTE ON FUNCTION leak(text) TO nosy, platform;",
        )
        .unwrap();
    let mut nosy = cluster().connect_as("pr_leak", "nosy");
    nosy.query("SELECT * FROM sessions_decrypted WHERE leak(prompt)", &[])
        .unwrap();
    nosy.query("SELECT * FROM sessions WHERE leak(prompt)", &[])
        .unwrap();
    let mut app = cluster().connect_as("pr_leak", "platform");
    as_actor(&mut app, "alice", |tx| {
        tx.query("SELECT * FROM sessions_decrypted WHERE leak(prompt)", &[])
            .unwrap();
    });
    let leaked: Vec<Option<String>> = admin
        .query("SELECT v FROM leaked", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!leaked.is_empty());
    assert!(
        leaked.iter().flatten().all(|v| v != "HANSENTINEL-b"
            && (v != "HANSENTINEL-a"
                || leaked
                    .iter()
                    .flatten()
                    .filter(|x| *x == "HANSENTINEL-a")
                    .count()
                    == 1)),
        "only alice's own row may reach the function: {leaked:?}"
    );
}

#[test]
fn owner_changes_added_columns_protect_twice_and_unprotect() {
    let mut admin = sessions_db("pr_life");
    admin
        .batch_execute(
            "SELECT han_crypto.grant_access('team_a', 'postgres', 'writer');
             INSERT INTO sessions (id, team, prompt, metadata) VALUES (1, 'team_a', 'keep me', '{\"k\": 1}');",
        )
        .unwrap();
    let sealed_before: String = admin
        .query_one("SELECT prompt FROM sessions WHERE id = 1", &[])
        .unwrap()
        .get(0);
    // protect() again: same binding, existing envelopes untouched.
    admin.batch_execute("SELECT han_crypto.protect('sessions', ARRAY['prompt', 'tool_output', 'summary', 'metadata', 'messages', 'attachment'], 'team')").unwrap();
    let sealed_after: String = admin
        .query_one("SELECT prompt FROM sessions WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(sealed_before, sealed_after);
    // A new column appears in the view after protect() is called again.
    admin
        .batch_execute("ALTER TABLE sessions ADD COLUMN tags text[]")
        .unwrap();
    admin.batch_execute("SELECT han_crypto.protect('sessions', ARRAY['prompt', 'tool_output', 'summary', 'metadata', 'messages', 'attachment'], 'team')").unwrap();
    admin
        .query_one("SELECT tags FROM sessions_decrypted WHERE id = 1", &[])
        .unwrap();
    // ALTER TABLE … OWNER: the view follows and keeps working.
    admin
        .batch_execute("ALTER TABLE sessions OWNER TO new_owner")
        .unwrap();
    let owner: String = admin
        .query_one("SELECT relowner::regrole::text FROM pg_class WHERE oid = 'sessions_decrypted'::regclass", &[])
        .unwrap()
        .get(0);
    assert_eq!(owner, "new_owner");
    let v: String = admin
        .query_one("SELECT prompt FROM sessions_decrypted WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(v, "keep me");
    // unprotect: values back in plain, trigger and view gone.
    admin
        .batch_execute("ALTER TABLE sessions OWNER TO postgres")
        .unwrap();
    admin
        .batch_execute("CALL han_crypto.unprotect('sessions')")
        .unwrap();
    let row = admin
        .query_one(
            "SELECT prompt, metadata::text FROM sessions WHERE id = 1",
            &[],
        )
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1)),
        ("keep me".into(), r#"{"k": 1}"#.into())
    );
    let gone: bool = admin
        .query_one("SELECT to_regclass('sessions_decrypted') IS NULL", &[])
        .unwrap()
        .get(0);
    assert!(gone);
    admin
        .batch_execute(
            "INSERT INTO sessions (id, team, prompt) VALUES (2, 'team_a', 'plain again')",
        )
        .unwrap();
    let raw: String = admin
        .query_one("SELECT prompt FROM sessions WHERE id = 2", &[])
        .unwrap()
        .get(0);
    assert_eq!(raw, "plain again");
    // Only the owner may protect.
    let mut nosy = cluster().connect_as("pr_life", "nosy");
    let (code, _) = expect_error(
        &mut nosy,
        "SELECT han_crypto.protect('sessions', ARRAY['prompt'], 'team')",
        &[],
    );
    assert_eq!(code, "42501");
}

/// On managed PostgreSQL the platform's own role owns its tables and is no
/// superuser, and may force row-level security on them. protect() works for
/// it and seals rows its policies hide; the view applies the policies
/// (its owner is subject to them); unprotect() refuses rather than leave
/// hidden rows sealed with nothing to decrypt them.
#[test]
fn a_non_superuser_owner_protects_a_table_under_forced_row_level_security() {
    let mut admin = sessions_db("pr_rls");
    admin
        .batch_execute(
            "GRANT CREATE ON SCHEMA public TO platform;
             SELECT han_crypto.grant_access('team_a', 'platform', 'writer'), han_crypto.grant_access('team_b', 'platform', 'writer');",
        )
        .unwrap();
    let mut app = cluster().connect_as("pr_rls", "platform");
    app.batch_execute(
        "CREATE TABLE notes (id int PRIMARY KEY, team text NOT NULL, body text);
         ALTER TABLE notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
         CREATE POLICY by_team ON notes USING (team = current_setting('app.team', true))
             WITH CHECK (team = current_setting('app.team', true));
         BEGIN; SET LOCAL app.team = 'team_a'; INSERT INTO notes VALUES (1, 'team_a', 'note of team a'); COMMIT;
         BEGIN; SET LOCAL app.team = 'team_b'; INSERT INTO notes VALUES (2, 'team_b', 'note of team b'); COMMIT;
         SELECT han_crypto.protect('notes', ARRAY['body'], 'team');",
    )
    .unwrap();
    let sealed = |admin: &mut Client| -> Vec<bool> {
        admin
            .query("SELECT body LIKE 'hc1:%' FROM notes ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(
        sealed(&mut admin),
        [true, true],
        "rows hidden by the policy are sealed too"
    );
    let forced: bool = admin
        .query_one(
            "SELECT relforcerowsecurity FROM pg_class WHERE oid = 'notes'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(forced, "protect() puts FORCE ROW LEVEL SECURITY back");
    let read = |app: &mut Client, team: &str| -> Vec<(i32, Option<String>)> {
        as_actor(app, "alice", |tx| {
            tx.execute("SELECT set_config('app.team', $1, true)", &[&team])
                .unwrap();
            tx.query("SELECT id, body FROM notes_decrypted ORDER BY id", &[])
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect()
        })
    };
    assert_eq!(
        read(&mut app, "team_a"),
        [(1, Some("note of team a".to_string()))]
    );
    // Alice is no member of team b: the policy shows the row, the keyring does not.
    assert_eq!(read(&mut app, "team_b"), [(2, None)]);
    let (code, text) = expect_error(&mut app, "CALL han_crypto.unprotect('notes')", &[]);
    assert_eq!(code, "42501", "{text}");
    assert_eq!(
        sealed(&mut admin),
        [true, true],
        "a refused unprotect() changes nothing"
    );
}

/// protect() and unprotect() in one session reach a writer's session, whose
/// backend has the table's configuration cached, at its next statement: a
/// newly protected column is sealed at once, and an unprotected one is not.
#[test]
fn another_session_follows_protect_and_unprotect_at_its_next_statement() {
    let mut admin = sessions_db("pr_follow");
    admin
        .batch_execute(
            "CREATE TABLE notes (id int PRIMARY KEY, team text NOT NULL, body text, extra text);
             SELECT han_crypto.protect('notes', ARRAY['body'], 'team');
             GRANT SELECT, INSERT ON notes TO platform;",
        )
        .unwrap();
    let mut app = cluster().connect_as("pr_follow", "platform");
    let insert = |app: &mut Client, id: i32, extra: &str| {
        as_actor(app, "alice", |tx| {
            tx.execute(
                "INSERT INTO notes VALUES ($1, 'team_a', 'a note', $2)",
                &[&id, &extra],
            )
            .unwrap()
        })
    };
    let stored = |admin: &mut Client| -> Vec<(bool, String)> {
        admin
            .query(
                "SELECT body LIKE 'hc1:%', extra FROM notes ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    insert(&mut app, 1, "extra one");
    admin
        .batch_execute("SELECT han_crypto.protect('notes', ARRAY['body', 'extra'], 'team')")
        .unwrap();
    insert(&mut app, 2, "EXTRA-SENTINEL");
    for (body_sealed, extra) in stored(&mut admin) {
        assert!(body_sealed);
        assert!(
            extra.starts_with("hc1:"),
            "extra reached the heap in plain: {extra}"
        );
    }
    admin
        .batch_execute("CALL han_crypto.unprotect('notes', columns => ARRAY['extra'])")
        .unwrap();
    insert(&mut app, 3, "extra three");
    assert_eq!(
        stored(&mut admin),
        [
            (true, "extra one".to_string()),
            (true, "EXTRA-SENTINEL".to_string()),
            (true, "extra three".to_string())
        ]
    );
}

/// pg_dump as the owning role, which is no superuser on managed PostgreSQL:
/// it needs han_crypto_backup to read the configuration tables, and the
/// restored copy decrypts.
#[test]
fn a_non_superuser_owner_dumps_with_han_crypto_backup() {
    let mut admin = cluster().fresh_db("pr_dump_owner");
    admin
        .batch_execute(
            "SELECT han_crypto.create_keyring('team_a');
             SELECT han_crypto.grant_access('team_a', 'alice', 'reader');
             DO $$ BEGIN CREATE ROLE pr_dump_owner LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
             GRANT CREATE ON SCHEMA public TO pr_dump_owner;
             SELECT han_crypto.grant_access('team_a', 'pr_dump_owner', 'writer');",
        )
        .unwrap();
    let mut owner = cluster().connect_as("pr_dump_owner", "pr_dump_owner");
    owner
        .batch_execute(
            "CREATE TABLE notes (id int PRIMARY KEY, team text NOT NULL, body text);
             SELECT han_crypto.protect('notes', ARRAY['body'], 'team');
             INSERT INTO notes VALUES (1, 'team_a', 'dumped by its owner');",
        )
        .unwrap();
    let dump = cluster().dir.join("pr_dump_owner.dump");
    let pg_dump = || {
        cluster()
            .client_program_as("pg_dump", "pr_dump_owner")
            .args(["-Fc", "-f"])
            .arg(&dump)
            .arg("pr_dump_owner")
            .output()
            .unwrap()
    };
    let refused = pg_dump();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("permission denied for table"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    admin
        .batch_execute("GRANT han_crypto_backup TO pr_dump_owner")
        .unwrap();
    let taken = pg_dump();
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    let mut r = cluster().restore_into("pr_dump_owner_restored", &dump, &[]);
    let body: Option<String> = as_actor(&mut r, "alice", |tx| {
        tx.query_one("SELECT body FROM notes_decrypted WHERE id = 1", &[])
            .unwrap()
            .get(0)
    });
    assert_eq!(body.as_deref(), Some("dumped by its owner"));
}

#[test]
fn dump_and_restore_keeps_every_row_decryptable_exactly_once() {
    let mut admin = sessions_db("pr_dump");
    admin
        .batch_execute(
            "SELECT han_crypto.grant_access('team_a', 'postgres', 'writer');
             INSERT INTO sessions (team, prompt, metadata) SELECT 'team_a', 'dumped prompt ' || i, jsonb_build_object('i', i)
             FROM generate_series(1, 40) i;",
        )
        .unwrap();
    let dump = cluster().dir.join("pr_dump.dump");
    let st = cluster()
        .client_program("pg_dump")
        .args(["-Fc", "-f"])
        .arg(&dump)
        .arg("pr_dump")
        .status()
        .unwrap();
    assert!(st.success());
    for (db, extra) in [
        ("pr_restored", vec![]),
        ("pr_restored_nt", vec!["--disable-triggers"]),
    ] {
        let mut r = cluster().restore_into(db, &dump, &extra);
        let ok: i64 = r
            .query_one(
                "SELECT count(*) FROM sessions_decrypted WHERE prompt = 'dumped prompt ' || (metadata->>'i')",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            ok, 40,
            "{db}: every row decrypts to its own plaintext, not to an envelope"
        );
        let protected: i64 = r
            .query_one("SELECT count(*) FROM han_crypto.protected", &[])
            .unwrap()
            .get(0);
        assert_eq!(protected, 6, "{db}: the configuration came along");
        // The restored table is still protected.
        r.batch_execute("INSERT INTO sessions (team, prompt) VALUES ('team_a', 'after restore')")
            .unwrap();
        let raw: String = r
            .query_one(
                "SELECT prompt FROM sessions WHERE prompt NOT LIKE 'hc1:%' LIMIT 1",
                &[],
            )
            .map(|r| r.get(0))
            .unwrap_or_default();
        assert_eq!(raw, "", "{db}: no plaintext stored after restore");
    }
}

/// The owner renames the view or moves the table's schema: protect() again
/// replaces the view where it now is (instead of creating a second one at
/// the old name), and unprotect() drops it there.
#[test]
fn a_renamed_or_moved_view_is_still_the_tables_view() {
    let mut c = cluster().fresh_db("pr_view_renamed");
    c.batch_execute(
        "SELECT han_crypto.create_keyring('team_a');
         SELECT han_crypto.grant_access('team_a', 'postgres', 'writer');
         CREATE SCHEMA app;
         CREATE TABLE app.notes (id int PRIMARY KEY, team text NOT NULL, body text);
         SELECT han_crypto.protect('app.notes', ARRAY['body'], 'team');
         INSERT INTO app.notes VALUES (1, 'team_a', 'kept');
         ALTER VIEW app.notes_decrypted RENAME TO notes_plain;
         ALTER SCHEMA app RENAME TO app2;
         ALTER TABLE app2.notes ADD COLUMN extra text;",
    )
    .unwrap();
    let view: String = c
        .query_one(
            "SELECT han_crypto.protect('app2.notes', ARRAY['body'], 'team')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(view, "app2.notes_plain");
    let views: Vec<String> = c
        .query(
            "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relkind = 'v' AND c.relname LIKE 'notes%' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        views,
        ["app2.notes_plain"],
        "no second view at the old name"
    );
    let row: (String, Option<String>) = c
        .query_one("SELECT body, extra FROM app2.notes_plain WHERE id = 1", &[])
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(
        row,
        ("kept".to_string(), None),
        "the replaced view has the new column"
    );
    c.batch_execute("CALL han_crypto.unprotect('app2.notes')")
        .unwrap();
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relkind = 'v' AND relname LIKE 'notes%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "unprotect() dropped the view where it was");
    let body: String = c
        .query_one("SELECT body FROM app2.notes WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(body, "kept");
}
