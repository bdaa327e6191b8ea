//! The redactor inside the backend: the built-in rules plus operators'
//! rules and allowlist from the catalog, cached per backend and dropped when
//! those tables change (any session, from its next statement); protect()'s
//! per-column redaction policy; and counters of what was redacted (types
//! and numbers only, never values).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use han_crypto_core::redact::{self, AllowPattern, CustomRule, Finding, Group, Policy, Scanner};
use pgrx::pg_sys;
use serde_json::Value;

use crate::catalog;
use crate::error::{quoted, HcError, HcResult};

thread_local! {
    static SCANNER: RefCell<Option<Rc<Scanner>>> = const { RefCell::new(None) };
    /// OID of han_crypto.redaction_rules once known; changes to the rules or
    /// the allowlist invalidate it (see the tables' statement triggers).
    static WATCHED: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
    static COUNTS: RefCell<BTreeMap<String, i64>> = const { RefCell::new(BTreeMap::new()) };
}

/// Relcache callback (keyring.rs): forget the compiled rules.
pub fn on_relcache(relid: pg_sys::Oid) {
    if relid == pg_sys::InvalidOid || relid == WATCHED.get() {
        SCANNER.with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                *s = None;
            }
        });
    }
}

/// The scanner for this backend's current rules.
pub fn scanner() -> Rc<Scanner> {
    if let Some(s) = SCANNER.with(|s| s.borrow().clone()) {
        return s;
    }
    let (rows, allow_rows, rules_oid, _allow_oid) = catalog::redaction_config();
    let mut rules = Vec::with_capacity(rows.len());
    for r in rows {
        match CustomRule::new(&r.name, &r.pattern, &r.kind, &r.keywords, r.min_entropy) {
            Ok(rule) => rules.push(rule),
            // Refused when stored (CHECK); only a hand-edited catalog gets here.
            Err(_) => pgrx::warning!(
                "han_crypto: redaction rule {} does not compile and is skipped",
                quoted(&r.name)
            ),
        }
    }
    let allow = allow_rows
        .iter()
        .filter_map(|p| AllowPattern::new(p).ok())
        .collect();
    let scanner = Rc::new(Scanner::new(rules, allow));
    WATCHED.set(rules_oid);
    SCANNER.with(|s| *s.borrow_mut() = Some(scanner.clone()));
    scanner
}

/// Validates an operator's rule; the message names the problem, never
/// echoes the pattern.
pub fn check_rule(
    name: &str,
    pattern: &str,
    kind: &str,
    keywords: &[String],
    min_entropy: f32,
) -> HcResult<()> {
    if !(0.0..=8.0).contains(&min_entropy) {
        return Err(HcError::InvalidArgument(
            "min_entropy must be between 0 and 8 bits per character".into(),
        ));
    }
    CustomRule::new(name, pattern, kind, keywords, min_entropy)
        .map(|_| ())
        .map_err(rule_error)
}

pub fn check_allow(pattern: &str) -> HcResult<()> {
    AllowPattern::new(pattern).map(|_| ()).map_err(rule_error)
}

fn rule_error(e: redact::RuleError) -> HcError {
    match e {
        redact::RuleError::InvalidRegex(m) => HcError::InvalidPattern(m),
        other => HcError::InvalidArgument(other.to_string()),
    }
}

/// Counts redactions made on the write path.
pub fn record(found: &[Finding]) {
    COUNTS.with(|c| {
        let mut c = c.borrow_mut();
        for f in found {
            *c.entry(f.kind.to_string()).or_default() += 1;
        }
    });
}

pub fn counts() -> Vec<(String, i64)> {
    COUNTS.with(|c| c.borrow().iter().map(|(k, v)| (k.clone(), *v)).collect())
}

pub fn reset_counts() {
    COUNTS.with(|c| c.borrow_mut().clear());
}

/// Memory a redaction of `input` may need at once: the redactor rewrites a
/// text in up to two passes, each a copy that cannot fail, and may read a
/// decoded copy of its string-literal escapes.
fn ensure_room_for(input: &str) -> HcResult<()> {
    let need = input.len().saturating_mul(3).saturating_add(64 * 1024);
    Ok(han_crypto_core::buffer::ensure_available(need)?)
}

/// Runs the scanner, turning a panic (a defect) into an error that quotes
/// nothing: the panic's own message can hold part of the text, and pgrx
/// would report it to the client and the server log. Fails closed. Only
/// pure Rust may run inside (load the scanner first): a PostgreSQL error
/// travels as a panic too and must not be caught here.
pub fn guarded<T>(scan: impl FnOnce() -> T) -> HcResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(scan))
        .map_err(|_| HcError::RedactionFailed)
}

/// The confidence han_crypto.redaction_min_confidence asks of a finding.
pub fn min_confidence() -> f32 {
    crate::gucs::REDACTION_MIN_CONFIDENCE.get() as f32
}

/// Redacts text with the current rules, keeping findings of at least the
/// configured confidence.
pub fn text<'a>(input: &'a str, policy: Policy) -> HcResult<(Cow<'a, str>, Vec<Finding>)> {
    ensure_room_for(input)?;
    let policy = policy.with_min_confidence(min_confidence());
    let scanner = scanner();
    guarded(|| scanner.redact(input, policy))
}

/// A redacted text, its findings, and the values its new markers replaced.
pub type Redacted = (String, Vec<Finding>, Vec<Kept>);

/// `text`, also returning each removed value with its marker's ordinal.
pub fn text_keeping(input: &str, policy: Policy) -> HcResult<Redacted> {
    ensure_room_for(input)?;
    let policy = policy.with_min_confidence(min_confidence());
    let scanner = scanner();
    let (out, found, removed) = guarded(|| scanner.redact_keeping(input, policy))?;
    let kept = with_ordinals(&out, removed);
    Ok((out.into_owned(), found, kept))
}

/// `json_text`, also returning each removed value with its marker's ordinal.
pub fn json_text_keeping(input: &str, policy: Policy) -> HcResult<Option<Redacted>> {
    ensure_room_for(input)?;
    let policy = policy.with_min_confidence(min_confidence());
    let scanner = scanner();
    Ok(
        guarded(|| redact::json::redact_text_keeping(&scanner, input, policy))?.map(
            |(out, found, removed)| {
                let kept = with_ordinals(&out, removed);
                (out, found, kept)
            },
        ),
    )
}

/// A removed value and the ordinal of its marker among the markers of the
/// redacted text (which is what restoring it looks for).
pub struct Kept {
    pub ordinal: u32,
    pub kind: String,
    pub value: zeroize::Zeroizing<String>,
}

fn with_ordinals(out: &str, removed: Vec<redact::Removed>) -> Vec<Kept> {
    let ats: Vec<usize> = removed.iter().map(|r| r.at).collect();
    redact::marker_ordinals(out, &ats)
        .into_iter()
        .zip(removed)
        .filter_map(|(o, r)| {
            Some(Kept {
                ordinal: u32::try_from(o?).ok()?,
                kind: r.kind.into_owned(),
                value: r.value,
            })
        })
        .collect()
}

/// Redacts jsonb text (PostgreSQL's output form), keeping numbers exact.
pub fn json_text(input: &str, policy: Policy) -> HcResult<Option<(String, Vec<Finding>)>> {
    ensure_room_for(input)?;
    let policy = policy.with_min_confidence(min_confidence());
    let scanner = scanner();
    guarded(|| redact::json::redact_text(&scanner, input, policy))
}

const OPTION_KEYS: &[&str] = &[
    "redact",
    "redact_groups",
    "redaction",
    "quarantine_keyring",
    "quarantine_days",
    "compress",
    "columns",
];
const COLUMN_KEYS: &[&str] = &[
    "redact",
    "redact_groups",
    "redaction",
    "quarantine_days",
    "compress",
];

/// The keyring quarantined values are sealed under unless the options name
/// another, and how long they are kept by default.
pub const QUARANTINE_KEYRING: &str = "quarantine";
const QUARANTINE_DAYS: i32 = 30;

/// Where a column's removed values go when its redaction is reversible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantine {
    pub keyring: String,
    pub days: i32,
}

/// The quarantine keyring a table's options name (whether or not any
/// column quarantines now: entries may remain from before).
pub fn quarantine_keyring(options: &Value) -> HcResult<String> {
    match options.get("quarantine_keyring") {
        None => Ok(QUARANTINE_KEYRING.to_string()),
        Some(Value::String(k)) if !k.is_empty() => Ok(k.clone()),
        Some(_) => Err(HcError::InvalidArgument(
            "quarantine_keyring must be a keyring's name".into(),
        )),
    }
}

/// A column's quarantine: `{"redaction": "quarantine"}` (table-wide or per
/// column; the default is "redact", which keeps nothing) and
/// `"quarantine_days"` (1–3650, default 30). `None` for a column that is
/// not redacted or whose redaction keeps nothing.
pub fn column_quarantine(options: &Value, column: &str) -> HcResult<Option<Quarantine>> {
    let col = options.get("columns").and_then(|c| c.get(column));
    let setting = |key: &str| col.and_then(|c| c.get(key)).or_else(|| options.get(key));
    let mode = match setting("redaction") {
        None => "redact",
        Some(Value::String(m)) if m == "redact" || m == "quarantine" => m.as_str(),
        Some(_) => {
            return Err(HcError::InvalidArgument(
                "\"redaction\" must be \"redact\" (removed values are gone) or \"quarantine\" (kept sealed for a while)".into(),
            ))
        }
    };
    let days = match setting("quarantine_days") {
        None => QUARANTINE_DAYS,
        Some(v) => v
            .as_i64()
            .filter(|d| (1..=3650).contains(d))
            .map(|d| d as i32)
            .ok_or_else(|| {
                HcError::InvalidArgument(
                    "quarantine_days must be a whole number of days from 1 to 3650".into(),
                )
            })?,
    };
    let keyring = quarantine_keyring(options)?;
    if mode != "quarantine" || column_policy(options, column)?.is_none() {
        return Ok(None);
    }
    Ok(Some(Quarantine { keyring, days }))
}

/// A boolean option of one column: its own setting, else the table's, else false.
pub fn column_flag(options: &Value, column: &str, key: &str) -> HcResult<bool> {
    let col = options.get("columns").and_then(|c| c.get(column));
    col.and_then(|c| c.get(key))
        .or_else(|| options.get(key))
        .map(|v| {
            v.as_bool().ok_or_else(|| {
                HcError::InvalidArgument(format!(
                    "{q_key} must be true or false",
                    q_key = quoted(key)
                ))
            })
        })
        .transpose()
        .map(|v| v.unwrap_or(false))
}

fn groups_of(v: &Value) -> HcResult<Policy> {
    let list = v.as_array().ok_or_else(|| {
        HcError::InvalidArgument("redact_groups must be an array of group names".into())
    })?;
    let mut groups = Vec::with_capacity(list.len());
    for g in list {
        let name = g.as_str().unwrap_or_default();
        groups.push(Group::parse(name).ok_or_else(|| {
            HcError::InvalidArgument(format!(
                "unknown redaction group {q_name} (known: vendor, structural, context, custom)",
                q_name = quoted(name)
            ))
        })?);
    }
    Ok(Policy::only(&groups))
}

/// The redaction policy of one protected column, from protect()'s options:
/// `{"redact": true, "redact_groups": [...], "columns": {"col": {"redact": false}}}`.
/// `None` when the column is not redacted.
pub fn column_policy(options: &Value, column: &str) -> HcResult<Option<Policy>> {
    let col = options.get("columns").and_then(|c| c.get(column));
    let on = col
        .and_then(|c| c.get("redact"))
        .or_else(|| options.get("redact"))
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| HcError::InvalidArgument("\"redact\" must be true or false".into()))
        })
        .transpose()?
        .unwrap_or(true);
    if !on {
        return Ok(None);
    }
    match col
        .and_then(|c| c.get("redact_groups"))
        .or_else(|| options.get("redact_groups"))
    {
        Some(g) => groups_of(g).map(Some),
        None => Ok(Some(Policy::ALL)),
    }
}

/// Checks protect()'s options before they are stored.
pub fn validate_options(options: &Value, columns: &[String]) -> HcResult<()> {
    let obj = options
        .as_object()
        .ok_or_else(|| HcError::InvalidArgument("options must be a JSON object".into()))?;
    if let Some(k) = obj.keys().find(|k| !OPTION_KEYS.contains(&k.as_str())) {
        return Err(HcError::InvalidArgument(format!(
            "unknown protect() option {q_k} (known: redact, redact_groups, redaction, quarantine_keyring, quarantine_days, compress, columns)",
            q_k = quoted(k)
        )));
    }
    if let Some(cols) = obj.get("columns") {
        let cols = cols.as_object().ok_or_else(|| {
            HcError::InvalidArgument(
                "options.columns must be an object keyed by column name".into(),
            )
        })?;
        for (name, spec) in cols {
            if !spec.is_object() {
                return Err(HcError::InvalidArgument(format!(
                    "options.columns.{q_name} must be an object of column options",
                    q_name = quoted(name)
                )));
            }
            if !columns.contains(name) {
                return Err(HcError::InvalidArgument(format!(
                    "options.columns names {q_name}, which is not a protected column",
                    q_name = quoted(name)
                )));
            }
            if let Some(k) = spec
                .as_object()
                .and_then(|o| o.keys().find(|k| !COLUMN_KEYS.contains(&k.as_str())))
            {
                return Err(HcError::InvalidArgument(format!(
                    "unknown column option {q_k} (known: redact, redact_groups, redaction, quarantine_days, compress)",
                    q_k = quoted(k)
                )));
            }
        }
    }
    for c in columns {
        column_policy(options, c)?;
        column_quarantine(options, c)?;
        column_flag(options, c, "compress")?;
    }
    quarantine_keyring(options)?;
    Ok(())
}
