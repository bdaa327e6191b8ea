//! In-backend tests (`cargo pgrx test`): what only a live backend can show —
//! per-backend caches, transaction callbacks, the owner switch.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::keyring;

    fn one<T: FromDatum + IntoDatum>(sql: &str) -> Option<T> {
        Spi::get_one::<T>(sql).expect("query runs")
    }

    /// Runs `f` in a subtransaction and rolls it back, as a ROLLBACK TO
    /// SAVEPOINT would (SPI cannot issue SAVEPOINT itself).
    fn in_rolled_back_subtransaction<R>(f: impl FnOnce() -> R) -> R {
        // SAFETY: the standard internal-subtransaction protocol used by PL
        // handlers: remember memory context and resource owner, restore both.
        unsafe {
            let cxt = pg_sys::CurrentMemoryContext;
            let owner = pg_sys::CurrentResourceOwner;
            pg_sys::BeginInternalSubTransaction(std::ptr::null());
            let r = f();
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
            pg_sys::MemoryContextSwitchTo(cxt);
            pg_sys::CurrentResourceOwner = owner;
            r
        }
    }

    /// A scanner defect (a panic) fails closed, with an error that quotes
    /// nothing of the text: the panic's own message never reaches a client.
    #[pg_test]
    fn a_scanner_panic_fails_closed_without_quoting_the_text() {
        let failed =
            crate::redaction::guarded(|| -> usize { panic!("sentinel AKIAZ7Q4XPLM3VN2B6RT") });
        let Err(e) = failed else {
            panic!("the panic was not caught")
        };
        assert!(matches!(e, crate::error::HcError::RedactionFailed));
        let report = pgrx::pg_sys::panic::ErrorReport::from(e);
        assert!(
            !report.message().contains("sentinel"),
            "{}",
            report.message()
        );
        assert!(!format!("{:?}", report.hint()).contains("AKIA"));
    }

    #[pg_test]
    fn round_trips_every_type_and_keeps_null_and_empty() {
        assert_eq!(
            one::<String>("SELECT han_crypto.decrypt(han_crypto.encrypt('grüße, 世界'))")
                .as_deref(),
            Some("grüße, 世界")
        );
        assert_eq!(
            one::<String>("SELECT han_crypto.decrypt(han_crypto.encrypt(''))").as_deref(),
            Some("")
        );
        assert_eq!(
            one::<Vec<u8>>("SELECT han_crypto.decrypt_bytea(han_crypto.encrypt('\\x00ff'::bytea))"),
            Some(vec![0, 255])
        );
        assert_eq!(one::<bool>("SELECT han_crypto.decrypt_jsonb(han_crypto.encrypt('{\"n\": 1.50, \"a\": [true]}'::jsonb)) = '{\"a\": [true], \"n\": 1.50}'::jsonb"), Some(true));
        assert_eq!(one::<bool>("SELECT han_crypto.encrypt(NULL::text) IS NULL AND han_crypto.decrypt(NULL) IS NULL"), Some(true));
    }

    #[pg_test]
    fn a_key_version_is_derived_once_per_backend() {
        one::<Vec<u8>>("SELECT han_crypto.encrypt('warm up')");
        let before = (keyring::loads(), keyring::derivations());
        assert_eq!(
            one::<i64>("SELECT count(han_crypto.decrypt(han_crypto.encrypt('row ' || i))) FROM generate_series(1, 500) i"),
            Some(500)
        );
        assert_eq!(
            (keyring::loads(), keyring::derivations()),
            before,
            "no key work per row"
        );
    }

    #[pg_test]
    fn a_rolled_back_default_keyring_is_forgotten() {
        // Start from a database whose default keyring does not exist yet.
        Spi::run("DELETE FROM han_crypto.keyrings").unwrap();
        crate::keyring::forget_for_tests();
        let lost: Vec<u8> =
            in_rolled_back_subtransaction(|| one("SELECT han_crypto.encrypt('lost')").unwrap());
        // The keyring row that envelope names was rolled back; a new one is made.
        let kept: Vec<u8> = Spi::get_one_with_args("SELECT han_crypto.encrypt('kept')", &[])
            .unwrap()
            .unwrap();
        assert_ne!(
            lost[8..24],
            kept[8..24],
            "a fresh keyring id after the rollback"
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM han_crypto.keyrings"),
            Some(1)
        );
        let back: Option<String> =
            Spi::get_one_with_args("SELECT han_crypto.decrypt($1)", &[kept.as_slice().into()])
                .unwrap();
        assert_eq!(back.as_deref(), Some("kept"));
    }

    #[pg_test]
    fn owner_switch_restores_user_and_search_path() {
        Spi::run("SET search_path = public").unwrap();
        let user_before = one::<String>("SELECT current_user::text");
        crate::catalog::as_owner(|| {
            assert_eq!(
                one::<String>("SELECT current_setting('search_path')").as_deref(),
                Some("pg_catalog, pg_temp")
            );
        });
        assert_eq!(
            one::<String>("SELECT current_setting('search_path')").as_deref(),
            Some("public")
        );
        assert_eq!(one::<String>("SELECT current_user::text"), user_before);
    }

    #[pg_test(error = "envelope failed authentication")]
    fn wrong_context_is_an_error_not_garbage() {
        one::<String>(
            "SELECT han_crypto.decrypt(han_crypto.encrypt('x', 'default', 'row 1'), 'row 2')",
        );
    }

    /// Backtraces (with source paths) never reach a client or the log, even
    /// when the server runs with RUST_BACKTRACE=1: _PG_init switched
    /// capturing off before anything could capture one.
    #[pg_test]
    fn no_rust_backtrace_is_ever_captured() {
        one::<String>("SELECT han_crypto.version()");
        assert_eq!(std::env::var("RUST_LIB_BACKTRACE").as_deref(), Ok("0"));
        assert_ne!(
            std::backtrace::Backtrace::capture().status(),
            std::backtrace::BacktraceStatus::Captured
        );
    }
}
