//! han_crypto.* settings. Registered from _PG_init, so they exist as soon as
//! the library is loaded; no shared_preload_libraries needed.

use std::ffi::CString;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// Path of a file holding the root key as 64 hex characters. Superuser-only
/// to set (PGC_SUSET) and to see (GUC_SUPERUSER_ONLY): it names where the
/// key lives, which ordinary roles have no business knowing.
pub static ROOT_KEY_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// File holding the application's JWT secret (when HAN_CRYPTO_JWT_SECRET is unset).
pub static JWT_SECRET_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// JWT claim that names the principal.
pub static JWT_PRINCIPAL_CLAIM: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"sub"));
/// Clock skew tolerated on exp/nbf, seconds.
pub static JWT_LEEWAY: GucSetting<i32> = GucSetting::<i32>::new(0);
/// Longest JWT lifetime accepted (exp - max(iat, now)), seconds; 0: no limit.
pub static JWT_MAX_LIFETIME: GucSetting<i32> = GucSetting::<i32>::new(86_400);
/// Required `aud` of JWTs, if set.
pub static JWT_AUDIENCE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Required `iss` of JWTs, if set.
pub static JWT_ISSUER: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Derived keys kept per backend.
pub static KEY_CACHE_SIZE: GucSetting<i32> = GucSetting::<i32>::new(256);
/// Seconds a derived key stays cached.
pub static KEY_CACHE_LIFETIME: GucSetting<i32> = GucSetting::<i32>::new(3600);
/// Seconds an unlocked passphrase keyring stays unlocked in a session.
pub static UNLOCK_LIFETIME: GucSetting<i32> = GucSetting::<i32>::new(900);
/// Ceiling on Argon2id memory read from storage, in KiB.
pub static KDF_MAX_MEMORY: GucSetting<i32> = GucSetting::<i32>::new(256 * 1024);
/// Key derivations allowed to run at once across the cluster.
pub static KDF_MAX_CONCURRENT: GucSetting<i32> = GucSetting::<i32>::new(2);
/// How long a derivation waits for a free slot, in milliseconds.
pub static KDF_WAIT_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(5000);
/// Confidence (0-1) a finding needs for redaction to remove it from stored
/// text; the log is always scrubbed of every finding.
pub static REDACTION_MIN_CONFIDENCE: GucSetting<f64> = GucSetting::<f64>::new(0.5);

/// How finely the audit trail records reads: one event per statement and
/// (object, action, outcome), or one per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, pgrx::PostgresGucEnum)]
pub enum AuditLevel {
    #[name = c"statement"]
    Statement,
    #[name = c"row"]
    Row,
}
/// han_crypto.audit_level. Superuser-only to set at all (PGC_SUSET), so
/// nobody else can lower it; every change is itself an audit event.
pub static AUDIT_LEVEL: GucSetting<AuditLevel> =
    GucSetting::<AuditLevel>::new(AuditLevel::Statement);
/// Whether and how accesses are recorded. `durable`: a call releases
/// nothing before its event is committed and flushed. `async`: the event
/// is queued to the writer and the call goes on (a crash of the writer or
/// the server loses what was queued). `off` exists for measuring the
/// trail's cost and for a superuser's maintenance. Every change is itself
/// recorded, durably, before the first access it governs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, pgrx::PostgresGucEnum)]
pub enum AuditMode {
    #[name = c"durable"]
    Durable,
    #[name = c"async"]
    Async,
    #[name = c"off"]
    Off,
}
pub static AUDIT_MODE: GucSetting<AuditMode> = GucSetting::<AuditMode>::new(AuditMode::Durable);
/// What the audit writer copies into the server log as it commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, pgrx::PostgresGucEnum)]
pub enum AuditLogMirror {
    #[name = c"off"]
    Off,
    #[name = c"checkpoints"]
    Checkpoints,
    #[name = c"events"]
    Events,
}
pub static AUDIT_LOG_MIRROR: GucSetting<AuditLogMirror> =
    GucSetting::<AuditLogMirror>::new(AuditLogMirror::Checkpoints);
/// Row keys kept per statement-level event.
pub static AUDIT_ROW_KEYS: GucSetting<i32> = GucSetting::<i32>::new(10);
/// How long a backend waits for the writer to commit its event, ms.
pub static AUDIT_ACK_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(5000);
/// Seconds an idle writer stays; 0 (the default): it stays, so that no
/// other process can take its worker slot while it is away.
pub static AUDIT_WRITER_IDLE_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(0);

pub fn register() {
    GucRegistry::define_string_guc(
        c"han_crypto.root_key_file",
        c"File holding the han_crypto root key (64 hex characters).",
        c"Used when HAN_CRYPTO_ROOT_KEY is not in the server's environment. \
          The file must not be readable by group or others (group-readable is allowed when owned by root).",
        &ROOT_KEY_FILE,
        GucContext::Suset,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_string_guc(
        c"han_crypto.jwt_secret_file",
        c"File holding the HS256 secret authenticate() verifies JWTs with.",
        c"Used when HAN_CRYPTO_JWT_SECRET is not in the server's environment.",
        &JWT_SECRET_FILE,
        GucContext::Suset,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_string_guc(
        c"han_crypto.jwt_principal_claim",
        c"JWT claim that names the acting principal.",
        c"Superuser-only: a caller who could pick the claim could pick a claim it controls.",
        &JWT_PRINCIPAL_CLAIM,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"han_crypto.jwt_leeway",
        c"Clock skew tolerated on JWT exp and nbf.",
        c"",
        &JWT_LEEWAY,
        0,
        300,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"han_crypto.jwt_max_lifetime",
        c"Longest lifetime of a JWT authenticate() accepts.",
        c"exp may lie at most this far after iat (or now); 0 disables the limit.",
        &JWT_MAX_LIFETIME,
        0,
        31_536_000,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_string_guc(
        c"han_crypto.jwt_audience",
        c"Audience (aud claim) every JWT must name; unset: not checked.",
        c"",
        &JWT_AUDIENCE,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"han_crypto.jwt_issuer",
        c"Issuer (iss claim) every JWT must have; unset: not checked.",
        c"",
        &JWT_ISSUER,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"han_crypto.key_cache_size",
        c"Derived keys each backend keeps in memory.",
        c"Argon2id runs once per key version and backend while the key stays cached.",
        &KEY_CACHE_SIZE,
        1,
        100_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"han_crypto.key_cache_lifetime",
        c"How long a derived key stays cached in a backend.",
        c"",
        &KEY_CACHE_LIFETIME,
        1,
        86_400,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"han_crypto.unlock_lifetime",
        c"How long an unlocked passphrase keyring stays unlocked in a session.",
        c"",
        &UNLOCK_LIFETIME,
        1,
        86_400,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"han_crypto.kdf_max_memory",
        c"Largest Argon2id memory cost accepted from storage.",
        c"Parameters above it are refused before any allocation.",
        &KDF_MAX_MEMORY,
        19 * 1024,
        4 * 1024 * 1024,
        GucContext::Suset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_int_guc(
        c"han_crypto.kdf_max_concurrent",
        c"Password-hash derivations allowed to run at once in the cluster.",
        c"Further callers wait up to han_crypto.kdf_wait_timeout for a slot; one principal holds at most one.",
        &KDF_MAX_CONCURRENT,
        1,
        64,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"han_crypto.kdf_wait_timeout",
        c"How long a key derivation waits for a free slot before failing with SQLSTATE 53000.",
        c"",
        &KDF_WAIT_TIMEOUT,
        0,
        600_000,
        GucContext::Suset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_float_guc(
        c"han_crypto.redaction_min_confidence",
        c"Confidence (0-1) a detected secret needs to be redacted from stored text.",
        c"Vendor formats score about 0.95, structural secrets 0.9, values by context 0.6-0.85; explain_redaction(text) shows each finding's. The server log is scrubbed of every finding regardless.",
        &REDACTION_MIN_CONFIDENCE,
        0.0,
        1.0,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"han_crypto.audit_level",
        c"Audit events per statement and (object, action, outcome) with counts, or one per row.",
        c"Superuser-only; each change is recorded in the audit trail.",
        &AUDIT_LEVEL,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"han_crypto.audit_mode",
        c"durable: no access goes unrecorded (a decrypting call waits for its event); async: events are queued, not waited for; off: nothing is recorded.",
        c"Superuser-only; turning it off is recorded in the audit trail first.",
        &AUDIT_MODE,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"han_crypto.audit_log_mirror",
        c"What the audit writer also writes to the server log: off, checkpoints (the default), or events and checkpoints, one JSON line each.",
        c"The writer's setting: postgresql.conf or ALTER SYSTEM, then a reload. Lines are written after their commit.",
        &AUDIT_LOG_MIRROR,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"han_crypto.audit_row_keys",
        c"Row keys a statement-level audit event lists (at most).",
        c"",
        &AUDIT_ROW_KEYS,
        0,
        1000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"han_crypto.audit_ack_timeout",
        c"How long an audited call waits for the audit writer to commit its event before failing with SQLSTATE 53000.",
        c"",
        &AUDIT_ACK_TIMEOUT,
        1,
        600_000,
        GucContext::Suset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"han_crypto.audit_writer_idle_timeout",
        c"How long an idle audit writer stays before it exits (0, the default: it stays).",
        c"The next audited call starts a new one, if a background worker slot is free then.",
        &AUDIT_WRITER_IDLE_TIMEOUT,
        0,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    // Refuse typo'd han_crypto.* settings instead of keeping placeholders.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"han_crypto".as_ptr()) };
}

fn string_setting(s: &GucSetting<Option<CString>>) -> Option<String> {
    s.get()
        .and_then(|c| c.into_string().ok())
        .filter(|s| !s.trim().is_empty())
}

/// The configured root key file, if any (empty counts as unset).
pub fn root_key_file() -> Option<String> {
    string_setting(&ROOT_KEY_FILE)
}

/// The configured JWT secret file, if any.
pub fn jwt_secret_file() -> Option<String> {
    string_setting(&JWT_SECRET_FILE)
}

/// The required JWT audience, if configured.
pub fn jwt_audience() -> Option<String> {
    string_setting(&JWT_AUDIENCE)
}

/// The required JWT issuer, if configured.
pub fn jwt_issuer() -> Option<String> {
    string_setting(&JWT_ISSUER)
}

/// The JWT principal claim (default `sub`).
pub fn jwt_principal_claim() -> String {
    string_setting(&JWT_PRINCIPAL_CLAIM).unwrap_or_else(|| "sub".into())
}
