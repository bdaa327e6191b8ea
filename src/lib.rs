//! han_crypto: the PostgreSQL extension. A thin layer that translates
//! between SQL and `han_crypto_core`, loads the root key, caches keys per
//! backend, and maps every failure to a specific SQLSTATE.
#![forbid(unsafe_op_in_unsafe_fn)]
// SQL-callable functions return Result<_, ErrorReport> so that pgrx raises the
// SQLSTATE we chose; ErrorReport is pgrx's type and large by design.
#![allow(clippy::result_large_err)]

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

mod actor;
mod api;
mod audit;
mod catalog;
mod error;
mod gucs;
mod honeytoken;
mod kdf_slots;
mod keyring;
mod log_scrub;
mod pg_compat;
mod protect;
mod quarantine;
mod redaction;
mod root_key;
mod varlena;
mod xact;

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

// Hand-written SQL, read top to bottom as documentation of the schema.
extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!(
    "../sql/protect.sql",
    name = "protect",
    requires = [
        protect::_open_text,
        protect::_open_json,
        protect::_open_bytea,
        api::protect::_register_protection,
        api::protect::_unregister_protection,
        api::protect::_can_read_keyring,
        api::protect::_forget_protected_columns,
        api::protect::_forget_dropped_table,
        api::protect::_is_sealed
    ]
);
extension_sql_file!(
    "../sql/redaction.sql",
    name = "redaction",
    requires = [
        api::redact::_check_redaction_rule,
        api::redact::_check_redaction_allow,
        api::redact::_redaction_rules_changed
    ]
);
extension_sql_file!(
    "../sql/quarantine.sql",
    name = "quarantine",
    requires = [
        "protect",
        api::quarantine::_restore_redactions,
        api::quarantine::_quarantined,
        api::quarantine::purge_quarantine
    ]
);
extension_sql_file!(
    "../sql/audit.sql",
    name = "audit",
    requires = [
        "bootstrap",
        api::audit::_creating_extension,
        api::audit::_audit_start_chain
    ]
);
extension_sql_file!(
    "../sql/alerts.sql",
    name = "alerts",
    requires = [
        "audit",
        "protect",
        api::alerts::_alert_rules_changed,
        api::alerts::_plant_honeytoken
    ]
);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::register();
    keyring::register_callbacks();
    audit::register_callbacks();
    log_scrub::install();
    actor::register_callbacks();
    // Rust backtraces (with source paths) must never reach a client, even
    // when the server runs with RUST_BACKTRACE=1: pgrx attaches a captured
    // one to a panic's error. std reads this before RUST_BACKTRACE, once.
    // A backend is single-threaded, and this runs before anything could
    // capture a backtrace.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
