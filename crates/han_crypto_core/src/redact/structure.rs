//! Checks and detectors that a regex alone cannot express: validation of a
//! rule's match (entropy, filler, a key block's body), `curl -u user:pass`
//! and the `data:` values of a Kubernetes `Secret` manifest.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::bytes::{Captures, Regex, RegexBuilder};

use super::entropy::{looks_random, shannon};
use super::placeholder::{is_filler, is_placeholder, is_reference, is_wordy};
use super::rules::RuleSpec;
use super::Finding;

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| {
        RegexBuilder::new(pattern)
            .unicode(false)
            .build()
            .expect("built-in pattern compiles")
    })
}

/// A password-like value: not a placeholder or a reference, long enough.
fn credential_ok(p: &str) -> bool {
    p.len() >= 4 && !is_placeholder(p) && !is_reference(p) && !p.contains(char::is_whitespace)
}

/// Whether a built-in rule's match is a real secret.
pub fn valid(spec: &RuleSpec, secret: &str, caps: &Captures<'_>, text: &str, end: usize) -> bool {
    // A user/password pair in notes: only what reads as a chosen password.
    if caps.name("prose").is_some() {
        return super::assign::prose_value_ok(super::names::NameClass::Password, secret, false);
    }
    // (A plain word is a status: `node-1:5432:ok:running:primary`; words
    // with digits and a symbol in both cases are a chosen password:
    // `Jasper_Ripple2297+`.)
    if caps.name("pgpass").is_some() {
        return credential_ok(secret)
            && (!is_wordy(secret) || super::assign::positional_password(secret, false));
    }
    match spec.kind {
        "private_key" => {
            // The body, without header lines, must be substantial base64,
            // with a run of it a key's line holds (not words standing in
            // for one: `<base64 contents of ~/.ssh/deploy_key>`).
            let base64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
            let body_lines = || {
                secret
                    .lines()
                    .filter(|l| !l.starts_with("-----") && !l.contains(':'))
            };
            let body: usize = body_lines().flat_map(|l| l.bytes()).filter(base64).count();
            let run = body_lines()
                .flat_map(|l| l.as_bytes().split(|b| !base64(b)))
                .map(<[u8]>::len)
                .max()
                .unwrap_or(0);
            (body >= 32 && run >= 20) || secret.starts_with("PuTTY")
        }
        // A sentence of four-letter words is no app password: a random one
        // has a group no word looks like, or stands quoted.
        "google_app_password" => {
            let start = end - secret.len();
            let b = text.as_bytes();
            let quoted = start > 0
                && matches!(b[start - 1], b'`' | b'"' | b'\'')
                && b.get(end) == Some(&b[start - 1]);
            // Common short words give a sentence away, quoted or not.
            const PROSE: &[&str] = &[
                "the", "they", "them", "then", "this", "that", "with", "your", "from", "will",
                "have", "must", "also", "been", "were", "what", "when", "page", "says", "here",
                "more", "some", "into", "only", "over", "such", "very", "just", "like", "make",
                "used", "each", "need", "once", "open", "sign", "code", "mail", "send", "name",
            ];
            let joined: String = secret.split(' ').collect();
            !is_placeholder(&joined)
                && !secret.split(' ').any(|g| PROSE.contains(&g))
                && (quoted || secret.split(' ').any(|g| !is_wordy(g)))
        }
        // Not an id of the hook itself: a MongoDB ObjectId, a UUID, a ULID.
        "webhook_token" => {
            let object_id = secret.len() == 24 && super::entropy::is_hex(secret);
            let uuid = secret.len() == 36 && secret.matches('-').count() == 4;
            let ulid = secret.len() == 26
                && secret
                    .bytes()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
            looks_random(secret, 24) && !is_wordy(secret) && !object_id && !uuid && !ulid
        }
        "ethereum_private_key" | "loggly_token" => !is_placeholder(secret),
        "deepl_api_key" => !is_placeholder(secret.trim_end_matches(":fx")),
        // The private members of a JWK: `kty` in the same object.
        "jwk_private_key" => {
            // (Within a key's reach: a JWK is a few kilobytes at most.)
            const REACH: usize = 4096;
            let b = text.as_bytes();
            let start = end - secret.len();
            let from = start.saturating_sub(REACH);
            let to = (end + REACH).min(b.len());
            let Some(open) = memchr::memrchr(b'{', &b[from..start]).map(|i| from + i) else {
                return false;
            };
            let close = memchr::memchr(b'}', &b[end..to]).map_or(to, |i| end + i);
            memchr::memmem::find(&b[open..close], b"kty").is_some()
        }
        "url_password" => {
            let user = caps.name("u").map(|m| m.as_bytes()).unwrap_or(b"");
            // `postgresql://[user[:passwd]@]host`: a syntax summary.
            credential_ok(secret)
                && !secret.contains(['[', ']'])
                && !user.contains(&b'[')
                && secret.as_bytes() != user
                && !secret.bytes().all(|b| b.is_ascii_digit())
        }
        "password" => {
            // A quoted command-line password may hold spaces (`-p "a b c"`).
            let inner = secret.trim_matches(|c| c == '\'' || c == '"');
            let quoted = inner.len() + 2 == secret.len();
            credential_ok(inner)
                || (quoted && inner.len() >= 4 && !is_placeholder(inner) && !is_reference(inner))
        }
        // (`type: Bearer⏎credentials_file: …` names a scheme, then a setting.)
        "bearer_token" => !is_placeholder(secret) && !is_wordy(secret) && looks_random(secret, 16),
        // `/api/token/validateRefreshToken` is a route, not a token.
        "url_path_key" => {
            !is_placeholder(secret)
                && !super::placeholder::is_wordy(secret)
                && looks_random(secret, 16)
        }
        "session_token" => {
            !is_placeholder(secret)
                && looks_random(secret, 20)
                && !logged_session_id(text, end - secret.len(), secret)
        }
        // Formats whose real keys look like filler (bech32 of zeros, fixed
        // base64 headers): the prefix is evidence enough.
        "age_secret_key" | "sidekiq_secret" | "teams_webhook" => true,
        _ => {
            !is_filler(secret)
                && !masked_after(text, end)
                && !wordy_tail(secret)
                && (spec.min_entropy <= 0.0 || shannon(secret) >= spec.min_entropy as f64)
        }
    }
}

/// `Initializing server... session=eca766d4…`: a hex session id as a
/// log line's field, set off by a blank, with no cookie on the line: what
/// a server or an agent logs to tell its sessions apart. A cookie's value
/// (`Cookie: sessionid=…`, `?sid=…`, `; session=…`) stays a credential.
fn logged_session_id(text: &str, start: usize, secret: &str) -> bool {
    if !super::entropy::is_hex(secret) {
        return false;
    }
    let b = text.as_bytes();
    let Some(eq) = start.checked_sub(1).filter(|&i| b[i] == b'=') else {
        return false;
    };
    let name_start = b[eq.saturating_sub(40)..eq]
        .iter()
        .rposition(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')))
        .map_or(eq.saturating_sub(40), |i| eq.saturating_sub(40) + i + 1);
    // (At a line's start it may be a cookie file's or an `.env` file's line.)
    let set_off = name_start > 0 && matches!(b[name_start - 1], b' ' | b'\t');
    let from = start.saturating_sub(512);
    let line_from = memchr::memrchr(b'\n', &b[from..name_start]).map_or(from, |i| from + i + 1);
    let cookie = b[line_from..name_start]
        .windows(6)
        .any(|w| w.eq_ignore_ascii_case(b"cookie"));
    set_off && !cookie
}

/// A match cut short by masking characters (`xoxp-123-####…`).
fn masked_after(text: &str, end: usize) -> bool {
    let rest = &text.as_bytes()[end..];
    rest.len() >= 3
        && rest[..3]
            .iter()
            .all(|b| matches!(b, b'#' | b'*' | b'x' | b'X' | b'.'))
}

/// The part after a vendor prefix reads as words (`xoxb-my-bot-token`,
/// `xoxo-indieweb-1`): documentation, not a credential.
fn wordy_tail(secret: &str) -> bool {
    let tail = match secret.find(['-', '_']) {
        Some(i) if i <= 12 => &secret[i + 1..],
        _ => return false,
    };
    tail.len() >= 4 && is_wordy(tail)
}

/// `curl -u user:password` / `--user "user:password"` / `--proxy-user`,
/// HTTPie's `--auth user:password`: the password (or a lone secret before
/// the colon) is redacted, the user name kept.
pub fn curl_user(text: &str, out: &mut Vec<Finding>) {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = re(
        &RE,
        r#"(?:^|[\s;|&(])(?:-u|--user|--proxy-user|--auth)(?:\s+|=)(?P<arg>"[^"\n]*"(?::"[^"\n]*")?|'[^'\n]*'|[^\s]+)"#,
    );
    for caps in re.captures_iter(text.as_bytes()) {
        let m = caps.name("arg").expect("group exists");
        let arg = &text[m.start()..m.end()];
        if arg.starts_with('<') || arg.ends_with('>') {
            continue; // curl -u <user:password>: documentation
        }
        let Some(colon) = colon_outside_braces(arg) else {
            continue;
        };
        let (user, pass) = (&arg[..colon], &arg[colon + 1..]);
        // `az login -u http://app-name`: a URL (an app's id), not user:pass.
        if pass.starts_with("//") {
            continue;
        }
        let strip = |s: &str| s.trim_matches(|c| c == '"' || c == '\'').to_string();
        let (u, p) = (strip(user), strip(pass));
        let (offset, secret) = if !p.is_empty() {
            (
                m.start() + colon + 1 + pass.find(p.as_str()).unwrap_or(0),
                p.clone(),
            )
        } else if looks_random(&u, 8) {
            (m.start() + user.find(u.as_str()).unwrap_or(0), u.clone())
        } else {
            continue;
        };
        if !credential_ok(&secret) || p == u {
            continue;
        }
        out.push(Finding {
            kind: Cow::Borrowed("password"),
            rule: Cow::Borrowed("curl_user"),
            start: offset,
            end: offset + secret.len(),
            confidence: 0.85,
        });
    }
}

fn colon_outside_braces(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            ':' if depth <= 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// Discord bot tokens: `<user id in base64>.<6 characters>.<27–38
/// characters>` (`MTE2MDI4NDk4NTQ3MDYyNTU1Mg.Yc12-z.1NhY…`). No prefix
/// announces them, but the first part must decode to the bot's user id, a
/// snowflake of 17–20 digits, which random text or another token's first
/// part does not. Only the long-token windows are looked at: a token is
/// one run of token bytes.
pub fn discord_bot_tokens(text: &str, windows: &[(usize, usize)], out: &mut Vec<Finding>) {
    use base64::Engine as _;
    let b = text.as_bytes();
    let part = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    for &(ws, we) in windows {
        let mut from = ws;
        while let Some(d) = memchr::memchr(b'.', &b[from.min(we)..we]).map(|i| from + i) {
            from = d + 1;
            // The 6-character middle part between two dots.
            if d + 8 > b.len() || b[d + 7] != b'.' || !b[d + 1..d + 7].iter().all(|&c| part(c)) {
                continue;
            }
            let id_len = b[ws..d]
                .iter()
                .rev()
                .take(29)
                .take_while(|&&c| part(c))
                .count();
            let start = d - id_len;
            if !(23..=28).contains(&id_len) || !matches!(b[start], b'M' | b'N' | b'O') {
                continue;
            }
            if start > 0 && matches!(b[start - 1], b'.' | b'/' | b'+' | b'=') {
                continue;
            }
            let tail = b[d + 8..].iter().take(41).take_while(|&&c| part(c)).count();
            let end = d + 8 + tail;
            if !(27..=38).contains(&tail) || b.get(end).is_some_and(|&c| c == b'.' || c == b'=') {
                continue;
            }
            let id = base64::engine::general_purpose::STANDARD_NO_PAD.decode(&b[start..d]);
            if !id
                .is_ok_and(|id| (17..=20).contains(&id.len()) && id.iter().all(u8::is_ascii_digit))
            {
                continue;
            }
            let secret = &text[start..end];
            if is_filler(&text[d + 8..end]) || is_placeholder(secret) {
                continue;
            }
            out.push(Finding {
                kind: Cow::Borrowed("discord_bot_token"),
                rule: Cow::Borrowed("discord_bot_token"),
                start,
                end,
                confidence: 0.95,
            });
            from = end;
        }
    }
}

/// Values under `data:` / `stringData:` of a manifest with `kind: Secret`.
/// Each YAML document (`---`) is judged on its own.
pub fn kubernetes_secret(text: &str, out: &mut Vec<Finding>) {
    let mut doc_start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            secret_document(text, doc_start, offset, out);
            doc_start = offset + line.len();
        }
        offset += line.len();
    }
    secret_document(text, doc_start, text.len(), out);
}

fn secret_document(text: &str, from: usize, to: usize, out: &mut Vec<Finding>) {
    static KIND: OnceLock<Regex> = OnceLock::new();
    let kind = re(&KIND, r#"(?im)^[ \t]*kind:[ \t]*["']?secret["']?[ \t]*$"#);
    let doc = &text[from..to];
    if !kind.is_match(doc.as_bytes()) {
        return;
    }
    let indent = |l: &str| l.len() - l.trim_start_matches([' ', '\t']).len();
    let mut offset = from;
    let lines: Vec<(usize, &str)> = doc
        .split_inclusive('\n')
        .map(|l| {
            let o = offset;
            offset += l.len();
            (o, l.trim_end_matches(['\n', '\r']))
        })
        .collect();
    let mut i = 0;
    while i < lines.len() {
        let (_, line) = lines[i];
        let t = line.trim_start_matches([' ', '\t']);
        if !(t == "data:" || t == "stringData:") {
            i += 1;
            continue;
        }
        let base = indent(line);
        i += 1;
        while i < lines.len() {
            let (lo, l) = lines[i];
            let body = l.trim_start_matches([' ', '\t']);
            if body.is_empty() || body.starts_with('#') {
                i += 1;
                continue;
            }
            if indent(l) <= base {
                break;
            }
            let key_indent = indent(l);
            if let Some(colon) = body.find(':') {
                let after = &body[colon + 1..];
                let value = after.trim();
                let value_start = lo
                    + (l.len() - body.len())
                    + colon
                    + 1
                    + (after.len() - after.trim_start().len());
                if matches!(value, "|" | ">" | "|-" | ">-") {
                    // Block scalar: the more-indented lines below.
                    i += 1;
                    while i < lines.len()
                        && (lines[i].1.trim().is_empty() || indent(lines[i].1) > key_indent)
                    {
                        let (bo, bl) = lines[i];
                        let b = bl.trim();
                        if !b.is_empty() {
                            let s = bo + (bl.len() - bl.trim_start().len());
                            push_k8s(out, s, s + b.len());
                        }
                        i += 1;
                    }
                    continue;
                }
                let v = value.trim_matches(|c| c == '"' || c == '\'');
                // (A SOPS-encrypted Secret's values are `ENC[…]`.)
                if v.len() >= 12
                    && !is_placeholder(v)
                    && !super::placeholder::is_sealed_or_reference(v)
                {
                    let s =
                        value_start + (value.len() - value.trim_start_matches(['"', '\'']).len());
                    push_k8s(out, s, s + v.len());
                }
            }
            i += 1;
        }
    }
}

fn push_k8s(out: &mut Vec<Finding>, start: usize, end: usize) {
    out.push(Finding {
        kind: Cow::Borrowed("kubernetes_secret"),
        rule: Cow::Borrowed("kubernetes_secret"),
        start,
        end,
        confidence: 0.9,
    });
}
