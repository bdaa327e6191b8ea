//! Redaction of JSON documents: every string value anywhere is scanned as
//! text, and string values under keys that name a secret (`password`,
//! `api_key`, `client_secret`, …) are replaced whole. Keys, structure and
//! non-string values are kept.

use serde_json::Value;

use super::names::classify;
use super::placeholder::is_placeholder;
use super::{Finding, Policy, Scanner, MARKER_PREFIX};

/// Redacts `doc` in place; returns every finding (offsets are relative to
/// the string they were found in, and meaningless across strings).
pub fn redact_value(scanner: &Scanner, doc: &mut Value, policy: Policy) -> Vec<Finding> {
    let mut found = Vec::new();
    walk(scanner, doc, policy, &mut found);
    found
}

fn walk(scanner: &Scanner, v: &mut Value, policy: Policy, found: &mut Vec<Finding>) {
    match v {
        Value::String(s) => {
            let (out, f) = scanner.redact(s, policy);
            if !f.is_empty() {
                *s = out.into_owned();
                found.extend(f);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(scanner, i, policy, found)),
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if policy.allows(super::Group::Context) {
                    if let (Some(class), Value::String(s)) = (classify(key), &*value) {
                        if !s.is_empty() && !s.starts_with(MARKER_PREFIX) && !is_placeholder(s) {
                            let kind = class.kind();
                            found.push(Finding {
                                kind: kind.into(),
                                rule: "json_key".into(),
                                start: 0,
                                end: s.len(),
                                confidence: 0.8,
                            });
                            *value = Value::String(format!("{MARKER_PREFIX}{kind}]"));
                            continue;
                        }
                    }
                }
                walk(scanner, value, policy, found);
            }
        }
        _ => {}
    }
}
