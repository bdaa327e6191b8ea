//! Redaction of JSON documents: every string value anywhere is scanned as
//! text, and string values under keys that name a secret (`password`,
//! `api_key`, `client_secret`, …) are replaced whole, also inside an array
//! or object that is such a key's value (`{"password": ["…"]}`). Keys,
//! structure and non-string values are kept.

use serde_json::Value;

use super::names::classify;
use super::placeholder::is_placeholder;
use super::{Finding, Policy, Removed, Scanner, MARKER_PREFIX};

/// Redacts `doc` in place; returns every finding (offsets are relative to
/// the string they were found in, and meaningless across strings).
pub fn redact_value(scanner: &Scanner, doc: &mut Value, policy: Policy) -> Vec<Finding> {
    let mut found = Vec::new();
    walk(scanner, doc, policy, &mut found, &mut None);
    found
}

/// Where removed values go when they are kept (quarantine), with offsets
/// into the one string they came from.
type Keep<'k> = Option<&'k mut Vec<Removed>>;

fn walk(
    scanner: &Scanner,
    v: &mut Value,
    policy: Policy,
    found: &mut Vec<Finding>,
    keep: &mut Keep<'_>,
) {
    match v {
        Value::String(s) => {
            let (out, f, removed) = scanner.redact_inner(s, policy, keep.is_some());
            if !f.is_empty() {
                *s = out.into_owned();
                found.extend(f);
                if let Some(k) = keep.as_deref_mut() {
                    k.extend(removed);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| walk(scanner, i, policy, found, keep)),
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if policy.allows(super::Group::Context) {
                    // A key's name is evidence of 0.8; below the policy's
                    // bar the value is only scanned as text.
                    if let Some(class) = classify(key).filter(|_| policy.keeps(0.8)) {
                        let random_only = super::names::names_material(key);
                        if conceal(value, class.kind(), random_only, found, keep) {
                            continue;
                        }
                    }
                }
                walk(scanner, value, policy, found, keep);
            }
        }
        _ => {}
    }
}

/// Replaces the value of a secret-named key: a string whole (unless empty,
/// a marker or a placeholder), an array or object in every string it holds.
/// Returns whether `v` was handled here (other values are walked as usual).
/// `random_only`: the key names material that is often not secret (a
/// salt, a pepper): only random-looking strings are concealed.
fn conceal(
    v: &mut Value,
    kind: &'static str,
    random_only: bool,
    found: &mut Vec<Finding>,
    keep: &mut Keep<'_>,
) -> bool {
    match v {
        Value::String(s) => {
            if s.is_empty()
                || s.starts_with(MARKER_PREFIX)
                || is_placeholder(s)
                || random_only && !super::entropy::looks_random(s, 16)
            {
                return false;
            }
            found.push(Finding {
                kind: kind.into(),
                rule: "json_key".into(),
                start: 0,
                end: s.len(),
                confidence: 0.8,
            });
            let old = std::mem::replace(v, Value::String(format!("{MARKER_PREFIX}{kind}]")));
            if let (Some(k), Value::String(old)) = (keep.as_deref_mut(), old) {
                k.push(Removed {
                    at: 0,
                    kind: kind.into(),
                    value: zeroize::Zeroizing::new(old),
                });
            }
            true
        }
        Value::Array(items) => {
            for item in items {
                conceal(item, kind, random_only, found, keep);
            }
            true
        }
        Value::Object(map) => {
            for (_, item) in map.iter_mut() {
                conceal(item, kind, random_only, found, keep);
            }
            true
        }
        _ => false,
    }
}

/// Redacts JSON *text* in place of its string literals only: numbers,
/// whitespace and key order stay byte for byte (PostgreSQL's jsonb numbers
/// can exceed what a parsed `Value` would keep exactly). Returns `None` when
/// nothing was found. The text must be valid JSON (jsonb output is).
pub fn redact_text(
    scanner: &Scanner,
    text: &str,
    policy: Policy,
) -> Option<(String, Vec<Finding>)> {
    redact_text_inner(scanner, text, policy, false).map(|(out, found, _)| (out, found))
}

/// `redact_text`, also returning what each new marker replaced and the
/// byte offset of the marker in the output text.
pub fn redact_text_keeping(
    scanner: &Scanner,
    text: &str,
    policy: Policy,
) -> Option<(String, Vec<Finding>, Vec<Removed>)> {
    redact_text_inner(scanner, text, policy, true)
}

fn redact_text_inner(
    scanner: &Scanner,
    text: &str,
    policy: Policy,
    keep: bool,
) -> Option<(String, Vec<Finding>, Vec<Removed>)> {
    let b = text.as_bytes();
    let mut kept: Vec<Removed> = Vec::new();
    let mut out = String::new();
    let mut copied = 0;
    let mut found = Vec::new();
    let mut i = 0;
    // The key whose value comes next, if the last tokens were `"key" :`.
    let mut pending_key: Option<String> = None;
    // Inside the array or object that a secret-named key holds: that key,
    // and the nesting depth its value opened at. Every string in it is the
    // key's value.
    let mut depth = 0usize;
    let mut secret_scope: Option<(String, usize)> = None;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let end = (i + 1).min(b.len());
                i = end;
                let literal = &text[start..end];
                let Ok(value) = serde_json::from_str::<String>(literal) else {
                    continue;
                };
                let mut j = i;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if b.get(j) == Some(&b':') {
                    pending_key = Some(value);
                    continue;
                }
                let key = match &secret_scope {
                    Some((k, _)) => {
                        pending_key = None;
                        Some(k.clone())
                    }
                    None => pending_key.take(),
                };
                let mut v = Value::String(value);
                let mut removed = Vec::new();
                let mut sink: Keep<'_> = keep.then_some(&mut removed);
                let f = match key {
                    Some(k) => {
                        let mut obj = serde_json::Map::new();
                        obj.insert(k.clone(), v);
                        let mut doc = Value::Object(obj);
                        let mut f = Vec::new();
                        walk(scanner, &mut doc, policy, &mut f, &mut sink);
                        v = doc
                            .as_object_mut()
                            .and_then(|o| o.remove(&k))
                            .unwrap_or(Value::Null);
                        f
                    }
                    None => {
                        let mut f = Vec::new();
                        walk(scanner, &mut v, policy, &mut f, &mut sink);
                        f
                    }
                };
                if !f.is_empty() {
                    out.push_str(&text[copied..start]);
                    // A marker's offset in the literal: after the quote and
                    // the escaped form of what precedes it in the string.
                    if let Value::String(s) = &v {
                        for mut r in removed {
                            let before =
                                serde_json::to_string(&s[..r.at]).map_or(0, |e| e.len() - 2);
                            r.at = out.len() + 1 + before;
                            kept.push(r);
                        }
                    }
                    out.push_str(&serde_json::to_string(&v).expect("a string serialises"));
                    copied = end;
                    found.extend(f);
                }
            }
            b':' | b',' | b' ' | b'\n' | b'\t' | b'\r' => i += 1,
            b'{' | b'[' => {
                let key = pending_key.take();
                if secret_scope.is_none() && policy.allows(super::Group::Context) {
                    secret_scope = key.filter(|k| classify(k).is_some()).map(|k| (k, depth));
                }
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if secret_scope.as_ref().is_some_and(|(_, d)| *d == depth) {
                    secret_scope = None;
                }
                pending_key = None;
                i += 1;
            }
            _ => {
                pending_key = None;
                i += 1;
            }
        }
    }
    if found.is_empty() {
        return None;
    }
    out.push_str(&text[copied..]);
    Some((out, found, kept))
}
