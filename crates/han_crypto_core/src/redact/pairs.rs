//! The other half of a credential pair. An AWS access key id travels with
//! its secret access key, and people paste the two side by side without
//! naming either: `AKIA…:wJal…`, `(AKIA… / wJal…)`, `new
//! BasicAWSCredentials("AKIA…", "wJal…")`, one per line. When the id is
//! recognised, a 40-character secret-key-shaped token right beside it (only
//! separators between) is a secret too.

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

const SECRET_LEN: usize = 40;
const MAX_GAP: usize = 8;

/// A 40-character AWS secret access key at `at` (a whole token), if any.
fn secret_at(text: &str, at: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let end = at
        + b[at..]
            .iter()
            .take(SECRET_LEN + 1)
            .take_while(|&&c| is_secret_byte(c))
            .count();
    if end - at != SECRET_LEN || (end < b.len() && (is_secret_byte(b[end]) || b[end] == b'=')) {
        return None;
    }
    let v = &text[at..end];
    let classes = [
        v.bytes().any(|c| c.is_ascii_lowercase()),
        v.bytes().any(|c| c.is_ascii_uppercase()),
        v.bytes().any(|c| c.is_ascii_digit()),
    ];
    (classes.iter().filter(|&&c| c).count() >= 2 && looks_random(v, 20) && !is_filler(v))
        .then_some((at, end))
}

/// Secret access keys beside the AWS access key ids among `found`.
pub fn aws_partners(text: &str, found: &[Finding]) -> Vec<Finding> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for f in found.iter().filter(|f| f.kind == "aws_access_key_id") {
        // After the id: `AKIA…:secret`, `AKIA… / secret`, `"AKIA…", "secret"`.
        let mut at = f.end;
        while at < b.len() && at - f.end < MAX_GAP && is_separator(b[at]) {
            at += 1;
        }
        let mut partner = (at > f.end && at < b.len())
            .then(|| secret_at(text, at))
            .flatten();
        // Before it: `secret:AKIA…` (rarer, but the same pair).
        if partner.is_none() && f.start > SECRET_LEN {
            let mut back = f.start;
            while back > 0 && f.start - back < MAX_GAP && is_separator(b[back - 1]) {
                back -= 1;
            }
            if back < f.start && back >= SECRET_LEN && text.is_char_boundary(back - SECRET_LEN) {
                let from = back - SECRET_LEN;
                if from == 0 || !is_secret_byte(b[from - 1]) {
                    partner = secret_at(text, from).filter(|&(_, e)| e == back);
                }
            }
        }
        if let Some((start, end)) = partner {
            out.push(Finding {
                kind: Cow::Borrowed("aws_secret_access_key"),
                rule: Cow::Borrowed("credential_pair"),
                start,
                end,
                confidence: 0.9,
            });
        }
    }
    out
}
