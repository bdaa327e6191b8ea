//! Keeps passphrases, tokens and detected secrets out of the server log,
//! and hides nothing else.
//!
//! What is secret in a statement is decided from PostgreSQL's lexical
//! grammar (han_crypto_core::log_policy over sql_lex), not from text
//! patterns: the arguments of the calls that take a passphrase or a token,
//! in whatever layout (comments, newlines, quoting, named notation), inside
//! DO blocks and function bodies, through PREPARE/EXECUTE, and the bind
//! parameters passed to those arguments. Exactly those are replaced by
//! `[REDACTED:<argument>]`; comments that merely mention such a function
//! change nothing, so no statement can hide itself from log_statement.
//!
//! PostgreSQL's own parser is not run here: this hook runs inside error
//! reporting, where an error raised by the parser (a statement that does
//! not parse, or stack depth) cannot be recovered from safely.
//!
//! Where secrets appear and what this hook does:
//! * statement lines (log_statement, log_min_duration_statement): the
//!   statement's secret arguments are masked in the message, and secret
//!   bind parameters in the `parameters:` DETAIL;
//! * the `STATEMENT:` line of any report: `debug_query_string` is pointed at
//!   the masked copy for the rest of the statement;
//! * CONTEXT lines quoting SQL (an error inside a DO block or a function)
//!   and `... with parameters:` contexts (log_parameter_max_length_on_error);
//! * secrets the built-in scanner detects (API keys, passwords, private
//!   keys) in any message, DETAIL or statement are replaced too. A DETAIL
//!   a client also receives keeps its text for the client: the server log
//!   gets the scrubbed copy (detail_log).
//!
//! The hook exists once han_crypto's library is loaded in the backend. For
//! the extended protocol that happens at Bind of a statement that calls a
//! han_crypto function, before it is logged at Execute; but an INSERT into a
//! protected table loads the library only when its trigger fires, after
//! the statement and its parameters were logged. The setting
//! session_preload_libraries = 'han_crypto' (per database or role) closes
//! that gap; protect() warns when statements are logged without it.

use std::cell::Cell;
use std::ffi::{c_char, CStr, CString};

use han_crypto_core::log_policy::{self, Analysis, Options, SecretParams};
use han_crypto_core::redact::{builtin, Policy};
use pgrx::pg_sys;

static mut PREVIOUS: pg_sys::emit_log_hook_type = None;

/// What a statement passes that its reports must not show.
#[derive(Clone, Default)]
struct Findings {
    /// Secret values PostgreSQL may echo in an error about the statement.
    echoed: Vec<String>,
    /// Its bind parameters that are secret.
    params: SecretParams,
    /// Whether it passes a passphrase or token at all.
    passes_secrets: bool,
}

impl Findings {
    fn of(analysis: &Analysis, query: &str) -> Self {
        Findings {
            echoed: analysis.secret_texts(query),
            params: analysis.secret_params().clone(),
            passes_secrets: !analysis.masks().is_empty() || !analysis.secret_params().is_empty(),
        }
    }
}

thread_local! {
    /// Set while [`log_own_line`] reports: the line needs no scan.
    static OWN_LINE: Cell<bool> = const { Cell::new(false) };
    /// The masked copy of the statement that debug_query_string points to,
    /// allocated in TopMemoryContext (one at a time; freed when replaced).
    static MASKED_QUERY: Cell<*mut c_char> = const { Cell::new(std::ptr::null_mut()) };
    /// What was found in the statement MASKED_QUERY stands for, whose masked
    /// text no longer shows it: later reports of the same statement use it.
    static MASKED_FINDINGS: std::cell::RefCell<Findings> = std::cell::RefCell::new(Findings::default());
}

/// Logs `line` at LOG without scanning it: only for lines han_crypto
/// composed from values it already cleaned (the audit writer's checkpoint
/// and event lines, many per second, where a scan cost more than the
/// write). Backend-local; nothing reachable from SQL sets it.
pub fn log_own_line(line: &str) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            OWN_LINE.set(false);
        }
    }
    OWN_LINE.set(true);
    let _reset = Reset;
    pgrx::log!("{line}");
}

/// Installs the hook (from _PG_init), chaining any previous one.
pub fn install() {
    // SAFETY: _PG_init runs once per backend, single-threaded.
    unsafe {
        PREVIOUS = pg_sys::emit_log_hook;
        pg_sys::emit_log_hook = Some(scrub);
    }
}

/// The server's stored source of prepared statement `name`, for EXECUTE.
fn prepared_source(name: &str) -> Option<String> {
    let c = CString::new(name).ok()?;
    // SAFETY: a hash lookup that raises nothing with throwError = false;
    // the plan source and its query string live as long as the statement.
    unsafe {
        let ps = pg_sys::FetchPreparedStatement(c.as_ptr(), false);
        if ps.is_null() || (*ps).plansource.is_null() || (*(*ps).plansource).query_string.is_null()
        {
            return None;
        }
        Some(
            CStr::from_ptr((*(*ps).plansource).query_string)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// How this session reads SQL text (any role may turn
/// standard_conforming_strings off, which changes where strings end).
fn options() -> Options {
    Options {
        // SAFETY: reading a GUC variable.
        standard_conforming_strings: unsafe { pg_sys::standard_conforming_strings },
    }
}

/// `text` with detected secrets replaced by `[REDACTED:<type>]`, if any.
fn redact_detected(text: &str) -> Option<String> {
    // A scanner defect must not let the text through, nor quote it.
    match crate::redaction::guarded(|| builtin().redact(text, Policy::ALL)) {
        Ok((out, found)) => (!found.is_empty()).then(|| out.into_owned()),
        Err(_) => Some("[REDACTED:unscanned]".to_owned()),
    }
}

/// Secret arguments masked, then detected secrets redacted; `None` when
/// nothing changes.
fn scrubbed(text: &str, analysis: Option<&Analysis>) -> Option<String> {
    let masked = match analysis {
        Some(a) => a.masked(text),
        None => log_policy::mask_sql_with(text, &prepared_source, options()),
    };
    let base = masked.as_deref().unwrap_or(text);
    let constants = log_policy::redact_in_string_constants(base, options());
    let base = constants.as_deref().unwrap_or(base);
    redact_detected(base).or(constants).or(masked)
}

/// A report's string; bytes that are not UTF-8 (never the case in the UTF8
/// databases han_crypto installs in, but other databases' backends load the
/// library too) are replaced, so scrubbing is never skipped.
unsafe fn text<'a>(p: *const c_char) -> Option<std::borrow::Cow<'a, str>> {
    // SAFETY: the caller passes NULL or a NUL-terminated string.
    (!p.is_null()).then(|| String::from_utf8_lossy(unsafe { CStr::from_ptr(p) }.to_bytes()))
}

unsafe fn palloc_str(s: &str) -> *mut c_char {
    let c = CString::new(s.replace('\0', "")).unwrap_or_default();
    // SAFETY: pstrdup copies into the current (error) memory context.
    unsafe { pg_sys::pstrdup(c.as_ptr()) }
}

/// Points debug_query_string (what every `STATEMENT:` line prints) at
/// `masked` for the rest of the statement.
unsafe fn replace_statement(masked: &str) {
    let c = CString::new(masked.replace('\0', "")).unwrap_or_default();
    // SAFETY: a copy in TopMemoryContext outlives the statement; the
    // previous copy is freed only once nothing points at it any more.
    unsafe {
        let copy = pg_sys::MemoryContextStrdup(pg_sys::TopMemoryContext, c.as_ptr());
        let old = MASKED_QUERY.replace(copy);
        pg_sys::debug_query_string = copy;
        if !old.is_null() {
            pg_sys::pfree(old.cast());
        }
    }
}

/// A statement line's message: the statement text (which ends the
/// message) masked, its prefix ("statement: ", "execute s1: ", "duration:
/// ...") kept.
fn scrub_statement_line(message: &str, query: &str, analysis: &Analysis) -> Option<String> {
    if !query.is_empty() {
        if let Some(prefix) = message.strip_suffix(query) {
            return scrubbed(query, Some(analysis)).map(|q| format!("{prefix}{q}"));
        }
    }
    scrubbed(message, None)
}

/// `text` with every occurrence of the statement's secret values replaced.
fn without_echoes(text: &str, echoed: &[String]) -> Option<String> {
    let mut out: Option<String> = None;
    for secret in echoed {
        let current = out.as_deref().unwrap_or(text);
        if current.contains(secret.as_str()) {
            out = Some(current.replace(secret.as_str(), "[REDACTED:secret]"));
        }
    }
    out
}

/// Where the plan starts in auto_explain's `duration: … ms  plan:` report.
fn auto_explain_plan_start(message: &str) -> Option<usize> {
    if !message.starts_with("duration: ") {
        return None;
    }
    message.find(" plan:").map(|at| at + " plan:".len())
}

/// Whether an SQLSTATE is of class 22 (data exception: invalid input,
/// out-of-range values), whose messages quote the offending value.
fn is_data_exception(sqlerrcode: i32) -> bool {
    const CATEGORY: i32 = (1 << 12) - 1;
    sqlerrcode & CATEGORY == pgrx::PgSqlErrorCode::ERRCODE_DATA_EXCEPTION as i32 & CATEGORY
}

/// `text` with the contents of every `"…"` replaced, if it quotes any.
fn without_quoted_values(text: &str) -> Option<String> {
    let mut parts = text.split('"');
    let mut out = String::with_capacity(text.len());
    out.push_str(parts.next()?);
    let mut changed = false;
    let mut inside = true;
    for part in parts {
        out.push('"');
        if inside && !part.is_empty() {
            out.push_str("[REDACTED:secret]");
            changed = true;
        } else {
            out.push_str(part);
        }
        inside = !inside;
    }
    changed.then_some(out)
}

/// Secret parameters masked, detected secrets redacted in each value as it
/// was sent (the log doubles its quotes), then in the rest of the text.
fn scrub_parameters(text: &str, secret: &SecretParams) -> Option<String> {
    let masked = log_policy::mask_parameter_list(text, secret);
    let base = masked.as_deref().unwrap_or(text);
    let values = log_policy::redact_parameter_values(base, redact_detected);
    let base = values.as_deref().unwrap_or(base);
    redact_detected(base).or(values).or(masked)
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn scrub(edata: *mut pg_sys::ErrorData) {
    // SAFETY: PostgreSQL passes a valid ErrorData whose strings are
    // NUL-terminated or NULL; replacements are palloc'd in the current
    // (error) context, as elog.c's own are.
    unsafe {
        if let Some(e) = edata.as_mut() {
            if !OWN_LINE.get() {
                scrub_report(e);
            }
        }
        if let Some(previous) = PREVIOUS {
            previous(edata);
        }
    }
}

unsafe fn scrub_report(e: &mut pg_sys::ErrorData) {
    // SAFETY: see `scrub`.
    unsafe {
        let query_ptr = pg_sys::debug_query_string;
        let query = text(query_ptr).unwrap_or_default();
        let query = query.as_ref();
        // The statement is analysed once: its later reports find the masked
        // copy this hook installed, and what was found in the original.
        let ours = !query_ptr.is_null() && query_ptr == MASKED_QUERY.get().cast_const();
        let (analysis, found) = if ours {
            (
                Analysis::default(),
                MASKED_FINDINGS.with(|f| f.borrow().clone()),
            )
        } else {
            let analysis = log_policy::analyze_with(query, &prepared_source, options());
            let found = Findings::of(&analysis, query);
            if let Some(masked) = scrubbed(query, Some(&analysis)).filter(|_| !query.is_empty()) {
                replace_statement(&masked);
                MASKED_FINDINGS.with(|f| *f.borrow_mut() = found.clone());
            }
            (analysis, found)
        };
        let echoed = &found.echoed;
        // debug_print_parse/_rewritten/_plan (settable by any role) print the
        // statement's tree, constants as bytes: none of a statement that
        // passes a secret.
        if found.passes_secrets && e.elevel == pg_sys::LOG as i32 {
            if let Some(message) = text(e.message) {
                if ["parse tree:", "rewritten parse tree:", "plan:"].contains(&message.as_ref()) {
                    e.detail = palloc_str(
                        "tree hidden by han_crypto: the statement passes a passphrase or token",
                    );
                    e.detail_log = std::ptr::null_mut();
                } else if let Some(at) = auto_explain_plan_start(&message) {
                    // auto_explain's plan (any format) shows constants the
                    // planner computed from the secret (upper('…') folded),
                    // which no reading of the statement's text can find.
                    e.message = palloc_str(&format!(
                        "{} [plan hidden by han_crypto: the statement passes a passphrase or token]",
                        &message[..at]
                    ));
                }
            }
        }
        let secret = &found.params;
        // Statement lines are LOG reports whose message ends with the
        // statement (also when client_min_messages sends them to the client).
        let statement_line = e.elevel == pg_sys::LOG as i32;
        if let Some(message) = text(e.message) {
            let message = message.as_ref();
            let new = if statement_line {
                scrub_statement_line(message, query, &analysis)
            } else {
                log_policy::mask_quoted_sql_with(message, &prepared_source, options())
                    .map(|m| redact_detected(&m).unwrap_or(m))
                    .or_else(|| redact_detected(message))
            };
            if let Some(new) = new {
                e.message = palloc_str(&new);
            }
        }
        // DETAIL: bind parameters ("parameters: $1 = ..."), "prepare: ..."
        // of EXECUTE, or input an error echoes. A client that receives the
        // report keeps its DETAIL; the server log gets the scrubbed copy.
        // Other sessions' statements appear in DETAIL too (a deadlock report
        // quotes each process's query): their secret arguments are masked.
        if let Some(detail) = text(e.detail) {
            let detail = detail.as_ref();
            let new = scrub_parameters(detail, secret).or_else(|| scrubbed(detail, None));
            if let Some(new) = new {
                if e.output_to_client {
                    e.detail_log = palloc_str(&new);
                } else {
                    e.detail = palloc_str(&new);
                }
            }
        }
        if let Some(detail_log) = text(e.detail_log) {
            let detail_log = detail_log.as_ref();
            if let Some(new) =
                scrub_parameters(detail_log, secret).or_else(|| scrubbed(detail_log, None))
            {
                e.detail_log = palloc_str(&new);
            }
        }
        // CONTEXT: SQL quoted from a DO block or function, and the bind
        // parameters of the portal that failed.
        if let Some(context) = text(e.context) {
            let context = context.as_ref();
            let quoted = log_policy::mask_quoted_sql_with(context, &prepared_source, options());
            let base = quoted.as_deref().unwrap_or(context);
            let new = scrub_parameters(base, secret).or(quoted);
            if let Some(new) = new {
                e.context = palloc_str(&new);
            }
        }
        // Invalid input (class 22) of a statement that passes a secret may
        // quote a value computed from it (upper('…')::int): the quoted
        // payloads go, for client and log alike.
        if found.passes_secrets && is_data_exception(e.sqlerrcode) {
            for field in [&mut e.message, &mut e.detail, &mut e.detail_log] {
                if let Some(t) = text(*field) {
                    if let Some(new) = without_quoted_values(&t) {
                        *field = palloc_str(&new);
                    }
                }
            }
        }
        // Errors that echo a token of the statement (a syntax error at the
        // passphrase, an invalid input, a column named like it) carry no
        // secret value either.
        if !echoed.is_empty() {
            for field in [
                &mut e.message,
                &mut e.detail,
                &mut e.detail_log,
                &mut e.hint,
                &mut e.context,
            ] {
                if let Some(t) = text(*field) {
                    if let Some(new) = without_echoes(&t, echoed) {
                        *field = palloc_str(&new);
                    }
                }
            }
        }
    }
}

/// Whether the server logs statements (and so bind parameters) at all.
fn statements_logged() -> bool {
    // SAFETY: reading GUC variables.
    unsafe {
        pg_sys::log_statement >= pg_sys::LogStmtLevel::LOGSTMT_MOD as i32
            || pg_sys::log_min_duration_statement >= 0
    }
}

/// Whether han_crypto is loaded into every session before its first statement.
fn preloaded() -> bool {
    // SAFETY: reading GUC string variables (NULL or NUL-terminated).
    unsafe {
        [
            pg_sys::session_preload_libraries_string,
            pg_sys::shared_preload_libraries_string,
            pg_sys::local_preload_libraries_string,
        ]
        .iter()
        .filter_map(|p| text(*p))
        .any(|list| {
            list.split(',')
                .any(|l| l.trim().trim_matches('"').ends_with("han_crypto"))
        })
    }
}

/// Warns (from protect()) when statements are logged but the library is
/// not preloaded: the first write of a new connection is logged, with its
/// bind parameters, before the trigger loads the library and its scrubbing.
pub fn warn_if_first_writes_unscrubbed() {
    if statements_logged() && !preloaded() {
        pgrx::pg_sys::panic::ErrorReport::new(
            pgrx::PgSqlErrorCode::ERRCODE_WARNING,
            "statements are logged, but han_crypto is not preloaded: the first INSERT or UPDATE of a new connection reaches the server log before han_crypto can scrub detected secrets from it",
            "han_crypto",
        )
        .set_hint("Set session_preload_libraries = 'han_crypto' (ALTER DATABASE … SET or ALTER ROLE … SET), or keep log_statement below 'mod' and log_min_duration_statement at -1.")
        .report(pgrx::PgLogLevel::WARNING);
    }
}
