//! The hostile-caller harness: search_path hijacking of every function and
//! procedure han_crypto installs.
//!
//! An attacker who can create objects in a schema on a victim's search_path
//! (public before PostgreSQL 15, or any shared schema) plants, ahead of
//! pg_catalog, exact-match trap operators for every operand type the
//! extension's SQL could meet, trap functions named like every function
//! the extension's SQL bodies call, trap domains named like the base types,
//! and shadow views named like every pg_catalog relation and every
//! han_crypto relation. Every trap counts itself in a sequence (which no
//! rollback undoes). Then each victim — a superuser and a table owner that
//! is no superuser — calls every routine of the extension (the list comes
//! from the catalog, so routines added later are covered without editing
//! this file), on a cold backend (a fresh connection per call) and on a
//! warm one, and fires every trigger and event trigger through the
//! statements that fire them. No trap may fire, and every call must end
//! exactly as it does without the traps (same success or SQLSTATE).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use han_crypto_tests::{random_key_hex, shared, sqlstate, Client, Cluster};

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

const PASS: &str = "correct horse battery staple";

fn cluster() -> &'static Cluster {
    shared(
        &CLUSTER,
        "hostile",
        &[
            ("HAN_CRYPTO_ROOT_KEY", &random_key_hex()),
            (
                "HAN_CRYPTO_JWT_SECRET",
                "a-jwt-secret-of-at-least-thirty-two-bytes",
            ),
        ],
        &[],
    )
}

/// Types whose operators the traps shadow with exact matches.
const TYPES: &[&str] = &[
    "regclass",
    "oid",
    "text",
    "name",
    "smallint",
    "integer",
    "bigint",
    "boolean",
    "text[]",
    "name[]",
    "jsonb",
    "json",
    "bytea",
    "timestamptz",
    "uuid",
    "regtype",
    "regrole",
    "regnamespace",
    "regproc",
    "regprocedure",
    "\"char\"",
    "real",
    "numeric",
    "inet",
    "tid",
    "int2vector",
    "oidvector",
    "xid",
    "aclitem",
    "pg_lsn",
];
const OPERATORS: &[&str] = &[
    "=", "<>", "<", ">", "<=", ">=", "||", "&&", "@>", "<@", "+", "-", "*", "/", "->", "->>", "#>",
    "#>>", "?", "~~", "~", "!~", "~*", "@@",
];
/// Base types a trap domain shadows (keyword types such as integer or
/// boolean cannot be shadowed).
const DOMAIN_TYPES: &[&str] = &[
    "text",
    "name",
    "oid",
    "regclass",
    "jsonb",
    "json",
    "bytea",
    "uuid",
    "regtype",
    "regrole",
    "timestamptz",
    "inet",
    "tid",
];

/// The attacker's schema: every trap, created by a role with no privilege
/// beyond its own schema.
fn plant_traps(c: &mut Client) {
    c.batch_execute(
        "CREATE SCHEMA trap AUTHORIZATION mallory;
         SET ROLE mallory;
         CREATE SEQUENCE trap.hits;
         GRANT USAGE ON SCHEMA trap TO PUBLIC;
         GRANT ALL ON SEQUENCE trap.hits TO PUBLIC;
         CREATE FUNCTION trap.hit() RETURNS boolean LANGUAGE sql VOLATILE
             AS $$ SELECT pg_catalog.nextval('trap.hits') OPERATOR(pg_catalog.>) 0 $$;",
    )
    .unwrap();
    // Operators: an exact match for every (type, type) pair an operator
    // accepts, returning what pg_catalog's would, after counting itself.
    let mut n = 0;
    for op in OPERATORS {
        for l in TYPES {
            let mut rights: Vec<&str> = vec![l, "text", "unknown"];
            if !l.ends_with("[]") {
                rights.push(Box::leak(format!("{l}[]").into_boxed_str()));
            }
            if *l == "regclass" || *l == "oid" {
                rights.extend(["oid", "regclass", "integer"]);
            }
            if *l == "name" || *l == "text" {
                rights.extend(["name", "text"]);
            }
            for r in rights {
                let probe = format!("SELECT pg_catalog.format_type(pg_catalog.pg_typeof(NULL::{l} OPERATOR(pg_catalog.{op}) NULL::{r})::oid, NULL)");
                let Ok(row) = c.query_one(probe.as_str(), &[]) else {
                    continue;
                };
                let ret: String = row.get(0);
                n += 1;
                let ddl = format!(
                    "CREATE FUNCTION trap.op{n}(a {l}, b {r}) RETURNS {ret} LANGUAGE plpgsql AS $$ \
                     BEGIN PERFORM trap.hit(); RETURN a OPERATOR(pg_catalog.{op}) b; END $$; \
                     CREATE OPERATOR trap.{op} (LEFTARG = {l}, RIGHTARG = {r}, FUNCTION = trap.op{n})"
                );
                if c.batch_execute(&ddl).is_err() {
                    n -= 1;
                }
            }
        }
    }
    assert!(n > 200, "only {n} trap operators could be planted");
    // Functions: every pg_catalog function the extension's SQL bodies name.
    let names: Vec<String> = c
        .query(
            "SELECT DISTINCT lower(m[1]) FROM pg_proc p, pg_depend d, pg_extension e,
                 regexp_matches(p.prosrc, '([A-Za-z_][A-Za-z0-9_]*)\\s*\\(', 'g') AS m
             WHERE d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.refobjid = e.oid
               AND e.extname = 'han_crypto' AND p.prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql'))",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut planted_functions = 0;
    for name in &names {
        let sigs = c
            .query(
                "SELECT pg_catalog.pg_get_function_identity_arguments(p.oid), pg_catalog.format_type(p.prorettype, NULL),
                        p.pronargs, p.proretset
                 FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = $1
                   AND p.prokind = 'f' AND p.provariadic = 0
                   AND NOT EXISTS (SELECT FROM unnest(p.proargtypes::oid[]) t WHERE t IN ('internal'::regtype, '\"any\"'::regtype, 'cstring'::regtype))
                   AND p.prorettype NOT IN ('internal'::regtype, 'cstring'::regtype, 'trigger'::regtype, 'event_trigger'::regtype)",
                &[name],
            )
            .unwrap();
        for s in sigs {
            let (args, ret, nargs, set): (String, String, i16, bool) =
                (s.get(0), s.get(1), s.get(2), s.get(3));
            let params: Vec<String> = (1..=nargs).map(|i| format!("${i}")).collect();
            let ret = if set { format!("SETOF {ret}") } else { ret };
            let ddl = format!(
                "CREATE FUNCTION trap.{name}({args}) RETURNS {ret} LANGUAGE sql AS $$ \
                 SELECT trap.hit(); SELECT pg_catalog.{name}({}) $$",
                params.join(", ")
            );
            if c.batch_execute(&ddl).is_ok() {
                planted_functions += 1;
            }
        }
        // Variadic ones (format, concat ...): shadows with plain text arguments.
        for arity in 1..=6 {
            let args = vec!["text"; arity].join(", ");
            let params: Vec<String> = (1..=arity).map(|i| format!("${i}")).collect();
            let _ = params;
            let ddl = format!(
                "CREATE FUNCTION trap.{name}({args}) RETURNS text LANGUAGE sql AS $$ \
                 SELECT trap.hit(); SELECT NULL::text $$"
            );
            if c.batch_execute(&ddl).is_ok() {
                planted_functions += 1;
            }
        }
    }
    assert!(
        planted_functions > 20,
        "only {planted_functions} trap functions"
    );
    // Domains named like the base types.
    for t in DOMAIN_TYPES {
        c.batch_execute(&format!(
            "CREATE DOMAIN trap.{t} AS pg_catalog.{t} CHECK (trap.hit())"
        ))
        .unwrap();
    }
    // Shadow views: every pg_catalog relation, and every han_crypto one.
    let rels: Vec<(String, String)> = c
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname IN ('pg_catalog', 'han_crypto') AND c.relkind IN ('r', 'v', 'p')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (nsp, rel) in rels {
        let ddl = if nsp == "pg_catalog" {
            format!("CREATE VIEW trap.{rel} AS SELECT * FROM pg_catalog.{rel} WHERE trap.hit()")
        } else {
            format!("CREATE VIEW trap.{rel} AS SELECT trap.hit() AS hit")
        };
        let _ = c.batch_execute(&ddl);
    }
    c.batch_execute("RESET ROLE").unwrap();
}

fn hits(c: &mut Client) -> i64 {
    let planted: bool = c
        .query_one("SELECT to_regclass('trap.hits') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    if !planted {
        return 0;
    }
    let row = c
        .query_one("SELECT last_value, is_called FROM trap.hits", &[])
        .unwrap();
    if row.get::<_, bool>(1) {
        row.get(0)
    } else {
        0
    }
}

/// The envelope of one content type out of setup()'s "text|json|bytea".
fn pick(envelopes: &str, i: usize) -> String {
    envelopes.split('|').nth(i).unwrap_or("NULL").to_string()
}

/// A sample argument for a parameter of `function`, by name first, then
/// by type. Casts name pg_catalog's types: the harness's own statements must
/// not touch the traps either.
fn sample(function: &str, name: &str, typ: &str, table: &str, envelope: &str) -> String {
    let passphrase_fn = ["unlock", "lock", "change_passphrase"].contains(&function);
    let by_name = match name {
        "keyring" if passphrase_fn => Some("'hc_pass'".to_string()),
        "keyring" => Some("'hc_team'".to_string()),
        "name" => Some("'hc_new'".to_string()),
        "kdf" => Some("'argon2id'".to_string()),
        "passphrase" | "old_passphrase" | "new_passphrase" => Some(format!("'{PASS}'")),
        "principal" => Some("'someone'".into()),
        "kind" => Some("'text'".into()),
        "context" => Some("''".into()),
        "columns" => Some("ARRAY['body']".into()),
        "keyring_column" => Some("'team'".into()),
        "col" | "column_name" => Some("'body'".into()),
        // The row setup() stored with a quarantined secret.
        "row_key" if typ == "text[]" => Some("ARRAY['3']".into()),
        "row_key" => Some("'3'".into()),
        "envelope" if function.contains("json") => Some(pick(envelope, 1)),
        "envelope" if function.contains("bytea") => Some(pick(envelope, 2)),
        "envelope" => Some(pick(envelope, 0)),
        _ => None,
    };
    by_name.unwrap_or_else(|| match typ {
        "regclass" => format!("'{table}'::pg_catalog.regclass"),
        "oid" => format!("'{table}'::pg_catalog.regclass::pg_catalog.oid"),
        "text" => "'sample'".into(),
        "bytea" => pick(envelope, 2),
        "jsonb" => "'{}'::pg_catalog.jsonb".into(),
        "boolean" => "false".into(),
        "integer" | "bigint" | "smallint" => "100".into(),
        "real" | "double precision" => "0".into(),
        "name" => "'body'::pg_catalog.name".into(),
        "name[]" => "ARRAY['id']::pg_catalog.name[]".into(),
        "text[]" => "ARRAY['body']".into(),
        "inet" => "'127.0.0.1'::pg_catalog.inet".into(),
        _ => "NULL".into(),
    })
}

/// Every routine of the extension as (signature, a call statement, whether
/// it is a procedure), built from the catalog.
fn calls(c: &mut Client, table: &str, envelope: &str) -> Vec<(String, String, bool)> {
    let rows = c
        .query(
            "SELECT p.oid::regprocedure::text, p.proname::text, p.prokind::text,
                    coalesce(p.proargnames, '{}')::text[], 
                    ARRAY(SELECT pg_catalog.format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) t)::text[],
                    pg_catalog.format_type(p.prorettype, NULL)
             FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'han_crypto'
             ORDER BY 1",
            &[],
        )
        .unwrap();
    let mut out = Vec::new();
    for r in rows {
        let (sig, name, kind, argnames, argtypes, ret): (
            String,
            String,
            String,
            Vec<String>,
            Vec<String>,
            String,
        ) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
        if ret == "trigger" || ret == "event_trigger" {
            continue; // fired by the scenario instead
        }
        let args: Vec<String> = argtypes
            .iter()
            .enumerate()
            .map(|(i, t)| {
                sample(
                    &name,
                    argnames.get(i).map(String::as_str).unwrap_or(""),
                    t,
                    table,
                    envelope,
                )
            })
            .collect();
        let call = if kind == "p" {
            format!("CALL han_crypto.{name}({})", args.join(", "))
        } else {
            format!("SELECT han_crypto.{name}({})", args.join(", "))
        };
        out.push((sig, call, kind == "p"));
    }
    out
}

/// Trigger and event-trigger functions, each with statements that fire it.
/// A new one must be added here: the harness refuses to leave it unfired.
fn scenario_for(function: &str, table: &str) -> Option<Vec<String>> {
    let t = table;
    Some(match function {
        // With a secret, so quarantine keeps it; then replaced and deleted,
        // so quarantine forgets it.
        "han_crypto._protect_trigger()" => vec![
            format!("INSERT INTO {t} (id, team, body, meta) VALUES (900, 'hc_team', 'fired PGPASSWORD=Xk29!vbq7Lm', '{{\"a\": 1}}')"),
            format!("UPDATE {t} SET body = 'again' WHERE id OPERATOR(pg_catalog.=) 900"),
            format!("DELETE FROM {t} WHERE id OPERATOR(pg_catalog.=) 900"),
        ],
        "han_crypto._forget_truncated()" => vec![format!("TRUNCATE {t}")],
        "han_crypto._view_write()" => vec![
            format!("INSERT INTO {t}_decrypted (id, team, body) VALUES (901, 'hc_team', 'via view')"),
            format!("UPDATE {t}_decrypted SET body = 'changed' WHERE id OPERATOR(pg_catalog.=) 901"),
            format!("DELETE FROM {t}_decrypted WHERE id OPERATOR(pg_catalog.=) 901"),
        ],
        "han_crypto._follow_owner()" | "han_crypto._check_column_changes()" => vec![
            format!("ALTER TABLE {t} ADD COLUMN extra pg_catalog.text"),
            format!("ALTER TABLE {t} DROP COLUMN extra"),
        ],
        "han_crypto._forget_dropped_tables()" => vec![
            format!("CREATE TABLE public.{t}_gone (id int PRIMARY KEY, team pg_catalog.text, body pg_catalog.text)"),
            format!("SELECT han_crypto.protect('public.{t}_gone', ARRAY['body'], 'team')"),
            format!("DROP TABLE public.{t}_gone CASCADE"),
        ],
        "han_crypto._refuse_inheritance()" => vec![
            format!("CREATE TABLE public.{t}_child (extra pg_catalog.text) INHERITS (public.{t})"),
        ],
        "han_crypto._mirror_grants()" => vec![
            format!("GRANT SELECT ON public.{t} TO PUBLIC"),
            format!("REVOKE SELECT ON public.{t} FROM PUBLIC"),
        ],
        "han_crypto._redaction_changed()" => vec![
            "INSERT INTO han_crypto.redaction_allowlist (pattern, note) VALUES ('^hc-allowed$', 'harness')".into(),
            "DELETE FROM han_crypto.redaction_allowlist WHERE note OPERATOR(pg_catalog.=) 'harness'".into(),
        ],
        "han_crypto._alert_rules_trigger()" => vec![
            "UPDATE han_crypto.alert_rules SET threshold = threshold WHERE name OPERATOR(pg_catalog.=) 'honeytoken'".into(),
        ],
        // The trail's guards: each refuses, and refuses alike whatever the search_path.
        "han_crypto._audit_guard()" => vec![
            "UPDATE han_crypto_audit._events SET actor = actor".into(),
            "TRUNCATE han_crypto_audit._checkpoints".into(),
        ],
        "han_crypto._audit_refuse_ddl()" => vec![
            "COMMENT ON TABLE han_crypto_audit._events IS 'harness'".into(),
        ],
        "han_crypto._audit_refuse_drop()" => vec![
            "DROP INDEX han_crypto_audit._events_ts".into(),
        ],
        _ => return None,
    })
}

/// The outcome of one statement: "ok" or its SQLSTATE.
fn outcome(c: &mut Client, sql: &str, procedure: bool) -> String {
    let result = if procedure {
        c.batch_execute(sql)
    } else {
        // Nothing a call changes survives: each runs in a rolled-back transaction.
        c.batch_execute("BEGIN").unwrap();
        let r = c.batch_execute(sql);
        c.batch_execute("ROLLBACK").unwrap();
        r
    };
    match result {
        Ok(()) => "ok".into(),
        Err(e) => sqlstate(&e),
    }
}

fn connect(cluster: &Cluster, user: &str, hostile: bool) -> Client {
    let mut c = cluster.connect_as("hostile", user);
    let path = if hostile {
        "trap, pg_catalog, public"
    } else {
        "\"$user\", public"
    };
    c.batch_execute(&format!("SET search_path = {path}"))
        .unwrap();
    c
}

fn warm_up(c: &mut Client, table: &str, envelope: &str) {
    let text = pick(envelope, 0);
    c.batch_execute(&format!(
        "SELECT han_crypto.decrypt({text});
         SELECT han_crypto.unlock('hc_pass', '{PASS}');
         SELECT pg_catalog.count(body) FROM {table}_decrypted;"
    ))
    .unwrap();
}

/// Runs everything a victim can run, returning each statement's outcome.
fn run_as(
    cluster: &Cluster,
    user: &str,
    table: &str,
    envelope: &str,
    hostile: bool,
) -> BTreeMap<String, String> {
    let mut results = Results {
        outcomes: BTreeMap::new(),
        hits: 0,
        admin: cluster.connect("hostile"),
    };
    let mut admin = cluster.connect("hostile");
    let list = calls(&mut admin, table, envelope);
    // Cold: a fresh backend for every call.
    for (sig, call, procedure) in &list {
        if *procedure {
            continue;
        }
        let mut c = connect(cluster, user, hostile);
        results.record(format!("cold {sig}"), outcome(&mut c, call, false));
    }
    // The decrypting view's first read on a cold backend.
    let mut cold = connect(cluster, user, hostile);
    results.record(
        "cold view read".into(),
        outcome(
            &mut cold,
            &format!(
                "SELECT pg_catalog.count(body), pg_catalog.count(meta) FROM {table}_decrypted"
            ),
            true,
        ),
    );
    // Warm: one backend that has used keys, the view and an unlock.
    let mut c = connect(cluster, user, hostile);
    warm_up(&mut c, table, envelope);
    for (sig, call, procedure) in &list {
        if !*procedure {
            results.record(format!("warm {sig}"), outcome(&mut c, call, false));
        }
    }
    // Triggers and event triggers, through the statements that fire them.
    let triggers: Vec<String> = admin
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p
             JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'han_crypto'
             WHERE p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype) ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for f in &triggers {
        // The redaction tables are the administrators': only the superuser edits them.
        if (f == "han_crypto._redaction_changed()" || f == "han_crypto._alert_rules_trigger()")
            && user != "postgres"
        {
            continue;
        }
        let steps = scenario_for(f, table).unwrap_or_else(|| {
            panic!("{f} has no scenario in the hostile-caller harness: add one")
        });
        // One transaction per scenario, rolled back: both runs start alike.
        c.batch_execute("BEGIN").unwrap();
        for (i, step) in steps.iter().enumerate() {
            c.batch_execute("SAVEPOINT step").unwrap();
            let r = outcome(&mut c, step, true);
            let end = if r == "ok" {
                "RELEASE SAVEPOINT step"
            } else {
                "ROLLBACK TO SAVEPOINT step"
            };
            c.batch_execute(end).unwrap();
            results.record(format!("fire {f} step {i}"), r);
        }
        c.batch_execute("ROLLBACK").unwrap();
    }
    // Procedures last (they change the table): unprotect some columns,
    // then all, then protect again; cold and warm.
    for (sig, _, procedure) in &list {
        if !*procedure {
            continue;
        }
        assert!(
            sig.starts_with("han_crypto.unprotect("),
            "{sig}: add it to the harness's procedure steps"
        );
    }
    let steps = [
        format!("CALL han_crypto.unprotect('{table}', columns => ARRAY['meta'])"),
        format!("CALL han_crypto.unprotect('{table}', batch_size => 1)"),
        format!("SELECT han_crypto.protect('{table}', ARRAY['body', 'meta'], 'team')"),
    ];
    for (i, step) in steps.iter().enumerate() {
        results.record(
            format!("warm procedure step {i}"),
            outcome(&mut c, step, true),
        );
    }
    for (i, step) in steps.iter().enumerate() {
        let mut cold = connect(cluster, user, hostile);
        results.record(
            format!("cold procedure step {i}"),
            outcome(&mut cold, step, true),
        );
    }
    results.outcomes
}

/// Outcomes by statement; a statement that made a trap fire has it noted.
struct Results {
    outcomes: BTreeMap<String, String>,
    hits: i64,
    admin: Client,
}

impl Results {
    fn record(&mut self, key: String, outcome: String) {
        let now = hits(&mut self.admin);
        let outcome = if now > self.hits {
            format!("{outcome} (fired {} traps)", now - self.hits)
        } else {
            outcome
        };
        self.hits = now;
        self.outcomes.insert(key, outcome);
    }
}

fn setup(c: &mut Client) -> String {
    c.batch_execute(&format!(
        "CREATE ROLE mallory LOGIN;
         CREATE ROLE hc_owner LOGIN;
         GRANT CREATE ON SCHEMA public TO hc_owner;
         SELECT han_crypto.create_keyring('hc_team');
         SELECT han_crypto.grant_access('hc_team', 'hc_owner', 'admin');
         SELECT han_crypto.create_passphrase_keyring('hc_pass', '{PASS}');
         SELECT han_crypto.grant_access('hc_pass', 'hc_owner', 'admin');
         SELECT han_crypto.create_keyring('quarantine');
         SELECT han_crypto.grant_access('quarantine', 'hc_owner', 'admin');
         CREATE TABLE hc_super (id int PRIMARY KEY, team text NOT NULL, body text, meta jsonb);
         SELECT han_crypto.protect('hc_super', ARRAY['body', 'meta'], 'team', options => '{{\"redaction\": \"quarantine\"}}');
         INSERT INTO hc_super VALUES (1, 'hc_team', 'one', '{{\"n\": 1}}'), (2, 'hc_team', 'two', NULL),
             (3, 'hc_team', 'PGPASSWORD=Xk29!vbq7Lm', NULL);
         SET ROLE hc_owner;
         CREATE TABLE hc_owned (id int PRIMARY KEY, team text NOT NULL, body text, meta jsonb);
         SELECT han_crypto.protect('hc_owned', ARRAY['body', 'meta'], 'team', options => '{{\"redaction\": \"quarantine\"}}');
         INSERT INTO hc_owned VALUES (1, 'hc_team', 'one', '{{\"n\": 1}}'), (2, 'hc_team', 'two', NULL),
             (3, 'hc_team', 'PGPASSWORD=Xk29!vbq7Lm', NULL);
         RESET ROLE;"
    ))
    .unwrap();
    // One envelope of each content type: "text|json|bytea" literals.
    let mut literals = Vec::new();
    for value in ["'sample'::text", "'{\"a\": 1}'::jsonb", "'\\x0102'::bytea"] {
        let env: Vec<u8> = c
            .query_one(
                &format!("SELECT han_crypto.encrypt({value}, 'hc_team')"),
                &[],
            )
            .unwrap()
            .get(0);
        literals.push(format!("'\\x{}'::pg_catalog.bytea", hex::encode(env)));
    }
    literals.join("|")
}

#[test]
fn search_path_traps_planted_ahead_of_pg_catalog_never_fire_for_any_routine() {
    let cluster = cluster();
    let mut admin = cluster.fresh_db("hostile");
    let envelope = setup(&mut admin);
    // Baselines first, with an ordinary search_path and no traps anywhere.
    let baseline_super = run_as(cluster, "postgres", "hc_super", &envelope, false);
    let baseline_owner = run_as(cluster, "hc_owner", "hc_owned", &envelope, false);
    plant_traps(&mut admin);
    assert_eq!(hits(&mut admin), 0);
    let hostile_super = run_as(cluster, "postgres", "hc_super", &envelope, true);
    let after_super = hits(&mut admin);
    let hostile_owner = run_as(cluster, "hc_owner", "hc_owned", &envelope, true);
    let after_owner = hits(&mut admin);
    let differences = |base: &BTreeMap<String, String>, hostile: &BTreeMap<String, String>| {
        base.iter()
            .filter(|(k, v)| hostile.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: {v} without traps, {:?} with", hostile.get(k)))
            .collect::<Vec<_>>()
    };
    let d_super = differences(&baseline_super, &hostile_super);
    let d_owner = differences(&baseline_owner, &hostile_owner);
    assert!(
        after_super == 0 && d_super.is_empty(),
        "as superuser: {after_super} trap hits; {d_super:#?}"
    );
    assert!(
        after_owner == 0 && d_owner.is_empty(),
        "as table owner: {} trap hits; {d_owner:#?}",
        after_owner - after_super
    );
    // The harness really exercised the extension: most calls succeeded.
    let ok = baseline_super.values().filter(|v| *v == "ok").count();
    assert!(ok > 40, "only {ok} calls succeeded: {baseline_super:#?}");
}
