//! Secret detection and redaction in SQL: scan_secrets(), explain_redaction(), redact(),
//! redact_jsonb(), what the write path redacted, and the checks behind the
//! operators' rule and allowlist tables.

use han_crypto_core::redact::{rules, Policy};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::redaction;
use crate::varlena::OwnedText;

/// Every secret in `input`: its type, character positions (1-based start,
/// exclusive end, so `substr(input, start_pos, end_pos - start_pos)` is the
/// secret), confidence and the rule that found it.
#[pg_extern(stable, strict, parallel_unsafe)]
fn scan_secrets(
    input: &str,
) -> TableIterator<
    'static,
    (
        name!(kind, String),
        name!(start_pos, i32),
        name!(end_pos, i32),
        name!(confidence, f32),
        name!(rule, String),
    ),
> {
    let scanner = redaction::scanner();
    let found = match redaction::guarded(|| scanner.scan(input, Policy::ALL)) {
        Ok(found) => found,
        Err(e) => {
            ErrorReport::from(e).report(PgLogLevel::ERROR);
            unreachable!("an ERROR does not return")
        }
    };
    // Byte offsets to character positions, in one pass over the text.
    let mut rows = Vec::with_capacity(found.len());
    let (mut byte, mut chars) = (0usize, 0i32);
    let mut char_at = |target: usize| {
        chars += input[byte..target].chars().count() as i32;
        byte = target;
        chars
    };
    for f in found {
        let start = char_at(f.start) + 1;
        let end = char_at(f.end) + 1;
        rows.push((
            f.kind.into_owned(),
            start,
            end,
            f.confidence,
            f.rule.into_owned(),
        ));
    }
    TableIterator::new(rows)
}

/// For a person debugging a surprising redaction: every finding in `input`
/// with its position (as scan_secrets gives it), type, rule, confidence,
/// whether han_crypto.redaction_min_confidence lets it redact, and why the
/// rule fired. Never the value.
#[pg_extern(stable, strict, parallel_unsafe)]
fn explain_redaction(
    input: &str,
) -> TableIterator<
    'static,
    (
        name!(start_pos, i32),
        name!(end_pos, i32),
        name!(kind, String),
        name!(rule, String),
        name!(confidence, f32),
        name!(redacts, bool),
        name!(reason, String),
    ),
> {
    let bar = Policy::ALL.with_min_confidence(redaction::min_confidence());
    let rows: Vec<_> = scan_secrets(input)
        .map(|(kind, start, end, confidence, rule)| {
            let reason = han_crypto_core::redact::explain(&rule).to_string();
            (
                start,
                end,
                kind,
                rule,
                confidence,
                bar.keeps(confidence),
                reason,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// `input` with every secret replaced by `[REDACTED:<type>]`.
#[pg_extern(stable, strict, parallel_unsafe)]
fn redact(input: &str) -> Result<OwnedText, ErrorReport> {
    let (out, _) = redaction::text(input, Policy::ALL)?;
    Ok(OwnedText::copy_of_utf8(out.as_bytes())?)
}

/// redact_jsonb()'s worker, on jsonb's text form (see sql/finalize.sql):
/// only string literals are rewritten, so numbers keep every digit.
#[pg_extern(stable, strict, parallel_unsafe)]
fn _redact_json(input: &str) -> Result<OwnedText, ErrorReport> {
    let redacted = redaction::json_text(input, Policy::ALL)?.map(|(out, _)| out);
    Ok(OwnedText::copy_of_utf8(
        redacted.as_deref().unwrap_or(input).as_bytes(),
    )?)
}

/// How many secrets of each type the protection trigger redacted in this
/// session (since the last reset). Types and numbers only.
#[pg_extern(volatile, parallel_unsafe)]
fn redaction_stats() -> TableIterator<'static, (name!(kind, String), name!(redactions, i64))> {
    TableIterator::new(redaction::counts())
}

#[pg_extern(volatile, parallel_unsafe)]
fn reset_redaction_stats() {
    redaction::reset_counts();
}

/// The built-in redaction types and the rule group of each.
#[pg_extern(immutable, parallel_safe)]
fn redaction_types() -> TableIterator<'static, (name!(kind, String), name!(rule_group, String))> {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, g: &str| {
        if !rows.iter().any(|(x, _)| x == k) {
            rows.push((k.to_string(), g.to_string()));
        }
    };
    for r in rules::RULES {
        push(r.kind, r.group.name());
    }
    for k in ["password", "secret", "token", "api_key", "credential"] {
        push(k, "context");
    }
    push("password", "structural");
    push("kubernetes_secret", "structural");
    rows.sort();
    TableIterator::new(rows)
}

/// CHECK of han_crypto.redaction_rules: raises a clear error for a pattern
/// that does not compile or a malformed type, else true.
#[pg_extern(immutable, parallel_safe)]
fn _check_redaction_rule(
    name: &str,
    pattern: &str,
    kind: &str,
    keywords: Vec<Option<String>>,
    min_entropy: f32,
) -> Result<bool, ErrorReport> {
    let Some(keywords) = keywords.into_iter().collect::<Option<Vec<String>>>() else {
        return Err(crate::error::HcError::NullArgument("keywords").into());
    };
    redaction::check_rule(name, pattern, kind, &keywords, min_entropy)?;
    Ok(true)
}

/// CHECK of han_crypto.redaction_allowlist.
#[pg_extern(immutable, parallel_safe)]
fn _check_redaction_allow(pattern: &str) -> Result<bool, ErrorReport> {
    redaction::check_allow(pattern)?;
    Ok(true)
}

/// Statement trigger helper: tells every backend (at commit) that the rules
/// or the allowlist changed.
#[pg_extern(volatile, parallel_unsafe)]
fn _redaction_rules_changed() -> Result<(), ErrorReport> {
    crate::catalog::changed(crate::catalog::Table::RedactionRules);
    crate::audit::record_single(
        crate::audit::Access::new("redaction_rules_change")
            .object("han_crypto.redaction_rules/allowlist"),
    )?;
    Ok(())
}
