//! Secrets a listing prints beside or under their label rather than after
//! an `=` or `:`: command output in columns (`SecretKey          1ce7…`,
//! `| API Secret | XUER… |`, `||  SecretAccessKey |  Oq… ||`), a label on
//! its own line with the value alone on the next (`Secret Access Key⏎…`,
//! `here's the key:⏎…`), and the output of a command that prints a secret
//! (`kubectl get secret … | base64 -d⏎…`, `cat config/master.key⏎…`).
//!
//! Every reach is bounded: these run at keyword hits, and a minified line
//! can hold thousands of them.

use super::assign::{accept, is_name_byte as name_byte, positional_password, Assignment};
use super::names::{classify, NameClass};
use super::placeholder::{is_reference, is_sealed_or_reference};

/// How far a label may start after its line's start (indentation, borders).
const INDENT: usize = 24;
/// The longest label.
const LABEL: usize = 48;
/// The longest value.
const VALUE: usize = 512;

/// The start of the line holding `pos`, if it is at most `reach` back
/// (a minified line holds many hits: none may scan it whole).
fn line_start(b: &[u8], pos: usize, reach: usize) -> Option<usize> {
    let from = pos.saturating_sub(reach);
    match memchr::memrchr(b'\n', &b[from..pos]) {
        Some(i) => Some(from + i + 1),
        None => (from == 0).then_some(0),
    }
}

fn is_border(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'|' | b'+')
}

/// `│` and `┃` (box-drawing verticals), as bytes at `p`.
pub(super) fn box_bar(b: &[u8], p: usize) -> usize {
    let rest = &b[p.min(b.len())..];
    if rest.starts_with("│".as_bytes()) || rest.starts_with("┃".as_bytes()) {
        3
    } else {
        0
    }
}

/// Skips borders and blanks from `p`, up to `limit`.
fn skip_borders(b: &[u8], mut p: usize, limit: usize) -> usize {
    while p < limit.min(b.len()) {
        if is_border(b[p]) {
            p += 1;
        } else if box_bar(b, p) > 0 {
            p += 3;
        } else {
            break;
        }
    }
    p
}

fn label_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'\'')
}

/// The class a label names: its secret word, read without a trailing
/// `value` (`Token value`) and refusing labels that name an id.
fn label_class(label: &str) -> Option<NameClass> {
    let label = label.trim_end_matches(':').trim_end();
    let label = label
        .strip_suffix(" value")
        .or_else(|| label.strip_suffix(" Value"))
        .unwrap_or(label);
    match classify(label)? {
        NameClass::Weak => None,
        c => Some(c),
    }
}

/// A listing row or a label line whose label holds the keyword hit at
/// `hit..hit_end`.
pub fn row_at(text: &str, hit: usize, hit_end: usize) -> Option<Assignment> {
    let b = text.as_bytes();
    // The label ends with the word that holds the hit (or with `value`
    // after it: `Token value`), at a colon, the line's end or a column gap.
    // Tested first and forwards: most hits are words in running prose.
    let mut p = hit_end;
    while p < b.len() && p - hit_end < LABEL && label_byte(b[p]) {
        p += 1;
    }
    if b[p.min(b.len())..].starts_with(b" value") || b[p.min(b.len())..].starts_with(b" Value") {
        p += " value".len();
    }
    if b.get(p) == Some(&b':') {
        p += 1;
    }
    let label_end = p;
    let ends_label = match b.get(p) {
        None | Some(b'\n' | b'\r' | b'\t' | b'|') => true,
        Some(b' ') => matches!(b.get(p + 1), Some(b' ' | b'|')),
        Some(_) => box_bar(b, p) > 0,
    };
    if !ends_label {
        return None;
    }
    // Backwards from the hit: at most five words, then only indentation
    // and table borders back to the line's start.
    let mut q = hit;
    let mut words_before = 0;
    while q > 0 && label_end - q <= LABEL {
        let c = b[q - 1];
        if label_byte(c) {
            q -= 1;
        } else if c == b' ' && label_byte(b[q]) && q >= 2 && label_byte(b[q - 2]) {
            words_before += 1;
            if words_before > 4 {
                return None;
            }
            q -= 1;
        } else {
            break;
        }
    }
    let label_start = q;
    while q > 0 && b[q - 1] != b'\n' {
        if label_start - q > INDENT {
            return None;
        }
        if is_border(b[q - 1]) {
            q -= 1;
        } else if q >= 3 && box_bar(b, q - 3) == 3 {
            q -= 3;
        } else {
            return None;
        }
    }
    if label_end - label_start > LABEL || b.get(label_start) == Some(&b'-') {
        return None;
    }
    let label = &text[label_start..label_end];
    let class = label_class(label)?;
    let at_line_end = matches!(b.get(p), None | Some(b'\n'))
        || (b.get(p) == Some(&b'\r') && b.get(p + 1) == Some(&b'\n'));
    let (vs, ve) = if at_line_end {
        // `Secret Access Key⏎<value>`: the next line is the value alone.
        let next = memchr::memchr(b'\n', &b[p..]).map(|i| p + i + 1)?;
        let vs = skip_borders(b, next, next + INDENT);
        let ve = token_end(b, vs);
        // Alone on its line, the value must read as a secret by itself, as
        // under a label line (`Key⏎env-2024-q2-prod` is a tag's value).
        if ve - vs < 16
            || !rest_is_blank(b, ve)
            || named_digest(&text[vs..ve])
            || !(super::assign::prose_value_ok(class, &text[vs..ve], false)
                || super::entropy::is_hex(&text[vs..ve]))
        {
            return None;
        }
        (vs, ve)
    } else {
        // A column gap: two blanks, a tab or a border, then the value and
        // nothing else on the line but borders.
        let gap_end = skip_borders(b, p, p + 64);
        let gap = &b[p..gap_end];
        let column_gap =
            gap.len() >= 2 || gap.contains(&b'\t') || gap.contains(&b'|') || box_bar(b, p) > 0;
        if !column_gap || label.ends_with(':') {
            return None;
        }
        let ve = token_end(b, gap_end);
        if ve - gap_end < 8 || !rest_is_blank(b, ve) {
            return None;
        }
        (gap_end, ve)
    };
    let value = &text[vs..ve];
    let confidence = accept(class, value, false, label)?;
    Some(Assignment {
        name_start: label_start,
        value_start: vs,
        value_end: ve,
        class,
        confidence: confidence.min(0.7),
    })
}

/// The longest line that may introduce a value on the next line.
const LABEL_LINE: usize = 200;

/// A line that introduces a secret given alone on the next line: it names
/// the secret and ends with a colon (`Password for the staging admin
/// panel:`, `…a bearer token for the pilot, hardcode it in the config:`),
/// or is a bold or heading label (`**Prod DB password** (rotated …)`,
/// `### API token`, a setext heading), also as a list item or behind a `>`
/// quote mark. The value may follow up to two blank lines, a `>` quote
/// mark or a definition list's `: `, sit in backticks or quotes, or alone
/// in a fenced code block. It must read as a secret on its own
/// (`prose_value_ok`): after such a line a hash, a path, a word or a
/// command is not taken.
pub fn label_line_at(text: &str, hit: usize, hit_end: usize) -> Option<Assignment> {
    let b = text.as_bytes();
    // The next line break first: most hits are words in running prose,
    // whose line runs on.
    let le = hit_end + memchr::memchr(b'\n', &b[hit_end..(hit_end + LABEL_LINE).min(b.len())])?;
    let ls = line_start(b, hit, LABEL_LINE)?;
    // A JSON string's first line (a tool's result, decoded) starts at the
    // string's opening quote: `…"content": "Heroku token for …⏎`.
    let ls = super::tables::json_string_start(&text[ls..hit]).map_or(ls, |i| ls + i);
    let line = text[ls..le].trim_end();
    // Past a quote mark and a list marker: `> **Password**`, `- API key:`.
    let lead = strip_list_marker(line.trim_start().trim_start_matches(['>', ' ']));
    let lead_at = ls + (line.len() - lead.len());
    let colon = line.ends_with(':') && !line.ends_with("::");
    let bold = (lead.starts_with("**") || lead.starts_with("__"))
        && lead[2..]
            .find(&lead[..2])
            .is_some_and(|close| hit < lead_at + 2 + close);
    let heading = lead.starts_with('#') && lead.trim_start_matches('#').starts_with(' ');
    // A setext heading: `API token` over a line of `-` or `=`.
    // (Within reach: this runs at every keyword hit whose line ends.)
    let reach = (le + 1 + LABEL_LINE).min(b.len());
    let next_end = memchr::memchr(b'\n', &b[le + 1..reach]).map_or(reach, |i| le + 1 + i);
    let underline = text.get(le + 1..next_end).unwrap_or("").trim();
    let setext = underline.len() >= 3
        && (underline.bytes().all(|c| c == b'-') || underline.bytes().all(|c| c == b'='));
    // A definition list: `Signing secret⏎: …`.
    let definition = underline.starts_with(": ");
    // A field name alone on its line, its value on the next (a password
    // manager's or a form's export): `Password⏎+#O@E…`.
    // (Short first: this runs at every keyword hit whose line ends.)
    let bare = !lead.is_empty()
        && lead.len() <= 40
        && lead.bytes().all(|c| c.is_ascii_alphabetic() || c == b' ')
        && lead.bytes().filter(|&c| c == b' ').count() <= 2;
    // A line that starts with a provider's name and the secret's noun
    // introduces the value on the next line without a colon: `Heroku token
    // for the new workspace⏎…`, `Datadog api key (prod)⏎…`.
    // (Cheap tests first: this runs at every keyword hit whose line ends.)
    let labelled = colon || bold || heading || setext || definition || bare;
    let introduced = !labelled && !line.ends_with(['.', '?', '!', ',', ';']) && {
        let lb = lead.as_bytes();
        let first = lb.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
        let noun_from = lead_at + first;
        first >= 3
            && hit > noun_from
            && b[noun_from] == b' '
            && b[noun_from..hit]
                .iter()
                .all(|c| c.is_ascii_alphabetic() || *c == b' ')
            && b[noun_from..hit].iter().filter(|&&c| c == b' ').count() <= 2
            && lb.iter().filter(|&&c| c == b' ').count() < 10
            && super::names::is_vendor(&lb[..first])
    };
    if !labelled && !introduced {
        return None;
    }
    // A command, an assignment or code is not a label.
    if line.contains(['=', '`', '$', '{']) || line.contains("://") {
        return None;
    }
    let mut ws = hit;
    while ws > ls && b[ws - 1].is_ascii_alphabetic() {
        ws -= 1;
    }
    let mut we = hit_end;
    while we < le && b[we].is_ascii_alphabetic() {
        we += 1;
    }
    // A provider's name alone as the label (`### Linode`, `Mailgun⏎<key>`
    // in a notes export) announces its key: judged as a key.
    let class = match classify(&text[ws..we])? {
        NameClass::Weak
            if (bare || heading || bold)
                && super::names::is_vendor(&b[ws..we])
                && lead
                    .trim_matches(|c: char| matches!(c, '#' | '*' | '_' | ' '))
                    .eq_ignore_ascii_case(&text[ws..we]) =>
        {
            NameClass::Key
        }
        NameClass::Weak => return None,
        c => c,
    };
    let (before, after) = super::names::words_around(text, ws, we);
    if super::names::neutral_in_prose(before, after) {
        return None;
    }
    // The value's line: after the underline, at most two blank lines and
    // the opening fence of a code block; then indentation, a quote mark,
    // a definition list's `: `, an opening backtick.
    let mut p = if setext { next_end + 1 } else { le + 1 };
    let (mut blanks, mut fenced) = (0, false);
    // (A bare field name's value is on the very next line.)
    let alone = bare && !(colon || bold || heading || setext) || introduced;
    while p < b.len() && !alone {
        let reach = (p + LABEL_LINE).min(b.len());
        let end = memchr::memchr(b'\n', &b[p..reach]).map_or(reach, |i| p + i);
        let l = text.get(p..end).unwrap_or("x").trim();
        if l.is_empty() && blanks < 2 && !fenced {
            blanks += 1;
        } else if (l.starts_with("```") || l.starts_with("~~~")) && !fenced {
            fenced = true;
        } else {
            break;
        }
        p = end + 1;
    }
    if p >= b.len() {
        return None;
    }
    // (Blanks only: a value may start with `+` or `|`.)
    let blanks = |p: usize| {
        p + b[p..(p + INDENT).min(b.len())]
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t'))
            .count()
    };
    let mut vs = blanks(p);
    if b.get(vs) == Some(&b'>') {
        vs = blanks(vs + 1);
    }
    if !fenced && b.get(vs) == Some(&b':') && b.get(vs + 1) == Some(&b' ') {
        vs = blanks(vs + 1);
    }
    let quote = b
        .get(vs)
        .copied()
        .filter(|c| matches!(c, b'`' | b'"' | b'\''));
    if quote.is_some() {
        vs += 1;
    }
    let token = &b[vs..token_end(b, vs)];
    // A quoted value ends at its closing quote; an unquoted one inside a
    // decoded JSON string at the string's quote (`["…pilot:\nc9f2…"]`
    // keeps its `"]`).
    let ve = vs
        + match quote {
            Some(q) => memchr::memchr(q, token)?,
            None => token
                .iter()
                .position(|c| matches!(c, b'"' | b'\'' | b'`'))
                .unwrap_or(token.len()),
        };
    // Only closing punctuation (the closing quote too) and blanks after it.
    let mut r = ve;
    while r < b.len() && matches!(b[r], b'"' | b'\'' | b'`' | b',' | b']' | b'}' | b')') {
        r += 1;
    }
    if ve <= vs || !rest_is_blank(b, r) {
        return None;
    }
    // A code block holds the value alone: its closing fence comes next.
    if fenced {
        let nl = memchr::memchr(b'\n', &b[r..]).map_or(b.len(), |i| r + i);
        let close = text.get(nl + 1..).unwrap_or("").trim_start();
        if !(close.starts_with("```") || close.starts_with("~~~")) {
            return None;
        }
    }
    let value = &text[vs..ve];
    // (A list item or a comment holds a blank, so is no single value; a
    // URL is where the key is found, and its own rules judge what it holds.)
    if matches!(value.as_bytes()[0], b'$' | b'<' | b'(' | b'[') || value.contains("://") {
        return None;
    }
    if named_digest(value) {
        return None;
    }
    // (Under a provider's name, its keys' shapes too: Heroku's UUIDs,
    // Datadog's hex.)
    let provider_shape = introduced
        && (super::entropy::is_uuid(value)
            || (32..=64).contains(&value.len()) && super::entropy::is_hex(value));
    if !(provider_shape || super::assign::prose_value_ok(class, value, false)) {
        return None;
    }
    let confidence = accept(class, value, false, &text[ws..we])?;
    Some(Assignment {
        name_start: ws,
        value_start: vs,
        value_end: ve,
        class,
        confidence: confidence.min(0.7),
    })
}

/// `sha256:<hex>`, `SHA256:47DEQ…`, `MD5:16:27:ac…`: a digest or a key's
/// fingerprint, named by its algorithm.
fn named_digest(value: &str) -> bool {
    value.split_once(':').is_some_and(|(alg, _)| {
        matches!(
            alg.to_ascii_lowercase().as_str(),
            "sha1" | "sha256" | "sha384" | "sha512" | "md5" | "blake2b" | "blake3"
        )
    })
}

/// `line` past a list item's marker (`- `, `* `, `+ `, `1. `, `2) `).
fn strip_list_marker(line: &str) -> &str {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &line[digits..];
    let marker = if digits > 0 {
        rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") "))
    } else {
        ["- ", "* ", "+ "].iter().find_map(|m| rest.strip_prefix(m))
    };
    marker.map_or(line, str::trim_start)
}

/// The end of a value starting at `vs`: up to a blank, a border or the
/// line's end, never inside a multi-byte character.
fn token_end(b: &[u8], vs: usize) -> usize {
    let mut ve = vs;
    while ve < b.len() && ve - vs <= VALUE && !b[ve].is_ascii_whitespace() && b[ve] != b'|' {
        if b[ve] >= 0x80 {
            return vs;
        }
        ve += 1;
    }
    if ve - vs > VALUE {
        return vs;
    }
    ve
}

/// Only blanks and borders up to the line's end.
fn rest_is_blank(b: &[u8], from: usize) -> bool {
    let p = skip_borders(b, from, from + 64);
    matches!(b.get(p), None | Some(b'\n' | b'\r'))
}

/// Keywords that start a command that prints a secret (matched in any
/// case: `base64 -d` is macOS's `base64 -D` too).
pub const COMMAND_KEYWORDS: &[&str] = &[
    "base64 -d",
    "base64 --decode",
    "printenv ",
    "echo $",
    "cat ",
    "get-secret-value",
    "secrets versions access",
    "kv get",
    "op read",
    "pass show",
    "find-generic-password",
    "config:get",
    "bw get password",
    "view-secret",
    "keyvault secret show",
    "secrets get",
    "gopass show",
    "lpass show",
    "get-parameter",
    "key create",
    "create-key",
    // Commands that store a secret given on their line (`stored_at`).
    "secret set",
    "secrets set",
    "create secret",
    "kv put",
];

/// The line printed by a command that reveals a secret, at a keyword hit
/// on the command's line: the value alone on the next line.
pub fn printed_at(text: &str, hit: usize, hit_end: usize) -> Option<Assignment> {
    const COMMAND: usize = 320;
    let b = text.as_bytes();
    let le = hit_end + memchr::memchr(b'\n', &b[hit_end..(hit_end + COMMAND).min(b.len())])?;
    let ls = line_start(b, hit, COMMAND)?;
    let line = &text[ls..le];
    // The keyword as written in the table (the hit may be in any case).
    let word = *COMMAND_KEYWORDS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(&text[hit..hit_end]))?;
    let args = text[hit_end..le].trim_start_matches(['{', '$']);
    let first_arg = || {
        args.split(|c: char| c.is_whitespace() || matches!(c, '|' | ';' | '&' | '}' | ')'))
            .find(|a| !a.is_empty() && !a.starts_with('-'))
            .unwrap_or("")
    };
    // The keyword must start a command: at the line's start after a
    // prompt, after a pipe, `;`, `&&`, `$(` or a backtick, or after the
    // tool whose subcommand it is (`vault kv get`, `heroku config:get`).
    let before = text[ls..hit].trim_end();
    let command_position = before.is_empty()
        || before.ends_with(['$', '#', '>', '%', '|', ';', '&', '(', '`'])
        || through_wrapper(before);
    let tool = before.rsplit(char::is_whitespace).next().unwrap_or("");
    let secret_named =
        |name: &str| label_class(name.trim_matches(['\'', '"', '}', '{', ')'])).is_some();
    let class = match word {
        w if w.starts_with("base64") => {
            if !command_position {
                return None;
            }
            // `kubectl get secret … -o jsonpath='{.data.api-key}'`: the
            // field must name a secret (not `{.data.username}`).
            let l = line.to_ascii_lowercase();
            match l.find(".data.") {
                Some(d) => {
                    let field: String = l[d + 6..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
                        .collect();
                    if !secret_named(&field) {
                        return None;
                    }
                }
                None if !["secret", "password", "token", "key"]
                    .iter()
                    .any(|s| l.contains(s)) =>
                {
                    return None
                }
                None => {}
            }
            NameClass::Secret
        }
        "cat " => {
            if !command_position {
                return None;
            }
            // A file named after a secret: `master.key`, `api_token.txt`;
            // not a digest, a signature or a public half beside it.
            let path = first_arg();
            let base = path.rsplit('/').next().unwrap_or(path);
            let stem = base.trim_start_matches('.');
            let stem = stem
                .strip_suffix(".txt")
                .or_else(|| stem.strip_suffix(".b64"))
                .unwrap_or(stem);
            const PUBLIC: &[&str] = &[
                ".pem",
                ".pub",
                ".crt",
                ".cert",
                ".csr",
                ".md5",
                ".sha1",
                ".sha256",
                ".sha512",
                ".sig",
                ".asc",
                ".md",
                ".example",
                ".sample",
                ".template",
                ".tmpl",
            ];
            if PUBLIC.iter().any(|x| stem.ends_with(x)) || stem.contains('*') {
                return None;
            }
            label_class(&stem.replace('.', "_"))?
        }
        "printenv " | "echo $" if command_position => label_class(first_arg())?,
        "config:get" if tool == "heroku" => label_class(first_arg())?,
        "kv get" if tool == "vault" => {
            // Only `-field=NAME` prints a bare value, and NAME must say secret.
            let field = line.split("-field=").nth(1)?;
            if !secret_named(field.split_whitespace().next()?) {
                return None;
            }
            NameClass::Secret
        }
        "find-generic-password" if tool == "security" && line.contains(" -w") => {
            NameClass::Password
        }
        "get-secret-value" if tool == "secretsmanager" => {
            if line.contains("--query") && !line.contains("SecretString") {
                return None;
            }
            NameClass::Secret
        }
        "secrets versions access" if matches!(tool, "gcloud" | "beta") => NameClass::Secret,
        // `b2 key create …` prints the new key's id and the key itself.
        "key create" | "create-key" if tool == "b2" => return b2_key_line(text, hit, le),
        "bw get password" if command_position => NameClass::Password,
        "gopass show" if command_position => NameClass::Secret,
        "lpass show" if command_position && line.contains("--password") => NameClass::Password,
        // `kubectl view-secret app-secrets api-key`: one key's value.
        "view-secret" if tool == "kubectl" => {
            // The secret's name and the key, past flags and their values
            // (`-n data`, `--context prod`).
            let mut args = Vec::new();
            let mut words = text[hit_end..le].split_whitespace();
            while let Some(w) = words.next() {
                if matches!(w, "-n" | "--namespace" | "--context" | "--kubeconfig") {
                    words.next();
                } else if !w.starts_with('-') {
                    args.push(w);
                }
            }
            let [_, key] = args[..] else {
                return None;
            };
            if !secret_named(key) {
                return None;
            }
            NameClass::Secret
        }
        // Only a bare value printed: `--query value -o tsv`, `--plain`,
        // `--with-decryption … --output text`.
        "keyvault secret show" if tool == "az" && line.contains("--query value") => {
            NameClass::Secret
        }
        "secrets get" if matches!(tool, "doppler" | "infisical") && line.contains("--plain") => {
            NameClass::Secret
        }
        "get-parameter"
            if tool == "ssm"
                && line.contains("--with-decryption")
                && line.contains("Parameter.Value") =>
        {
            // The parameter's name must say secret (`/prod/app/db-password`,
            // not `/prod/app/feature-flags`).
            let name = line.split("--name").nth(1)?.split_whitespace().next()?;
            let leaf = name.trim_matches(['\'', '"', '=']).rsplit('/').next()?;
            if !secret_named(leaf) {
                return None;
            }
            NameClass::Secret
        }
        "op read" | "pass show" if command_position => {
            // `op read op://vault/item/field`: the field must say secret.
            let path = first_arg().trim_matches(['\'', '"']);
            let field = path.rsplit('/').next().unwrap_or(path);
            if word == "op read" && !secret_named(field) {
                return None;
            }
            NameClass::Secret
        }
        _ => return None,
    };
    // The output: the next line, one token.
    let vs = le + 1;
    if vs >= b.len() {
        return None;
    }
    let ve = token_end(b, vs);
    if ve - vs < 8 || !rest_is_blank(b, ve) || b[vs] == b'$' {
        return None;
    }
    let value = &text[vs..ve];
    // A printed password is a chosen one: it must read as one.
    let confidence = accept(class, value, false, line)
        .or_else(|| positional_password(value, false).then_some(0.7))?;
    Some(Assignment {
        name_start: hit,
        value_start: vs,
        value_end: ve,
        class,
        confidence: confidence.min(0.7),
    })
}

/// The values a command stores as secrets, given on its own line (at a
/// keyword hit there): `gh secret set NAME --body …` (`-b …`), `az keyvault
/// secret set … --value …`, `fly secrets set NAME=… NAME2=…` (also
/// `flyctl`, `doppler`, `infisical`), `kubectl create secret generic …
/// --from-literal=KEY=…`, `vault kv put PATH KEY=…`. What such a command is handed is a
/// secret whatever its name; a reference (`"$NPM_TOKEN"`) or a word stays.
pub fn stored_at(text: &str, hit: usize, hit_end: usize) -> Vec<Assignment> {
    const COMMAND: usize = 640;
    let mut out = Vec::new();
    let b = text.as_bytes();
    let word = &text[hit..hit_end];
    if !["secret set", "secrets set", "create secret", "kv put"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
    {
        return out;
    }
    if b.get(hit_end).is_some_and(|c| !c.is_ascii_whitespace()) {
        return out;
    }
    let Some(ls) = line_start(b, hit, COMMAND) else {
        return out;
    };
    let mut le = memchr::memchr(b'\n', &b[hit_end..(hit_end + COMMAND).min(b.len())])
        .map_or((hit_end + COMMAND).min(b.len()), |i| hit_end + i);
    while !text.is_char_boundary(le) {
        le -= 1;
    }
    let tool = text[ls..hit]
        .trim_end()
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or("")
        .trim_start_matches(['"', '\'', '`', '(']);
    // The arguments, as `(start, end)` of each word (quotes kept).
    let mut args: Vec<(usize, usize)> = Vec::new();
    let mut p = hit_end;
    while p < le && args.len() < 32 {
        while p < le && b[p].is_ascii_whitespace() {
            p += 1;
        }
        if p >= le || matches!(b[p], b'|' | b';' | b'&' | b'>' | b'#') {
            break;
        }
        let s = p;
        // (A quote may be escaped as a whole, `\"…\"`, inside a JSON string.)
        let mut quote: Option<(u8, bool)> = None;
        while p < le {
            let c = b[p];
            let escaped = c == b'\\' && matches!(b.get(p + 1), Some(b'"' | b'\''));
            let q = if escaped { b[p + 1] } else { c };
            let step = 1 + usize::from(escaped);
            match quote {
                Some(open) if open == (q, escaped) => quote = None,
                Some(_) => {}
                None if q == b'"' || q == b'\'' => quote = Some((q, escaped)),
                None if c.is_ascii_whitespace() => break,
                None => {}
            }
            p += step;
        }
        args.push((s, p.min(le)));
    }
    // A value as written from `s`: up to its closing quote (`"…"`, `'…'`,
    // `\"…\"`), or a bare word.
    let value = |s: usize| -> Option<(usize, usize, bool)> {
        for q in ["\\\"", "\"", "'"] {
            if text[s..le].starts_with(q) {
                let vs = s + q.len();
                let n = text[vs..le].find(q)?;
                return Some((vs, vs + n, true));
            }
        }
        let n = b[s..le]
            .iter()
            .take_while(|c| {
                !c.is_ascii_whitespace() && !matches!(c, b'"' | b'\'' | b'\\' | b';' | b'|' | b'&')
            })
            .count();
        Some((s, s + n, false))
    };
    let mut push = |s: usize, name: &str| {
        let Some((vs, ve, quoted)) = value(s) else {
            return;
        };
        let v = &text[vs..ve];
        if v.starts_with('$') || v.contains("://") || is_reference(v) || is_sealed_or_reference(v) {
            return;
        }
        let class = match classify(name) {
            Some(NameClass::Weak) | None => NameClass::Secret,
            Some(c) => c,
        };
        if let Some(confidence) = accept(class, v, quoted, name) {
            out.push(Assignment {
                name_start: hit,
                value_start: vs,
                value_end: ve,
                class,
                confidence: confidence.min(0.75),
            });
        }
    };
    match tool {
        "gh" | "keyvault" if word.eq_ignore_ascii_case("secret set") => {
            let flags: &[&str] = if tool == "gh" {
                &["--body", "-b"]
            } else {
                &["--value"]
            };
            // gh's NAME is the first bare word.
            let name = args
                .iter()
                .map(|&(s, e)| &text[s..e])
                .find(|a| !a.starts_with('-'))
                .unwrap_or("secret");
            for (i, &(s, e)) in args.iter().enumerate() {
                let a = &text[s..e];
                if flags.contains(&a) {
                    if let Some(&(vs, _)) = args.get(i + 1) {
                        push(vs, name);
                    }
                } else if let Some(f) = flags.iter().find(|f| {
                    a.len() > f.len() + 1 && a.starts_with(*f) && a.as_bytes()[f.len()] == b'='
                }) {
                    push(s + f.len() + 1, name);
                } else if tool == "gh" && a.len() > 3 && a.starts_with("-b") {
                    // pflag's short flag with its value attached: `-b'…'`.
                    push(s + 2, name);
                }
            }
        }
        "fly" | "flyctl" | "doppler" | "infisical" if word.eq_ignore_ascii_case("secrets set") => {
            for &(s, e) in &args {
                let a = &text[s..e];
                if a.starts_with('-') {
                    continue;
                }
                let Some(eq) = a.find('=') else {
                    continue;
                };
                let name = &a[..eq];
                if !name.is_empty()
                    && name
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
                {
                    push(s + eq + 1, name);
                }
            }
        }
        // `kubectl create secret generic app --from-literal=signer=…`.
        "kubectl" | "oc" if word.eq_ignore_ascii_case("create secret") => {
            for (i, &(s, e)) in args.iter().enumerate() {
                let a = &text[s..e];
                let (from, lit) = match a.strip_prefix("--from-literal") {
                    Some(rest) if rest.starts_with('=') => {
                        (s + "--from-literal=".len(), &rest[1..])
                    }
                    Some("") => match args.get(i + 1) {
                        Some(&(ns, ne)) => (ns, &text[ns..ne]),
                        None => continue,
                    },
                    _ => continue,
                };
                if let Some(eq) = lit.find('=') {
                    push(from + eq + 1, &lit[..eq]);
                }
            }
        }
        // `vault kv put secret/app signer=…`: every field after the path.
        "vault" if word.eq_ignore_ascii_case("kv put") => {
            for &(s, e) in args.iter().filter(|&&(s, _)| b[s] != b'-').skip(1) {
                let a = &text[s..e];
                if let Some(eq) = a.find('=').filter(|&eq| eq > 0) {
                    push(s + eq + 1, &a[..eq]);
                }
            }
        }
        _ => {}
    }
    out
}

/// A command run through another, at the end of `before`: `sudo cat …`,
/// `kubectl exec pod -- cat …`, `docker exec -it app cat …`, `ssh host cat …`.
fn through_wrapper(before: &str) -> bool {
    let mut words = before.rsplit([' ', '\t']).filter(|w| !w.is_empty());
    match words.next() {
        Some("sudo" | "doas" | "--") => true,
        // The container or host, then flags, then the wrapper.
        Some(target) if !target.starts_with('-') => words
            .take(4)
            .find(|w| !w.starts_with('-'))
            .is_some_and(|w| matches!(w, "exec" | "ssh")),
        _ => false,
    }
}

/// The line under `b2 key create`: the key's id and the application key.
fn b2_key_line(text: &str, hit: usize, le: usize) -> Option<Assignment> {
    let b = text.as_bytes();
    let ls = le + 1;
    let end = memchr::memchr(b'\n', &b[ls.min(b.len())..]).map_or(b.len(), |i| ls + i);
    let line = text.get(ls..end)?.trim_end();
    let (id, key) = line.split_once(' ')?;
    let id_ok = (12..=40).contains(&id.len()) && id.bytes().all(|c| c.is_ascii_alphanumeric());
    if !id_ok || key.contains(' ') || key.len() < 20 {
        return None;
    }
    let vs = ls + id.len() + 1;
    let confidence = accept(NameClass::Key, key, false, "application_key")?;
    Some(Assignment {
        name_start: hit,
        value_start: vs,
        value_end: vs + key.len(),
        class: NameClass::Key,
        confidence: confidence.min(0.7),
    })
}

/// The `user:password` lines a secrets file holds (rsync's secrets file,
/// stunnel's PSK file), printed by `cat` of a file named after a secret
/// among other files: each line up to the next prompt (64 at most) that
/// is a user's name, a colon and a value that reads as a chosen password
/// or a random key.
pub fn printed_records_at(text: &str, hit: usize, hit_end: usize) -> Vec<Assignment> {
    const COMMAND: usize = 320;
    let mut out = Vec::new();
    let b = text.as_bytes();
    if !text[hit..hit_end].eq_ignore_ascii_case("cat ") {
        return out;
    }
    let Some(le) =
        memchr::memchr(b'\n', &b[hit_end..(hit_end + COMMAND).min(b.len())]).map(|i| hit_end + i)
    else {
        return out;
    };
    let Some(ls) = line_start(b, hit, COMMAND) else {
        return out;
    };
    let before = text[ls..hit].trim_end();
    if !(before.is_empty()
        || before.ends_with(['$', '#', '>', '%', ';', '&'])
        || through_wrapper(before))
    {
        return out;
    }
    let args = text[hit_end..le]
        .split(['|', ';', '&', '>'])
        .next()
        .unwrap_or("");
    let secrets_file = args
        .split_whitespace()
        .filter(|a| !a.starts_with('-'))
        .any(|path| {
            let base = path
                .rsplit('/')
                .next()
                .unwrap_or(path)
                .trim_start_matches('.');
            let stem = [".txt", ".conf", ".cfg", ".list"]
                .iter()
                .find_map(|x| base.strip_suffix(x))
                .unwrap_or(base);
            !base.ends_with(".pub")
                && !base.ends_with(".pem")
                && label_class(&stem.replace('.', "_")).is_some()
        });
    if !secrets_file {
        return out;
    }
    // The prompt the command was typed at: its next use ends the output.
    let prompt = &text[ls..hit];
    let prompt = prompt.trim_end_matches(|c: char| c != '$' && c != '#' && c != '%' && c != '>');
    let mut p = le + 1;
    for _ in 0..64 {
        if p >= b.len() {
            break;
        }
        let e = memchr::memchr(b'\n', &b[p..]).map_or(b.len(), |i| p + i);
        let line = &text[p..e];
        if prompt.len() >= 2 && line.starts_with(prompt) {
            break;
        }
        if let Some(a) = record_line(line, p) {
            out.push(a);
        }
        p = e + 1;
    }
    out
}

/// `build:ECPAZh7fpzq9hHSvl0h`: a user's name, a colon, a secret, alone on
/// the line starting at `at`.
fn record_line(line: &str, at: usize) -> Option<Assignment> {
    let line = line.trim_end_matches('\r');
    let (user, value) = line.split_once(':')?;
    let user_ok = (1..=32).contains(&user.len())
        && user.as_bytes()[0].is_ascii_alphabetic()
        && user
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'@'));
    if !user_ok
        || !(6..=128).contains(&value.len())
        || value.bytes().any(|c| c.is_ascii_whitespace() || c == b':')
    {
        return None;
    }
    let random = super::entropy::looks_random(value, 16)
        && super::entropy::Classes::of(value).digit
        && super::assign::prose_value_ok(NameClass::Secret, value, false);
    if !(positional_password(value, false) || random) {
        return None;
    }
    let vs = at + user.len() + 1;
    Some(Assignment {
        name_start: at,
        value_start: vs,
        value_end: vs + value.len(),
        class: NameClass::Password,
        confidence: 0.7,
    })
}

/// Member names that hold an entry's name, and those that hold its value,
/// in name/value lists: Kubernetes and ECS `env`, CloudFormation
/// parameters, Android `<meta-data>`, `az … keys list` output.
// `key` is Postman's (headers, variables); not `Key`: AWS tags are
// `Key`/`Value` pairs of ordinary labels.
const NAME_KEYS: &[&str] = &[
    "name",
    "Name",
    "NAME",
    "key",
    "android:name",
    "ParameterKey",
    "OptionName",
    "variable",
    "Variable",
];
const KEY_NAME_KEYS: &[&str] = &["keyName", "KeyName", "key_name"];
const VALUE_KEYS: &[&str] = &[
    "value",
    "Value",
    "VALUE",
    "android:value",
    "ParameterValue",
    "OptionValue",
];

/// A value given in a name/value entry whose name holds the keyword hit:
/// `{"name": "DB_PASSWORD", "value": "…"}`, `- name: API_TOKEN⏎  value: …`,
/// `android:name="….API_KEY" android:value="…"`, and `"keyName": "key1",
/// …, "value": "…"` (the entry describes a key, whatever it is called).
pub fn name_value_at(text: &str, hit: usize, hit_end: usize) -> Option<Assignment> {
    let b = text.as_bytes();
    // The entry's name around the hit, and what stands before it.
    let mut ns = hit;
    while ns > 0 && hit - ns < 96 && name_byte(b[ns - 1]) {
        ns -= 1;
    }
    let mut ne = hit_end;
    while ne < b.len() && ne - hit_end < 96 && name_byte(b[ne]) {
        ne += 1;
    }
    let quote = ns > 0 && matches!(b[ns - 1], b'"' | b'\'');
    if KEY_NAME_KEYS.contains(&&text[ns..ne]) {
        // The hit is the member `keyName` itself: the entry is a key's.
        let mut v = ne + usize::from(quote);
        if b.get(v) != Some(&b':') {
            return None;
        }
        v = super::assign::skip_blanks(b, v + 1);
        let q = usize::from(matches!(b.get(v), Some(b'"' | b'\'')));
        let name_end = v
            + q
            + b[(v + q).min(b.len())..]
                .iter()
                .take(64)
                .take_while(|&&c| name_byte(c))
                .count();
        return value_member(text, name_end + q, NameClass::Key, &text[ns..ne], ns);
    }
    let mut p = if quote { ns - 1 } else { ns };
    if quote && b.get(ne) != Some(&b[ns - 1]) {
        return None;
    }
    // `"db_admin_password": {"sensitive": false, "type": "string", "value":
    // "…"}` (`terraform output -json`, an ARM template's parameters): an
    // object named after a secret holds it in its `value` member.
    if quote {
        let q = super::assign::skip_blanks(b, ne + 1);
        if b.get(q) == Some(&b':') {
            let o = super::assign::skip_blanks(b, q + 1);
            let o = o + b[o.min(b.len())..]
                .iter()
                .take(16)
                .take_while(|c| c.is_ascii_whitespace())
                .count();
            if b.get(o) == Some(&b'{') {
                return match classify(&text[ns..ne])? {
                    NameClass::Weak => None,
                    c => value_member(text, o + 1, c, &text[ns..ne], ns),
                };
            }
        }
    }
    while p > 0 && matches!(b[p - 1], b' ' | b'\t') {
        p -= 1;
    }
    if p == 0 || !matches!(b[p - 1], b':' | b'=') {
        return None;
    }
    p -= 1;
    if p > 0 && matches!(b[p - 1], b'"' | b'\'') {
        p -= 1;
    }
    let mut ks = p;
    while ks > 0 && p - ks < 24 && (name_byte(b[ks - 1]) || b[ks - 1] == b':') {
        ks -= 1;
    }
    let member = &text[ks..p];
    let name = &text[ns..ne];
    let class = if KEY_NAME_KEYS.contains(&member) {
        NameClass::Key
    } else if NAME_KEYS.contains(&member) {
        match classify(name)? {
            NameClass::Weak => return None,
            c => c,
        }
    } else {
        return None;
    };
    value_member(text, ne + usize::from(quote), class, name, ns)
}

/// The value member after `from`, in the same entry as the name.
fn value_member(
    text: &str,
    from: usize,
    class: NameClass,
    name: &str,
    ns: usize,
) -> Option<Assignment> {
    const REACH: usize = 240;
    let b = text.as_bytes();
    let end = (from + REACH).min(b.len());
    let mut q = from;
    while q < end {
        match b[q] {
            b'{' | b'}' | b'[' | b']' | b'<' | b'>' => return None,
            c if c.is_ascii_alphabetic() && !name_byte(b[q - 1]) && b[q - 1] != b':' => {
                let mut ke = q;
                while ke < end && (name_byte(b[ke]) || b[ke] == b':') {
                    ke += 1;
                }
                let key = text[q..ke].trim_end_matches(':');
                let after_key = q + key.len();
                // Another entry's name; a Kubernetes toleration's
                // `operator`/`effect` (its key and value are a node label).
                if (NAME_KEYS.contains(&key) || matches!(key, "operator" | "effect"))
                    && text[after_key..].starts_with([':', '=', '"'])
                {
                    return None;
                }
                if VALUE_KEYS.contains(&key) {
                    let mut v = after_key;
                    if matches!(b.get(v), Some(b'"' | b'\'')) {
                        v += 1;
                    }
                    if !matches!(b.get(v), Some(b':' | b'=')) {
                        q = ke;
                        continue;
                    }
                    v = super::assign::skip_blanks(b, v + 1);
                    return entry_value(text, v, class, name, ns);
                }
                q = ke;
            }
            _ => q += 1,
        }
    }
    None
}

fn entry_value(
    text: &str,
    at: usize,
    class: NameClass,
    name: &str,
    ns: usize,
) -> Option<Assignment> {
    let b = text.as_bytes();
    let quote = b.get(at).copied().filter(|c| matches!(c, b'"' | b'\''));
    let vs = at + usize::from(quote.is_some());
    let mut ve = vs;
    while ve < b.len() && ve - vs <= VALUE {
        let c = b[ve];
        let stop = match quote {
            Some(q) => c == q || c == b'\n' || c == b'\\',
            None => c.is_ascii_whitespace() || matches!(c, b',' | b'}' | b']' | b'"'),
        };
        if stop {
            break;
        }
        ve += 1;
    }
    if ve == vs || ve - vs > VALUE || !text.is_char_boundary(ve) {
        return None;
    }
    let value = &text[vs..ve];
    // `>>vault:…#password` (a Vault injector's reference), `${…}`.
    let unprefixed = value.trim_start_matches('>');
    if is_reference(unprefixed) || is_sealed_or_reference(unprefixed) {
        return None;
    }
    let confidence = accept(class, value, quote.is_some(), name)?;
    Some(Assignment {
        name_start: ns,
        value_start: vs,
        value_end: ve,
        class,
        confidence: confidence.min(0.7),
    })
}
