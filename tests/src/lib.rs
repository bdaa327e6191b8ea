//! Fixtures for client integration tests: throw-away PostgreSQL clusters
//! (scripts/pgcluster.sh) of the server `$PG_CONFIG` names (Debian's 15 by
//! default) that a test can restart with another environment, connections
//! as any role, and SQLSTATE helpers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

pub use postgres::{Client, NoTls};

/// A throw-away cluster. Stopped and deleted on drop, and (for shared ones
/// held in statics) when the test process exits.
pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
    /// The pg_config of the server this cluster runs.
    pub pg_config: PathBuf,
    env: Mutex<Vec<(String, String)>>,
}

/// The pg_config the suite tests against: `$PG_CONFIG`, else Debian's 15.
pub fn default_pg_config() -> PathBuf {
    std::env::var_os("PG_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin/pg_config"))
}

/// What `pg_config --FLAG` prints.
pub fn pg_config_value(pg_config: &Path, flag: &str) -> String {
    let out = Command::new(pg_config)
        .arg(format!("--{flag}"))
        .output()
        .expect("pg_config runs");
    assert!(
        out.status.success(),
        "{} --{flag} failed",
        pg_config.display()
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" fn stop_live_clusters() {
    if let Ok(dirs) = LIVE.lock() {
        for d in dirs.iter() {
            let _ = script().arg("stop").arg(d).status();
        }
    }
}

fn script() -> Command {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pgcluster.sh"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every statement-logging surface turned up (THREATS.md §0): what the
/// leak tests run under.
pub const VERBOSE_LOGGING: &[&str] = &[
    "log_statement = 'all'",
    "log_min_duration_statement = 0",
    "log_min_error_statement = debug5",
    "log_min_messages = debug1",
    "log_error_verbosity = verbose",
    "log_parameter_max_length = -1",
    "log_parameter_max_length_on_error = -1",
];

/// A fresh 64-hex-character root key.
pub fn random_key_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl Cluster {
    /// initdb + start with `env` as the server's environment (HAN_CRYPTO_ROOT_KEY
    /// from the test process is never inherited) and extra postgresql.conf lines.
    pub fn start(name: &str, env: &[(&str, &str)], gucs: &[&str]) -> Cluster {
        Cluster::start_on(&default_pg_config(), name, env, gucs)
    }

    /// The same with the server of another pg_config (another major version).
    pub fn start_on(pg_config: &Path, name: &str, env: &[(&str, &str)], gucs: &[&str]) -> Cluster {
        static REGISTER: OnceLock<()> = OnceLock::new();
        REGISTER.get_or_init(|| unsafe {
            libc::atexit(stop_live_clusters);
        });
        let dir = PathBuf::from(format!("/tmp/hct-{name}-{}", std::process::id()));
        let port = free_port();
        let c = Cluster {
            dir,
            port,
            pg_config: pg_config.to_path_buf(),
            env: Mutex::new(
                env.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        };
        let _ = script().arg("stop").arg(&c.dir).status();
        let mut cmd = script();
        cmd.arg("start")
            .arg(&c.dir)
            .arg(port.to_string())
            .args(gucs);
        c.run(cmd);
        LIVE.lock().unwrap().push(c.dir.clone());
        c
    }

    fn run(&self, mut cmd: Command) {
        cmd.env_remove("HAN_CRYPTO_ROOT_KEY");
        cmd.env("PG_CONFIG", &self.pg_config);
        for (k, v) in self.env.lock().unwrap().iter() {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("pgcluster.sh runs");
        assert!(
            out.status.success(),
            "pgcluster.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A streaming-replication hot standby of this (running) cluster, made
    /// with pg_basebackup (so files in the data directory, such as a
    /// generated root key, come along) and started with this cluster's
    /// environment.
    pub fn standby(&self, name: &str) -> Cluster {
        let dir = PathBuf::from(format!("/tmp/hct-{name}-{}", std::process::id()));
        let port = free_port();
        let c = Cluster {
            dir,
            port,
            pg_config: self.pg_config.clone(),
            env: Mutex::new(self.env.lock().unwrap().clone()),
        };
        let _ = script().arg("stop").arg(&c.dir).status();
        let mut cmd = script();
        cmd.arg("standby")
            .arg(&c.dir)
            .arg(port.to_string())
            .arg(&self.dir)
            .arg(self.port.to_string());
        c.run(cmd);
        LIVE.lock().unwrap().push(c.dir.clone());
        c
    }

    /// Waits until this standby has replayed everything `primary` wrote.
    pub fn catch_up_with(&self, primary: &Cluster) {
        let lsn: String = primary
            .connect("postgres")
            .query_one("SELECT pg_current_wal_lsn()::text", &[])
            .unwrap()
            .get(0);
        let mut c = self.connect("postgres");
        for _ in 0..600 {
            let done: bool = c
                .query_one(
                    "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                    &[&lsn],
                )
                .unwrap()
                .get(0);
            if done {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the standby did not catch up with {lsn}");
    }

    /// Restarts the server with a new environment.
    pub fn restart_with_env(&self, env: &[(&str, &str)]) {
        *self.env.lock().unwrap() = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut cmd = script();
        cmd.arg("restart").arg(&self.dir);
        self.run(cmd);
    }

    /// Connects as `user` to `db`.
    pub fn connect_as(&self, db: &str, user: &str) -> Client {
        postgres::Config::new()
            .host_path(&self.dir)
            .port(self.port)
            .user(user)
            .dbname(db)
            .application_name("han_crypto_tests")
            .connect(NoTls)
            .unwrap_or_else(|e| panic!("connect to {db} as {user}: {e}"))
    }

    /// Connects as `postgres` to `db`, collecting the messages of the
    /// notices and warnings the server sends.
    pub fn connect_collecting_notices(
        &self,
        db: &str,
    ) -> (Client, std::sync::Arc<Mutex<Vec<String>>>) {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let c = postgres::Config::new()
            .host_path(&self.dir)
            .port(self.port)
            .user("postgres")
            .dbname(db)
            .application_name("han_crypto_tests")
            .notice_callback(move |n| sink.lock().unwrap().push(n.message().to_string()))
            .connect(NoTls)
            .unwrap_or_else(|e| panic!("connect to {db}: {e}"));
        (c, seen)
    }

    /// Connects as the superuser `postgres` to `db`.
    pub fn connect(&self, db: &str) -> Client {
        self.connect_as(db, "postgres")
    }

    /// Creates database `db` with han_crypto installed and returns a superuser connection.
    pub fn fresh_db(&self, db: &str) -> Client {
        let mut admin = self.connect("postgres");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        let mut c = self.connect(db);
        c.batch_execute("CREATE EXTENSION han_crypto CASCADE")
            .unwrap();
        c
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        std::fs::read(self.dir.join("server.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Path of the data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs a PostgreSQL client program (pg_dump, pg_restore, ...) against this cluster.
    pub fn client_program(&self, program: &str) -> Command {
        self.client_program_as(program, "postgres")
    }

    /// The same, connecting as `user`.
    pub fn client_program_as(&self, program: &str, user: &str) -> Command {
        let mut cmd =
            Command::new(Path::new(&pg_config_value(&self.pg_config, "bindir")).join(program));
        cmd.arg("-h")
            .arg(&self.dir)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-U")
            .arg(user);
        cmd
    }

    /// pg_restore of `dump` into a new database `db` (dropped first if it
    /// exists), with `extra` arguments; panics with pg_restore's messages
    /// if it fails. Returns a connection to the restored database.
    pub fn restore_into(&self, db: &str, dump: &Path, extra: &[&str]) -> Client {
        let mut pg = self.connect("postgres");
        pg.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
            .unwrap();
        pg.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
        let out = self
            .client_program("pg_restore")
            .args(["-d", db])
            .args(extra)
            .arg(dump)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{db}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.connect(db)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = script().arg("stop").arg(&self.dir).status();
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|d| d != &self.dir);
        }
    }
}

/// A cluster shared by all tests of one test binary.
pub fn shared<'a>(
    cell: &'a OnceLock<Cluster>,
    name: &str,
    env: &[(&str, &str)],
    gucs: &[&str],
) -> &'a Cluster {
    cell.get_or_init(|| Cluster::start(name, env, gucs))
}

/// The SQLSTATE of a failed statement ("" if it was not a database error).
pub fn sqlstate(err: &postgres::Error) -> String {
    err.code().map(|c| c.code().to_string()).unwrap_or_default()
}

/// The full message text of a database error (message, detail, hint).
pub fn error_text(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!(
            "{} {} {}",
            db.message(),
            db.detail().unwrap_or(""),
            db.hint().unwrap_or("")
        ),
        None => err.to_string(),
    }
}

/// Runs `sql` with `params`, expecting failure; returns (SQLSTATE, text).
pub fn expect_error(
    c: &mut Client,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> (String, String) {
    match c.query(sql, params) {
        Ok(rows) => panic!("expected an error from {sql}, got {} rows", rows.len()),
        Err(e) => (sqlstate(&e), error_text(&e)),
    }
}

/// The offline `han-crypto` binary, built (debug) if need be.
pub fn cli() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "-q", "-p", "han_crypto_cli"])
        .status()
        .unwrap();
    assert!(st.success());
    std::env::var("CARGO_TARGET_DIR")
        .map_or_else(|_| root.join("target"), PathBuf::from)
        .join("debug/han-crypto")
}
