//! The other half of a credential pair. A cloud access key id travels with
//! its secret, and people paste the two side by side without naming either:
//! `AKIA…:wJal…`, `(AKIA… / wJal…)`, `new BasicAWSCredentials("AKIA…",
//! "wJal…")`, `getProfile("cn-hangzhou", "LTAI…", "…")`, one per line. When
//! the id is recognised, a secret-shaped token of its provider's length
//! right beside it (only separators between) is a secret too.

use std::borrow::Cow;

use super::entropy::looks_random;
use super::placeholder::is_filler;
use super::Finding;

/// Separators that may stand between the two halves (a line break too, for
/// the two halves on consecutive lines of a `.csv` or a terminal paste).
fn is_separator(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t'
            | b'\r'
            | b'\n'
            | b':'
            | b'/'
            | b','
            | b';'
            | b'|'
            | b'='
            | b'"'
            | b'\''
            | b'`'
            | b'('
            | b')'
    )
}

fn is_secret_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+')
}

/// Id kinds with the length of their secret and the secret's type.
const PAIRS: &[(&str, usize, &str)] = &[
    ("aws_access_key_id", 40, "aws_secret_access_key"),
    ("alibaba_access_key", 30, "alibaba_secret_key"),
    ("tencent_secret_id", 32, "tencent_secret_key"),
];

/// Secrets recognised alone whose id stands right before them, with the
/// id's length and a test of its shape: Backblaze's key id is 25 hex
/// digits (`005edb…0005 K002W9…`).
type IdBefore = (&'static str, usize, fn(&str) -> bool, &'static str);
const IDS_BEFORE: &[IdBefore] = &[(
    "backblaze_application_key",
    25,
    |v| v.starts_with("00") && super::entropy::is_hex(v),
    "backblaze_key_id",
)];

const MAX_GAP: usize = 12;

/// A secret of exactly `len` characters at `at` (a whole token), if any.
fn secret_at(text: &str, at: usize, len: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let end = at
        + b[at..]
            .iter()
            .take(len + 1)
            .take_while(|&&c| is_secret_byte(c))
            .count();
    if end - at != len || (end < b.len() && (is_secret_byte(b[end]) || b[end] == b'=')) {
        return None;
    }
    let v = &text[at..end];
    // Both cases, as the providers' base64-like secrets have: a git SHA or
    // a hex checksum beside an id is not its secret.
    let classes = [
        v.bytes().any(|c| c.is_ascii_lowercase()) && v.bytes().any(|c| c.is_ascii_uppercase()),
        v.bytes()
            .any(|c| c.is_ascii_digit() || c == b'/' || c == b'+'),
        !super::entropy::is_hex(v),
    ];
    (classes.iter().all(|&c| c) && looks_random(v, 20) && !is_filler(v)).then_some((at, end))
}

/// Secrets beside the access key ids among `found`.
pub fn partners(text: &str, found: &[Finding]) -> Vec<Finding> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for f in found {
        if let Some(&(_, id_len, shape, id_kind)) = IDS_BEFORE.iter().find(|p| f.kind == p.0) {
            let mut back = f.start;
            while back > 0 && f.start - back < MAX_GAP && is_separator(b[back - 1]) {
                back -= 1;
            }
            let from = back.wrapping_sub(id_len);
            if back < f.start
                && back >= id_len
                && text.is_char_boundary(from)
                && (from == 0 || !is_secret_byte(b[from - 1]))
                && shape(&text[from..back])
            {
                out.push(Finding {
                    kind: Cow::Borrowed(id_kind),
                    rule: Cow::Borrowed("credential_pair"),
                    start: from,
                    end: back,
                    confidence: 0.9,
                });
            }
            continue;
        }
        let Some(&(_, secret_len, secret_kind)) = PAIRS.iter().find(|p| f.kind == p.0) else {
            continue;
        };
        // After the id: `AKIA…:secret`, `AKIA… / secret`, `"AKIA…", "secret"`.
        let mut at = f.end;
        while at < b.len() && at - f.end < MAX_GAP && is_separator(b[at]) {
            at += 1;
        }
        let mut partner = (at > f.end && at < b.len())
            .then(|| secret_at(text, at, secret_len))
            .flatten();
        // Before it: `secret:AKIA…` (rarer, but the same pair).
        if partner.is_none() && f.start > secret_len {
            let mut back = f.start;
            while back > 0 && f.start - back < MAX_GAP && is_separator(b[back - 1]) {
                back -= 1;
            }
            if back < f.start && back >= secret_len && text.is_char_boundary(back - secret_len) {
                let from = back - secret_len;
                if from == 0 || !is_secret_byte(b[from - 1]) {
                    partner = secret_at(text, from, secret_len).filter(|&(_, e)| e == back);
                }
            }
        }
        if let Some((start, end)) = partner {
            out.push(Finding {
                kind: Cow::Borrowed(secret_kind),
                rule: Cow::Borrowed("credential_pair"),
                start,
                end,
                confidence: 0.9,
            });
        }
    }
    out
}
