//! Keeps passphrases, tokens and detected secrets out of the server log.
//!
//! With `log_statement = 'all'` (or log_min_duration_statement) PostgreSQL
//! logs every statement and, for the extended protocol, its bind parameters
//! in a DETAIL line. For statements that call han_crypto's functions taking a
//! passphrase or a token, this `emit_log_hook` replaces that DETAIL (and the
//! statement text, which may carry them as literals) before the line is
//! written.
//!
//! Every other line has the secrets the built-in scanner detects replaced by
//! `[REDACTED:<type>]` in its message and DETAIL (the statement and bind
//! parameters of log_statement, an error echoing its input), and an error's
//! STATEMENT line is dropped when the statement carries one. Operators'
//! custom rules are not applied here: reading them needs a transaction, and a
//! log hook may run outside one.
//!
//! The hook exists once han_crypto's library is loaded in the backend. For
//! the extended protocol that happens at Bind, before the statement is
//! logged at Execute, so bind parameters are covered from the first call.
//! A literal in a simple-protocol query sent before the library was loaded
//! in that session cannot be covered: send secrets as bind parameters, or
//! preload the library (session_preload_libraries = 'han_crypto').

use std::ffi::CStr;

use han_crypto_core::log_policy::mentions_secret_call;
use han_crypto_core::redact::{builtin, Policy};
use pgrx::pg_sys;

/// A palloc'd copy of `text` with detected secrets redacted, or `None` when
/// it has none.
unsafe fn redacted(text: &str) -> Option<*mut std::ffi::c_char> {
    let (out, found) = builtin().redact(text, Policy::ALL);
    if found.is_empty() {
        return None;
    }
    let c = std::ffi::CString::new(out.into_owned()).ok()?;
    // SAFETY: pstrdup copies the NUL-terminated string into the current context.
    Some(unsafe { pg_sys::pstrdup(c.as_ptr()) })
}

static mut PREVIOUS: pg_sys::emit_log_hook_type = None;

/// Installs the hook (from _PG_init), chaining any previous one.
pub fn install() {
    // SAFETY: _PG_init runs once per backend, single-threaded.
    unsafe {
        PREVIOUS = pg_sys::emit_log_hook;
        pg_sys::emit_log_hook = Some(scrub);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn scrub(edata: *mut pg_sys::ErrorData) {
    // SAFETY: PostgreSQL passes a valid ErrorData; strings are NUL-terminated
    // or NULL, and replacements are palloc'd in the current (error) context.
    unsafe {
        if let Some(e) = edata.as_mut() {
            let text = |p: *mut std::ffi::c_char| {
                if p.is_null() {
                    ""
                } else {
                    CStr::from_ptr(p).to_str().unwrap_or("")
                }
            };
            let query = pg_sys::debug_query_string;
            let statement_is_sensitive =
                !query.is_null() && mentions_secret_call(text(query.cast_mut()));
            // Statement log lines (log_statement, log_min_duration_statement)
            // are LOG level: their message is the statement, their DETAIL the
            // bind parameters. Messages of ERRORs and NOTICEs are han_crypto's
            // or PostgreSQL's own words and stay as they are.
            if e.elevel < pg_sys::PGERROR as i32 && mentions_secret_call(text(e.message)) {
                e.message = pg_sys::pstrdup(
                    c"statement hidden by han_crypto: it passes a passphrase or token".as_ptr(),
                );
                if !e.detail.is_null() {
                    e.detail = pg_sys::pstrdup(c"parameters hidden by han_crypto".as_ptr());
                }
            }
            // Detected secrets anywhere else: statements and their bind
            // parameters, and messages that echo input.
            if let Some(m) = redacted(text(e.message)) {
                e.message = m;
            }
            if let Some(d) = redacted(text(e.detail)) {
                e.detail = d;
            }
            if !statement_is_sensitive && e.elevel >= pg_sys::PGERROR as i32 && !query.is_null() {
                let (_, found) = builtin().redact(text(query.cast_mut()), Policy::ALL);
                if !found.is_empty() {
                    e.hide_stmt = true;
                }
            }
            if statement_is_sensitive {
                // No STATEMENT: line, and no "parameters: $1 = ..." context
                // (log_parameter_max_length_on_error) for errors raised while
                // such a statement runs.
                e.hide_stmt = true;
                if text(e.context).contains("parameters: $") {
                    e.context = pg_sys::pstrdup(c"parameters hidden by han_crypto".as_ptr());
                }
            }
        }
        if let Some(previous) = PREVIOUS {
            previous(edata);
        }
    }
}
