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
    // Twilio's API key SID (`SK…`) and its secret.
    ("twilio_api_key", 32, "twilio_api_secret"),
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
/// Blanks padding a table's columns (`aws --output table`, `doctl`) may
/// stand between the halves too, this many at most.
const MAX_PADDING: usize = 48;

/// From `at`, past what may stand between the two halves: separators, a
/// box-drawing column rule (`│`), column padding, and once a timestamp
/// field (`aws iam create-access-key --output text` puts the creation time
/// between id and secret).
fn skip_gap(b: &[u8], mut at: usize) -> usize {
    let start = at;
    let (mut other, mut skipped_time, mut skipped_label) = (0, false, false);
    while at < b.len() && at - start < MAX_PADDING + MAX_GAP {
        // At a line's start: after its line break, indentation and `>`
        // quote marks.
        let line_start = at > start && {
            let mut q = at;
            while q > start && matches!(b[q - 1], b' ' | b'\t' | b'>') {
                q -= 1;
            }
            q > start && b[q - 1] == b'\n'
        };
        if b[at] == b' ' || b[at] == b'\t' {
            at += 1;
        } else if line_start && b[at] == b'>' {
            // A quoted e-mail's `> ` marks.
            at += 1;
        } else if let Some(n) = (line_start && !skipped_label)
            .then(|| label_len(&b[at..]))
            .flatten()
        {
            // The second half's own short label on the next line
            // (`AK: LTAI…⏎SK: …`, `Access key ID: …⏎Secret: …`).
            at += n;
            skipped_label = true;
        } else if super::listing::box_bar(b, at) > 0 {
            at += 3;
        } else if is_separator(b[at]) && other < MAX_GAP {
            at += 1;
            other += 1;
        } else if !skipped_time && at > start {
            match timestamp_len(&b[at..]) {
                Some(n) => {
                    at += n;
                    skipped_time = true;
                }
                None => break,
            }
        } else {
            break;
        }
    }
    at
}

/// The length of a short label at the start of `b` (`SK:`, `Secret key =`),
/// its operator included: at most 24 letters, blanks, `_` or `-`.
fn label_len(b: &[u8]) -> Option<usize> {
    let n = b
        .iter()
        .take(25)
        .take_while(|c| c.is_ascii_alphabetic() || matches!(c, b' ' | b'_' | b'-'))
        .count();
    if !(n > 0 && n <= 24 && b[0].is_ascii_alphabetic() && matches!(b.get(n), Some(b':' | b'='))) {
        return None;
    }
    // The label names the secret half (`SK`, `Secret`, `secret key`), not
    // another field (`Checksum:`, `RequestId:`).
    let label = std::str::from_utf8(&b[..n]).ok()?.trim();
    use super::names::{classify, NameClass};
    let secretish = label.eq_ignore_ascii_case("sk")
        || matches!(
            classify(label),
            Some(NameClass::Secret | NameClass::Key | NameClass::Password | NameClass::Credential)
        );
    secretish.then_some(n + 1)
}

/// The length of an ISO 8601 timestamp field at the start of `b`
/// (`2026-08-08T03:04:49+00:00`), if one is there.
fn timestamp_len(b: &[u8]) -> Option<usize> {
    let date = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[5..7].iter().chain(&b[8..10]).all(u8::is_ascii_digit);
    if !date {
        return None;
    }
    let n = b
        .iter()
        .take(40)
        .take_while(|c| c.is_ascii_digit() || matches!(c, b'-' | b':' | b'T' | b'+' | b'.' | b'Z'))
        .count();
    Some(n)
}

/// Ids that no rule reports (they are not secret), whose secret follows
/// them: `(test of the id, the secret at a position if one is there, its
/// type)`. S3-compatible stores (MinIO, Wasabi, Scaleway, Linode,
/// DigitalOcean Spaces, Ceph) issue 20-character upper-case access keys with
/// a 40-character (Spaces: 43) secret; a Twilio account SID (`AC` and 32 hex
/// digits) goes before its 32-hex-digit auth token.
/// Once its secret is found beside it, the id goes too (`new
/// BasicAWSCredentials("AKIA…", "…")` loses both halves, as does
/// `Client("AC…", "…")`): the pair is one credential, and the id is the
/// half that says whose.
type UnnamedPair = (
    fn(&str) -> bool,
    fn(&str, usize) -> Option<(usize, usize)>,
    &'static str,
    &'static str,
);
const UNNAMED_PAIRS: &[UnnamedPair] = &[
    (
        s3_access_key,
        |text, at| secret_at(text, at, 40).or_else(|| secret_at(text, at, 43)),
        "s3_secret_key",
        "s3_access_key",
    ),
    (
        twilio_account_sid,
        |text, at| hex_at(text, at, 32).filter(|&(s, e)| looks_random(&text[s..e], 20)),
        "twilio_auth_token",
        "twilio_account_sid",
    ),
];

fn s3_access_key(v: &str) -> bool {
    let digits = v.bytes().filter(u8::is_ascii_digit).count();
    v.len() == 20
        && v.bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && (2..=16).contains(&digits)
        && !v.starts_with("AKIA")
        && !v.starts_with("ASIA")
}

fn twilio_account_sid(v: &str) -> bool {
    v.len() == 34 && v.starts_with("AC") && is_lower_hex(&v[2..])
}

fn is_lower_hex(v: &str) -> bool {
    v.bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// The secret halves of the unnamed pairs (`UNNAMED_PAIRS`) in the given
/// windows of `text` (where long tokens are: both halves are long).
pub fn unnamed(text: &str, windows: &[(usize, usize)]) -> Vec<Finding> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for &(ws, we) in windows {
        let mut i = ws;
        while i < we {
            if !b[i].is_ascii_alphanumeric() || (i > 0 && is_token_byte(b[i - 1])) {
                i += 1;
                continue;
            }
            let end = i + b[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            let id = &text[i..end];
            let boundary = end == b.len() || !is_token_byte(b[end]);
            for &(is_id, secret, kind, id_kind) in UNNAMED_PAIRS {
                if !boundary || !is_id(id) {
                    continue;
                }
                let at = skip_gap(b, end);
                if let Some((start, end)) = (at > end && at < b.len())
                    .then(|| secret(text, at))
                    .flatten()
                {
                    out.push(Finding {
                        kind: Cow::Borrowed(kind),
                        rule: Cow::Borrowed("credential_pair"),
                        start,
                        end,
                        confidence: 0.85,
                    });
                    out.push(Finding {
                        kind: Cow::Borrowed(id_kind),
                        rule: Cow::Borrowed("credential_pair"),
                        start: i,
                        end: i + id.len(),
                        confidence: 0.85,
                    });
                }
            }
            i = end.max(i + 1);
        }
    }
    out
}

fn is_token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/' | b'+')
}

/// A whole token of exactly `len` lower-case hex digits at `at`.
fn hex_at(text: &str, at: usize, len: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let n = b[at..]
        .iter()
        .take(len + 1)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    let end = at + n;
    (n == len && is_lower_hex(&text[at..end]) && (end == b.len() || !is_token_byte(b[end])))
        .then_some((at, end))
}

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
        let at = skip_gap(b, f.end);
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

/// The id half of a pair whose secret half was found under its name: a
/// client, app, consumer or key id named a little before or after the
/// secret (`client_id is …`, `RAZORPAY_KEY_ID = "…"`, `| API Key | … |`).
/// The pair travels together, so the id goes with its secret.
pub fn named_ids(text: &str, found: &[Finding]) -> Vec<Finding> {
    use regex::Regex;
    use std::sync::OnceLock;
    const BEFORE: usize = 400;
    const AFTER: usize = 200;
    static ID: OnceLock<Regex> = OnceLock::new();
    let re = ID.get_or_init(|| {
        Regex::new(concat!(
            r"(?i-u)\b(?:(?:[a-z0-9]+[_-])*(?:client|app|application|consumer|access[_ -]?key|key)[_ -]?id",
            r"|consumer[_ -]?key|api[_ -]?key)\b",
            r#"["']?(?:[ \t]*(?:[:=]|=>|\|)[ \t]*|[ \t]+is[ \t]+|[ \t]{2,})["'`]?"#,
            r"(?P<v>[A-Za-z0-9][A-Za-z0-9._\-]{7,127})"
        ))
        .expect("id pattern compiles")
    });
    let mut out = Vec::new();
    let mut done_until = 0;
    // Findings' spans by start, with the furthest end so far: whether a
    // value overlaps one is a binary search (a text can hold many).
    let mut spans: Vec<(usize, usize)> = found.iter().map(|f| (f.start, f.end)).collect();
    spans.sort_unstable();
    let mut reach = Vec::with_capacity(spans.len());
    let mut furthest = 0;
    for &(_, e) in &spans {
        furthest = furthest.max(e);
        reach.push(furthest);
    }
    let overlaps = |start: usize, end: usize| {
        let n = spans.partition_point(|&(s, _)| s < end);
        n > 0 && reach[n - 1] > start
    };
    for f in found.iter().filter(|f| f.kind.contains("secret")) {
        let (ws, we) = super::snap(
            text,
            f.start.saturating_sub(BEFORE).max(done_until),
            (f.end + AFTER).min(text.len()),
        );
        if ws >= we {
            continue;
        }
        done_until = we;
        for caps in re.captures_iter(&text[ws..we]) {
            let m = caps.name("v").expect("group v");
            let v = m.as_str().trim_end_matches('.');
            let (start, end) = (ws + m.start(), ws + m.start() + v.len());
            let shaped = v.len() >= 8
                && v.bytes().any(|c| c.is_ascii_digit())
                && v.bytes().any(|c| c.is_ascii_alphabetic())
                && !super::placeholder::is_wordy(v)
                && !super::placeholder::is_placeholder(v)
                && !super::placeholder::is_reference(v);
            if shaped && !overlaps(start, end) {
                out.push(Finding {
                    kind: Cow::Borrowed("credential"),
                    rule: Cow::Borrowed("credential_pair"),
                    start,
                    end,
                    confidence: 0.6,
                });
            }
        }
    }
    out
}
