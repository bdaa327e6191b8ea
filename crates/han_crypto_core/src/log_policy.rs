//! What of a statement is secret, decided from PostgreSQL's lexical grammar
//! ([`crate::sql_lex`]) rather than from text patterns: the arguments of
//! han_crypto's functions that take a passphrase or a token. The extension's
//! log hook masks exactly those and keeps the rest of the statement visible.
//!
//! [`analyze`] reads a text in one linear pass over its tokens and finds:
//! * calls of the [`SECRET_FUNCTIONS`]: a name, qualified or not, quoted or
//!   not, whose last component is in the table, then `(` (comments allowed
//!   between); arguments by position or by name (`passphrase => ...`);
//! * for each secret argument: a bare parameter `$n` (casts allowed) is a
//!   secret parameter, anything else is masked as `[REDACTED:<name>]`;
//! * `PREPARE name AS <statement>`: which parameters of `name` are secret;
//!   `EXECUTE name(args)`: the arguments at those positions, with the
//!   statement prepared earlier in the text or known through a lookup;
//! * string constants, analysed as SQL in turn (`DO` blocks, function
//!   bodies, PL/pgSQL `EXECUTE '...' USING ...`), masks landing on the
//!   literal's bytes in the outer text.
//!
//! A line naming no secret function, `execute` or `uescape` (in any case),
//! with no backslash escapes and no string continued over lines, costs a
//! linear scan and no allocation.
//!
//! Failing safe: a call left open at the end of the text (a syntax error,
//! logged with its statement) masks what its secret arguments have so far;
//! an argument containing anything but a bare parameter is masked whole.
//! Not handled: `standard_conforming_strings = off`; SQL assembled at run
//! time from pieces (`'SELECT unl' || 'ock(...)'`); calls with the wrong
//! arity or misspelt argument names (they fail, and show their arguments);
//! declarations (`DROP FUNCTION unlock(text, text)`) are masked like calls.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::rc::Rc;
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use crate::redact::MARKER_PREFIX;
use crate::sql_lex::{decode_string, identifier, tokens_with, StringKind, Token, TokenKind as K};

/// A function taking secrets, and which of its arguments are.
#[derive(Debug)]
pub struct SecretFunction {
    pub name: &'static str,
    /// 1-based positions and the parameter names (for named notation and
    /// for the marker).
    pub secret_args: &'static [(usize, &'static str)],
}

/// han_crypto's functions that take a passphrase or a token; one line
/// each, so that a new one is one more line.
#[rustfmt::skip]
pub const SECRET_FUNCTIONS: &[SecretFunction] = &[
    SecretFunction { name: "unlock", secret_args: &[(2, "passphrase")] },
    SecretFunction { name: "create_passphrase_keyring", secret_args: &[(2, "passphrase")] },
    SecretFunction { name: "change_passphrase", secret_args: &[(2, "old_passphrase"), (3, "new_passphrase")] },
    SecretFunction { name: "authenticate", secret_args: &[(1, "token")] },
];

/// Secret parameters: `$n` → the name of the argument it is passed as.
pub type SecretParams = BTreeMap<u32, &'static str>;

/// A byte range of the analysed text to replace by `[REDACTED:<name>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    pub span: Range<usize>,
    pub name: &'static str,
}

/// What [`analyze`] found in one text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analysis {
    masks: Vec<Mask>,
    secret_params: SecretParams,
    prepared: Vec<(String, SecretParams)>,
}

impl Analysis {
    /// Spans to mask: sorted, disjoint, on char boundaries.
    pub fn masks(&self) -> &[Mask] {
        &self.masks
    }

    /// The text's own bind parameters passed as secrets (what a
    /// `parameters: $1 = ...` line of this statement must not show). Those
    /// of `PREPARE`d statements are in [`Analysis::prepared`] instead.
    pub fn secret_params(&self) -> &SecretParams {
        &self.secret_params
    }

    /// Statements the text prepares (names folded as identifiers), with
    /// their secret parameters.
    pub fn prepared(&self) -> &[(String, SecretParams)] {
        &self.prepared
    }

    /// `sql` (the analysed text) with the masks applied, or `None` when
    /// there is nothing to mask. Given another text whose bytes the masks do
    /// not fit, it fails closed: the whole text becomes one marker.
    pub fn masked(&self, sql: &str) -> Option<String> {
        if self.masks.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(sql.len());
        let mut at = 0;
        for mask in &self.masks {
            let Some(kept) = sql.get(at..mask.span.start) else {
                return Some(marker("statement"));
            };
            out.push_str(kept);
            out.push_str(&marker(mask.name));
            at = mask.span.end;
        }
        match sql.get(at..) {
            Some(rest) => out.push_str(rest),
            None => return Some(marker("statement")),
        }
        Some(out)
    }

    /// The secret values the masks cover in `sql` (the analysed text), as
    /// PostgreSQL may echo them in an error (`syntax error at or near
    /// "'pw'"`, `invalid input syntax for type integer: "pw"`, `column "pw"
    /// does not exist`): each masked token's text, its decoded contents,
    /// and a name's folded form. Shorter than 4 characters: left out.
    pub fn secret_texts(&self, sql: &str) -> Vec<String> {
        fn add(out: &mut Vec<String>, t: String) {
            if t.chars().count() >= 4 && !out.contains(&t) {
                out.push(t);
            }
        }
        let mut out = Vec::new();
        for mask in &self.masks {
            let Some(raw) = sql.get(mask.span.clone()) else {
                continue;
            };
            add(&mut out, raw.to_owned());
            // Inside a '...'-quoted body, quotes are doubled.
            add(&mut out, raw.replace("''", "'"));
            for tok in tokens_with(raw, true).chain(tokens_with(raw, false)) {
                if let Some(d) = decode_string(raw, &tok) {
                    add(&mut out, d.text.into_owned());
                }
                if let Some(name) = identifier(raw, &tok) {
                    add(&mut out, name.into_owned());
                }
            }
        }
        // As JSON, YAML and XML output quote them (auto_explain's formats).
        for t in out.clone() {
            if let Ok(json) = serde_json::to_string(&t) {
                add(&mut out, json[1..json.len() - 1].to_owned());
            }
            let xml = t
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&apos;");
            add(&mut out, xml);
        }
        out
    }

    /// Sorts the masks and merges overlapping ones (the outer name wins).
    fn normalize(&mut self) {
        self.masks
            .sort_by_key(|m| (m.span.start, Reverse(m.span.end)));
        let mut merged: Vec<Mask> = Vec::with_capacity(self.masks.len());
        for mask in self.masks.drain(..) {
            match merged.last_mut() {
                Some(last) if mask.span.start < last.span.end => {
                    last.span.end = last.span.end.max(mask.span.end);
                }
                _ => merged.push(mask),
            }
        }
        self.masks = merged;
    }
}

fn marker(name: &str) -> String {
    format!("{MARKER_PREFIX}{name}]")
}

/// How the session that sent a text reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// PostgreSQL's `standard_conforming_strings` (any role may turn it
    /// off; backslashes then escape in plain strings, and a text read the
    /// other way could hide statements from the log).
    pub standard_conforming_strings: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            standard_conforming_strings: true,
        }
    }
}

/// Analyses `sql`. `prepared_source` returns the server's source text of a
/// prepared statement by (folded) name: a whole query string containing
/// `PREPARE name ... AS ...`, or a protocol-level statement's bare text.
pub fn analyze(sql: &str, prepared_source: &dyn Fn(&str) -> Option<String>) -> Analysis {
    analyze_with(sql, prepared_source, Options::default())
}

/// [`analyze`] for a session with other [`Options`].
pub fn analyze_with(
    sql: &str,
    prepared_source: &dyn Fn(&str) -> Option<String>,
    options: Options,
) -> Analysis {
    analyze_in(sql, &mut Ctx::new(prepared_source, options), 0)
}

/// `sql` with its secret arguments masked, or `None` when it has none.
pub fn mask_sql(sql: &str, prepared_source: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    mask_sql_with(sql, prepared_source, Options::default())
}

/// [`mask_sql`] for a session with other [`Options`].
pub fn mask_sql_with(
    sql: &str,
    prepared_source: &dyn Fn(&str) -> Option<String>,
    options: Options,
) -> Option<String> {
    analyze_with(sql, prepared_source, options).masked(sql)
}

/// Masks SQL quoted in free text: CONTEXT lines such as
/// `SQL statement "SELECT han_crypto.unlock('kim', 'pw')"` and messages
/// quoting a statement. In each line, the part between the first and the
/// last `"` is analysed as SQL (CONTEXT does not escape inner `"`); so is
/// the part between the first and the last `"` of the whole text, for
/// statements quoted over several lines.
pub fn mask_quoted_sql(
    text: &str,
    prepared_source: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    mask_quoted_sql_with(text, prepared_source, Options::default())
}

/// [`mask_quoted_sql`] for a session with other [`Options`].
pub fn mask_quoted_sql_with(
    text: &str,
    prepared_source: &dyn Fn(&str) -> Option<String>,
    options: Options,
) -> Option<String> {
    if !may_mention_secret(text, options) {
        return None;
    }
    let mut ctx = Ctx::new(prepared_source, options);
    let mut found = Analysis::default();
    let mut add = |region: Range<usize>| {
        let inner = analyze_in(&text[region.clone()], &mut ctx, 0);
        found.masks.extend(inner.masks.into_iter().map(|m| Mask {
            span: region.start + m.span.start..region.start + m.span.end,
            name: m.name,
        }));
    };
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        if let Some(r) = quoted_region(line) {
            add(line_start + r.start..line_start + r.end);
        }
        line_start += line.len();
    }
    if let Some(r) = quoted_region(text).filter(|r| text[r.clone()].contains('\n')) {
        add(r);
    }
    found.normalize();
    found.masked(text)
}

fn quoted_region(s: &str) -> Option<Range<usize>> {
    let first = s.find('"')?;
    let last = s.rfind('"')?;
    (last > first).then_some(first + 1..last)
}

/// Rewrites a bind-parameter list as PostgreSQL logs it
/// (`parameters: $1 = 'kim', $2 = 'pw'`, after any words): the value of
/// each parameter in `secret` becomes `[REDACTED:<name>]`. Values are
/// quoted with `''` doubled (possibly cut with `...` before the closing
/// quote) or `NULL`, which reveals nothing and stays. `None` when nothing
/// changes.
pub fn mask_parameter_list(text: &str, secret: &SecretParams) -> Option<String> {
    if secret.is_empty() {
        return None;
    }
    let mut found = Analysis::default();
    for (n, span) in quoted_parameters(text) {
        if let Some(name) = n.parse::<u32>().ok().and_then(|n| secret.get(&n)) {
            found.masks.push(Mask { span, name });
        }
    }
    found.masked(text)
}

/// The quoted values of a bind-parameter list as PostgreSQL logs it: each
/// `$n = '…'` as `n` and the span of the value, quotes included (to the
/// end of the text when it is cut off there). `NULL` values are passed
/// over, and a `$` inside a value is never read as the next parameter.
fn quoted_parameters(text: &str) -> impl Iterator<Item = (&str, Range<usize>)> + '_ {
    let b = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while let Some(k) = b[i..].iter().position(|&c| c == b'$') {
            let digits = i + k + 1;
            let len = b[digits..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            i = digits + len;
            if len == 0 || !b[i..].starts_with(b" = '") {
                continue;
            }
            let value = i + 3;
            i = quoted_value_end(b, value);
            return Some((&text[digits..digits + len], value..i));
        }
        None
    })
}

/// Every quoted value of a bind-parameter list (`parameters: $1 = 'it''s'`)
/// as the parameter really is, with its `''` undoubled, passed to `redact`;
/// a value it changes is written back quoted. The log's quoting must not
/// hide a secret from the scanner: `PGPASSWORD=''hunter2''` as logged is
/// `PGPASSWORD='hunter2'` as sent. `None` when nothing changes.
pub fn redact_parameter_values(
    text: &str,
    redact: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    for (_, span) in quoted_parameters(text) {
        let (value, end) = (span.start, span.end);
        let closed = end > value + 1 && b[end - 1] == b'\'';
        let inner = &text[value + 1..if closed { end - 1 } else { end }];
        // Most values have no quote to undouble and no secret: no copy.
        let decoded = if inner.contains("''") {
            Cow::Owned(inner.replace("''", "'"))
        } else {
            Cow::Borrowed(inner)
        };
        if let Some(new) = redact(&decoded) {
            out.push_str(&text[copied..value]);
            out.push('\'');
            out.push_str(&new.replace('\'', "''"));
            if closed {
                out.push('\'');
            }
            copied = end;
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// `sql` with the secrets the built-in rules find inside its string
/// constants, read as the server reads them (a constant spelled
/// `'PGPASSWORD=''hunter2'` holds `PGPASSWORD='hunter2`; `E'…\n…'` holds a
/// line break), replaced by `[REDACTED:<type>]` in the original spelling.
/// Constants written without escapes are left to a scan of the whole text.
/// `None` when nothing is found.
pub fn redact_in_string_constants(sql: &str, options: Options) -> Option<String> {
    // Only a quote can start a constant with escapes or parts.
    if !sql.contains('\'') {
        return None;
    }
    let mut spans: Vec<(Range<usize>, Cow<'static, str>)> = Vec::new();
    for token in tokens_with(sql, options.standard_conforming_strings) {
        let Some(decoded) = decode_string(sql, &token) else {
            continue;
        };
        if matches!(decoded.text, Cow::Borrowed(_)) {
            continue;
        }
        for f in crate::redact::builtin().scan(&decoded.text, crate::redact::Policy::ALL) {
            spans.push((decoded.original_span(f.start..f.end), f.kind));
        }
    }
    if spans.is_empty() {
        return None;
    }
    spans.sort_by_key(|(r, _)| (r.start, Reverse(r.end)));
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    for (r, kind) in spans {
        if r.start < at {
            continue; // inside the previous one
        }
        out.push_str(&sql[at..r.start]);
        out.push_str(MARKER_PREFIX);
        out.push_str(&kind);
        out.push(']');
        at = r.end;
    }
    out.push_str(&sql[at..]);
    Some(out)
}

/// The end of the `''`-doubled quoted value at `quote` (or of the text).
fn quoted_value_end(b: &[u8], quote: usize) -> usize {
    let mut i = quote + 1;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'\'', Some(b'\'')) => i += 2,
            (b'\'', _) => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// Whether a secret function could be called in `text`, even inside string
/// constants at any depth: it spells a function's name or `execute`, or
/// holds something decoding could turn into one: `UESCAPE`, a string
/// continued on the next line, or a backslash where an `E'` or `U&` makes
/// escapes (decoding creates neither, so one is in the raw text too).
/// Linear (Aho-Corasick, memchr, one pass over the quotes) and without
/// allocation: the fast path of every log line, and of every literal.
fn may_mention_secret(text: &str, options: Options) -> bool {
    static WORDS: OnceLock<[AhoCorasick; 2]> = OnceLock::new();
    let [words, escapes] = WORDS.get_or_init(|| {
        let build = |patterns: &[&str]| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(patterns)
                .expect("static patterns")
        };
        let mut words: Vec<&str> = SECRET_FUNCTIONS.iter().map(|f| f.name).collect();
        words.extend(["execute", "uescape"]);
        [build(&words), build(&["e'", "u&"])]
    });
    let backslash = text.as_bytes().contains(&b'\\');
    words.is_match(text)
        || (backslash && (!options.standard_conforming_strings || escapes.is_match(text)))
        || may_continue_string(text.as_bytes())
}

/// A quote followed by whitespace with a newline and another quote, or by a
/// `--` comment: possibly two literals that are one.
fn may_continue_string(b: &[u8]) -> bool {
    let mut i = 0;
    while let Some(k) = b[i..].iter().position(|&c| c == b'\'') {
        let mut j = i + k + 1;
        let mut newline = false;
        while let Some(&c) = b.get(j).filter(|c| b" \t\n\r\x0b\x0c".contains(c)) {
            newline |= c == b'\n' || c == b'\r';
            j += 1;
        }
        if b[j..].starts_with(b"--") || (newline && b.get(j) == Some(&b'\'')) {
            return true;
        }
        i = j;
    }
    false
}

/// String constants are analysed this many levels deep.
const MAX_DEPTH: u8 = 4;
/// PostgreSQL truncates names to NAMEDATALEN - 1 bytes.
const MAX_NAME: usize = 63;

/// State shared by the analyses of one text and of its literals.
struct Ctx<'l> {
    lookup: &'l dyn Fn(&str) -> Option<String>,
    options: Options,
    /// Secret parameters of statements known through `lookup`, by name.
    cache: HashMap<String, Rc<SecretParams>>,
}

impl<'l> Ctx<'l> {
    fn new(lookup: &'l dyn Fn(&str) -> Option<String>, options: Options) -> Self {
        Ctx {
            lookup,
            options,
            cache: HashMap::new(),
        }
    }

    /// The secret parameters of the prepared statement `name`, from its
    /// source: the `PREPARE` of that name in it, else its own parameters.
    fn prepared(&mut self, name: &str) -> Rc<SecretParams> {
        if let Some(known) = self.cache.get(name) {
            return Rc::clone(known);
        }
        let params = (self.lookup)(name)
            .map(|source| {
                // The source is analysed alone: no lookups from there.
                let none = |_: &str| -> Option<String> { None };
                let found = analyze_with(&source, &none, self.options);
                let mut named = found
                    .prepared
                    .into_iter()
                    .filter(|(n, _)| n == name)
                    .peekable();
                if named.peek().is_none() {
                    return found.secret_params;
                }
                named.flat_map(|(_, p)| p).collect()
            })
            .unwrap_or_default();
        let params = Rc::new(params);
        self.cache.insert(name.to_owned(), Rc::clone(&params));
        params
    }
}

fn analyze_in(sql: &str, ctx: &mut Ctx<'_>, depth: u8) -> Analysis {
    if !may_mention_secret(sql, ctx.options) {
        return Analysis::default();
    }
    Analyzer::new(sql, ctx, depth).run()
}

/// Which arguments of an argument list are secret.
enum Secrets {
    Function(&'static SecretFunction),
    /// `EXECUTE name(...)` and `EXECUTE ... USING ...`: by position.
    Params(Rc<SecretParams>),
}

impl Secrets {
    fn at(&self, position: u32) -> Option<&'static str> {
        match self {
            Secrets::Function(f) => f
                .secret_args
                .iter()
                .find(|(p, _)| u32::try_from(*p) == Ok(position))
                .map(|(_, n)| *n),
            Secrets::Params(p) => p.get(&position).copied(),
        }
    }

    /// By parameter name; quoted names match in any case too, failing safe.
    fn named(&self, name: &str) -> Option<&'static str> {
        match self {
            Secrets::Function(f) => f
                .secret_args
                .iter()
                .find(|(_, n)| n.eq_ignore_ascii_case(name))
                .map(|(_, n)| *n),
            Secrets::Params(_) => None,
        }
    }
}

/// The shape of an argument so far: is it still a bare `$n::type`?
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Shape {
    #[default]
    Empty,
    /// A lone identifier (the argument so far): a parameter name if `=>`
    /// follows.
    Name(K),
    Param,
    /// After `::` or a `.` in a type name.
    Cast,
    Type,
    /// Anything else: masked whole if secret.
    Other,
}

#[derive(Default)]
struct Arg {
    start: Option<usize>,
    end: usize,
    shape: Shape,
    /// Whether the previous token at this level carried a value.
    prev_value: bool,
    /// Whether it is secret, once known (`None`: not yet).
    decided: Option<Option<&'static str>>,
}

/// A finished secret argument.
struct Finished {
    span: Range<usize>,
    name: &'static str,
    bare_param: bool,
}

/// The arguments of a call, of `EXECUTE name(...)` or of `USING ...`.
struct ArgList {
    secrets: Secrets,
    /// The bracket depth its arguments are at.
    level: usize,
    position: u32,
    arg: Arg,
    /// A secret function's call that does not parse as one (two values in
    /// a row, as in `unlock('k' 'pw')`, or `VARIADIC`): argument positions
    /// mean nothing, so every argument from here on is secret.
    malformed: bool,
}

impl ArgList {
    fn new(secrets: Secrets, level: usize) -> Self {
        ArgList {
            secrets,
            level,
            position: 1,
            arg: Arg::default(),
            malformed: false,
        }
    }

    /// A token of the current argument at the list's own level; returns the
    /// argument's name when it has just become known to be secret.
    fn token(&mut self, sql: &str, tok: &Token) -> Option<&'static str> {
        let first_secret = match &self.secrets {
            Secrets::Function(f) => f.secret_args.first().map(|(_, n)| *n),
            Secrets::Params(_) => None,
        };
        let value = carries_value(sql, tok);
        let arg = &mut self.arg;
        let first_token = arg.start.is_none();
        if first_secret.is_some()
            && ((arg.prev_value && value)
                || (first_token
                    && tok.kind == K::Ident
                    && tok.text(sql).eq_ignore_ascii_case("variadic")))
        {
            self.malformed = true;
        }
        arg.prev_value = value;
        let start = *arg.start.get_or_insert(tok.span.start);
        let name_end = std::mem::replace(&mut arg.end, tok.span.end);
        arg.shape = match (arg.shape, tok.kind) {
            (Shape::Empty, kind @ (K::Ident | K::QuotedIdent)) if arg.decided.is_none() => {
                Shape::Name(kind)
            }
            (Shape::Name(kind), K::Arrow | K::ColonEquals) => {
                let name = Token {
                    kind,
                    span: start..name_end,
                };
                let secret = identifier(sql, &name).and_then(|name| self.secrets.named(&name));
                // The expression starts after `=>`.
                *arg = Arg {
                    decided: Some(secret),
                    ..Arg::default()
                };
                return secret;
            }
            (Shape::Empty, K::Param(_)) => Shape::Param,
            (Shape::Param | Shape::Type, K::Typecast) | (Shape::Type, K::Dot) => Shape::Cast,
            (Shape::Cast | Shape::Type, K::Ident | K::QuotedIdent) => Shape::Type,
            // Typmods and array bounds: the bracket's contents decide.
            (Shape::Type, K::LParen | K::LBracket) => Shape::Type,
            _ => Shape::Other,
        };
        let fallback = if self.malformed { first_secret } else { None };
        if arg.decided.is_none() && !matches!(arg.shape, Shape::Name(_)) {
            let secret = self.secrets.at(self.position).or(fallback);
            arg.decided = Some(secret);
            return secret;
        }
        if arg.decided == Some(None) && fallback.is_some() {
            arg.decided = Some(fallback);
            arg.shape = Shape::Other;
            return fallback;
        }
        None
    }

    /// A bracket inside the current argument closed at `end`.
    fn child_closed(&mut self, end: usize, bare: bool) {
        self.arg.end = end;
        if !bare {
            self.arg.shape = Shape::Other;
        }
    }

    /// Ends the current argument (at `,`, the closing bracket or the end).
    fn finish(&mut self) -> Option<Finished> {
        let arg = std::mem::take(&mut self.arg);
        let position = self.position;
        self.position = self.position.saturating_add(1);
        let start = arg.start?;
        let name = arg.decided.unwrap_or_else(|| self.secrets.at(position))?;
        if self.malformed {
            return Some(Finished {
                span: start..arg.end,
                name,
                bare_param: false,
            });
        }
        Some(Finished {
            span: start..arg.end,
            name,
            bare_param: matches!(arg.shape, Shape::Param | Shape::Type),
        })
    }
}

/// An open bracket: an argument list, or any other (`typmod`: opened in a
/// `$n::type`, which stays bare while the contents are numbers).
#[derive(Clone, Copy)]
enum Bracket {
    List,
    Plain { typmod: bool, numbers: bool },
}

#[derive(Default)]
enum Prepare {
    #[default]
    No,
    Keyword,
    Named(String),
    Body(String),
}

#[derive(Default)]
struct Statement {
    started: bool,
    prepare: Prepare,
    params: SecretParams,
}

struct Analyzer<'s, 'c, 'l> {
    sql: &'s str,
    ctx: &'c mut Ctx<'l>,
    depth: u8,
    brackets: Vec<Bracket>,
    /// The lists of the `Bracket::List`s, innermost last.
    lists: Vec<ArgList>,
    /// PL/pgSQL `EXECUTE ... USING` arguments, at depth 0.
    using: Option<ArgList>,
    /// The outermost secret argument being read: its level and name.
    /// Everything inside it is masked with it.
    secret: Option<(usize, &'static str)>,
    /// The three previous tokens.
    prev: [Option<Token>; 3],
    last_end: usize,
    stmt: Statement,
    /// After a depth-0 `EXECUTE`: secret parameters of the literals read
    /// since, which a `USING` list then passes.
    dynamic: Option<SecretParams>,
    /// Statements prepared earlier in the text.
    known: BTreeMap<String, Rc<SecretParams>>,
    /// A secret argument that names its value instead of holding it (a
    /// column, a variable, a subquery's output): the value is a constant
    /// elsewhere in the text (`WITH s(p) AS (VALUES ('pw')) SELECT
    /// unlock('k', p) FROM s`), so every constant of this text is masked.
    indirect: Option<&'static str>,
    out: Analysis,
}

impl<'s, 'c, 'l> Analyzer<'s, 'c, 'l> {
    fn new(sql: &'s str, ctx: &'c mut Ctx<'l>, depth: u8) -> Self {
        Analyzer {
            sql,
            ctx,
            depth,
            brackets: Vec::new(),
            lists: Vec::new(),
            using: None,
            secret: None,
            prev: [None, None, None],
            last_end: 0,
            stmt: Statement::default(),
            dynamic: None,
            known: BTreeMap::new(),
            indirect: None,
            out: Analysis::default(),
        }
    }

    fn run(mut self) -> Analysis {
        let scs = self.ctx.options.standard_conforming_strings;
        for tok in tokens_with(self.sql, scs) {
            self.token(tok);
        }
        // A text cut short still masks what its open calls hold.
        while let Some(bracket) = self.brackets.pop() {
            let bare = self.closed(bracket);
            self.child_closed(self.last_end, bare);
        }
        self.end_statement();
        if let Some(name) = self.indirect {
            for t in tokens_with(self.sql, scs) {
                if matches!(t.kind, K::String(_) | K::Number) {
                    self.out.masks.push(Mask { span: t.span, name });
                }
            }
        }
        self.out.normalize();
        self.out
    }

    fn token(&mut self, tok: Token) {
        let top = self.brackets.is_empty();
        let first = !std::mem::replace(&mut self.stmt.started, true);
        match tok.kind {
            K::Semicolon if top => self.end_statement(),
            K::LParen | K::LBracket => self.open(&tok),
            K::RParen | K::RBracket => self.close(&tok),
            K::Comma => self.comma(),
            _ => {
                if !(top && self.statement_word(&tok, first)) {
                    self.feed(&tok);
                }
                match tok.kind {
                    K::Param(n) => self.param(n),
                    K::String(kind) => self.string(&tok, kind),
                    _ => {}
                }
            }
        }
        self.last_end = tok.span.end;
        self.prev = [Some(tok), self.prev[0].take(), self.prev[1].take()];
    }

    fn is_word(&self, tok: &Token, word: &str) -> bool {
        tok.kind == K::Ident
            && tok.span.len() == word.len()
            && tok.text(self.sql).eq_ignore_ascii_case(word)
    }

    /// Statement-level words at depth 0; true when `tok` is consumed.
    fn statement_word(&mut self, tok: &Token, first: bool) -> bool {
        match &self.stmt.prepare {
            Prepare::Keyword => {
                self.stmt.prepare = object_name(self.sql, tok)
                    .map_or(Prepare::No, |n| Prepare::Named(n.into_owned()));
            }
            Prepare::Named(name) if self.is_word(tok, "as") => {
                self.stmt.prepare = Prepare::Body(name.clone())
            }
            _ if first && self.is_word(tok, "prepare") => self.stmt.prepare = Prepare::Keyword,
            _ => {}
        }
        if self.is_word(tok, "execute") {
            self.finish_using();
            self.dynamic = Some(SecretParams::new());
        } else if self.is_word(tok, "using") && self.dynamic.is_some() {
            self.finish_using();
            let params = self.dynamic.take().unwrap_or_default();
            if !params.is_empty() {
                self.using = Some(ArgList::new(Secrets::Params(Rc::new(params)), 0));
            }
            return true;
        } else if (self.is_word(tok, "into") || self.is_word(tok, "loop")) && self.using.is_some() {
            self.finish_using();
        }
        false
    }

    /// Gives `tok` to the argument it belongs to.
    fn feed(&mut self, tok: &Token) {
        let level = self.brackets.len();
        let became_secret = match self.brackets.last_mut() {
            Some(Bracket::List) => self.lists.last_mut().and_then(|l| l.token(self.sql, tok)),
            Some(Bracket::Plain { numbers, .. }) => {
                *numbers &= tok.kind == K::Number;
                None
            }
            None => self.using.as_mut().and_then(|l| l.token(self.sql, tok)),
        };
        if let Some(name) = became_secret {
            self.secret.get_or_insert((level, name));
        }
    }

    fn open(&mut self, tok: &Token) {
        self.feed(tok);
        let level = self.brackets.len() + 1;
        if let Some(secrets) = self.call_before(tok) {
            self.lists.push(ArgList::new(secrets, level));
            self.brackets.push(Bracket::List);
            return;
        }
        let typmod = match self.brackets.last() {
            Some(Bracket::List) => self
                .lists
                .last()
                .is_some_and(|l| l.arg.shape == Shape::Type),
            Some(Bracket::Plain { .. }) => false,
            None => self
                .using
                .as_ref()
                .is_some_and(|l| l.arg.shape == Shape::Type),
        };
        self.brackets.push(Bracket::Plain {
            typmod,
            numbers: true,
        });
    }

    /// What secrets the arguments opened by `(` hold: `EXECUTE name(` of a
    /// statement with secret parameters, or a secret function's call.
    fn call_before(&mut self, paren: &Token) -> Option<Secrets> {
        let name = self.prev[0]
            .as_ref()
            .filter(|t| paren.kind == K::LParen && matches!(t.kind, K::Ident | K::QuotedIdent))?;
        let before = self.prev[1].as_ref();
        if before.is_some_and(|t| self.is_word(t, "prepare")) {
            return None;
        }
        if before.is_some_and(|t| self.is_word(t, "execute")) {
            let statement = object_name(self.sql, name)?;
            let params = match self.known.get(statement.as_ref()) {
                Some(params) => Rc::clone(params),
                None => self.ctx.prepared(&statement),
            };
            if !params.is_empty() {
                return Some(Secrets::Params(params));
            }
        }
        // Qualified by another schema: that schema's function, not ours.
        if before.is_some_and(|t| t.kind == K::Dot) {
            let schema = self.prev[2].as_ref().and_then(|t| identifier(self.sql, t));
            if schema.as_deref() != Some("han_crypto") {
                return None;
            }
        }
        secret_function(self.sql, name).map(Secrets::Function)
    }

    fn close(&mut self, tok: &Token) {
        match self.brackets.pop() {
            None => self.feed(tok),
            Some(bracket) => {
                let bare = self.closed(bracket);
                self.child_closed(tok.span.end, bare);
            }
        }
    }

    /// Pops what `bracket` held; whether it keeps an argument a bare `$n`.
    fn closed(&mut self, bracket: Bracket) -> bool {
        match bracket {
            Bracket::List => {
                if let Some(mut list) = self.lists.pop() {
                    let done = list.finish();
                    self.emit(list.level, done);
                }
                true
            }
            Bracket::Plain { typmod, numbers } => !typmod || numbers,
        }
    }

    fn child_closed(&mut self, end: usize, bare: bool) {
        match self.brackets.last_mut() {
            Some(Bracket::List) => self
                .lists
                .last_mut()
                .into_iter()
                .for_each(|l| l.child_closed(end, bare)),
            Some(Bracket::Plain { numbers, .. }) => *numbers = false,
            None => self
                .using
                .iter_mut()
                .for_each(|l| l.child_closed(end, bare)),
        }
    }

    fn comma(&mut self) {
        let level = self.brackets.len();
        let done = match self.brackets.last() {
            Some(Bracket::List) => self.lists.last_mut().map(ArgList::finish),
            // `numeric(10, 2)` is still a typmod.
            Some(Bracket::Plain { .. }) => None,
            None => self.using.as_mut().map(ArgList::finish),
        };
        if let Some(done) = done {
            self.emit(level, done);
        }
    }

    /// Masks a finished secret argument unless it is a bare parameter or an
    /// enclosing secret argument covers it.
    fn emit(&mut self, level: usize, done: Option<Finished>) {
        let covered = self.secret.is_some_and(|(l, _)| l < level);
        if let Some(f) = done.filter(|f| !f.bare_param && !covered) {
            self.mask_values(f.span, f.name);
        }
        if self.secret.is_some_and(|(l, _)| l == level) {
            self.secret = None;
        }
    }

    /// Masks what in a secret argument can carry a secret value — string
    /// constants, numbers, bare identifiers (a passphrase typed without
    /// quotes is read as a column name, which errors echo) — and keeps its
    /// structure visible: function and type names, keywords, operators,
    /// parameters. So a secret argument hides no call it makes.
    fn mask_values(&mut self, span: Range<usize>, name: &'static str) {
        let Some(text) = self.sql.get(span.clone()) else {
            return;
        };
        let scs = self.ctx.options.standard_conforming_strings;
        let toks: Vec<Token> = tokens_with(text, scs).collect();
        for (i, t) in toks.iter().enumerate() {
            let next = toks.get(i + 1).map(|t| t.kind);
            let before = i.checked_sub(1).map(|j| &toks[j]);
            let value = match t.kind {
                K::String(_) | K::Number | K::Other => true,
                K::Ident | K::QuotedIdent => {
                    let structural = matches!(next, Some(K::LParen | K::Dot))
                        || before.is_some_and(|b| {
                            matches!(b.kind, K::Typecast | K::Dot)
                                || (b.kind == K::Ident && b.text(text).eq_ignore_ascii_case("as"))
                        })
                        || (t.kind == K::Ident && is_keyword(t.text(text)));
                    !structural
                }
                _ => false,
            };
            if value {
                if matches!(t.kind, K::Ident | K::QuotedIdent) {
                    self.indirect = Some(name);
                }
                self.out.masks.push(Mask {
                    span: span.start + t.span.start..span.start + t.span.end,
                    name,
                });
            }
        }
    }

    fn param(&mut self, n: u32) {
        if let Some((_, name)) = self.secret {
            self.stmt.params.entry(n).or_insert(name);
        }
    }

    /// Analyses a literal's contents as SQL (unless a mask covers it).
    fn string(&mut self, tok: &Token, kind: StringKind) {
        if self.secret.is_some()
            || self.depth >= MAX_DEPTH
            || matches!(kind, StringKind::Bit | StringKind::Hex)
        {
            return;
        }
        if !may_mention_secret(tok.text(self.sql), self.ctx.options) {
            return;
        }
        let Some(decoded) = decode_string(self.sql, tok) else {
            return;
        };
        let inner = analyze_in(&decoded.text, self.ctx, self.depth + 1);
        self.out.masks.extend(inner.masks.into_iter().map(|m| Mask {
            span: decoded.original_span(m.span),
            name: m.name,
        }));
        if let Some(dynamic) = &mut self.dynamic {
            for (n, name) in inner.secret_params {
                dynamic.entry(n).or_insert(name);
            }
        }
    }

    fn finish_using(&mut self) {
        if let Some(mut list) = self.using.take() {
            let done = list.finish();
            self.emit(0, done);
        }
    }

    fn end_statement(&mut self) {
        self.finish_using();
        self.dynamic = None;
        let stmt = std::mem::take(&mut self.stmt);
        match stmt.prepare {
            Prepare::Body(name) => {
                self.known
                    .insert(name.clone(), Rc::new(stmt.params.clone()));
                self.out.prepared.push((name, stmt.params));
            }
            _ => {
                for (n, name) in stmt.params {
                    self.out.secret_params.entry(n).or_insert(name);
                }
            }
        }
    }
}

/// Whether a token can carry a value: a constant, a parameter, or a name
/// that is no keyword.
fn carries_value(sql: &str, tok: &Token) -> bool {
    match tok.kind {
        K::String(_) | K::Number | K::Param(_) | K::QuotedIdent => true,
        K::Ident => !is_keyword(tok.text(sql)),
        _ => false,
    }
}

/// Words that structure an expression rather than carry a value.
fn is_keyword(word: &str) -> bool {
    const WORDS: &[&str] = &[
        "and",
        "or",
        "not",
        "is",
        "null",
        "true",
        "false",
        "in",
        "like",
        "ilike",
        "similar",
        "between",
        "cast",
        "as",
        "array",
        "row",
        "case",
        "when",
        "then",
        "else",
        "end",
        "collate",
        "variadic",
        "distinct",
        "select",
        "from",
        "where",
        "any",
        "all",
        "some",
        "escape",
        "overlaps",
        "isnull",
        "notnull",
        "interval",
        "default",
        // words of multi-word type names (`character varying`, ...)
        "character",
        "varying",
        "double",
        "precision",
        "timestamp",
        "time",
        "with",
        "without",
        "zone",
        "national",
        "char",
        "bit",
    ];
    WORDS.iter().any(|w| w.eq_ignore_ascii_case(word))
}

/// The secret function an identifier token names.
fn secret_function(sql: &str, tok: &Token) -> Option<&'static SecretFunction> {
    let named = |name: &str| SECRET_FUNCTIONS.iter().find(|f| f.name == name);
    match tok.kind {
        // Unquoted names fold to ASCII lower case: compare without folding.
        K::Ident => {
            let text = tok.text(sql);
            SECRET_FUNCTIONS
                .iter()
                .find(|f| f.name.len() == text.len() && f.name.eq_ignore_ascii_case(text))
        }
        K::QuotedIdent => named(&identifier(sql, tok)?),
        _ => None,
    }
}

/// A statement name as PostgreSQL keys it: folded, cut to 63 bytes.
fn object_name<'a>(sql: &'a str, tok: &Token) -> Option<Cow<'a, str>> {
    let name = identifier(sql, tok)?;
    if name.len() <= MAX_NAME {
        return Some(name);
    }
    let cut = (0..=MAX_NAME)
        .rev()
        .find(|&i| name.is_char_boundary(i))
        .unwrap_or(0);
    Some(Cow::Owned(name[..cut].to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql_lex::spell_literal;
    use proptest::prelude::*;
    use std::cell::Cell;
    use std::time::{Duration, Instant};

    fn none(_: &str) -> Option<String> {
        None
    }

    /// The text as the log would show it.
    fn shown(sql: &str) -> String {
        mask_sql(sql, &none).unwrap_or_else(|| sql.to_owned())
    }

    fn params(pairs: &[(u32, &'static str)]) -> SecretParams {
        pairs.iter().copied().collect()
    }

    #[test]
    fn a_secret_hidden_by_sql_quoting_is_found_in_the_constant_as_the_server_reads_it() {
        let o = Options {
            standard_conforming_strings: true,
        };
        for sql in [
            "INSERT INTO notes VALUES (1, 'run PGPASSWORD=''Xk29!vbq7Lm'' psql')",
            "INSERT INTO notes VALUES (1, E'config:\\n  password: \\'Xk29!vbq7Lm\\'\\n')",
            "SELECT 'a' 'PGPASSWORD=''Xk29!vbq7Lm'''",
        ] {
            let out = redact_in_string_constants(sql, o).unwrap_or_else(|| panic!("{sql}"));
            assert!(!out.contains("Xk29"), "{out}");
            assert!(out.contains("[REDACTED:password]"), "{out}");
        }
        assert_eq!(
            redact_in_string_constants("SELECT 'it''s fine', 'plain'", o),
            None
        );
    }

    #[test]
    fn a_secret_hidden_by_the_logs_doubled_quotes_is_found_in_the_value_as_sent() {
        let redact = |v: &str| {
            let (out, found) = crate::redact::builtin().redact(v, crate::redact::Policy::ALL);
            (!found.is_empty()).then(|| out.into_owned())
        };
        let logged = "parameters: $1 = '7', $2 = 'run PGPASSWORD=''Xk29!vbq7Lm'' psql and it''s fine', $3 = NULL";
        let out = redact_parameter_values(logged, redact).expect("a secret was found");
        assert_eq!(
            out,
            "parameters: $1 = '7', $2 = 'run PGPASSWORD=''[REDACTED:password]'' psql and it''s fine', $3 = NULL"
        );
        // A value cut short by log_parameter_max_length keeps its form.
        let cut = "parameters: $1 = 'PGPASSWORD=''Xk29!vbq7Lm'' and more...'";
        let out = redact_parameter_values(cut, redact).unwrap();
        assert!(
            !out.contains("Xk29") && out.ends_with("and more...'"),
            "{out}"
        );
        // An unterminated value (the text ends inside it) is still read.
        let open = "parameters: $1 = 'PGPASSWORD=''Xk29!vbq7Lm'' psql";
        assert!(!redact_parameter_values(open, redact)
            .unwrap()
            .contains("Xk29"));
        // Nothing secret: nothing changes, no copy.
        assert_eq!(
            redact_parameter_values("parameters: $1 = 'it''s', $2 = NULL", redact),
            None
        );
    }

    #[test]
    fn leak_through_comments_before_the_parenthesis_is_closed() {
        assert_eq!(
            shown("SELECT han_crypto.unlock/**/('kim', 'pw-sentinel')"),
            "SELECT han_crypto.unlock/**/('kim', [REDACTED:passphrase])"
        );
        assert_eq!(
            shown("SELECT unlock --x\n('k','pw')"),
            "SELECT unlock --x\n('k',[REDACTED:passphrase])"
        );
        assert_eq!(
            shown("SELECT han_crypto . /* a /* nested */ b */ unlock ('k', 'pw')"),
            "SELECT han_crypto . /* a /* nested */ b */ unlock ('k', [REDACTED:passphrase])"
        );
    }

    #[test]
    fn leak_through_quoting_qualification_and_case_is_closed() {
        for (sql, expected) in [
            (
                // A quoted upper-case schema is another schema: not ours.
                "SELECT \"HAN_CRYPTO\".\"unlock\"('k', 'pw')",
                "SELECT \"HAN_CRYPTO\".\"unlock\"('k', 'pw')",
            ),
            (
                "SELECT UNLOCK ( 'k' , 'pw' )",
                "SELECT UNLOCK ( 'k' , [REDACTED:passphrase] )",
            ),
            (
                "SELECT db.Han_Crypto.UnLock('k','pw')",
                "SELECT db.Han_Crypto.UnLock('k',[REDACTED:passphrase])",
            ),
            (
                "SELECT U&\"\\0075nlock\"('k', 'pw')",
                "SELECT U&\"\\0075nlock\"('k', [REDACTED:passphrase])",
            ),
            (
                "SELECT U&\"!0075nlock\" UESCAPE '!' ('k', 'pw')",
                "SELECT U&\"!0075nlock\" UESCAPE '!' ('k', [REDACTED:passphrase])",
            ),
            (
                "SELECT * FROM han_crypto.unlock('k', 'pw')",
                "SELECT * FROM han_crypto.unlock('k', [REDACTED:passphrase])",
            ),
        ] {
            assert_eq!(shown(sql), expected);
        }
        // A quoted name in another case is another function.
        assert_eq!(
            shown("SELECT \"UNLOCK\"('k', 'pw')"),
            "SELECT \"UNLOCK\"('k', 'pw')"
        );
    }

    #[test]
    fn leak_through_named_notation_is_closed() {
        for (sql, expected) in [
            ("SELECT unlock(passphrase => 'pw', keyring => 'k')", "SELECT unlock(passphrase => [REDACTED:passphrase], keyring => 'k')"),
            ("SELECT unlock(keyring := 'k', PASSPHRASE := 'pw')", "SELECT unlock(keyring := 'k', PASSPHRASE := [REDACTED:passphrase])"),
            ("SELECT unlock('k', \"passphrase\" => 'pw')", "SELECT unlock('k', \"passphrase\" => [REDACTED:passphrase])"),
            (
                "SELECT change_passphrase(new_passphrase => 'n', keyring => 'k', old_passphrase => 'o')",
                "SELECT change_passphrase(new_passphrase => [REDACTED:new_passphrase], keyring => 'k', old_passphrase => [REDACTED:old_passphrase])",
            ),
            ("SELECT unlock(keyring/**/=>/**/'k', passphrase=>'pw')", "SELECT unlock(keyring/**/=>/**/'k', passphrase=>[REDACTED:passphrase])"),
        ] {
            assert_eq!(shown(sql), expected);
        }
    }

    #[test]
    fn leak_through_string_syntax_is_closed() {
        for sql in [
            r"SELECT unlock('k', E'p\'w), (x')",
            r"SELECT unlock('k', e'p\\')",
            "SELECT unlock('k', $$pw$$)",
            "SELECT unlock('k', $t$p'w) $$ $t$)",
            "SELECT unlock('k', 'p), (''w -- /* x')",
            "SELECT unlock('k', 'p'\n'w')",
            "SELECT unlock('k', U&'p\\0077' UESCAPE '\\')",
            "SELECT unlock('k', N'pw')",
        ] {
            assert_eq!(
                shown(sql),
                "SELECT unlock('k', [REDACTED:passphrase])",
                "{sql}"
            );
        }
    }

    #[test]
    fn leak_through_nested_expressions_is_closed() {
        for (sql, expected) in [
            (
                "SELECT unlock('k', concat('p', 'w'))",
                "SELECT unlock('k', concat([REDACTED:passphrase], [REDACTED:passphrase]))",
            ),
            (
                "SELECT unlock('k', ARRAY['p', 'w'][1])",
                "SELECT unlock('k', ARRAY[[REDACTED:passphrase], [REDACTED:passphrase]][[REDACTED:passphrase]])",
            ),
            (
                "SELECT unlock(ARRAY['a', 'b'][1], 'pw')",
                "SELECT unlock(ARRAY['a', 'b'][1], [REDACTED:passphrase])",
            ),
            (
                "SELECT unlock(upper('k'), (SELECT 'pw'))",
                "SELECT unlock(upper('k'), (SELECT [REDACTED:passphrase]))",
            ),
            (
                "SELECT authenticate(unlock('k', 'pw'))",
                "SELECT authenticate(unlock([REDACTED:token], [REDACTED:token]))",
            ),
            (
                "SELECT f(unlock('k', 'a'), unlock('k', 'b'))",
                "SELECT f(unlock('k', [REDACTED:passphrase]), unlock('k', [REDACTED:passphrase]))",
            ),
        ] {
            assert_eq!(shown(sql), expected);
        }
    }

    #[test]
    fn each_function_masks_exactly_its_secret_arguments() {
        assert_eq!(
            shown("SELECT change_passphrase('k','old','new')"),
            "SELECT change_passphrase('k',[REDACTED:old_passphrase],[REDACTED:new_passphrase])"
        );
        assert_eq!(
            shown("SELECT create_passphrase_keyring('k','pw','pbkdf2-sha256')"),
            "SELECT create_passphrase_keyring('k',[REDACTED:passphrase],'pbkdf2-sha256')"
        );
        assert_eq!(
            shown("SELECT han_crypto.authenticate('eyJhbGciOiJIUzI1NiJ9.e30.c2ln')"),
            "SELECT han_crypto.authenticate([REDACTED:token])"
        );
        // PL/pgSQL variables are masked too: their names are all the log shows.
        assert_eq!(
            shown("PERFORM unlock(k, pw)"),
            "PERFORM unlock(k, [REDACTED:passphrase])"
        );
    }

    #[test]
    fn multi_statement_strings_mask_each_call_only() {
        assert_eq!(
            shown("SELECT 'pw' AS a; SELECT han_crypto.unlock('k', 'pw'); SELECT authenticate('t');SELECT 'pw'"),
            "SELECT 'pw' AS a; SELECT han_crypto.unlock('k', [REDACTED:passphrase]); SELECT authenticate([REDACTED:token]);SELECT 'pw'"
        );
    }

    #[test]
    fn bind_parameters_are_reported_not_masked() {
        for sql in [
            "SELECT han_crypto.unlock($1, $2)",
            "SELECT unlock($1, $2::text)",
            "SELECT unlock($1, $2::\"text\")",
            "SELECT unlock($1, $2::text[])",
            "SELECT unlock($1, $2 /* c */ :: pg_catalog.text)",
            "SELECT unlock($1, $2::varchar(64)::character varying)",
            "SELECT unlock(passphrase => $2, keyring => $1)",
        ] {
            let a = analyze(sql, &none);
            assert_eq!(a.masked(sql), None, "{sql}");
            assert_eq!(a.secret_params(), &params(&[(2, "passphrase")]), "{sql}");
        }
        let a = analyze("SELECT change_passphrase($1, $2, $3)", &none);
        assert_eq!(
            a.secret_params(),
            &params(&[(2, "old_passphrase"), (3, "new_passphrase")])
        );
        // In anything more, values are masked and parameters reported.
        for (sql, shown_as) in [
            ("SELECT unlock($1, $2 || $3)", "SELECT unlock($1, $2 || $3)"),
            (
                "SELECT unlock($1, $2[1] || $3)",
                "SELECT unlock($1, $2[[REDACTED:passphrase]] || $3)",
            ),
            (
                "SELECT unlock($1, ($2 || $3)::varchar(length('x')))",
                "SELECT unlock($1, ($2 || $3)::varchar(length([REDACTED:passphrase])))",
            ),
        ] {
            let a = analyze(sql, &none);
            assert_eq!(
                a.masked(sql).unwrap_or_else(|| sql.to_owned()),
                shown_as,
                "{sql}"
            );
            assert_eq!(
                a.secret_params(),
                &params(&[(2, "passphrase"), (3, "passphrase")]),
                "{sql}"
            );
        }
    }

    #[test]
    fn leak_through_prepare_then_execute_in_one_string_is_closed() {
        let sql =
            "PREPARE pu(text,text) AS SELECT han_crypto.unlock($1,$2); EXECUTE pu('kim','pw')";
        let a = analyze(sql, &none);
        assert_eq!(a.masked(sql).unwrap(), "PREPARE pu(text,text) AS SELECT han_crypto.unlock($1,$2); EXECUTE pu('kim',[REDACTED:passphrase])");
        assert_eq!(
            a.prepared(),
            [("pu".to_owned(), params(&[(2, "passphrase")]))]
        );
        assert!(a.secret_params().is_empty());
        assert_eq!(
            shown("PREPARE \"Pu\" AS SELECT unlock($2, $1); EXPLAIN ANALYZE EXECUTE \"Pu\"('pw', 'kim'); EXECUTE pu('pw', 'kim')"),
            "PREPARE \"Pu\" AS SELECT unlock($2, $1); EXPLAIN ANALYZE EXECUTE \"Pu\"([REDACTED:passphrase], 'kim'); EXECUTE pu('pw', 'kim')"
        );
        let sql = "PREPARE pu AS SELECT unlock($1, $2); EXECUTE PU('kim', $1)";
        assert_eq!(
            analyze(sql, &none).secret_params(),
            &params(&[(1, "passphrase")])
        );
        let long = "p".repeat(63);
        assert_eq!(
            shown(&format!("PREPARE {long}x AS SELECT unlock($1, $2); EXECUTE {long}y('k', 'pw')")),
            format!("PREPARE {long}x AS SELECT unlock($1, $2); EXECUTE {long}y('k', [REDACTED:passphrase])"),
            "names are cut to 63 bytes"
        );
    }

    #[test]
    fn leak_through_execute_of_a_server_side_prepared_statement_is_closed() {
        let calls = Cell::new(0);
        let lookup = |name: &str| {
            calls.set(calls.get() + 1);
            match name {
                "whole" => Some("PREPARE other AS SELECT 1; PREPARE whole(text, text) AS SELECT han_crypto.unlock($1, $2); EXECUTE whole('a', 'b')".to_owned()),
                "bare" => Some("SELECT han_crypto.authenticate($1)".to_owned()),
                "plain" => Some("SELECT $1, $2".to_owned()),
                _ => None,
            }
        };
        let sql = "EXECUTE whole('kim', 'pw'); EXECUTE bare('eyJ'); EXECUTE plain('a', 'b'); EXECUTE nope('kim', 'pw'); EXECUTE whole('k2', 'pw2')";
        assert_eq!(
            mask_sql(sql, &lookup).unwrap(),
            "EXECUTE whole('kim', [REDACTED:passphrase]); EXECUTE bare([REDACTED:token]); EXECUTE plain('a', 'b'); EXECUTE nope('kim', 'pw'); EXECUTE whole('k2', [REDACTED:passphrase])"
        );
        assert_eq!(calls.get(), 4, "one lookup per name");
    }

    #[test]
    fn leak_through_do_blocks_and_function_bodies_is_closed() {
        for (sql, expected) in [
            ("DO $$ BEGIN PERFORM han_crypto.unlock('kim','pw'); END $$", "DO $$ BEGIN PERFORM han_crypto.unlock('kim',[REDACTED:passphrase]); END $$"),
            ("DO 'BEGIN PERFORM han_crypto.unlock(''kim'', ''pw''); END'", "DO 'BEGIN PERFORM han_crypto.unlock(''kim'', [REDACTED:passphrase]); END'"),
            ("DO LANGUAGE plpgsql $b$ BEGIN PERFORM unlock('k', 'pw'); END $b$", "DO LANGUAGE plpgsql $b$ BEGIN PERFORM unlock('k', [REDACTED:passphrase]); END $b$"),
            ("DO $b$ BEGIN PERFORM unlock('k', 'pw'); END $b$ LANGUAGE plpgsql", "DO $b$ BEGIN PERFORM unlock('k', [REDACTED:passphrase]); END $b$ LANGUAGE plpgsql"),
            (
                "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $f$ SELECT han_crypto.unlock('k', 'pw') $f$",
                "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $f$ SELECT han_crypto.unlock('k', [REDACTED:passphrase]) $f$",
            ),
            (r"DO E'BEGIN PERFORM unlock(\'k\', \'p\\w\'); END'", r"DO E'BEGIN PERFORM unlock(\'k\', [REDACTED:passphrase]); END'"),
            (
                "DO 'BEGIN EXECUTE ''SELECT unlock(''''k'''', ''''pw'''')''; END'",
                "DO 'BEGIN EXECUTE ''SELECT unlock(''''k'''', [REDACTED:passphrase])''; END'",
            ),
            ("DO $a$ BEGIN EXECUTE $b$ SELECT unlock('k', 'pw') $b$; END $a$", "DO $a$ BEGIN EXECUTE $b$ SELECT unlock('k', [REDACTED:passphrase]) $b$; END $a$"),
        ] {
            assert_eq!(shown(sql), expected);
        }
    }

    #[test]
    fn leak_through_escapes_and_continuations_spelling_the_name_is_closed() {
        for (sql, expected) in [
            (
                r"DO E'BEGIN PERFORM \x75nlock(''k'', ''pw''); END'",
                r"DO E'BEGIN PERFORM \x75nlock(''k'', [REDACTED:passphrase]); END'",
            ),
            (
                r"DO U&'BEGIN PERFORM !0075nlock(''k''!002C ''pw''); END' UESCAPE '!'",
                r"DO U&'BEGIN PERFORM !0075nlock(''k''!002C [REDACTED:passphrase]); END' UESCAPE '!'",
            ),
            (
                "DO 'BEGIN PERFORM han_crypto.unl'\n'ock(''k'', ''pw''); END'",
                "DO 'BEGIN PERFORM han_crypto.unl'\n'ock(''k'', [REDACTED:passphrase]); END'",
            ),
            (
                "DO 'BEGIN PERFORM unlock(''k'', ''p'  -- c\n  'w''); END'",
                "DO 'BEGIN PERFORM unlock(''k'', [REDACTED:passphrase]); END'",
            ),
        ] {
            assert_eq!(shown(sql), expected);
        }
    }

    #[test]
    fn literals_are_analysed_four_levels_deep() {
        let nested = |tags: &[&str]| {
            let mut sql = "SELECT unlock('k', 'pw')".to_owned();
            for tag in tags {
                sql = format!("SELECT ${tag}$ {sql} ${tag}$");
            }
            sql
        };
        assert!(shown(&nested(&["a", "b", "c", "d"])).contains("[REDACTED:passphrase]"));
        assert!(!shown(&nested(&["a", "b", "c", "d", "e"])).contains("[REDACTED"));
    }

    #[test]
    fn leak_through_plpgsql_execute_using_is_closed() {
        for (sql, expected) in [
            (
                "DO $$ BEGIN EXECUTE 'SELECT han_crypto.unlock($1, $2)' USING 'k', 'pw'; END $$",
                "DO $$ BEGIN EXECUTE 'SELECT han_crypto.unlock($1, $2)' USING 'k', [REDACTED:passphrase]; END $$",
            ),
            (
                "DO $$ BEGIN EXECUTE format('SELECT han_crypto.unlock(%L, $1)', 'k') USING 'pw' || ''; END $$",
                "DO $$ BEGIN EXECUTE format('SELECT han_crypto.unlock(%L, $1)', 'k') USING [REDACTED:passphrase] || [REDACTED:passphrase]; END $$",
            ),
            (
                "DO $$ DECLARE r int; BEGIN EXECUTE 'SELECT unlock($1, $2)' INTO r USING 'k', 'pw'; END $$",
                "DO $$ DECLARE r int; BEGIN EXECUTE 'SELECT unlock($1, $2)' INTO r USING 'k', [REDACTED:passphrase]; END $$",
            ),
            (
                "DO $$ DECLARE r int; BEGIN EXECUTE 'SELECT unlock($1, $2)' USING 'k', 'pw' INTO r; END $$",
                "DO $$ DECLARE r int; BEGIN EXECUTE 'SELECT unlock($1, $2)' USING 'k', [REDACTED:passphrase] INTO r; END $$",
            ),
            (
                "DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'SELECT unlock($1, $2)' USING 'k', 'pw' LOOP RAISE NOTICE '%', r; END LOOP; END $$",
                "DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'SELECT unlock($1, $2)' USING 'k', [REDACTED:passphrase] LOOP RAISE NOTICE '%', r; END LOOP; END $$",
            ),
            ("DO $$ BEGIN EXECUTE 'SELECT $1 || $2' USING 'a', 'b'; END $$", "DO $$ BEGIN EXECUTE 'SELECT $1 || $2' USING 'a', 'b'; END $$"),
        ] {
            assert_eq!(shown(sql), expected);
        }
    }

    #[test]
    fn leak_through_context_lines_is_closed() {
        let show = |text: &str| mask_quoted_sql(text, &none).unwrap_or_else(|| text.to_owned());
        assert_eq!(
            show("SQL statement \"SELECT han_crypto.unlock('kim', 'pw')\"\nPL/pgSQL function inline_code_block line 1 at PERFORM"),
            "SQL statement \"SELECT han_crypto.unlock('kim', [REDACTED:passphrase])\"\nPL/pgSQL function inline_code_block line 1 at PERFORM"
        );
        assert_eq!(
            show("SQL statement \"SELECT \"han_crypto\".\"unlock\"('kim', 'pw')\""),
            "SQL statement \"SELECT \"han_crypto\".\"unlock\"('kim', [REDACTED:passphrase])\""
        );
        assert_eq!(
            show("PL/pgSQL function f() line 2 at PERFORM\nSQL statement \"SELECT \"han_crypto\".\"unlock\"(\n  'kim', 'pw')\"\nPL/pgSQL function inline_code_block line 2 at PERFORM"),
            "PL/pgSQL function f() line 2 at PERFORM\nSQL statement \"SELECT \"han_crypto\".\"unlock\"(\n  'kim', [REDACTED:passphrase])\"\nPL/pgSQL function inline_code_block line 2 at PERFORM"
        );
        assert_eq!(
            mask_quoted_sql("PL/pgSQL function unlock(text,text) line 3 at RAISE", &none),
            None
        );
    }

    #[test]
    fn leak_through_logged_bind_parameters_is_closed() {
        let secret = params(&[(2, "passphrase")]);
        for (text, expected) in [
            (
                "parameters: $1 = 'kim', $2 = 'pw'",
                "parameters: $1 = 'kim', $2 = [REDACTED:passphrase]",
            ),
            (
                "extended query with parameters: $1 = NULL, $2 = 'p''w'",
                "extended query with parameters: $1 = NULL, $2 = [REDACTED:passphrase]",
            ),
            (
                "unnamed portal with parameters: $1 = 'kim', $2 = 'a long passphr...'",
                "unnamed portal with parameters: $1 = 'kim', $2 = [REDACTED:passphrase]",
            ),
            (
                "parameters: $1 = 'a'', $2 = ''b', $2 = 'c'', $3 = ''d', $3 = 'e'",
                "parameters: $1 = 'a'', $2 = ''b', $2 = [REDACTED:passphrase], $3 = 'e'",
            ),
            (
                "portal \"p\" parameter $2 = 'pw'",
                "portal \"p\" parameter $2 = [REDACTED:passphrase]",
            ),
            (
                "parameters: $1 = 'kim', $2 = 'unterminated",
                "parameters: $1 = 'kim', $2 = [REDACTED:passphrase]",
            ),
        ] {
            assert_eq!(
                mask_parameter_list(text, &secret).as_deref(),
                Some(expected)
            );
        }
        for text in [
            "parameters: $1 = 'kim', $2 = NULL",
            "parameters: $12 = 'x', $21 = 'y'",
            "$2",
            "$2 = ",
            "",
        ] {
            assert_eq!(mask_parameter_list(text, &secret), None, "{text}");
        }
        assert_eq!(
            mask_parameter_list("parameters: $2 = 'pw'", &SecretParams::new()),
            None
        );
    }

    #[test]
    fn evasion_by_merely_mentioning_a_secret_function_hides_nothing() {
        for sql in [
            "/* unlock( */ SELECT secret_stuff",
            "-- authenticate(\nSELECT 1",
            "SELECT 'unlock(' AS x",
            "SELECT 'unlock(''k'', ' AS x",
            "SELECT $$ unlock( $$",
            "SELECT unlock FROM t",
            "SELECT pg_advisory_unlock(1)",
            "SELECT my_authenticate('x')",
            "SELECT han_crypto.unlocked('k', 'pw')",
            "SELECT \"unlock \"('k', 'pw')",
            "SELECT unlock.x('k', 'pw')",
            "SELECT unlock('k'), unlock()",
            "EXECUTE plan('a', 'b')",
            "PREPARE unlock(text, text) AS SELECT 1",
            "SELECT E'\\\\' AS backslash, 'a'\n'b' AS continued",
        ] {
            let a = analyze(sql, &none);
            assert_eq!(a.masked(sql), None, "{sql}");
            assert!(a.secret_params().is_empty(), "{sql}");
        }
    }

    #[test]
    fn the_rest_of_the_statement_stays_byte_for_byte() {
        for (sql, secret) in [
            ("WITH k AS (SELECT 'Kim' AS n) /* note */ SELECT n, han_crypto.unlock(n, 'pw'),\n  'élan', \"Odd\"\"Name\" FROM k -- done", "'pw'"),
            ("SELECT 'héllo€', han_crypto.unlock('ключ', 'пароль€') -- 注释", "'пароль€'"),
            ("SELECT 1;\r\n\tSELECT   UNLOCK(\t'k' ,\n E'\\u00e9'\n)  ;", "E'\\u00e9'"),
        ] {
            assert_eq!(shown(sql), sql.replace(secret, "[REDACTED:passphrase]"));
        }
    }

    #[test]
    fn evasion_with_standard_conforming_strings_off_is_closed() {
        let off = Options {
            standard_conforming_strings: false,
        };
        let sql = "SELECT 'p\\', han_crypto.unlock(1, ', 1; DELETE FROM t; SELECT 'HIDDEN'";
        // Read as such a session reads it: one string, then statements.
        let shown = mask_sql_with(sql, &none, off).unwrap_or_else(|| sql.to_owned());
        assert!(
            shown.contains("DELETE FROM t") && shown.contains("HIDDEN"),
            "{shown}"
        );
        // And a real call in such a session is still masked, escapes decoded.
        let call = "SELECT han_crypto.unlock('k', 'p\\'w')";
        assert_eq!(
            mask_sql_with(call, &none, off).unwrap(),
            "SELECT han_crypto.unlock('k', [REDACTED:passphrase])"
        );
    }

    #[test]
    fn evasion_through_a_look_alike_function_or_a_masked_call_is_closed() {
        // Another schema's unlock is not han_crypto's: nothing is masked.
        let sql = "SELECT public.unlock(1, public.x('DELETE FROM t'))";
        assert_eq!(shown(sql), sql);
        // In han_crypto's, calls inside a secret argument stay visible.
        assert_eq!(
            shown("SELECT han_crypto.unlock('k', public.x('DELETE FROM t'))"),
            "SELECT han_crypto.unlock('k', public.x([REDACTED:passphrase]))"
        );
        assert_eq!(
            shown("SELECT unlock('k', CAST('pw' AS text) || upper(\"pw2\"))"),
            // ("pw2" reads as a name, so every constant is masked: see below)
            "SELECT unlock([REDACTED:passphrase], CAST([REDACTED:passphrase] AS text) || upper([REDACTED:passphrase]))"
        );
    }

    #[test]
    fn leak_through_a_secret_routed_through_a_cte_subquery_or_values_is_closed() {
        for sql in [
            "WITH s(p) AS (VALUES ('SENTCTE1xyz')) SELECT han_crypto.unlock('pp_alice', p) FROM s",
            "SELECT han_crypto.unlock(k, p) FROM (SELECT 'pp_alice' k, 'SENTSUB2xyz' p) s",
            "SELECT han_crypto.unlock('pp_alice', x) FROM unnest(ARRAY['SENTUNNEST3xyz']) x",
            "SELECT han_crypto.unlock('pp_alice', (SELECT 'SENTSCALAR4xyz'))",
            "SELECT han_crypto.unlock('pp_alice', p::text) FROM (VALUES (12345678)) v(p)",
        ] {
            let out = shown(sql);
            for sentinel in ["SENT", "12345678"] {
                assert!(!out.contains(sentinel), "{sql} -> {out}");
            }
            assert!(out.contains("han_crypto.unlock("), "{out}");
        }
    }

    #[test]
    fn echoes_in_json_yaml_and_xml_output_are_listed() {
        let sql = r#"SELECT han_crypto.unlock('pp_alice', 'SENT"q\x<&>')"#;
        let texts = analyze(sql, &none).secret_texts(sql);
        for t in [r#"SENT\"q\\x<&>"#, "SENT&quot;q\\x&lt;&amp;&gt;"] {
            assert!(texts.iter().any(|x| x == t), "{t} in {texts:?}");
        }
    }

    #[test]
    fn leak_through_calls_that_do_not_parse_is_closed() {
        for (sql, expected) in [
            (
                "SELECT han_crypto.unlock('kim' 'pw')",
                "SELECT han_crypto.unlock([REDACTED:passphrase] [REDACTED:passphrase])",
            ),
            (
                "SELECT unlock(VARIADIC ARRAY['kim', 'pw'])",
                "SELECT unlock(VARIADIC ARRAY[[REDACTED:passphrase], [REDACTED:passphrase]])",
            ),
            (
                "SELECT unlock('kim', pw_typed_bare)",
                "SELECT unlock([REDACTED:passphrase], [REDACTED:passphrase])",
            ),
        ] {
            assert_eq!(shown(sql), expected, "{sql}");
        }
    }

    #[test]
    fn secret_values_are_listed_for_errors_that_echo_them() {
        let sql = "SELECT unlock('kim', 'Pass''word1')";
        let texts = analyze(sql, &none).secret_texts(sql);
        for t in ["'Pass''word1'", "Pass'word1"] {
            assert!(texts.iter().any(|x| x == t), "{t} in {texts:?}");
        }
        assert!(!texts.iter().any(|x| x == "'kim'" || x == "kim"));
        let sql = "SELECT unlock('k', PassWord2)";
        let texts = analyze(sql, &none).secret_texts(sql);
        for t in ["PassWord2", "password2"] {
            assert!(texts.iter().any(|x| x == t), "{t} in {texts:?}");
        }
    }

    #[test]
    fn leak_through_an_unterminated_call_is_closed() {
        for sql in ["SELECT unlock('k', 'pw'", "SELECT unlock('k', 'pw"] {
            assert_eq!(
                shown(sql),
                "SELECT unlock('k', [REDACTED:passphrase]",
                "{sql}"
            );
        }
        assert_eq!(
            shown("SELECT unlock('k', $$pw"),
            "SELECT unlock('k', [REDACTED:passphrase]"
        );
        // A mismatched bracket closes the call all the same.
        assert_eq!(
            shown("SELECT unlock('k', 'pw']"),
            "SELECT unlock('k', [REDACTED:passphrase]]"
        );
    }

    #[test]
    fn masks_applied_to_another_text_fail_closed() {
        let a = analyze("SELECT unlock('k', 'pw')", &none);
        assert_eq!(a.masked("short").as_deref(), Some("[REDACTED:statement]"));
    }

    /// CPU time of this thread where Linux tells it (so that other tests and
    /// builds sharing the machine do not count), else wall time.
    fn cpu_time() -> Duration {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok();
        let ns = schedstat.and_then(|s| s.split_whitespace().next()?.parse().ok());
        ns.map_or_else(
            || EPOCH.get_or_init(Instant::now).elapsed(),
            Duration::from_nanos,
        )
    }

    #[test]
    fn adversarial_input_is_analysed_in_linear_time() {
        const SIZE: usize = 10 << 20;
        let lookup = |_: &str| Some("SELECT han_crypto.unlock($1, $2)".to_owned());
        for unit in [
            "unlock(",
            "authenticate(",
            "/*",
            "(",
            "'unlock(",
            "E'\\\\",
            "$$unlock(",
            "execute p(",
            "unlock('k', $1, ",
            "'a'\n",
        ] {
            let sql = unit.repeat(SIZE / unit.len());
            let (started, wall) = (cpu_time(), Instant::now());
            let masked = mask_sql(&sql, &lookup);
            let elapsed = cpu_time() - started;
            eprintln!("{unit:?}: {elapsed:?} (wall {:?})", wall.elapsed());
            assert!(elapsed < Duration::from_secs(5), "{unit:?}: {elapsed:?}");
            drop(masked);
        }
    }

    fn gap() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "",
            " ",
            "\n",
            "\t",
            "/* c */",
            "/* /* n */ */",
            "-- c\n",
            " \r\n ",
        ])
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics_and_masks_are_well_formed(
            sql in prop_oneof![
                "(?s).{0,300}",
                r#"([a-z ]|unlock|authenticate|execute|prepare| as |using|[()\[\],;'"$\\:=>.\n]|/\*|\*/|--|\$1|\$\$|E'|U&'){0,120}"#,
            ]
        ) {
            let a = analyze(&sql, &|_| Some(sql.clone()));
            let mut at = 0;
            for m in a.masks() {
                prop_assert!(at <= m.span.start && m.span.start < m.span.end && m.span.end <= sql.len());
                prop_assert!(sql.is_char_boundary(m.span.start) && sql.is_char_boundary(m.span.end));
                at = m.span.end;
            }
            let _ = a.masked(&sql);
            let _ = mask_quoted_sql(&sql, &none);
            let _ = mask_parameter_list(&sql, &params(&[(1, "token"), (2, "passphrase")]));
        }

        #[test]
        fn generated_passphrases_never_reach_the_log(
            pre in r#"[a-c0-2 '\\"(),;$/*\-é€\n]{0,8}"#,
            post in r#"[a-c0-2 '\\"(),;$/*\-é€\n]{0,8}"#,
            form in 0..3usize,
            qualifier in prop::sample::select(vec!["", "han_crypto.", "\"han_crypto\".", "HAN_CRYPTO . ", "mydb.han_crypto."]),
            name in prop::sample::select(vec!["unlock", "UNLOCK", "\"unlock\"", "UnLock"]),
            notation in 0..3usize,
            gaps in prop::collection::vec(gap(), 6),
            wrapper in 0..5usize,
        ) {
            let pw = format!("{pre}Zq9Sentinel{post}");
            let lit = spell_literal(&pw, form);
            let [g0, g1, g2, g3, g4, g5] = [gaps[0], gaps[1], gaps[2], gaps[3], gaps[4], gaps[5]];
            let args = match notation {
                0 => format!("{g1}'kim'{g2},{g3}{lit}{g4}"),
                1 => format!("{g1}keyring{g2}=>'kim',{g3}passphrase :={g4}{lit}"),
                _ => format!("{g1}PASSPHRASE{g2}=>{g3}{lit}{g4},keyring => 'kim'"),
            };
            let call = format!("{qualifier}{name}{g0}({args}){g5}");
            let text = match wrapper {
                0 => format!("SELECT {call}"),
                1 => format!("SELECT 1; SELECT {call}; SELECT 2"),
                2 => format!("DO $do$ BEGIN PERFORM {call}; END $do$"),
                3 => format!("DO 'BEGIN PERFORM {}; END'", call.replace('\'', "''")),
                _ => format!("SQL statement \"SELECT {call}\"\nPL/pgSQL function inline_code_block line 1 at PERFORM"),
            };
            let out = if wrapper == 4 { mask_quoted_sql(&text, &none) } else { mask_sql(&text, &none) };
            let out = out.unwrap_or_else(|| text.clone());
            prop_assert!(!out.contains("Zq9Sentinel"), "{}\n-> {}", text, out);
            prop_assert!(out.contains("[REDACTED:passphrase]") && out.contains("kim"), "{}\n-> {}", text, out);
        }

        #[test]
        fn multibyte_text_around_a_call_is_kept(
            text in "[^'\"\\\\\n\\r]{0,20}",
            name in "[^'\"\\\\\n\\r]{0,20}",
            note in "[^'\"\\\\\n\\r]{0,20}",
        ) {
            let sql = format!("SELECT '{text}' AS \"{name}\", han_crypto.unlock('ключ', 'секрет€'), 1 -- {note}");
            prop_assert_eq!(shown(&sql), sql.replace("'секрет€'", "[REDACTED:passphrase]"));
        }

        #[test]
        fn any_passphrase_literal_is_replaced_exactly(pw in any::<String>(), form in 0..3usize) {
            let lit = spell_literal(&pw, form);
            let sql = format!("SELECT han_crypto.unlock('kim', {lit})");
            prop_assert_eq!(shown(&sql), "SELECT han_crypto.unlock('kim', [REDACTED:passphrase])");
            let sql = format!("DO 'BEGIN PERFORM han_crypto.unlock(''kim'', {}); END'", lit.replace('\'', "''"));
            prop_assert_eq!(shown(&sql), "DO 'BEGIN PERFORM han_crypto.unlock(''kim'', [REDACTED:passphrase]); END'");
        }
    }
}
