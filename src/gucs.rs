//! han_crypto.* settings. Registered from _PG_init, so they exist as soon as
//! the library is loaded; no shared_preload_libraries needed.

use std::ffi::CString;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// Path of a file holding the root key as 64 hex characters. Superuser-only
/// to set (PGC_SUSET) and to see (GUC_SUPERUSER_ONLY): it names where the
/// key lives, which ordinary roles have no business knowing.
pub static ROOT_KEY_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

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
    // Refuse typo'd han_crypto.* settings instead of keeping placeholders.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"han_crypto".as_ptr()) };
}

/// The configured root key file, if any (empty counts as unset).
pub fn root_key_file() -> Option<String> {
    ROOT_KEY_FILE
        .get()
        .and_then(|c| c.into_string().ok())
        .filter(|s| !s.trim().is_empty())
}
