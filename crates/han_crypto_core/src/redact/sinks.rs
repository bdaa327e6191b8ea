//! Literals that code hands to something that only takes a secret, whatever
//! the variable is called: the key argument of an HMAC, cipher, Fernet or
//! JWT-signing call (`hmac.New(sha256.New, []byte("…"))`, `hash_hmac('sha256',
//! $body, '…')`), and the fallback of an environment lookup whose variable
//! names a secret (`env::var("SESSION_KEY").unwrap_or_else(|_| "…")`,
//! `getenv('MAILGUN_API_KEY') ?: '…'`, `ENV.fetch("X_SECRET") { "…" }`).

use super::assign::{accept, key_literal, Assignment};
use super::names::{classify, NameClass};

/// Calls whose string-literal arguments are keys, as the prefilter sees
/// them (lower case; the call's `(` follows).
const KEY_CALLS: &[&str] = &[
    "hmac.new",
    "hmac.digest",
    "createhmac",
    "hash_hmac",
    "hmac::new_from_slice",
    "new_from_slice",
    "openssl::hmac.hexdigest",
    "openssl::hmac.digest",
    "fernet",
    "secretbox",
    "newcipher",
    "aes.new",
    "createcipheriv",
    "createdecipheriv",
    "secretkeyspec",
    "jwt.sign",
    "jwt.encode",
    "hmacsha256",
    "hmacsha512",
    "hmac256",
    "hmac512",
    "setsigningkey",
    "signwith",
    "openssl_encrypt",
    "openssl_decrypt",
    "aes.encrypt",
    "aes.decrypt",
    "newcookiestore",
    "urlsafetimedserializer",
    "urlsafeserializer",
    // RustCrypto's `Key::from_slice(b"…")`, pgcrypto's symmetric calls.
    "key::from_slice",
    "pgp_sym_encrypt",
    "pgp_sym_decrypt",
];

/// Macro definitions: Erlang's `-define(API_KEY, <<"…">>)`.
const DEFINES: &[&str] = &["-define("];

/// Environment lookups: the variable's name comes next, then maybe a
/// fallback.
const ENV_LOOKUPS: &[&str] = &[
    "getenv",
    "env::var",
    "environ.get",
    "environ[",
    "process.env.",
    "env.fetch",
    "env[",
    "getordefault",
    "${",
];

/// Calls that take a user and a password as positional arguments, with
/// the password's position: `new PDO($dsn, 'app', '…')`,
/// `smtp.login("me@x.io", "…")`, `DriverManager.getConnection(url, "sa",
/// "…")`, `smtp.PlainAuth("", user, "…", host)`, `.basic_auth("u",
/// Some("…"))`, `new NetworkCredential("svc", "…")`.
const CREDENTIAL_CALLS: &[(&str, usize)] = &[
    ("pdo", 2),
    ("mysqli", 2),
    ("mysqli_connect", 2),
    ("mysql_connect", 2),
    ("getconnection", 2),
    ("login", 1),
    ("plainauth", 2),
    ("httpbasicauth", 1),
    ("httpdigestauth", 1),
    ("basicauth", 1),
    ("basic_auth", 1),
    ("withbasicauth", 1),
    ("setbasicauth", 1),
    ("networkcredential", 1),
    ("usernamepasswordcredentials", 1),
    ("passwordauthentication", 1),
];

/// OAuth clients' constructors, with the position of the client secret
/// (after the client id, and for Azure's `ClientSecretCredential` the
/// tenant): `new OAuthClient('<id>', '<secret>')`, google-auth's `new
/// OAuth2Client(id, secret, redirect)` and `google.auth.OAuth2(…)`.
const OAUTH_CLIENTS: &[(&str, usize)] = &[
    ("oauthclient", 1),
    ("oauth2client", 1),
    ("oauth2", 1),
    ("clientsecretcredential", 2),
];

/// Everything the prefilter must find for this module.
pub fn keywords() -> impl Iterator<Item = &'static str> {
    KEY_CALLS
        .iter()
        .chain(ENV_LOOKUPS)
        .copied()
        .chain(CREDENTIAL_CALLS.iter().map(|(k, _)| *k))
        .chain(OAUTH_CLIENTS.iter().map(|(k, _)| *k))
        .chain(DEFINES.iter().copied())
}

/// How far a call's arguments or a fallback may reach.
const REACH: usize = 200;

/// A secret literal handed over at the keyword hit `hit..hit_end`:
/// `(start, end, class, confidence)`.
pub fn at(text: &str, hit: usize, hit_end: usize) -> Option<(usize, usize, NameClass, f32)> {
    let b = text.as_bytes();
    // Runs at every hit: compared in place, no allocation.
    let kw = &text[hit..hit_end];
    if kw == "${" {
        return expansion_default(text, hit_end);
    }
    if kw == "-define(" {
        return define_literal(text, hit_end);
    }
    // The call's own name, not part of a longer identifier
    // (`myfernetwrapper`, `_fernet`); a package path before it is fine.
    if hit > 0 && (b[hit - 1].is_ascii_alphanumeric() || b[hit - 1] == b'_') {
        return None;
    }
    if let Some(&(_, index)) = OAUTH_CLIENTS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(kw))
    {
        // The whole name, called: not `OAuth2Session`, `oauth2/token`.
        if b.get(hit_end) != Some(&b'(') {
            return None;
        }
        let args: Vec<(usize, usize)> = call_arguments(b, hit_end + 1).take(index + 1).collect();
        let (ls, le) = first_argument_literal(b, args.get(index)?.0)?;
        key_literal(&text[ls..le]).then_some((ls, le, NameClass::Secret, 0.8))
    } else if let Some(&(_, index)) = CREDENTIAL_CALLS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(kw))
    {
        // The whole name: not `loginUser(`, `pdo_stmt(`.
        let end = b.get(hit_end).copied().unwrap_or(0);
        if end.is_ascii_alphanumeric() || end == b'_' {
            return None;
        }
        positional_password_argument(text, hit_end, index)
    } else if KEY_CALLS.iter().any(|k| k.eq_ignore_ascii_case(kw)) {
        key_argument(text, hit_end)
    } else {
        env_fallback(text, hit_end)
    }
}

/// Literals among the arguments of the call whose name ends at `at`.
fn key_argument(text: &str, at: usize) -> Option<(usize, usize, NameClass, f32)> {
    let b = text.as_bytes();
    let mut p = at;
    // Generic arguments or a Ruby/Go package qualifier: `Hmac<Sha256>::`.
    while p < b.len() && p - at < 32 && !matches!(b[p], b'(' | b'\n' | b';') {
        p += 1;
    }
    if b.get(p) != Some(&b'(') {
        return None;
    }
    let (ls, le) = literals(b, p + 1, true).find(|&(s, e)| key_literal(&text[s..e]))?;
    Some((ls, le, NameClass::Secret, 0.8))
}

/// The literal at argument `index` of the call whose name ends at `at`,
/// when it reads as a password and a user (any expression) comes before it.
fn positional_password_argument(
    text: &str,
    at: usize,
    index: usize,
) -> Option<(usize, usize, NameClass, f32)> {
    let b = text.as_bytes();
    if b.get(at) != Some(&b'(') {
        return None;
    }
    let args: Vec<(usize, usize)> = call_arguments(b, at + 1).take(index + 1).collect();
    let &(vs, _) = args.get(index)?;
    // (The whole argument: `first_argument_literal` ends at its `,` or `)`;
    // `"…".toCharArray()` counts.)
    let (ls, le) = first_argument_literal(b, vs)?;
    let v = &text[ls..le];
    // `login` and `basicAuth` are common names: the value must read as a
    // chosen password (`log.login("bob", "success")`, `.login("alice",
    // "192.168.1.10")`, `withBasicAuth("Protected", "admin-section-2")`
    // pass words, addresses and realms), and not repeat the user (a
    // default such as `postgres`/`postgres`).
    let user = first_argument_literal(b, args[index - 1].0).map(|(s, e)| &text[s..e]);
    if !super::assign::positional_password(v, true)
        || !v.bytes().any(|c| c.is_ascii_lowercase())
        || super::placeholder::is_wordy(v)
        || user == Some(v)
    {
        return None;
    }
    let confidence = accept(NameClass::Password, v, true, "password")?;
    Some((ls, le, NameClass::Password, confidence.min(0.75)))
}

/// The arguments of a call from just past its `(`: each as the span from
/// its first byte to the `,` or `)` that ends it. Stops at the call's end,
/// at a `;` or after `REACH` bytes.
fn call_arguments(b: &[u8], from: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let limit = (from + REACH).min(b.len());
    let mut p = from;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let start = p;
        let mut depth = 0i32;
        while p < limit {
            match b[p] {
                q @ (b'"' | b'\'' | b'`') => {
                    let len = b[p + 1..limit]
                        .iter()
                        .take_while(|&&x| x != q && x != b'\n')
                        .count();
                    p += len + 2;
                    continue;
                }
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' if depth > 0 => depth -= 1,
                b')' | b']' | b'}' => {
                    done = true;
                    let arg = (start, p);
                    return (p > start).then_some(arg);
                }
                b',' if depth == 0 => {
                    p += 1;
                    return Some((start, p - 1));
                }
                b';' => break,
                _ => {}
            }
            p += 1;
        }
        done = true;
        None
    })
}

/// The fallback literal of an environment lookup whose variable's name
/// announces a secret.
fn env_fallback(text: &str, at: usize) -> Option<(usize, usize, NameClass, f32)> {
    let b = text.as_bytes();
    let mut p = at;
    while p < b.len() && p - at < 4 && matches!(b[p], b'(' | b'[' | b' ' | b'"' | b'\'' | b'`') {
        p += 1;
    }
    let name_end = identifier_end(b, p);
    let name = &text[p..name_end];
    let class = classify(name).filter(|c| *c != NameClass::Weak)?;
    // Past the name's own closing quote, then the fallback.
    let after = name_end + usize::from(matches!(b.get(name_end), Some(b'"' | b'\'' | b'`')));
    let (ls, le) = literals(b, after, false).next()?;
    let v = &text[ls..le];
    let confidence = literal_confidence(class, v, name)?;
    Some((ls, le, class, confidence))
}

/// Where the identifier (letters, digits, `_`, at most 64) starting at `at`
/// ends: a variable's or a macro's name.
fn identifier_end(b: &[u8], at: usize) -> usize {
    at + b[at..]
        .iter()
        .take(64)
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count()
}

/// How sure a literal under a secret's name is one: a password as
/// `accept` judges it, a key when it reads as key material.
fn literal_confidence(class: NameClass, v: &str, name: &str) -> Option<f32> {
    if class == NameClass::Password {
        accept(class, v, true, name)
    } else {
        key_literal(v).then_some(0.75)
    }
}

/// The literal an Erlang macro named after a secret stands for:
/// `-define(API_TOKEN_KEY, <<"…">>)`, `-define(SECRET, "…")`.
fn define_literal(text: &str, at: usize) -> Option<(usize, usize, NameClass, f32)> {
    let b = text.as_bytes();
    let name_end = identifier_end(b, at);
    let name = &text[at..name_end];
    let class = classify(name).filter(|c| *c != NameClass::Weak)?;
    let mut p = name_end;
    while b.get(p).is_some_and(|&c| c == b' ' || c == b',') {
        p += 1;
    }
    if b[p.min(b.len())..].starts_with(b"<<") {
        p += 2;
    }
    if b.get(p) != Some(&b'"') {
        return None;
    }
    let (vs, ve) = literals(b, p, false).next()?;
    let v = &text[vs..ve];
    let confidence = literal_confidence(class, v, name)?;
    Some((vs, ve, class, confidence))
}

/// The default of a parameter expansion whose name announces a secret:
/// `${POSTGRES_PASSWORD:-hunter2!x}` (shell, Compose), `${jwt.secret:…}`
/// (Spring).
fn expansion_default(text: &str, at: usize) -> Option<(usize, usize, NameClass, f32)> {
    let b = text.as_bytes();
    let name_end = at
        + b[at..]
            .iter()
            .take(64)
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
            .count();
    if b.get(name_end) != Some(&b':') {
        return None;
    }
    let name = &text[at..name_end];
    let class = classify(name).filter(|c| *c != NameClass::Weak)?;
    let start = name_end + 1 + usize::from(b.get(name_end + 1) == Some(&b'-'));
    let len = b[start..]
        .iter()
        .take(256)
        .take_while(|&&c| !matches!(c, b'}' | b'\n' | b'$' | b'{'))
        .count();
    let end = start + len;
    if b.get(end) != Some(&b'}') || len == 0 {
        return None;
    }
    let v = text[start..end].trim_matches(['"', '\'']);
    let start = start + text[start..end].find(v)?;
    let confidence = literal_confidence(class, v, name)?;
    Some((start, start + v.len(), class, confidence))
}

/// String literals from `from` on, within `REACH` bytes and the statement:
/// stops at `;`, at a line break outside brackets, and (when `inside` a
/// call's parentheses) where the call closes.
fn literals(b: &[u8], from: usize, inside: bool) -> impl Iterator<Item = (usize, usize)> + '_ {
    let limit = (from + REACH).min(b.len());
    let mut q = from;
    let mut depth = 0i32;
    std::iter::from_fn(move || {
        while q < limit {
            let c = b[q];
            match c {
                b'"' | b'\'' | b'`' => {
                    let start = q + 1;
                    let len = b[start..limit]
                        .iter()
                        .take_while(|&&x| x != c && x != b'\n' && x != b'\\')
                        .count();
                    let end = start + len;
                    if end >= limit || b[end] != c {
                        q = limit;
                        return None;
                    }
                    q = end + 1;
                    if len > 0 {
                        return Some((start, end));
                    }
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    q += 1;
                }
                b')' | b']' | b'}' => {
                    depth -= 1;
                    if inside && depth < 0 {
                        q = limit;
                        return None;
                    }
                    q += 1;
                }
                b';' => {
                    q = limit;
                    return None;
                }
                b'\n' if depth <= 0 => {
                    q = limit;
                    return None;
                }
                _ => q += 1,
            }
        }
        None
    })
}

/// Keys passed bare to a provider's client, at a provider's name:
/// `algoliasearch("APPID", "<admin key>")`, `new Pusher("…", "…")`,
/// `Algolia::Client.new("…", "…")`. Only random literals of 20+ characters
/// count (an app id, a region or a URL stays).
pub fn vendor_client_at(text: &str, hit: usize, hit_end: usize) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    if hit > 0 && ident(b[hit - 1]) {
        return Vec::new();
    }
    let mut we = hit_end;
    while we < b.len() && we - hit_end < 12 && ident(b[we]) {
        we += 1;
    }
    let suffix = &b[hit_end..we];
    if ![&b""[..], b"search", b"client", b"_client", b"api", b"sdk"]
        .iter()
        .any(|s| suffix.eq_ignore_ascii_case(s))
    {
        return Vec::new();
    }
    // `::Client`, `.new`, `::APIClient.new`: the client's constructor.
    let mut p = we;
    for _ in 0..3 {
        let sep = if b[p.min(b.len())..].starts_with(b"::") {
            2
        } else if b.get(p) == Some(&b'.') {
            1
        } else {
            break;
        };
        let s = p + sep;
        let e = s + b[s.min(b.len())..]
            .iter()
            .take(16)
            .take_while(|&&c| ident(c))
            .count();
        const SEGMENTS: &[&[u8]] = &[
            b"Client",
            b"APIClient",
            b"ApiClient",
            b"Api",
            b"API",
            b"client",
            b"new",
            b"init",
            b"Configuration",
        ];
        if !SEGMENTS.contains(&&b[s.min(b.len())..e]) {
            break;
        }
        p = e;
    }
    // (The provider's name last: most hits are secret nouns in prose.)
    if b.get(p) != Some(&b'(') || !super::names::is_vendor(&b[hit..hit_end]) {
        return Vec::new();
    }
    literals(b, p + 1, true)
        .filter(|&(s, e)| e - s >= 20 && key_literal(&text[s..e]))
        .collect()
}

/// The identifier (letters, digits, `_`) holding the hit, at most `reach`
/// bytes either side of it.
fn identifier_around(b: &[u8], hit: usize, hit_end: usize, reach: usize) -> (usize, usize) {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut ns = hit;
    while ns > 0 && hit - ns < reach && ident(b[ns - 1]) {
        ns -= 1;
    }
    let mut ne = hit_end;
    while ne < b.len() && ne - hit_end < reach && ident(b[ne]) {
        ne += 1;
    }
    (ns, ne)
}

/// A setter or builder method named after a secret, called with a literal:
/// `.secret_access_key("…")`, `.password("…")`, `WithSk("…")`,
/// `builder.setSecretKey("…")`, `.with_token("…")`. A getter, a lookup or
/// a check (`get_secret("db-password")`, `verify_password("…")`) takes a
/// name or a guess, not the secret, and is left alone; the literal must
/// read as a secret under the name (`accept`).
pub fn setter_at(text: &str, hit: usize, hit_end: usize) -> Option<Assignment> {
    let b = text.as_bytes();
    let (ns, ne) = identifier_around(b, hit, hit_end, 40);
    // A call: `(` right after the name, a literal its first argument.
    if b.get(ne) != Some(&b'(') {
        return None;
    }
    let (vs, ve) = first_argument_literal(b, ne + 1)?;
    // A method or a free call, not a definition (`def password(`).
    // (Bytes: the text before the name may hold multi-byte characters.)
    let before = &b[..ns];
    if !(ns == 0 || matches!(b[ns - 1], b'.' | b'\t' | b' ' | b'(' | b'>' | b':'))
        || [&b"fn "[..], b"def ", b"func ", b"function "]
            .iter()
            .any(|k| before.ends_with(k))
    {
        return None;
    }
    let name = &text[ns..ne];
    let lower = name.to_ascii_lowercase();
    const REFUSED: &[&str] = &[
        "get", "read", "load", "fetch", "find", "lookup", "has", "is", "validate", "check",
        "verify", "hash", "delete", "remove", "rotate", "create", "generate", "new", "require",
        "expect", "assert", "mask", "redact", "parse", "decode", "encode", "compare", "match",
        "print", "log", "prompt", "ask", "input", "env", "from", "by", "name", "label", "field",
        "revoke", "list", "describe", "unset", "clear",
    ];
    if REFUSED.iter().any(|w| lower.starts_with(w)) {
        return None;
    }
    let bare = ["set_", "with_", "use_", "set", "with", "use"]
        .iter()
        .find_map(|p| name.strip_prefix(p).filter(|r| !r.is_empty()))
        .unwrap_or(name);
    // A bare `key` is a cache's, a map's or a partition's as often as a
    // secret's: the name must say which key (`api_key`, `setSecretKey`).
    if bare.eq_ignore_ascii_case("key") || bare.eq_ignore_ascii_case("_key") {
        return None;
    }
    let class = match classify(bare)? {
        NameClass::Weak => return None,
        c => c,
    };
    let value = &text[vs..ve];
    accept(class, value, true, bare)?;
    // (`tenant:8f14…`, a namespaced id, is no key.)
    if class != NameClass::Password && (!key_literal(value) || value.contains(':')) {
        return None;
    }
    Some(Assignment {
        name_start: ns,
        value_start: vs,
        value_end: ve,
        class,
        confidence: 0.8,
    })
}

/// The string literal that is the whole first argument of a call whose
/// `(` ends before `from`: `("…")`, `( "…" )`, `(String::from("…"))`,
/// `("…".to_string())`, `(&"…")`, `(b"…")`, `(Some("…"), …)`, followed by
/// `)` or by `,` and more arguments. Returns the literal's inner span.
fn first_argument_literal(b: &[u8], from: usize) -> Option<(usize, usize)> {
    const WRAPPERS: &[&[u8]] = &[
        b"String::from(",
        b"Some(",
        b"str(",
        b"String(",
        b"&",
        b"b",
        b"r",
    ];
    const CONVERSIONS: &[&[u8]] = &[
        b".to_string()",
        b".to_owned()",
        b".into()",
        b".as_bytes()",
        b".to_vec()",
        b".encode()",
        b".getBytes()",
        b".toCharArray()",
    ];
    let blanks = |mut p: usize| {
        while b
            .get(p)
            .is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            p += 1;
        }
        p
    };
    let mut p = blanks(from);
    let mut opened = 0;
    for _ in 0..2 {
        let Some(w) = WRAPPERS.iter().find(|w| b[p.min(b.len())..].starts_with(w)) else {
            break;
        };
        // `b"…"`, `r"…"`: a prefix only when a quote follows.
        if w.len() == 1 && w[0] != b'&' && !matches!(b.get(p + 1), Some(b'"' | b'\'')) {
            break;
        }
        opened += usize::from(w.ends_with(b"("));
        p += w.len();
    }
    let q = *b.get(p)?;
    if !matches!(q, b'"' | b'\'' | b'`') {
        return None;
    }
    let vs = p + 1;
    let len = b[vs..]
        .iter()
        .take(super::assign::MAX_VALUE)
        .take_while(|&&c| c != q && c != b'\n' && c != b'\\')
        .count();
    let ve = vs + len;
    if b.get(ve) != Some(&q) {
        return None;
    }
    let mut p = ve + 1;
    if let Some(c) = CONVERSIONS
        .iter()
        .find(|c| b[p.min(b.len())..].starts_with(c))
    {
        p += c.len();
    }
    for _ in 0..opened {
        p = blanks(p);
        if b.get(p) != Some(&b')') {
            return None;
        }
        p += 1;
    }
    // The literal is the whole argument, or the first of several.
    matches!(b.get(blanks(p)), Some(b')' | b',')).then_some((vs, ve))
}

/// A byte-array constant whose name says key or secret: hex or decimal
/// bytes in any language's array syntax (`static const uint8_t
/// device_hmac_key[32] = {0x8d, 0xb1, …}`, `const KEY: [u8; 32] = [27, 176,
/// …]`, `[]byte{…}`, `[_]u8{…}`, `byteArrayOf(0x3c, -0x22, …)`, `byte[] key
/// = {(byte) 0x8d, …}`, `bytes([…])`, Elixir's `<<149, 156, …>>`, a C
/// `#define`), or a C string of `\xHH` escapes. At least 16 bytes, not all alike, not
/// counting up; the span runs from the first byte to the last.
pub fn byte_array_at(text: &str, hit: usize, hit_end: usize) -> Option<Assignment> {
    let b = text.as_bytes();
    let (ns, ne) = identifier_around(b, hit, hit_end, 48);
    // The `=` of the declaration on the name's line, past a size or a type
    // (Elixir's `@aes_key <<…>>` has none), or the `(` of a call named
    // after a key (`NewKeyFromSeed([]byte{…})`).
    let limit = (ne + 64).min(b.len());
    let line_end = memchr::memchr(b'\n', &b[ne..limit]).map_or(limit, |i| ne + i);
    let from = match memchr::memchr(b'=', &b[ne..line_end]) {
        Some(i) if b.get(ne + i + 1) != Some(&b'=') => ne + i + 1,
        Some(_) => return None,
        None if matches!(b.get(ne), Some(b'(')) => ne,
        None if b[ne..line_end].trim_ascii_start().starts_with(b"<<") => ne,
        // `#define DEVICE_KEY { 0x8d, … }`
        None if b[..ns].trim_ascii_end().ends_with(b"#define") => ne,
        None => return None,
    };
    if !matches!(classify(&text[ns..ne])?, NameClass::Key | NameClass::Secret) {
        return None;
    }
    // The name's last word says key material (`device_hmac_key`, `keyBytes`,
    // `SECRET`): a `key_icon`, `key_font` or `secret_level_data` is a
    // bitmap or a table.
    let words = super::entropy::words(&text[ns..ne]);
    // A glyph, an icon or a cipher's table is no key (`font_key`, `sbox_key`).
    if words.iter().any(|w| {
        matches!(
            w.as_str(),
            "font" | "glyph" | "icon" | "bitmap" | "sprite" | "sbox" | "table" | "lut"
        )
    }) {
        return None;
    }
    let last = words.last().map(String::as_str).unwrap_or("");
    let material = matches!(
        last,
        "key" | "keys" | "secret" | "seed" | "salt" | "pepper" | "psk" | "material"
    ) || (matches!(last, "bytes" | "raw")
        && words
            .iter()
            .any(|w| matches!(w.as_str(), "key" | "secret" | "seed")));
    if !material {
        return None;
    }
    // The first byte: within a few bytes, right after an opening bracket
    // (`bytes([`, `from_bytes(&[`, `[_]u8{`) or a quote (`"\xec…`). Go's
    // `[32]byte{` and C#'s `new byte[16] {` open a size first: each
    // opening is tried in turn.
    let window = &b[from..(from + 40).min(b.len())];
    let (first, last) = window
        .iter()
        .enumerate()
        .filter(|&(i, &c)| {
            let next = window.get(i + 1).copied().unwrap_or(0);
            (matches!(c, b'{' | b'[' | b'(' | b'<')
                && (next.is_ascii_digit()
                    || next.is_ascii_whitespace()
                    || next == b'-'
                    || next == b'('))
                || (c == b'"' && next == b'\\')
        })
        .find_map(|(open, &c)| key_bytes(b, from + open + 1, c == b'"'))?;
    Some(Assignment {
        name_start: ns,
        value_start: first,
        value_end: last,
        class: NameClass::Key,
        confidence: 0.8,
    })
}

/// The span of the byte list starting at `p` (`\xHH` escapes when
/// `quoted`; bytes or 16-, 32- and 64-bit words otherwise) when it reads as
/// key material: at least 16 bytes, at least 8 distinct, not counting up,
/// not a published constant (test keys, the S-box, XXH3's secret).
fn key_bytes(b: &[u8], mut p: usize, quoted: bool) -> Option<(usize, usize)> {
    let (mut first, mut last, mut n) = (0, 0, 0usize);
    let (mut distinct, mut steps, mut prev) = ([false; 256], 0usize, None::<u8>);
    let mut first_bytes = [0u8; 4];
    loop {
        if !quoted {
            while p < b.len() && (b[p].is_ascii_whitespace() || b[p] == b',') {
                p += 1;
            }
            if b[p.min(b.len())..].starts_with(b"(byte)") {
                p += "(byte)".len();
                while p < b.len() && b[p] == b' ' {
                    p += 1;
                }
            }
        }
        let item = &b[p.min(b.len())..];
        // One item: a byte, or a word of 2, 4 or 8 bytes (`0x8db13c22`,
        // `0x…ULL` in a `uint32_t`/`uint64_t` key), most significant first.
        let value: Option<([u8; 8], usize, usize)> = if quoted {
            // `\xec`
            (item.len() >= 4 && item[0] == b'\\' && item[1] == b'x')
                .then(|| hex_byte(&item[2..4]).map(|v| ([v, 0, 0, 0, 0, 0, 0, 0], 1, 4)))
                .flatten()
        } else if item.starts_with(b"0x") || item.starts_with(b"0X") || item.starts_with(b"-0x") {
            // `0x8d`; Kotlin's signed `-0x22`; C's `0x8du`, Rust's `0x8d_u8`.
            let neg = usize::from(item[0] == b'-');
            let digits = item[2 + neg..]
                .iter()
                .take(17)
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            let width = match digits {
                2 => 1,
                4 | 8 | 16 if neg == 0 => digits / 2,
                _ => 0,
            };
            let mut bytes = [0u8; 8];
            for (i, slot) in bytes.iter_mut().enumerate().take(width) {
                let at = 2 + neg + 2 * i;
                *slot = hex_byte(&item[at..at + 2]).unwrap_or(0);
            }
            if neg == 1 {
                bytes[0] = bytes[0].wrapping_neg();
            }
            let len = 2 + neg + digits;
            let len = len + literal_suffix(&item[len.min(item.len())..]);
            (width > 0 && !item.get(len).is_some_and(|c| c.is_ascii_alphanumeric()))
                .then_some((bytes, width, len))
        } else {
            // Decimal: 0-255, then a separator.
            let d = item
                .iter()
                .take(4)
                .take_while(|c| c.is_ascii_digit())
                .count();
            (1..=3)
                .contains(&d)
                .then(|| std::str::from_utf8(&item[..d]).ok()?.parse::<u8>().ok())
                .flatten()
                .and_then(|v| {
                    let len = d + literal_suffix(&item[d..]);
                    matches!(
                        item.get(len),
                        Some(b',' | b' ' | b'\n' | b'\r' | b'\t' | b']' | b'}' | b')' | b'>')
                    )
                    .then_some(([v, 0, 0, 0, 0, 0, 0, 0], 1, len))
                })
        };
        let Some((bytes, width, len)) = value else {
            break;
        };
        if n == 0 {
            first = p;
        }
        for &v in &bytes[..width] {
            distinct[v as usize] = true;
            if n < 4 {
                first_bytes[n] = v;
            }
            // `0x00, 0x01, 0x02…`: a counting pattern, made up.
            if prev.is_some_and(|q| v.wrapping_sub(q) <= 1) {
                steps += 1;
            }
            prev = Some(v);
            n += 1;
        }
        p += len;
        last = p;
        if n > 4096 {
            return None;
        }
    }
    // Published constants: FIPS-197's and SP 800-38A's AES-128, -192 and
    // -256 test keys, the AES S-box, XXH3's default secret.
    const PUBLISHED: &[[u8; 4]] = &[
        [0x2b, 0x7e, 0x15, 0x16],
        [0x8e, 0x73, 0xb0, 0xf7],
        [0x60, 0x3d, 0xeb, 0x10],
        [0x63, 0x7c, 0x77, 0x7b],
        [0xb8, 0xfe, 0x6c, 0x39],
    ];
    (n >= 16
        && distinct.iter().filter(|&&d| d).count() >= 8
        && steps * 4 < n
        && !PUBLISHED.contains(&first_bytes))
    .then_some((first, last))
}

/// The length of an integer literal's type suffix: C's `u`, `U`, `UL`,
/// `ULL`, Rust's `u8`, `_u8`, `i8`, `u32`, `u64`.
fn literal_suffix(rest: &[u8]) -> usize {
    const SUFFIXES: &[&[u8]] = &[
        b"_u8", b"_i8", b"u8", b"i8", b"_u32", b"u32", b"_u64", b"u64", b"ULL", b"ull", b"UL",
        b"ul", b"u", b"U", b"L", b"l",
    ];
    SUFFIXES
        .iter()
        .find(|s| rest.starts_with(s))
        .map_or(0, |s| s.len())
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    (two.len() == 2 && two.iter().all(u8::is_ascii_hexdigit))
        .then(|| u8::from_str_radix(std::str::from_utf8(two).ok()?, 16).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Option<&str> {
        let lower = text.to_ascii_lowercase();
        keywords().find_map(|k| {
            let hit = lower.find(k)?;
            at(text, hit, hit + k.len()).map(|(s, e, _, _)| &text[s..e])
        })
    }

    #[test]
    fn key_arguments_of_mac_and_cipher_calls() {
        for (text, key) in [
            (
                "$sig = hash_hmac('sha256', $req->getContent(), 'LKAqfCVVgsd73bPxcbs6TySPH0VmoipA1GjLpCG2');",
                "LKAqfCVVgsd73bPxcbs6TySPH0VmoipA1GjLpCG2",
            ),
            (
                "mac := hmac.New(sha256.New, []byte(\"KVbfRibUwzMHFmMlh4X0IN1AV72RWw2OVqi5u2JT\"))",
                "KVbfRibUwzMHFmMlh4X0IN1AV72RWw2OVqi5u2JT",
            ),
            (
                "crypto.createHmac(\"sha256\", \"b6aea2650f78bede8b498bef375ef7653193ebce788e06e86c6ebbe18f0ec321\")",
                "b6aea2650f78bede8b498bef375ef7653193ebce788e06e86c6ebbe18f0ec321",
            ),
            (
                "f = Fernet(b\"zOqEUqBIFplxvWBojUxkobvF8luwAR_RvsVP_hSgxSE=\")",
                "zOqEUqBIFplxvWBojUxkobvF8luwAR_RvsVP_hSgxSE=",
            ),
        ] {
            assert_eq!(found(text), Some(key), "{text}");
        }
    }

    #[test]
    fn fallbacks_of_secret_environment_variables() {
        for (text, key) in [
            (
                "std::env::var(\"SESSION_KEY\").unwrap_or_else(|_| \"r8S2sklpaxVJyVXbGSz32ImQhexzlPYK3Oc0pVSrE/A=\".to_string())",
                "r8S2sklpaxVJyVXbGSz32ImQhexzlPYK3Oc0pVSrE/A=",
            ),
            (
                "$k = getenv('MAILGUN_API_KEY') ?: '963e1e333c0ce186033ed13eac3081aa-6e74b71b-2aa143c7';",
                "963e1e333c0ce186033ed13eac3081aa-6e74b71b-2aa143c7",
            ),
            (
                "S = ENV.fetch(\"SLACK_SIGNING_SECRET\") { \"d103ba91521c5dfcddf6bfc96b38ac66\" }",
                "d103ba91521c5dfcddf6bfc96b38ac66",
            ),
            (
                "pw = os.environ.get(\"DB_PASSWORD\", \"Tr0ub4dor&3\")",
                "Tr0ub4dor&3",
            ),
            (
                "@Value(\"${jwt.secret:c01d14be46f20f970cff2d20afe1e08996031cbaf41c357c5429a4c429b27968}\")",
                "c01d14be46f20f970cff2d20afe1e08996031cbaf41c357c5429a4c429b27968",
            ),
            (
                "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-Xk29!vbq7Lm}",
                "Xk29!vbq7Lm",
            ),
            (
                "DSN=\"postgres://app:${DB_PASSWORD:-Rt5!kq2Wzm}@db/app\"",
                "Rt5!kq2Wzm",
            ),
        ] {
            assert_eq!(found(text), Some(key), "{text}");
        }
    }

    #[test]
    fn what_is_not_a_key_argument() {
        for text in [
            // The algorithm, a variable, a message.
            "hmac.new(key, msg, hashlib.sha256)",
            "crypto.createHmac(\"sha256\", secret).update(\"hello world payload\")",
            // A fallback to a non-secret variable, and a lookup without one.
            "os.environ.get(\"DATABASE_HOST\", \"db-primary-01.internal.example\")",
            "os.getenv(\"API_TOKEN\")\nother = \"9f8e7d6c5b4a39281706f5e4d3c2b1a0\"",
            // Expansions without a secret default, or of a neutral name.
            "${DB_PASSWORD:?must be set}",
            "${PASSWORD_FILE:-/run/secrets/db-password}",
            "${LOG_LEVEL:-c01d14be46f20f970cff2d20afe1e089}",
            // Not the call: an identifier that contains its name.
            "myfernetwrapper(\"zOqEUqBIFplxvWBojUxkobvF8luwAR_RvsVP_hSgxSE=\")",
        ] {
            assert_eq!(found(text), None, "{text}");
        }
    }
}
