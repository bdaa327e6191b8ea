//! Secrets by context: a value assigned to a name that announces a secret, in
//! any of the syntaxes coding sessions are full of: `.env` and shell
//! (`PGPASSWORD=x`, `export X="y"`), YAML and JSON (`password: x`,
//! `"token": "y"`), INI/TOML, Makefiles (`:=`, `?=`, `::=`), Go/C#/Java/PHP
//! declarations, function arguments (`setProperty("API_TOKEN", "y")`), XML
//! (`<password>x</password>`, `key="Password" value="x"`), CLI flags
//! (`--token x`, `--password=x`) and HTTP headers (`Authorization: Bearer x`).
//!
//! A hand-written parser rather than one large regex: it starts from a
//! keyword hit found by the scanner's prefilter, so text without keywords
//! costs nothing here, and it can apply per-class value checks.

use super::entropy::{is_hex, is_uuid, looks_random, prefixed_random, words, Classes};
use super::names::{classify, NameClass};
use super::placeholder::{is_placeholder, is_reference, is_sealed_or_reference, is_wordy};

/// A secret value found by context.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub name_start: usize,
    pub value_start: usize,
    pub value_end: usize,
    pub class: NameClass,
    pub confidence: f32,
}

impl Assignment {
    /// The value as a finding of `rule`.
    pub(super) fn finding(&self, rule: &'static str) -> super::Finding {
        super::Finding {
            kind: std::borrow::Cow::Borrowed(self.class.kind()),
            rule: std::borrow::Cow::Borrowed(rule),
            start: self.value_start,
            end: self.value_end,
            confidence: self.confidence,
        }
    }
}

const MAX_NAME: usize = 96;
pub(super) const MAX_VALUE: usize = 1024;

pub(super) fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

fn is_quote(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b'`')
}

/// Authorization schemes that precede the credential itself.
const SCHEMES: &[&str] = &[
    "bearer",
    "basic",
    "token",
    "digest",
    "api-token",
    "apikey",
    "ssws",
    "splunk",
    "key",
    "otoken",
];

/// Tries to read `name <op> value` around a keyword hit at `hit..hit_end`.
/// Returns the name's start too, so the caller can skip other hits inside
/// the same name.
pub fn parse_at(text: &str, hit: usize, hit_end: usize) -> Option<Assignment> {
    let b = text.as_bytes();
    let mut start = hit;
    while start > 0 && is_name_byte(b[start - 1]) && hit - start < MAX_NAME {
        start -= 1;
    }
    let mut end = hit_end;
    while end < b.len() && is_name_byte(b[end]) && end - hit < MAX_NAME {
        end += 1;
    }
    let raw = &text[start..end];
    let cli = raw.starts_with('-')
        && (start == 0
            || b[start - 1].is_ascii_whitespace()
            || b[start - 1] == b'"'
            || b[start - 1] == b'\'');
    let name = raw.trim_matches(|c| c == '-' || c == '.');
    if name.is_empty() {
        return None;
    }
    // `<entry key="setting.name" value="…">`: the attribute called key holds
    // the setting's name; its value attribute is read on its own.
    if name == "key" && b.get(end) == Some(&b'=') && b.get(end + 1) == Some(&b'"') {
        return None;
    }
    let before = if start > 0 { b[start - 1] } else { b' ' };
    // `${DB_PASSWORD:?must be set}`, `${SECRET:-}`: the name of a shell
    // parameter expansion, whose operators look like assignments.
    if before == b'{' && start >= 2 && b[start - 2] == b'$' {
        return None;
    }
    // `rl:login:ecafd64f…`, `cache:token:42`: a segment of a colon-joined
    // key (Redis, URNs), not a name given a value.
    // (Not `DEBUG:root:token: …`, Python's log format: a value follows.)
    if before == b':'
        && b.get(end) == Some(&b':')
        && start >= 2
        && is_name_byte(b[start - 2])
        && b.get(end + 1).is_some_and(|&c| is_name_byte(c))
    {
        return None;
    }
    // `All 48 tests pass: …`, `both checks pass`: the verb of a test run's
    // result, not a name.
    if name.eq_ignore_ascii_case("pass") && start > 0 && before == b' ' {
        let we = start - 1;
        let ws = we
            - b[we.saturating_sub(16)..we]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_alphabetic())
                .count();
        if matches!(
            text[ws..we].to_ascii_lowercase().as_str(),
            "tests"
                | "checks"
                | "specs"
                | "builds"
                | "jobs"
                | "suites"
                | "cases"
                | "assertions"
                | "lints"
                | "all"
                | "they"
                | "both"
                | "everything"
                | "now"
                | "still"
                | "should"
                | "must"
                | "will"
        ) {
            return None;
        }
    }
    let xml_element = before == b'<';
    let quoted_name = is_quote(before);

    let mut pos = end;
    // Closing quote of a quoted name: "name", 'name', \"name\", ['name'].
    // (Only of a name it opened: in `-H "Authorization: Bearer $TOKEN"
    // https://…` the quote closes the header, and no value follows.)
    let mut closed_quote = false;
    if quoted_name && pos + 1 < b.len() && b[pos] == b'\\' && is_quote(b[pos + 1]) {
        pos += 2;
        closed_quote = true;
    } else if quoted_name && pos < b.len() && is_quote(b[pos]) {
        pos += 1;
        closed_quote = true;
    }
    if pos < b.len() && b[pos] == b']' {
        pos += 1;
    }
    // C's `static const char kWebhookSecret[] = "…"`, `char key[33] =`:
    // an array's size between the name and the `=`.
    if b.get(pos) == Some(&b'[') {
        let digits = b[pos + 1..]
            .iter()
            .take(6)
            .take_while(|c| c.is_ascii_digit())
            .count();
        if b.get(pos + 1 + digits) == Some(&b']')
            && b[skip_blanks(b, pos + 2 + digits)..].starts_with(b"= ")
        {
            pos += 2 + digits;
        }
    }
    // Go's `key, err := hex.DecodeString("…")`: the error variable beside
    // the name, then the operator.
    if b.get(pos) == Some(&b',') {
        let q = skip_blanks(b, pos + 1);
        let e = q + b[q.min(b.len())..]
            .iter()
            .take(16)
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        let r = skip_blanks(b, e);
        if e > q && (b[r..].starts_with(b":=") || b[r..].starts_with(b"= ")) {
            pos = r;
        }
    }
    // Slack's and Markdown's emphasis closing a label: `*DB password*: …`.
    for close in [&b"**:"[..], b"*:"] {
        if b[pos.min(b.len())..].starts_with(close) {
            pos += close.len() - 1;
            break;
        }
    }
    let after_name = pos;
    // `const MASTER_KEY: &str = "…"`, `apiKey: string = '…'`: a type
    // annotation between name and `=`, when a quoted value follows.
    if let Some(eq) = type_annotation(b, pos) {
        pos = eq;
    }
    pos = skip_blanks(b, pos);
    // `var token string = "…"`: a type between name and operator.
    if pos < b.len() && b[pos].is_ascii_alphabetic() && pos > after_name {
        let mut q = pos;
        while q < b.len() && (b[q].is_ascii_alphanumeric() || b[q] == b'_') {
            q += 1;
        }
        let r = skip_blanks(b, q);
        // Go's `var name type = …`: only a type's name (`username=alice`
        // after `userpass` is another parameter, not a type).
        const GO_TYPES: &[&[u8]] = &[
            b"string",
            b"byte",
            b"rune",
            b"int",
            b"int64",
            b"uint64",
            b"any",
            b"interface",
        ];
        if r < b.len()
            && b[r] == b'='
            && b.get(r + 1) != Some(&b'=')
            && GO_TYPES.contains(&&b[pos..q])
        {
            pos = r;
        }
    }
    let rest = &b[pos.min(b.len())..];
    let (op_len, op) = operator(rest, quoted_name, xml_element, cli, pos > after_name)?;
    // `redis-cli: option '--pass' requires an argument`: a flag named in
    // quotes is mentioned, not given a value (a quoted value may follow
    // one in an argument list: `'--password' 'Zq8!…'`).
    if op == Op::Space && cli && closed_quote && !rest.first().is_some_and(|&c| is_quote(c)) {
        return None;
    }
    // A PagerDuty routing key (`routing_key: <32 characters>`) is the
    // integration's secret; a message broker's routing key is a name.
    let routing = name.len() >= 11 && {
        let tail = &name[name.len() - 11..];
        tail.eq_ignore_ascii_case("routing_key") || tail.eq_ignore_ascii_case("routing-key")
    } || name.ends_with("routingKey");
    // Positional values must be long (checked in full below); prose ("the
    // key insight") is common, so a short next word ends it here, cheaply,
    // before the name is classified.
    // (An auth scheme's name counts as long: `Authorization "Basic …"`.)
    let next_word = match op {
        Op::Positional if scheme_prefix(rest.strip_prefix(b"\"").unwrap_or(rest)).is_some() => {
            usize::MAX
        }
        Op::Positional => rest
            .iter()
            .take(20)
            .take_while(|c| !c.is_ascii_whitespace())
            .count(),
        _ => usize::MAX,
    };
    if next_word < 6 {
        return None;
    }
    let class = match classify(name) {
        Some(c) => c,
        None if routing => NameClass::Key,
        None => return None,
    };
    if next_word < if class == NameClass::Password { 6 } else { 20 } {
        return None;
    }
    // Rejections that read more of the text come after the operator test,
    // which turns down most keyword hits (prose) for the price of a few bytes.
    // `arn:aws:secretsmanager:…:secret:prod/db`: a keyword inside a resource
    // name (ARN, URN) is part of the reference, not a name.
    // (At most 128 bytes back: this runs at every keyword hit.)
    {
        let back = start.saturating_sub(128);
        let token_start = b[back..start]
            .iter()
            .rposition(|&c| {
                c.is_ascii_whitespace()
                    || matches!(
                        c,
                        b'"' | b'\'' | b'=' | b'`' | b',' | b'&' | b';' | b'?' | b'(' | b'[' | b'{'
                    )
            })
            .map_or(back, |p| back + p + 1);
        let token = &b[token_start..start];
        if token.len() >= 4
            && (token[..4].eq_ignore_ascii_case(b"arn:")
                || token[..4].eq_ignore_ascii_case(b"urn:"))
        {
            return None;
        }
    }
    // `checksum/secret: 9f2a…`, `sha256/token`: a digest of what the last
    // segment names (Helm's checksum annotations).
    if start > 1 && b[start - 1] == b'/' {
        let seg = b[start.saturating_sub(33)..start - 1]
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        let word = &text[start - 1 - seg..start - 1];
        if super::names::is_digest_word(&word.to_ascii_lowercase()) {
            return None;
        }
    }
    // `"src/key.rs": "cf6e…"` (a checksum manifest), `alias/app-tokens⇥…`:
    // a path's last segment names a file or an alias, not a secret.
    if start > 1
        && b[start - 1] == b'/'
        && (file_name(name) || matches!(op, Op::Space | Op::Positional))
    {
        return None;
    }
    // `io.jsonwebtoken:jjwt`: a package coordinate, not an assignment.
    if name.contains('.')
        && name
            .split('.')
            .next()
            .is_some_and(|tld| matches!(tld, "io" | "com" | "org" | "net" | "dev" | "me"))
    {
        return None;
    }
    // `--password-stdin    Take the password from stdin`: a flag in a help
    // text, whose "value" is its description, set off by two or more blanks;
    // `--password-command command   shell command to…`: its metavariable,
    // then the description.
    // `--passphrase method:arg⏎        Read the passphrase…`: a man page's
    // option heading, its description indented on the next line.
    if op == Op::Space
        && (pos >= after_name + 2 && help_description(&b[pos..])
            || metavar_then_help(&b[pos..])
            || man_page_heading(b, start, pos))
    {
        return None;
    }
    // `-method=userpass username=alice`: the next word is a parameter of
    // its own, not this name's value.
    if op == Op::Positional && next_is_parameter(&b[pos..]) {
        return None;
    }
    pos += op_len;

    // Value start: blanks, YAML block indicators, opening quotes.
    pos = skip_blanks(b, pos);
    if op == Op::Element || op == Op::BlockScalar {
        while pos < b.len() && b[pos].is_ascii_whitespace() {
            pos += 1;
        }
    }
    // Byte and raw string literals: b"…", *b"…", r"…" (Rust, Python),
    // @"…" (Objective-C, C#).
    if op == Op::Assign {
        let mut q = pos;
        if q < b.len() && b[q] == b'*' {
            q += 1;
        }
        if q + 1 < b.len()
            && matches!(b[q], b'b' | b'r' | b'B' | b'R' | b'@')
            && matches!(b[q + 1], b'"' | b'\'')
        {
            pos = q + 1;
        }
    }
    let mut quote = None;
    if pos + 1 < b.len() && b[pos] == b'\\' && is_quote(b[pos + 1]) {
        quote = Some((b[pos + 1], true));
        pos += 2;
    } else if pos < b.len() && is_quote(b[pos]) {
        quote = Some((b[pos], false));
        pos += 1;
    }
    // Authorization: Bearer <credential>
    let mut schemed = false;
    if matches!(
        class,
        NameClass::Credential | NameClass::Token | NameClass::Key
    ) {
        if let Some(skip) = scheme_prefix(&b[pos..]) {
            pos += skip;
            schemed = true;
        }
    }
    let query = matches!(before, b'?' | b'&');
    // `= []byte("…")`, `= bytes.fromhex(\n "…")`, `= hex!("…")`,
    // `= Base64.getDecoder().decode("…")`, `= process.env.X ?? "…"`: a
    // literal inside the expression a secret-named constant is built from.
    // After a colon (a struct field, a keyword argument: `signing_key:
    // hex!("…")`, `key: Base.decode64!("…")`) only a decoding call counts.
    let decoding = |ls: usize| {
        let call = text[pos.min(ls)..ls].to_ascii_lowercase();
        ["hex", "decode", "b64", "base64", "byte", "from_slice"]
            .iter()
            .any(|w| call.contains(w))
    };
    // `= get_env("TF_VAR_api_key")`, `= config("services.key")`: a lookup
    // takes the name of a secret, not the secret.
    // (The literal is the first argument: `process.env.X ?? "…"` and
    // `getenv("X", "…")` give a fallback.)
    // (Whole words of the call's name: `Payload(`, `target(` are no
    // lookups, `GetBytes(` encodes the secret itself; and a random literal
    // is a key pasted where its name belongs.)
    let lookup = |ls: usize, le: usize| {
        let call = text.get(pos..ls.saturating_sub(1)).unwrap_or("").trim_end();
        let Some(open) = call.strip_suffix('(') else {
            return false;
        };
        let name = open
            .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        let ws = words(name);
        ws.iter().any(|w| {
            matches!(
                w.as_str(),
                "env"
                    | "getenv"
                    | "environ"
                    | "get"
                    | "param"
                    | "config"
                    | "lookup"
                    | "read"
                    | "load"
                    | "fetch"
            )
        }) && !ws.iter().any(|w| {
            matches!(
                w.as_str(),
                "bytes" | "byte" | "decode" | "hex" | "b64" | "base64"
            )
        }) && (!looks_random(&text[ls..le], 12) || env_name(&text[ls..le]))
    };
    if quote.is_none() && matches!(op, Op::Assign | Op::Colon) && class != NameClass::Weak {
        if let Some((ls, le)) = wrapped_literal(b, pos, |ls, le| {
            key_literal(&text[ls..le]) && (op == Op::Assign || decoding(ls)) && !lookup(ls, le)
        }) {
            return Some(Assignment {
                name_start: start,
                value_start: ls,
                value_end: le,
                class,
                confidence: 0.75,
            });
        }
    }
    let (vs, ve, quoted) = value_span(b, pos, quote, query);
    if ve <= vs || text[ve..].starts_with("...") || text[ve..].starts_with('…') {
        return None;
    }
    // `("password", "…")` pairs two strings; after a quoted name, a bare
    // word (`name: "…_password_token", unique: true`) is the next key, and
    // backticks on both sides are a Markdown list of code spans.
    if op == Op::Comma && (!quoted || (before == b'`' && quote.is_some_and(|q| q.0 == b'`'))) {
        return None;
    }
    // `"field":"password","reveal":false`: a string followed by a colon is
    // the next member's name, not a second argument.
    if op == Op::Comma && {
        let close = ve + quote.map_or(0, |(_, escaped)| 1 + usize::from(escaped));
        b.get(skip_blanks(b, close)) == Some(&b':')
    } {
        return None;
    }
    let value = &text[vs..ve];
    // `db-password:latest` (`--set-secrets=DB_PASS=db-password:latest`): a
    // secret's name and its version, joined by the colon.
    if op == Op::Colon
        && quote.is_none()
        && b[vs - 1] == b':'
        && is_sealed_or_reference(&text[start..ve])
    {
        return None;
    }
    // `= {0x8db13c22, …}`, `= [27, 176, …]`: an array's first item is not
    // the value; the byte-array rule takes the whole list or nothing.
    if value.len() > 1
        && matches!(value.as_bytes()[0], b'{' | b'[')
        && (value.as_bytes()[1].is_ascii_digit() || value.as_bytes()[1] == b'-')
    {
        return None;
    }
    // `['AUTH_PASSWORD_VALIDATORS', 'CSRF_COOKIE_HTTPONLY', …]`: a list of
    // constant names, not a name and its value.
    if op == Op::Comma && constant_name(value) {
        return None;
    }
    // A positional value (`aws_secret_access_key wJalr…`, "use token
    // 9f86d0…") counts only when long and machine-made: prose ("the key
    // insight") is common, so the cheap length test comes first.
    // (And only after a name that ends in what it names: in
    // `audit-secret-access-2026.03   1r0qKb…`, a listing's index and its
    // id, the secret word is not the last.)
    // (An environment or version suffix may follow: `API_KEY_PROD`,
    // `DB_PASSWORD_RW`, `secret_key_base`.)
    if op == Op::Positional
        && words(name)
            .iter()
            .rev()
            .find(|w| {
                !matches!(
                    w.as_str(),
                    "prod"
                        | "production"
                        | "live"
                        | "dev"
                        | "staging"
                        | "stage"
                        | "test"
                        | "rw"
                        | "ro"
                        | "base"
                        | "v1"
                        | "v2"
                        | "v3"
                ) && !w.bytes().all(|c| c.is_ascii_digit())
            })
            .is_none_or(|w| super::names::classify(w).is_none())
    {
        return None;
    }
    if op == Op::Positional
        && !(if class == NameClass::Password {
            positional_password(value, quoted)
        } else {
            // Quoted only after an identifier (`SECRET_ACCESS_KEY '…'` in
            // Redshift's COPY): after a prose word it is a quotation.
            // (Or after an auth scheme: nginx's `proxy_set_header
            // Authorization "Basic …"`.)
            value.len() >= 20
                && (!quoted || name.contains('_') || schemed)
                && Classes::of(value).digit
                && looks_random(value, 20)
        })
    {
        return None;
    }
    // `<password>secret</password>`; `--pass <password>  Alias of -a` is a
    // metavariable in a help text, with no closing tag.
    if op == Op::Element
        && !text[ve..]
            .trim_start_matches(|c: char| c == '"' || c == '\'' || c.is_ascii_whitespace())
            .starts_with("</")
    {
        return None;
    }
    if op == Op::Is && Classes::of(value).count() < 2 && !looks_random(value, 12) {
        return None; // "the password is incorrect"
    }
    // A positional value that is a URL is where a key is used (`Bearer
    // $TOKEN https://…`); its own rules judge what it holds.
    if op == Op::Positional && value.contains("://") {
        return None;
    }
    if routing && !(pagerduty_key(value) && pagerduty_near(text, start, ve)) {
        return None;
    }
    let confidence = accept(class, value, quoted, name)?;
    // `# keystore_password: cassandra   <- upstream sample`: a commented-out
    // setting of a documented config file, showing a default word.
    if !quoted && commented_out(b, start) && plain_word(value) {
        return None;
    }
    // A bare word in prose takes its meaning from its neighbours: "cache
    // key: …", "the public key is …", "key id: …" are not secrets. Checked
    // last: most keyword hits never get this far.
    if matches!(class, NameClass::Key | NameClass::Token)
        && name.len() <= 6
        && name.bytes().all(|c| c.is_ascii_alphabetic())
    {
        let (before, after) = super::names::words_around(text, start, end);
        if super::names::neutral_in_prose(before, after) {
            return None;
        }
    }
    Some(Assignment {
        name_start: start,
        value_start: vs,
        value_end: ve,
        class,
        confidence,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Assign,
    Colon,
    Comma,
    Element,
    BlockScalar,
    Space,
    /// Prose: "the password is hunter2", "set the password to hunter2".
    Is,
    /// An identifier, blanks, then the value.
    Positional,
}

/// At `pos` right after a name: `: <type> =` followed by a quoted value
/// (`: &str = "`, `: &'static [u8] = b"`, `: string = '`). Returns the
/// position of the `=`. The type must read as one (starts with `&`, `[`,
/// `*` or is a short identifier, optionally generic) so that YAML
/// (`password: a=b`) is never read this way.
fn type_annotation(b: &[u8], pos: usize) -> Option<usize> {
    if b.get(pos) != Some(&b':') || matches!(b.get(pos + 1), Some(b':') | Some(b'=')) {
        return None;
    }
    let ty_start = skip_blanks(b, pos + 1);
    let mut q = ty_start;
    while q < b.len()
        && q - ty_start < 32
        && (b[q].is_ascii_alphanumeric()
            || matches!(
                b[q],
                b'&' | b'\'' | b'[' | b']' | b';' | b'<' | b'>' | b'_' | b'*' | b' '
            ))
    {
        q += 1;
    }
    let ty = std::str::from_utf8(&b[ty_start..q]).ok()?.trim_end();
    let typed = ty.starts_with(['&', '[', '*'])
        || (!ty.is_empty()
            && ty.len() <= 20
            && !ty.contains(' ')
            && ty.bytes().next().is_some_and(|c| c.is_ascii_alphabetic()));
    if !typed || b.get(q) != Some(&b'=') || matches!(b.get(q + 1), Some(b'=') | Some(b'>')) {
        return None;
    }
    let mut v = skip_blanks(b, q + 1);
    if v < b.len() && b[v] == b'*' {
        v += 1;
    }
    if v < b.len() && matches!(b[v], b'b' | b'r') {
        v += 1;
    }
    (v < b.len() && is_quote(b[v])
        || wrapped_literal(b, skip_blanks(b, q + 1), |_, _| true).is_some())
    .then_some(q)
}

pub(super) fn skip_blanks(b: &[u8], mut pos: usize) -> usize {
    let start = pos;
    while pos < b.len() && (b[pos] == b' ' || b[pos] == b'\t') && pos - start < 32 {
        pos += 1;
    }
    pos
}

fn operator(
    rest: &[u8],
    quoted_name: bool,
    xml_element: bool,
    cli: bool,
    had_blank: bool,
) -> Option<(usize, Op)> {
    const ASSIGN: &[&[u8]] = &[
        b":::=", b"::=", b":=", b"?=", b".=", b"+=", b"=>", b"->", b"||:", b"<-",
    ];
    for op in ASSIGN {
        if rest.starts_with(op) {
            return Some((op.len(), Op::Assign));
        }
    }
    if rest.starts_with(b"==") || rest.starts_with(b"::") {
        return None;
    }
    if rest.starts_with(b"value=") || rest.starts_with(b"value =") {
        return Some((if rest[5] == b'=' { 6 } else { 7 }, Op::Assign));
    }
    // C++ brace initialisation: `constexpr std::string_view kSecret{"…"}`.
    if rest.starts_with(b"{\"") && !had_blank {
        return Some((1, Op::Assign));
    }
    match rest.first()? {
        b'=' => Some((1, Op::Assign)),
        b':' => {
            // YAML block scalar `key: |` / `key: >`
            let r = &rest[1..];
            let t = r.iter().position(|&c| c != b' ').unwrap_or(r.len());
            if matches!(r.get(t), Some(b'|') | Some(b'>'))
                && matches!(r.get(t + 1), Some(b'\n') | Some(b'-') | Some(b'+'))
            {
                return Some((1 + t + 1, Op::BlockScalar));
            }
            Some((1, Op::Colon))
        }
        b',' if quoted_name => Some((1, Op::Comma)),
        b'>' if xml_element => Some((1, Op::Element)),
        _ if cli && had_blank => Some((0, Op::Space)),
        b'i' if had_blank && (rest.starts_with(b"is ") || rest.starts_with(b"is: ")) => {
            Some((2, Op::Is))
        }
        b't' if had_blank && rest.starts_with(b"to ") => Some((2, Op::Is)),
        b'w' if had_blank && rest.starts_with(b"was ") => Some((3, Op::Is)),
        // `aws configure set aws_secret_access_key wJalr…`: a positional
        // value after an identifier; judged strictly (see parse_at).
        c if had_blank && !c.is_ascii_whitespace() => Some((0, Op::Positional)),
        _ => None,
    }
}

fn scheme_prefix(b: &[u8]) -> Option<usize> {
    for s in SCHEMES {
        let n = s.len();
        if b.len() > n + 1
            && b[..n].eq_ignore_ascii_case(s.as_bytes())
            && (b[n] == b' ' || b[n] == b'\t')
        {
            let mut p = n;
            while p < b.len() && (b[p] == b' ' || b[p] == b'\t') {
                p += 1;
            }
            return Some(p);
        }
    }
    None
}

/// Where the value ends: at its closing quote, or for bare values at
/// whitespace, a delimiter or an escape sequence such as `\n`.
fn value_span(
    b: &[u8],
    start: usize,
    quote: Option<(u8, bool)>,
    query: bool,
) -> (usize, usize, bool) {
    let mut limit = (start + MAX_VALUE).min(b.len());
    // Never cut a value inside a multi-byte character.
    while limit > start && limit < b.len() && b[limit] & 0xC0 == 0x80 {
        limit -= 1;
    }
    if let Some((q, escaped)) = quote {
        let mut i = start;
        while i < limit {
            let c = b[i];
            if c == b'\n' && q != b'`' {
                break;
            }
            if escaped {
                if c == b'\\' && i + 1 < b.len() && b[i + 1] == q {
                    return (start, i, true);
                }
            } else if c == q && (i == start || b[i - 1] != b'\\') {
                return (start, i, true);
            }
            i += 1;
        }
        // Unterminated quote: fall through to a bare value.
    }
    let mut i = start;
    let braced = b.get(start) == Some(&b'{');
    while i < limit {
        let c = b[i];
        if braced && c == b'}' {
            i += 1;
            break;
        }
        if c.is_ascii_whitespace()
            || matches!(
                c,
                b'"' | b'\'' | b'`' | b',' | b';' | b')' | b'}' | b']' | b'<' | b'|'
            )
        {
            break;
        }
        if c == b'&' && (query || next_is_parameter(&b[i + 1..])) {
            break; // the next parameter of a URL query or form body
        }
        if c == b'\\'
            && i + 1 < b.len()
            && matches!(b[i + 1], b'n' | b'r' | b't' | b'"' | b'\'' | b'\\')
        {
            break;
        }
        i += 1;
    }
    let mut end = i;
    while end > start && matches!(b[end - 1], b'.' | b':' | b',' | b'>') {
        end -= 1;
    }
    (start, end, false)
}

/// A value right after the word password in prose ("logged in with
/// password S3cretAdm1n", `using password "Qwerty!2345"`). Quoted, it needs
/// three character classes; bare, it must read as a chosen password rather
/// than an identifier (`HashMap2Set`): mixed case, a digit, and a symbol or
/// two separate digit runs.
pub(super) fn positional_password(v: &str, quoted: bool) -> bool {
    let c = Classes::of(v);
    // The cheap class test first: most candidates in prose are words.
    if c.space || !c.digit && (!quoted || c.count() < 3) {
        return false;
    }
    if is_placeholder(v) || is_reference(v) {
        return false;
    }
    if quoted {
        return v.len() >= 6 && c.count() >= 3;
    }
    let digit_runs = v
        .as_bytes()
        .split(|b| !b.is_ascii_digit())
        .filter(|r| !r.is_empty())
        .count();
    v.len() >= 8 && c.lower && c.upper && c.digit && (c.symbol || digit_runs >= 2)
}

/// How far after its noun a sentence may give the value ("the bearer
/// token I used was …").
const PROSE_REACH: usize = 40;

/// A secret a sentence names a few words before its value: "the password
/// for the db user is \"…\"", "the bearer token I used was …", "my PAT:
/// …", "the access key I generated: …", "the secret (…)". Runs at keyword
/// hits the assignment parser did not take, so it costs nothing on text
/// without those words; the value must carry the evidence (`prose_value_ok`).
pub fn prose_at(text: &str, hit: usize, hit_end: usize) -> Option<Assignment> {
    let b = text.as_bytes();
    // Words of other languages hold multi-byte letters (`contraseña`).
    let letter = |c: u8| c.is_ascii_alphabetic() || c >= 0x80;
    let mut ws = hit;
    while ws > 0 && hit - ws < 24 && letter(b[ws - 1]) {
        ws -= 1;
    }
    let mut we = hit_end;
    while we < b.len() && we - hit_end < 24 && letter(b[we]) {
        we += 1;
    }
    if !text.is_char_boundary(ws) || !text.is_char_boundary(we) {
        return None;
    }
    // The noun stands alone: not `csrf-token`, `db_password`, `cfg.key`.
    if ws > 0
        && !matches!(
            b[ws - 1],
            b' ' | b'\t' | b'\n' | b'(' | b'"' | b'\'' | b'`' | b',' | b';'
        )
    {
        return None;
    }
    if we < b.len()
        && (matches!(b[we], b'_' | b'-' | b'/' | b'\\')
            || (b[we] == b'.' && b.get(we + 1).is_some_and(|c| c.is_ascii_alphanumeric())))
    {
        return None;
    }
    // Runs at every keyword hit the assignment parser turned down: no
    // allocation before the noun is known to be one of these.
    const NOUNS: &[(&str, NameClass)] = &[
        ("password", NameClass::Password),
        ("passphrase", NameClass::Password),
        ("passwd", NameClass::Password),
        // "the db pass I set was …": a chosen password must follow.
        ("pass", NameClass::Password),
        // Other languages' words: Spanish, Portuguese, German, French.
        ("contraseña", NameClass::Password),
        ("senha", NameClass::Password),
        ("passwort", NameClass::Password),
        ("kennwort", NameClass::Password),
        ("schlüssel", NameClass::Key),
        ("clave", NameClass::Key),
        ("token", NameClass::Token),
        ("pat", NameClass::Token),
        ("secret", NameClass::Secret),
        ("key", NameClass::Key),
        ("apikey", NameClass::Key),
    ];
    let word = &b[ws..we];
    let class = match NOUNS
        .iter()
        .find(|(n, _)| word.eq_ignore_ascii_case(n.as_bytes()))
    {
        Some(&(_, class)) => class,
        // One word that ends in a secret noun: `authtoken`, `accesstoken`
        // (the keyword hit is that noun, at the word's end).
        None if we == hit_end
            && word.len() <= 24
            && word.iter().all(|c| c.is_ascii_alphabetic())
            && [&b"token"[..], b"secret", b"apikey"].iter().any(|n| {
                word.len() > n.len() && word[word.len() - n.len()..].eq_ignore_ascii_case(n)
            }) =>
        {
            match std::str::from_utf8(word).ok().and_then(classify) {
                Some(c) if c != NameClass::Weak => c,
                _ => return None,
            }
        }
        // A provider's name: only a value set right beside it counts. The
        // hit must be the whole word (most hits are `passes`, `keyboard`).
        None if ws == hit && we == hit_end && word.len() >= 4 && super::names::is_vendor(word) => {
            NameClass::Weak
        }
        None => return None,
    };
    let password = class == NameClass::Password;
    // A value right beside the noun, with no connector: `token '…'`,
    // `secret key \`…\``, `datadog - 3f9a…`, or alone on the next line
    // (`PagerDuty token⏎WHaC…`). Tokens and keys only: the value must then
    // look machine-made (prose_value_ok).
    if !password {
        if let Some(at) = beside(b, we) {
            let vendor = class == NameClass::Weak;
            let value_class = if vendor { NameClass::Token } else { class };
            // Beside a provider's name, hex and UUIDs are as often event,
            // trace or project ids (`Sentry - 9f2a…`) as keys.
            if let Some(a) = prose_value(text, at, value_class, ws)
                .filter(|a| {
                    let v = &text[a.value_start..a.value_end];
                    !vendor || !(is_hex(v) || is_uuid(v))
                })
                .or_else(|| {
                    (!vendor)
                        .then(|| hex_key_beside(text, at, class, ws))
                        .flatten()
                })
            {
                let (before, after) = super::names::words_around(text, ws, we);
                if !super::names::neutral_in_prose(before, after) {
                    return Some(a);
                }
            }
        }
    }
    if class == NameClass::Weak {
        return None;
    }
    let limit = (we + PROSE_REACH + 1).min(b.len());
    let mut p = we;
    while p < limit {
        let c = b[p];
        if matches!(c, b'\n' | b'.' | b'!' | b'?') {
            return None;
        }
        // The end of a JSON string that holds the noun (`"msg":"token
        // refreshed","token_family":…`): the next member is another's.
        if c == b'"' && matches!(b.get(p + 1), Some(b',' | b'}' | b':')) {
            return None;
        }
        // A connector: `:`, `=`, `(` (not for passwords, whose prose rule
        // needs words in between and a verb), or is/was/were as a word.
        // `no key with kid=sgaQ…`: an `=` right after another word gives
        // that word its value (a key id, here), not the noun.
        if c == b'=' && p > we && (b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'_') {
            return None;
        }
        let value_at = if matches!(c, b':' | b'=' | b'(') {
            if password {
                return None;
            }
            Some(p + 1)
        } else if matches!(c | 0x20, b'i' | b'w' | b'e' | b'c' | b't')
            && b[p - 1].is_ascii_whitespace()
        {
            // (Tested by first letter: this loop runs at every noun in prose.)
            // Spanish/Portuguese `es`, French `est`/`c'est`, German `ist`/`war`.
            let verbs: &[&str] = match c | 0x20 {
                b'i' => &["is", "ist"],
                b'w' => &["was", "were", "war"],
                b'e' => &["es", "est"],
                b'c' => &["c'est"],
                _ => &[],
            };
            verbs
                .iter()
                .find_map(|v| {
                    let e = p + v.len();
                    (b.len() > e
                        && b[p..e].eq_ignore_ascii_case(v.as_bytes())
                        && (b[e].is_ascii_whitespace() || b[e] == b':')
                        && (!password || p > we + 1 || b[e] == b':'))
                        .then_some(e)
                })
                .or_else(|| {
                    // "set the root password of the db container to …": `to`
                    // gives a password only when what follows reads as one.
                    let e = p + 2;
                    // Not after a bare `pass` ("pass the buffer to …"); the
                    // value must hold a symbol.
                    (password
                        && !word.eq_ignore_ascii_case(b"pass")
                        && c | 0x20 == b't'
                        && b.len() > e
                        && b[p + 1] | 0x20 == b'o'
                        && b[e] == b' '
                        && prose_value(text, e, class, ws).is_some_and(|a| {
                            text[a.value_start..a.value_end]
                                .bytes()
                                .any(|c| c.is_ascii_punctuation())
                        }))
                    .then_some(e)
                })
        } else {
            None
        };
        // Only the first connector counts: `secret generic --from-literal=
        // token=…` is the assignment parser's, not this noun's.
        if let Some(at) = value_at {
            // "the password error message was \"Access denied\"": the
            // sentence is about a piece of interface, not the password.
            if password && ui_words(&text[we..p]) {
                return None;
            }
            let a = prose_value(text, at, class, ws)?;
            let (before, after) = super::names::words_around(text, ws, we);
            return (!super::names::neutral_in_prose(before, after)).then_some(a);
        }
        p += 1;
    }
    None
}

/// A 40- or 64-digit hex value set right beside `app key`, `api token`,
/// `signing secret`, `<provider> key` (`the datadog app key — 3b98…`). Bare,
/// such a value reads as a commit or a content hash; a qualified key noun
/// right before it says otherwise.
fn hex_key_beside(text: &str, at: usize, class: NameClass, ws: usize) -> Option<Assignment> {
    let b = text.as_bytes();
    let at = skip_blanks(b, at);
    let vs = at + usize::from(matches!(b.get(at), Some(b'"' | b'\'' | b'`')));
    let n = b[vs.min(b.len())..]
        .iter()
        .take(65)
        .take_while(|c| c.is_ascii_hexdigit())
        .count();
    let ve = vs + n;
    if !matches!(n, 40 | 64) || b.get(ve).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let v = &text[vs..ve];
    if !looks_random(v, 16) || is_placeholder(v) {
        return None;
    }
    // A key's fingerprint (`release signing key …`, `gpg --recv-keys`) is
    // public.
    // (At most 120 bytes back: a long line may hold many such values.)
    let back = ws.saturating_sub(120);
    let from = memchr::memrchr(b'\n', &b[back..ws]).map_or(back, |i| back + i + 1);
    let line = text.get(from..ws).unwrap_or("").to_ascii_lowercase();
    if [
        "gpg",
        "pgp",
        "fingerprint",
        "release",
        "archive",
        "trust",
        "verify",
    ]
    .iter()
    .any(|w| line.contains(w))
    {
        return None;
    }
    let (before, _) = super::names::words_around(text, ws, ws);
    let qualified = before.is_some_and(|w| {
        let w = w.to_ascii_lowercase();
        matches!(
            w.as_str(),
            "api" | "app" | "access" | "secret" | "private" | "master" | "admin" | "auth"
        ) || super::names::is_vendor(w.as_bytes())
    });
    (qualified && class != NameClass::Password).then_some(Assignment {
        name_start: ws,
        value_start: vs,
        value_end: ve,
        class,
        confidence: 0.65,
    })
}

/// Where a value set right beside a noun ending at `we` starts: after
/// blanks at an opening quote or backtick, after a dash set off by blanks,
/// or at the start of the next line when that line is one token.
fn beside(b: &[u8], we: usize) -> Option<usize> {
    let mut p = skip_blanks(b, we);
    // `resend key:⏎re_…`: a colon ending the line, the value below.
    if b.get(p) == Some(&b':') && b.get(p + 1) == Some(&b'\n') {
        p += 1;
    }
    // An em or en dash or an arrow set off by blanks, as a dash is.
    let rest = &b[p.min(b.len())..];
    let dash = rest.starts_with("—".as_bytes())
        || rest.starts_with("–".as_bytes())
        || rest.starts_with("→".as_bytes());
    if dash && p > we && b.get(p + 3) == Some(&b' ') {
        return Some(p + 3);
    }
    if rest.starts_with(b"->") && p > we && b.get(p + 2) == Some(&b' ') {
        return Some(p + 2);
    }
    // In parentheses: `Fireworks (fw_…)`.
    if rest.first() == Some(&b'(') && p > we {
        return Some(p);
    }
    match b.get(p)? {
        b'"' | b'\'' | b'`' if p > we => Some(p),
        b'-' if p > we && b.get(p + 1) == Some(&b' ') => Some(p + 1),
        b'\n' => {
            let line = p + 1;
            let len = b[line..].iter().take_while(|&&c| c != b'\n').count();
            let token = &b[line..line + len];
            (len >= 16 && !token.iter().any(|c| c.is_ascii_whitespace())).then_some(line)
        }
        _ => None,
    }
}

/// The value after a prose connector at `at`, if it reads as a secret.
fn prose_value(text: &str, at: usize, class: NameClass, name_start: usize) -> Option<Assignment> {
    let b = text.as_bytes();
    let mut vs = skip_blanks(b, at);
    // "the password is: …"
    if b.get(vs) == Some(&b':') && at > 0 && b[at - 1] != b':' {
        vs = skip_blanks(b, vs + 1);
    }
    let quoted = vs < b.len() && matches!(b[vs], b'"' | b'\'' | b'`');
    if vs < b.len() && (quoted || b[vs] == b'(') {
        vs += 1;
    }
    let mut ve = vs;
    if class == NameClass::Password && quoted {
        // A quoted passphrase may hold blanks: "… is 'orbit tundra rivet'".
        let q = b[vs - 1];
        let close = b[vs..(vs + 64).min(b.len())]
            .iter()
            .position(|&c| c == q || c == b'\n');
        if let Some(n) = close.filter(|&n| b[vs + n] == q) {
            let v = &text[vs..vs + n];
            // Lower-case words only: "Log In", "Update Credentials" are
            // labels.
            let title = v
                .split(' ')
                .any(|w| w.starts_with(|c: char| c.is_uppercase()));
            if v.contains(' ') && !title && passphrase_like(v) && !is_placeholder(v) {
                return Some(Assignment {
                    name_start,
                    value_start: vs,
                    value_end: vs + n,
                    class,
                    confidence: 0.7,
                });
            }
        }
    }
    if class == NameClass::Password {
        while ve < b.len()
            && ve - vs < 64
            && !b[ve].is_ascii_whitespace()
            && !matches!(b[ve], b'"' | b'\'' | b'`')
        {
            ve += 1;
        }
        // Never end inside a multi-byte character.
        while !text.is_char_boundary(ve) {
            ve -= 1;
        }
        if ve < vs + 6 {
            return None;
        }
    } else {
        while ve < b.len()
            && ve - vs < 512
            && (b[ve].is_ascii_alphanumeric()
                || matches!(b[ve], b'_' | b'-' | b'+' | b'/' | b'.' | b'~'))
        {
            ve += 1;
        }
        let mut pad = 0;
        while ve < b.len() && b[ve] == b'=' && pad < 2 {
            ve += 1;
            pad += 1;
        }
        if ve - vs < 16 {
            return None;
        }
    }
    let value = &text[vs..ve];
    // A value cut short for display (`ops_eyJ…..[Redacted]`) is a sample.
    let rest = &text[ve..];
    let truncated = value.ends_with("..")
        || rest.starts_with(['…', '['])
        || rest.starts_with("###")
        || rest.starts_with("***");
    if truncated || !prose_value_ok(class, value, quoted) {
        return None;
    }
    Some(Assignment {
        name_start,
        value_start: vs,
        value_end: ve,
        class,
        confidence: 0.7,
    })
}

/// A value a sentence attributes to a secret-ish noun a few words back
/// ("the password for the db user is \"hunter2!Db\"", "the bearer token I
/// used was …", "my PAT: …"). Prose is loose context, so the value must
/// carry the evidence: a chosen password's mix of classes, or for tokens
/// and keys a random-looking string of 16+ characters that is not a bare
/// commit or content hash.
pub(super) fn prose_value_ok(class: NameClass, v: &str, quoted: bool) -> bool {
    if points_elsewhere(v) {
        return false;
    }
    if class == NameClass::Password {
        return !v.starts_with("[REDACTED") && positional_password(v, quoted);
    }
    if v.len() < 16
        || v.starts_with("[REDACTED")
        || is_placeholder(v)
        || super::placeholder::periodic(v)
        || is_reference(v)
        || is_reference(v.trim_end_matches('='))
    {
        return false;
    }
    let content_hash = is_hex(v) && matches!(v.len(), 40 | 64) || digest_with_a_name(v);
    let readable = is_wordy(v) || file_path(v) || slug(v);
    !content_hash && !readable && (looks_random(v, 16) || prefixed_random(v))
}

/// `env-2024-q2-prod`, `gh-actions-oidc-2024`, `release_v2_3_rc4`: short
/// lower-case parts, one a word at least (a tag, a release, a resource
/// name), not a token's random groups.
fn slug(v: &str) -> bool {
    let parts: Vec<&str> = v.split(['-', '_', '.']).collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            (1..=8).contains(&p.len())
                && p.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .iter()
            .any(|p| p.len() >= 3 && p.bytes().all(|c| c.is_ascii_lowercase()) && is_wordy(p))
}

/// A quoted password with spaces that reads as a passphrase rather than a
/// sentence about passwords ("must be at least 8 characters").
fn passphrase_like(v: &str) -> bool {
    const PROSE: &[&str] = &[
        "is",
        "are",
        "be",
        "must",
        "should",
        "your",
        "enter",
        "required",
        "invalid",
        "incorrect",
        "the",
        "a",
        "an",
        "at",
        "least",
        "please",
        "characters",
        "not",
        "too",
        "match",
        "wrong",
        "of",
        "for",
        "and",
        "or",
        "to",
        "with",
        "new",
        "old",
        "confirm",
        "password",
        "here",
    ];
    let ws: Vec<&str> = v.split_whitespace().collect();
    // (A word that is a flag makes it a command: `cargo test -p api`.)
    let flag = |w: &str| {
        w.strip_prefix('-')
            .map(|r| r.trim_start_matches('-'))
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_alphabetic()))
    };
    (2..=5).contains(&ws.len())
        && v.len() <= 64
        && !v.contains(['\n', '.', '?'])
        && !ws
            .iter()
            .any(|w| PROSE.contains(&w.to_ascii_lowercase().as_str()) || flag(w))
}

/// Whether `v` holds `n` or more consecutive ASCII digits.
fn has_digit_run(v: &str, n: usize) -> bool {
    let mut run = 0;
    v.bytes().any(|b| {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        run >= n
    })
}

/// Whether the name at `start` stands on a commented-out line (`# `,
/// `; `, `// ` before it and only blanks before those; the line may start
/// after an escaped newline, `\n`, in a JSON string).
fn commented_out(b: &[u8], start: usize) -> bool {
    let from = start.saturating_sub(40);
    let mut p = start;
    while p > from && matches!(b[p - 1], b' ' | b'\t') {
        p -= 1;
    }
    let marker = if p >= from + 2 && &b[p - 2..p] == b"//" {
        2
    } else if p > from && matches!(b[p - 1], b'#' | b';') {
        1
    } else {
        return false;
    };
    p -= marker;
    while p > from && matches!(b[p - 1], b' ' | b'\t') {
        p -= 1;
    }
    p == 0 || b[p - 1] == b'\n' || (p >= 2 && &b[p - 2..p] == b"\\n")
}

/// One lower-case word (`cassandra`, `elastic`): a default shown in a
/// comment, not a generated secret.
fn plain_word(v: &str) -> bool {
    (3..=16).contains(&v.len()) && v.bytes().all(|c| c.is_ascii_lowercase()) && is_wordy(v)
}

/// A PagerDuty integration key: 32 letters and digits, random.
fn pagerduty_key(v: &str) -> bool {
    v.len() == 32
        && v.bytes().all(|c| c.is_ascii_alphanumeric())
        && Classes::of(v).digit
        && (is_hex(v) || looks_random(v, 16))
}

/// PagerDuty named within a kilobyte before a routing key (an
/// Alertmanager receiver's `pagerduty_configs:`, a Terraform resource, a
/// client) or on the same stretch after it, or an Events API payload's
/// `event_action` after it.
fn pagerduty_near(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let from = start.saturating_sub(1024);
    let to = (end + 256).min(b.len());
    let near = |s: usize, e: usize| {
        b[s..e]
            .windows(9)
            .any(|w| w.eq_ignore_ascii_case(b"pagerduty"))
    };
    near(from, start)
        || near(end, to)
        || memchr::memmem::find(&b[end..to], b"event_action").is_some()
}

/// `--passphrase method:arg⏎        Read the passphrase…`: a man page's
/// option heading: the flag (after blanks and other flags) and a
/// metavariable made of words alone on the line, and a description
/// indented deeper on the next one.
fn man_page_heading(b: &[u8], flag: usize, value: usize) -> bool {
    let word = b[value.min(b.len())..]
        .iter()
        .take(41)
        .take_while(|c| !c.is_ascii_whitespace())
        .count();
    let metavar = &b[value..value + word];
    if word == 0
        || word > 40
        || !metavar
            .iter()
            .all(|c| c.is_ascii_alphabetic() || b"-_:|.<>[]".contains(c))
    {
        return false;
    }
    let eol = skip_blanks(b, value + word);
    if b.get(eol) != Some(&b'\n') {
        return false;
    }
    let from = flag.saturating_sub(64);
    let Some(ls) = b[from..flag]
        .iter()
        .rposition(|&c| c == b'\n')
        .map(|i| from + i + 1)
        .or((from == 0).then_some(0))
    else {
        return false;
    };
    let lead = &b[ls..flag];
    let indent = lead
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t'))
        .count();
    let flags_only =
        std::str::from_utf8(lead).is_ok_and(|l| l.split_whitespace().all(|w| w.starts_with('-')));
    let next = eol + 1;
    let deeper = b[next.min(b.len())..]
        .iter()
        .take(64)
        .take_while(|c| matches!(c, b' ' | b'\t'))
        .count();
    flags_only && deeper > indent && help_description(&b[next + deeper..])
}

/// `name=` follows: the value ended at a query-string separator.
fn next_is_parameter(b: &[u8]) -> bool {
    let n = b
        .iter()
        .take(64)
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        .count();
    n > 0 && b.get(n) == Some(&b'=')
}

/// A value in the shape of a vendor format the vendor rules did not accept
/// (`12345:A…` of the wrong length for a Telegram bot token). The vendor
/// rules are exact; a near miss is sample data, not a credential.
fn vendor_near_miss(v: &str) -> bool {
    let b = v.as_bytes();
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    digits >= 4 && b.get(digits) == Some(&b':') && b.get(digits + 1) == Some(&b'A')
}

/// The rest of a line reads as prose: at least three words, the first a
/// word (a help text's description, not a flag's value).
fn help_description(rest: &[u8]) -> bool {
    // Only the start of the line: a megabyte-long line must not be walked
    // at every flag in it.
    let rest = &rest[..rest.len().min(160)];
    let line = rest.split(|&c| c == b'\n').next().unwrap_or_default();
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    words.len() >= 3
        && words[0].bytes().all(|c| c.is_ascii_alphabetic())
        && words.iter().take(4).filter(|w| is_wordy(w)).count() >= 3
}

/// The first string literal that `wanted` accepts in an expression
/// starting at `pos` (`[]byte("`, `bytes.fromhex(\n    "`, `hex!("`,
/// `X ?? "`, `getenv('X') ?: '`, `ENV.fetch("X") { "`, `["…"].pack`), when
/// only code stands around it: identifiers, calls, operators, blanks, and
/// other literals (up to three, so an environment variable's name before a
/// fallback is passed over). Looks 160 bytes ahead at most and stops at
/// the end of the statement.
fn wrapped_literal(
    b: &[u8],
    pos: usize,
    wanted: impl Fn(usize, usize) -> bool,
) -> Option<(usize, usize)> {
    // The expression may start on the next line (`=⏎  process.env.X ?? "…"`).
    let pos = pos
        + b[pos.min(b.len())..]
            .iter()
            .take(16)
            .take_while(|c| c.is_ascii_whitespace())
            .count();
    if pos >= b.len() || !(b[pos].is_ascii_alphabetic() || matches!(b[pos], b'[' | b'&')) {
        return None;
    }
    let limit = (pos + 160).min(b.len());
    let (mut q, mut depth, mut literals) = (pos, 0i32, 0);
    // A call, an array or an operator must stand before the literal (a
    // bare word before a quote is prose).
    let mut code = false;
    while q < limit {
        match b[q] {
            b'"' | b'\'' | b'`' => {
                if !code {
                    return None;
                }
                let quote = b[q];
                let start = q + 1;
                let len = b[start..]
                    .iter()
                    .take(1024)
                    .take_while(|&&c| c != quote && c != b'\n' && c != b'\\')
                    .count();
                let end = start + len;
                if end >= b.len() || b[end] != quote {
                    return None;
                }
                if len > 0 && wanted(start, end) {
                    return Some((start, end));
                }
                literals += 1;
                if literals == 3 {
                    return None;
                }
                q = end + 1;
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                code = true;
            }
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            b';' => return None,
            b'\n' if literals > 0 && depth == 0 => return None,
            b'?' | b'|' if matches!(b.get(q + 1), Some(b'?' | b'|' | b':')) => code = true,
            c if c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'_' | b'.'
                        | b'!'
                        | b'?'
                        | b'|'
                        | b':'
                        | b'<'
                        | b'>'
                        | b' '
                        | b'\t'
                        | b'\n'
                        | b'\r'
                        | b'$'
                        | b'&'
                        | b','
                        | b'*'
                        | b'-'
                        | b'='
                ) => {}
            _ => return None,
        }
        q += 1;
    }
    None
}

/// A string literal in code that reads as key material: random, or 32+
/// hex digits, and not an environment variable's name
/// (`getenv("DJANGO_SECRET_KEY")`), an algorithm or a reference.
pub(super) fn key_literal(lit: &str) -> bool {
    lit.len() >= 16
        && !is_placeholder(lit)
        && !file_path(lit)
        && !is_sealed_or_reference(lit)
        && !is_reference(lit)
        && !is_wordy(lit)
        && (looks_random(lit, 16) || is_hex(lit) && lit.len() >= 32)
}

/// `command   shell command to obtain the password`: one word, two or more
/// blanks, then a description (a help text's metavariable column).
fn metavar_then_help(rest: &[u8]) -> bool {
    let word = rest.iter().take_while(|c| !c.is_ascii_whitespace()).count();
    if word == 0 || word > 24 {
        return false;
    }
    let blanks = rest[word..]
        .iter()
        .take(64)
        .take_while(|&&c| c == b' ' || c == b'\t')
        .count();
    blanks >= 2 && help_description(&rest[word + blanks..])
}

/// A secret store's path (`prod/inventory-svc/postgres`, `kv/data/app`):
/// two or more slash-separated segments of lower-case words.
fn store_path(v: &str) -> bool {
    let segments: Vec<&str> = v.split('/').collect();
    segments.len() >= 2
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.len() <= 40
                && s.bytes().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
                })
                && s.split(['-', '_', '.']).filter(|p| !p.is_empty()).all(|p| {
                    // Words or short numbers, never a mix (`tr0ub4dor/3xk9q`
                    // is a password with a slash, not a path).
                    (p.len() >= 2 && p.len() <= 20 && p.bytes().all(|c| c.is_ascii_lowercase()))
                        || (p.len() <= 4 && p.bytes().all(|c| c.is_ascii_digit()))
                })
        })
}

/// Whether a value names where a secret is kept instead of being one: a
/// reference or ciphertext, a file path, a secret store's path, a file
/// whose contents are read (`@/path/to/file`, curl's and swaks' syntax).
fn points_elsewhere(v: &str) -> bool {
    is_sealed_or_reference(v)
        || file_path(v)
        || store_path(v)
        || v.strip_prefix('@')
            .is_some_and(|f| file_path(f) || source_file_name(f))
}

/// A path, which names where a secret is kept: an absolute or home-relative
/// path of readable segments (`/run/secrets/db-password`,
/// `~/.ssh/id_ed25519`), or a `/` and a last segment with an extension
/// (`src/components/LoginForm.tsx`, `keys/dev.pem`; base64 and base64url
/// secrets have no `.`, so they never read as one).
fn file_path(v: &str) -> bool {
    if let Some(rest) = v
        .strip_prefix('/')
        .or_else(|| v.strip_prefix("~/"))
        .or_else(|| v.strip_prefix("./"))
    {
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        if segments.len() >= 2
            && segments.iter().all(|s| {
                s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
                    && s.split(['.', '-', '_']).filter(|p| !p.is_empty()).all(|p| {
                        is_wordy(p)
                            || p.bytes().all(|c| c.is_ascii_digit())
                            // `credstore`, `encrypted`: lower-case words, not base64.
                            || (p.len() <= 20 && p.bytes().all(|c| c.is_ascii_lowercase()))
                            // `id_ed25519`, `v2`: short lower-case and digits.
                            || (p.len() <= 8
                                && p.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
                    })
            })
        {
            return true;
        }
    }
    let Some((_, last)) = v.rsplit_once('/') else {
        return false;
    };
    // `src/oauth/clients.rs:201`, `app.py:12:5`: a place in a file.
    let last = last.trim_end_matches(|c: char| c.is_ascii_digit() || c == ':');
    match last.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && (1..=5).contains(&ext.len())
                && ext
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }
        None => false,
    }
}

/// A PowerShell cmdlet (`ConvertTo-SecureString`, `Get-Secret`): the
/// value is the command that produces the secret, not the secret.
fn cmdlet(v: &str) -> bool {
    let Some((verb, noun)) = v.split_once('-') else {
        return false;
    };
    const VERBS: &[&str] = &[
        "Get",
        "Set",
        "New",
        "Read",
        "ConvertTo",
        "ConvertFrom",
        "Import",
        "Export",
        "Invoke",
        "Unprotect",
        "Protect",
        "Decrypt",
        "Encrypt",
    ];
    VERBS.contains(&verb)
        && noun.len() >= 3
        && noun.as_bytes()[0].is_ascii_uppercase()
        && noun.bytes().all(|c| c.is_ascii_alphabetic())
}

/// `Linux-node-modules-214ce…` (a CI cache key), `app-release-9f86…`: words
/// and then a SHA-1 or SHA-256 digest, the name of something by its content.
fn digest_with_a_name(v: &str) -> bool {
    let Some((head, digest)) = v.rsplit_once('-') else {
        return false;
    };
    matches!(digest.len(), 40 | 64)
        && is_hex(digest)
        && head.split('-').count() >= 2
        && head
            .split('-')
            .all(|w| w.len() >= 3 && w.bytes().all(|c| c.is_ascii_alphabetic()))
}

/// `8:1:allow presetting…`, `0:0::::`: fields of a colon-separated record
/// (gpgconf's option list, /etc/passwd-like files) that start with small
/// numbers.
fn record_fields(v: &str) -> bool {
    let mut fields = v.split(':');
    // (`30:45:02:21:…`, colon-separated hex bytes, is a key's form.)
    let colon_hex = v
        .split(':')
        .all(|f| f.len() == 2 && f.bytes().all(|c| c.is_ascii_hexdigit()));
    !colon_hex
        && v.matches(':').count() >= 2
        && fields
            .by_ref()
            .take(2)
            .all(|f| !f.is_empty() && f.len() <= 3 && f.bytes().all(|c| c.is_ascii_digit()))
}

/// `credentials.rs`, `secrets_test.py}`: a source or config file's name,
/// made of words, with its extension (git's rename summary
/// `{secrets.rs => credentials.rs}`).
fn source_file_name(v: &str) -> bool {
    const EXTENSIONS: &[&str] = &[
        "rs", "py", "ts", "tsx", "js", "jsx", "mjs", "go", "java", "kt", "rb", "php", "c", "h",
        "cc", "cpp", "hpp", "cs", "swift", "scala", "md", "txt", "json", "yaml", "yml", "toml",
        "ini", "cfg", "conf", "sh", "sql", "html", "css", "xml", "lock", "tf", "proto",
    ];
    let v = v.trim_end_matches(['}', ')', ',', '"', '\'']);
    v.rsplit_once('.').is_some_and(|(stem, ext)| {
        // A migration's timestamp or sequence number may come first:
        // `20230412210793_add_reset_password_token_to_users.rb`.
        let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
        let words = match stem.as_bytes().get(digits) {
            Some(b'_' | b'-') if digits >= 3 => &stem[digits + 1..],
            _ => stem,
        };
        EXTENSIONS.contains(&ext)
            && !words.is_empty()
            && stem
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
            && is_wordy(words)
    })
}

/// Whether a value under a name of `class` is a secret, and how sure we are.
pub(super) fn accept(class: NameClass, v: &str, quoted: bool, name: &str) -> Option<f32> {
    if v.len() > MAX_VALUE - 1 || v.starts_with("[REDACTED") {
        return None;
    }
    // A UUID under a token or key name is the credential (Heroku, Snyk,
    // HubSpot keys are UUIDs), even when it looks like sample data.
    // (Not the nil UUID, nor one digit repeated: a stand-in.)
    let one_digit = || {
        let mut digits = v.bytes().filter(|c| *c != b'-');
        let first = digits.next();
        digits.all(|c| Some(c) == first)
    };
    if is_uuid(v) && !matches!(class, NameClass::Weak) && !one_digit() {
        return Some(0.7);
    }
    // `{85fe22c6-…}`: a GUID literal, as .NET and the registry print ids
    // ("The key {…} was not found in the key ring").
    if v.len() == 38 && v.starts_with('{') && v.ends_with('}') && is_uuid(&v[1..37]) {
        return None;
    }
    if digest_with_a_name(v) || record_fields(v) || source_file_name(v) {
        return None;
    }
    // `using EDDSA key 5B5C…`: 40 upper-case hex digits are an OpenPGP
    // fingerprint, as gpg prints it.
    // (Only under the bare word: `SECRET_KEY=8B0E…` is a key.)
    if name.eq_ignore_ascii_case("key")
        && v.len() == 40
        && is_hex(v)
        && !v.bytes().any(|c| c.is_ascii_lowercase())
    {
        return None;
    }
    // `--- PASS: TestRotateSigningKey/kms_decrypt_fails`: a Go test's name.
    if name == "PASS"
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'/'))
        && v.strip_prefix("Test").is_some_and(|r| {
            r.starts_with(|c: char| c.is_ascii_uppercase())
                && is_wordy(r.split('/').next().unwrap_or(r))
        })
    {
        return None;
    }
    if is_placeholder(v) || points_elsewhere(v) || vendor_near_miss(v) || cmdlet(v) {
        return None;
    }
    // Erlang's generated cookie: 20 upper-case letters, no word.
    if class == NameClass::Secret && erlang_cookie(name, v) {
        return Some(0.8);
    }
    if !quoted && (is_reference(v) || type_name(v)) {
        return None;
    }
    if v.eq_ignore_ascii_case(name) || spells_name(v, name) || service_as_value(v, name) {
        return None;
    }
    // `"key": "rpc.service"`: a dotted name of lower-case words;
    // `20260117092040_AddApiKeyHashAndPrefix`: an identifier of words.
    if class != NameClass::Password && (dotted_words(v) || identifier_of_words(v)) {
        return None;
    }
    // `--secret id=npmrc,src=…`: the value is a list of settings.
    if settings_list(v) {
        return None;
    }
    let c = Classes::of(v);
    if c.space && !(quoted && class == NameClass::Password && passphrase_like(v)) {
        return None;
    }
    // A unit repeated (`deadbeefdeadbeef`) is filler where a machine-made
    // value belongs (a person may repeat a password's word).
    if class != NameClass::Password && super::placeholder::periodic(v) {
        return None;
    }
    match class {
        NameClass::Password => {
            // A bare identifier that itself names a secret is a variable
            // (`db_pass`, `cfg.password`) — unless it carries a number no
            // variable name would (`ini_pass_7781`).
            if is_wordy(v)
                && words(v).iter().any(|w| super::names::classify(w).is_some())
                && v.contains(['_', '.'])
                && !has_digit_run(v, 3)
            {
                return None;
            }
            // Characters, not bytes: `é.a` is three characters, too short.
            let chars = v.chars().count();
            (chars >= 6 || (chars >= 4 && c.count() >= 2)).then_some(0.8)
        }
        NameClass::Weak => ((looks_random(v, 16) || prefixed_random(v)) && c.digit).then_some(0.6),
        _ => {
            if is_wordy(v) {
                None
            } else if looks_random(v, 8) || prefixed_random(v) {
                Some(0.85)
            } else if is_hex(v) && v.len() >= 16 {
                Some(0.75)
            } else if matches!(class, NameClass::Secret | NameClass::Credential)
                && v.len() >= 12
                && c.count() >= 3
                && !is_wordy(v)
            {
                Some(0.6)
            } else {
                None
            }
        }
    }
}

/// A value under an Erlang cookie's name (or printed from
/// `.erlang.cookie`) in the shape Erlang and RabbitMQ generate: 16 to 64
/// upper-case letters that spell no words.
fn erlang_cookie(name: &str, v: &str) -> bool {
    (16..=64).contains(&v.len()) && v.bytes().all(|c| c.is_ascii_uppercase()) && !is_wordy(v) && {
        let n = name.to_ascii_lowercase();
        n.contains("erlang") && n.contains("cookie")
    }
}

/// A type where a value would stand (a struct field, a GraphQL argument):
/// `String!`, `ID!`, `Int?`, `SecretString`, `SecretStr`, `PasswordInput!`
/// — a scalar's name, or capitalised words ending in a word types end in.
fn type_name(v: &str) -> bool {
    const SCALARS: &[&str] = &[
        "string", "str", "int", "integer", "float", "double", "boolean", "bool", "id", "bytes",
        "number", "char", "uuid", "datetime", "date", "json",
    ];
    const TYPE_ENDS: &[&str] = &[
        "string",
        "str",
        "bytes",
        "buf",
        "buffer",
        "box",
        "vec",
        "value",
        "type",
        "input",
        "payload",
        "data",
        "secret",
        "password",
        "token",
        "key",
        "hash",
        "credential",
        "credentials",
        "config",
        "settings",
        "options",
        "info",
        "ref",
        "handle",
        "wrapper",
    ];
    let t = v
        .strip_suffix('!')
        .or_else(|| v.strip_suffix('?'))
        .unwrap_or(v);
    if t.is_empty() || !t.bytes().all(|c| c.is_ascii_alphabetic()) {
        return false;
    }
    if t.len() < v.len() && SCALARS.contains(&t.to_ascii_lowercase().as_str()) {
        return true;
    }
    let ws = words(t);
    t.as_bytes()[0].is_ascii_uppercase()
        && ws.len() >= 2
        && is_wordy(t)
        && ws.last().is_some_and(|w| TYPE_ENDS.contains(&w.as_str()))
}

/// An identifier that spells the name it is assigned to (`DB_PASSWORD:
/// dbPassword`, `datadog_api_key = get_env("TF_VAR_datadog_api_key")`): a
/// variable, or the name of one, not a value.
fn spells_name(v: &str, name: &str) -> bool {
    // `#define gcm_aes128_set_key nettle_gcm_aes128_set_key`: a name of
    // several words inside the value, verbatim.
    // (Joined by `_`: `CleartextPassword1` under `ClearTextPassword` is
    // a chosen password.)
    if words(name).len() >= 2
        && v.len() > name.len()
        && v.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
    {
        let (lv, ln) = (v.to_ascii_lowercase(), name.to_ascii_lowercase());
        if let Some(i) = lv.find(&ln) {
            let (before, after) = (&lv[..i], &lv[i + ln.len()..]);
            if (before.is_empty() || before.ends_with('_'))
                && (after.is_empty() || after.starts_with('_'))
            {
                return true;
            }
        }
    }
    // Every word of the name, and more, in an identifier without digits
    // (`CleartextPassword1` under `Password` may be chosen).
    let (wv, wn) = (words(v), words(name));
    v.bytes().all(|c| c.is_ascii_alphabetic() || c == b'_')
        && wv.len() >= 2
        && !wn.is_empty()
        && wn.iter().all(|w| wv.contains(w))
}

/// `POSTGRES_PASSWORD: postgres`, `RABBITMQ_DEFAULT_PASS=rabbitmq`: a
/// plain lower-case word that is another word of the name, the service's
/// own name: its image's default or a test stack's stand-in, not a chosen
/// secret.
fn service_as_value(v: &str, name: &str) -> bool {
    v.len() >= 3 && v.bytes().all(|c| c.is_ascii_lowercase()) && name.len() > v.len() && {
        let wn = words(name);
        // (A provider's name counts: `GRAFANA_ADMIN_PASSWORD: grafana`.)
        wn.len() >= 2
            && wn
                .iter()
                .any(|w| w == v && classify(w).is_none_or(|c| c == NameClass::Weak))
    }
}

/// `TF_VAR_datadog_api_key`, `DB_PASSWORD`: words joined by `_`, each in
/// one case, as an environment variable is named.
fn env_name(v: &str) -> bool {
    v.contains('_')
        && v.split('_').all(|p| {
            (1..=16).contains(&p.len())
                && p.bytes().all(|c| c.is_ascii_alphanumeric())
                && !(p.bytes().any(|c| c.is_ascii_lowercase())
                    && p.bytes().any(|c| c.is_ascii_uppercase()))
        })
}

/// `rpc.service`, `http.request_method`: two or more dot-separated
/// segments of lower-case letters (a span tag's, a setting's name).
fn dotted_words(v: &str) -> bool {
    let mut n = 0;
    v.split('.').all(|s| {
        n += 1;
        (2..=16).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_lowercase() || c == b'_')
    }) && (2..=3).contains(&n)
}

/// An identifier of three or more readable words, and maybe numbers
/// (`20260117092040_AddApiKeyHashAndPrefix`, `RefreshTokenRotationTest`).
fn identifier_of_words(v: &str) -> bool {
    if !v.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return false;
    }
    let ws = words(v);
    let alpha: Vec<&String> = ws
        .iter()
        .filter(|w| !w.bytes().all(|c| c.is_ascii_digit()))
        .collect();
    // (A word that names a secret or a thing done to data marks an
    // identifier; `PurpleMonkeyDishwasher42` is a passphrase.)
    alpha.len() >= 3
        && alpha.iter().all(|w| w.len() >= 2 && is_wordy(w))
        && alpha.iter().any(|w| {
            super::names::classify(w).is_some()
                || matches!(
                    w.as_str(),
                    "add"
                        | "create"
                        | "drop"
                        | "rename"
                        | "remove"
                        | "update"
                        | "get"
                        | "set"
                        | "test"
                        | "hash"
                        | "table"
                        | "column"
                        | "index"
                        | "prefix"
                        | "init"
                )
        })
}

/// `id=npmrc,src=$HOME/.npmrc`, `type=secret,target=/run/x`: settings of
/// their own, each a lower-case word and a readable value.
fn settings_list(v: &str) -> bool {
    v.split(',').all(|part| {
        part.split_once('=').is_some_and(|(k, val)| {
            (2..=12).contains(&k.len())
                && k.bytes().all(|c| c.is_ascii_lowercase())
                && !val.is_empty()
                && !looks_random(val, 12)
        })
    })
}

/// `SCREAMING_SNAKE_CASE` with an underscore: a constant's name.
fn constant_name(v: &str) -> bool {
    v.contains('_')
        && v.bytes().any(|c| c.is_ascii_uppercase())
        && v.bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

/// A file's name: a stem and a short alphabetic extension (`key.rs`,
/// `token.json`).
fn file_name(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=5).contains(&ext.len())
            && ext.bytes().all(|c| c.is_ascii_lowercase())
    })
}

/// Words that make a sentence about a password one about its interface
/// or its rules (`the password error message was …`, `… field label is …`).
fn ui_words(between: &str) -> bool {
    const UI: &[&str] = &[
        "text",
        "label",
        "title",
        "message",
        "error",
        "prompt",
        "button",
        "field",
        "dialog",
        "placeholder",
        "default",
        "defecto",
        "hint",
        "tooltip",
        "policy",
        "requirement",
        "requirements",
        "format",
        "rule",
        "rules",
        "column",
        "input",
    ];
    between
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| UI.iter().any(|u| w.eq_ignore_ascii_case(u)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Option<&str> {
        let lower = text.to_ascii_lowercase();
        for kw in [
            "password", "passwd", "pass", "token", "secret", "key", "auth", "cred", "login", "pwd",
        ] {
            let mut from = 0;
            while let Some(i) = lower[from..].find(kw) {
                let at = from + i;
                if let Some(a) = parse_at(text, at, at + kw.len()) {
                    return Some(&text[a.value_start..a.value_end]);
                }
                from = at + 1;
            }
        }
        None
    }

    #[test]
    fn syntaxes() {
        let cases = [
            ("PGPASSWORD=s3cr3t-Pw psql -h db", "s3cr3t-Pw"),
            (
                "export API_TOKEN=\"tok_8fJ2kLq9ZxP3mN7v\"",
                "tok_8fJ2kLq9ZxP3mN7v",
            ),
            ("password: hunter2!", "hunter2!"),
            (
                "{\"client_secret\": \"6da89121079f83b2eb6a\"}",
                "6da89121079f83b2eb6a",
            ),
            (
                "adobe_TOKEN ?= \"dfc3909c15257e67a9c9538f27a7ad11\"",
                "dfc3909c15257e67a9c9538f27a7ad11",
            ),
            (
                "var asanaToken string = \"45eucx7anzi84ee5p16zrhridt3gc7x9\"",
                "45eucx7anzi84ee5p16zrhridt3gc7x9",
            ),
            (
                "System.setProperty(\"ALIBABA_TOKEN\", \"g1zu82l4eoe63qk3he9qcn71tovi23\")",
                "g1zu82l4eoe63qk3he9qcn71tovi23",
            ),
            (
                "<ageToken>\n    8o1gynf9t5jsecyan0fpmp0x\n</ageToken>",
                "8o1gynf9t5jsecyan0fpmp0x",
            ),
            (
                "<add key=\"ClearTextPassword\" value=\"TestSourcePassword\" />",
                "TestSourcePassword",
            ),
            ("mysql --password Zq8!rT2vW9 db", "Zq8!rT2vW9"),
            (
                "-H \"Authorization: Bearer cfcabd11c7ed9a41b1a3e063c32d5114\"",
                "cfcabd11c7ed9a41b1a3e063c32d5114",
            ),
            (
                "{\"config.ini\": \"ALIBABA_TOKEN=g1zu82l4eoe63qk3he9q\\nBACKUP=true\"}",
                "g1zu82l4eoe63qk3he9q",
            ),
            (
                "os.environ['HF_TOKEN'] = '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'",
                "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",
            ),
        ];
        for (text, secret) in cases {
            assert_eq!(found(text), Some(secret), "{text}");
        }
    }

    #[test]
    fn not_secrets() {
        for text in [
            "password = \"${aws_db_instance.default.password}\"",
            "administrator_login_password = var.db_password",
            "PuttyPassword=0",
            "if password == \"x\" {",
            "key_length = XSalsa20.key_length",
            "the token is valid",
            "password: string;",
            "token_url = https://example.com/token",
            "primaryKey=t7VhIo0JPvdIyEkBnAdML__0Hzi-eC",
            "GITHUB_API_KEY=\nDYNATRACE_API_KEY=",
            "Authorization: Bearer <Openverse API token>",
            "api_key = os.getenv(\"API_KEY\")",
        ] {
            assert_eq!(found(text), None, "{text}");
        }
    }
}
