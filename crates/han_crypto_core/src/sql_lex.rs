//! A tokenizer of PostgreSQL's SQL, following the server's own scanner
//! (`src/backend/parser/scan.l`) with `standard_conforming_strings = on`.
//!
//! It is total and linear: every input yields tokens, never an error or a
//! panic; an unterminated string, quoted identifier or comment runs to the
//! end of the input, as the server reads it before reporting the error.
//! Tokens are byte ranges into the input (nothing is copied);
//! [`decode_string`] gives a string constant's contents with a map back to
//! the original bytes, and [`identifier`] a name as the server folds it.
//!
//! Whitespace and comments (`--` to the end of the line, `/* */` nesting)
//! only separate tokens and are not returned.
//!
//! Loose where nothing depends on it: numbers keep any trailing junk
//! (`1abc`, an error since PostgreSQL 15) and `..` is two [`TokenKind::Dot`].

use std::borrow::Cow;
use std::ops::Range;

/// How a string constant is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringKind {
    /// `'...'`: `''` is a quote, backslashes are ordinary characters.
    Standard,
    /// `E'...'`: backslash escapes, and `''`.
    Extended,
    /// `N'...'`: a standard string of type national character.
    National,
    /// `U&'...'`, with any `UESCAPE '<char>'` that follows (part of the token).
    Unicode,
    /// `B'...'`.
    Bit,
    /// `X'...'`.
    Hex,
    /// `$tag$...$tag$` (the tag may be empty).
    Dollar,
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// An unquoted identifier or keyword.
    Ident,
    /// `"..."`, or `U&"..."` with any `UESCAPE '<char>'` that follows.
    QuotedIdent,
    /// A string constant. `'...'` parts separated by whitespace containing a
    /// newline (SQL's continuation) are one token.
    String(StringKind),
    /// `$n`, saturating at `u32::MAX`.
    Param(u32),
    Number,
    /// Any other operator: `+`, `<>`, `||`, `@>`, `!~*`...
    Op,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Semicolon,
    Colon,
    Dot,
    /// `::`
    Typecast,
    /// `=>`
    Arrow,
    /// `:=`
    ColonEquals,
    /// A character the server rejects here: a lone `$`, `\`, `{`, a control
    /// character.
    Other,
}

/// One token: its kind and its bytes in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Range<usize>,
}

impl Token {
    /// The token's text in `sql` (the text it was read from), or `""`.
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        sql.get(self.span.clone()).unwrap_or("")
    }
}

/// The tokens of `sql`, in order (with standard_conforming_strings on).
pub fn tokens(sql: &str) -> Lexer<'_> {
    tokens_with(sql, true)
}

/// The tokens of `sql` as a session with `standard_conforming_strings`
/// set so reads them: off, backslashes escape in plain `'...'` strings too
/// (which are then reported as [`StringKind::Extended`], and decoded so).
pub fn tokens_with(sql: &str, standard_conforming_strings: bool) -> Lexer<'_> {
    Lexer {
        sql,
        pos: 0,
        plain: if standard_conforming_strings {
            StringKind::Standard
        } else {
            StringKind::Extended
        },
    }
}

/// An iterator over the tokens of a text (see [`tokens`]).
#[derive(Clone, Debug)]
pub struct Lexer<'a> {
    sql: &'a str,
    pos: usize,
    /// How a plain `'...'` string is read.
    plain: StringKind,
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let b = self.sql.as_bytes();
        let start = skip_trivia(b, self.pos);
        if start >= b.len() {
            self.pos = b.len();
            return None;
        }
        let (kind, end) = scan(b, start, self.plain);
        self.pos = end;
        Some(Token {
            kind,
            span: start..end,
        })
    }
}

const SPACE: u8 = 1;
const IDENT_START: u8 = 2;
const IDENT_CONT: u8 = 4;
const OP: u8 = 8;

/// Byte classes, looked up once per byte.
static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut class = 0;
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            class |= SPACE;
        }
        // Letters, `_` and every byte of a multibyte character.
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            class |= IDENT_START | IDENT_CONT;
        }
        if c.is_ascii_digit() || c == b'$' {
            class |= IDENT_CONT;
        }
        if matches!(
            c,
            b'~' | b'!'
                | b'@'
                | b'#'
                | b'^'
                | b'&'
                | b'|'
                | b'`'
                | b'?'
                | b'+'
                | b'-'
                | b'*'
                | b'/'
                | b'%'
                | b'<'
                | b'>'
                | b'='
        ) {
            class |= OP;
        }
        table[i] = class;
        i += 1;
    }
    table
}

fn is_space(c: u8) -> bool {
    CLASS[c as usize] & SPACE != 0
}

fn is_newline(c: u8) -> bool {
    matches!(c, b'\n' | b'\r')
}

fn is_ident_start(c: u8) -> bool {
    CLASS[c as usize] & IDENT_START != 0
}

fn is_ident_cont(c: u8) -> bool {
    CLASS[c as usize] & IDENT_CONT != 0
}

fn is_op_char(c: u8) -> bool {
    CLASS[c as usize] & OP != 0
}

fn starts(b: &[u8], i: usize, prefix: &[u8]) -> bool {
    b.get(i..).is_some_and(|rest| rest.starts_with(prefix))
}

/// Past whitespace and comments from `i`.
fn skip_trivia(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        match (c, b.get(i + 1)) {
            (b'-', Some(b'-')) => i = line_end(b, i),
            (b'/', Some(b'*')) => i = block_comment_end(b, i),
            _ if is_space(c) => i += 1,
            _ => break,
        }
    }
    i
}

fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| is_newline(c))
        .map_or(b.len(), |k| i + k)
}

/// The end of the `/* */` comment at `i`; comments nest.
fn block_comment_end(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        if starts(b, i, b"/*") {
            depth += 1;
            i += 2;
        } else if starts(b, i, b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// The token starting at `i` (not whitespace): its kind and end.
fn scan(b: &[u8], i: usize, plain: StringKind) -> (TokenKind, usize) {
    use TokenKind as K;
    let next = b.get(i + 1).copied();
    match b[i] {
        b'\'' => (K::String(plain), string_end(b, i, plain)),
        b'"' => (K::QuotedIdent, part_end(b, i, b'"', StringKind::Standard).1),
        b'$' => dollar(b, i),
        b'0'..=b'9' => (K::Number, number_end(b, i)),
        b'.' if next.is_some_and(|c| c.is_ascii_digit()) => (K::Number, number_end(b, i)),
        b'.' => (K::Dot, i + 1),
        b'(' => (K::LParen, i + 1),
        b')' => (K::RParen, i + 1),
        b'[' => (K::LBracket, i + 1),
        b']' => (K::RBracket, i + 1),
        b',' => (K::Comma, i + 1),
        b';' => (K::Semicolon, i + 1),
        b':' => match next {
            Some(b':') => (K::Typecast, i + 2),
            Some(b'=') => (K::ColonEquals, i + 2),
            _ => (K::Colon, i + 1),
        },
        c if is_op_char(c) => operator(b, i),
        c if is_ident_start(c) => word(b, i),
        _ => (K::Other, i + 1),
    }
}

/// An identifier, or a string or quoted identifier with a letter prefix
/// (`E'`, `B'`, `X'`, `N'`, `U&'`, `U&"`).
fn word(b: &[u8], i: usize) -> (TokenKind, usize) {
    use StringKind as S;
    let quote_at = |k: usize, q: u8| b.get(i + k) == Some(&q);
    let prefixed = match b[i].to_ascii_lowercase() {
        b'e' if quote_at(1, b'\'') => Some(S::Extended),
        b'b' if quote_at(1, b'\'') => Some(S::Bit),
        b'x' if quote_at(1, b'\'') => Some(S::Hex),
        b'n' if quote_at(1, b'\'') => Some(S::National),
        b'u' if quote_at(1, b'&') && quote_at(2, b'\'') => Some(S::Unicode),
        b'u' if quote_at(1, b'&') && quote_at(2, b'"') => {
            let end = part_end(b, i + 2, b'"', S::Standard).1;
            return (TokenKind::QuotedIdent, uescape_end(b, end));
        }
        _ => None,
    };
    match prefixed {
        Some(S::Unicode) => {
            let end = string_end(b, i + 2, S::Unicode);
            (TokenKind::String(S::Unicode), uescape_end(b, end))
        }
        Some(kind) => (TokenKind::String(kind), string_end(b, i + 1, kind)),
        None => {
            let mut end = i + 1;
            while end < b.len() && is_ident_cont(b[end]) {
                end += 1;
            }
            (TokenKind::Ident, end)
        }
    }
}

/// One quoted part from the quote at `quote`: where its contents end (the
/// closing quote, or the end of input) and where the part ends.
fn part_end(b: &[u8], quote: usize, q: u8, kind: StringKind) -> (usize, usize) {
    let doubling = !matches!(kind, StringKind::Bit | StringKind::Hex);
    let mut i = quote + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if kind == StringKind::Extended => i += 2,
            c if c == q && doubling && b.get(i + 1) == Some(&q) => i += 2,
            c if c == q => return (i, i + 1),
            _ => i += 1,
        }
    }
    (b.len(), b.len())
}

/// Where the `'...'` string at `quote` ends, continuation parts included.
fn string_end(b: &[u8], quote: usize, kind: StringKind) -> usize {
    let mut end = part_end(b, quote, b'\'', kind).1;
    while let Some(next) = continuation(b, end) {
        end = part_end(b, next, b'\'', kind).1;
    }
    end
}

/// The quote continuing a string constant that ended at `i`: one after
/// whitespace (and `--` comments) that contain a newline.
fn continuation(b: &[u8], mut i: usize) -> Option<usize> {
    let mut newline = false;
    loop {
        match b.get(i)? {
            &c if is_newline(c) => {
                newline = true;
                i += 1;
            }
            &c if is_space(c) => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => i = line_end(b, i),
            b'\'' if newline => return Some(i),
            _ => return None,
        }
    }
}

/// Past a `UESCAPE '<char>'` clause at `i`, if there is one.
fn uescape_end(b: &[u8], i: usize) -> usize {
    let word = skip_trivia(b, i);
    let keyword = b
        .get(word..word + 7)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"uescape"));
    if !keyword || b.get(word + 7).is_some_and(|&c| is_ident_cont(c)) {
        return i;
    }
    let quote = skip_trivia(b, word + 7);
    if b.get(quote) == Some(&b'\'') {
        string_end(b, quote, StringKind::Standard)
    } else {
        i
    }
}

/// `$n`, a dollar-quoted string, or a lone `$`.
fn dollar(b: &[u8], i: usize) -> (TokenKind, usize) {
    if b.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
        let mut end = i + 1;
        let mut n: u32 = 0;
        while let Some(&c) = b.get(end) {
            if c.is_ascii_digit() {
                n = n.saturating_mul(10).saturating_add(u32::from(c - b'0'));
            } else if !(c == b'_' && b.get(end + 1).is_some_and(|d| d.is_ascii_digit())) {
                break;
            }
            end += 1;
        }
        return (TokenKind::Param(n), end);
    }
    match dollar_tag_end(b, i) {
        Some(body) => {
            let delim = &b[i..body];
            let end = find(&b[body..], delim).map_or(b.len(), |k| body + k + delim.len());
            (TokenKind::String(StringKind::Dollar), end)
        }
        None => (TokenKind::Other, i + 1),
    }
}

/// The end of the opening `$tag$` at `i`, if it is one.
fn dollar_tag_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if b.get(j).is_some_and(|&c| is_ident_start(c)) {
        j += 1;
        while b
            .get(j)
            .is_some_and(|&c| is_ident_start(c) || c.is_ascii_digit())
        {
            j += 1;
        }
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1)
}

/// The first occurrence of `needle` (a `$tag$`, which contains `$` only at
/// its ends) in `hay`. Linear: a partial match at one `$` covers bytes
/// without `$`, so no byte is compared twice against the same candidate.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        let k = hay[i..].iter().position(|&c| c == b'$')?;
        i += k;
        if hay[i..].starts_with(needle) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A number: integers with `_` separators, `0x`/`0o`/`0b` integers,
/// decimals, exponents; trailing letters are kept in the token.
fn number_end(b: &[u8], i: usize) -> usize {
    let digits = |mut j: usize| {
        while b.get(j).is_some_and(|&c| c.is_ascii_digit() || c == b'_') {
            j += 1;
        }
        j
    };
    let junk = |mut j: usize| {
        while b
            .get(j)
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
        {
            j += 1;
        }
        j
    };
    if b[i] == b'0' && b.get(i + 1).is_some_and(|c| b"xXoObB".contains(c)) {
        return junk(i + 2);
    }
    let mut j = digits(i);
    if b.get(j) == Some(&b'.') && b.get(j + 1) != Some(&b'.') {
        j = digits(j + 1);
    }
    if b.get(j).is_some_and(|&c| c == b'e' || c == b'E') {
        let k = if b.get(j + 1).is_some_and(|&c| c == b'+' || c == b'-') {
            j + 2
        } else {
            j + 1
        };
        if b.get(k).is_some_and(|c| c.is_ascii_digit()) {
            j = digits(k);
        }
    }
    junk(j)
}

/// An operator run, cut where a comment starts and, as scan.l does, without
/// trailing `+`/`-` unless it contains a character only operators use
/// (so `=-1` is `=` then `-1`, SQL's operators being what they are).
fn operator(b: &[u8], i: usize) -> (TokenKind, usize) {
    let mut end = i + 1;
    while end < b.len() && is_op_char(b[end]) && !starts(b, end, b"--") && !starts(b, end, b"/*") {
        end += 1;
    }
    if !b[i..end].iter().any(|c| b"~!@#^&|`?%".contains(c)) {
        while end - i > 1 && matches!(b[end - 1], b'+' | b'-') {
            end -= 1;
        }
    }
    let kind = if &b[i..end] == b"=>" {
        TokenKind::Arrow
    } else {
        TokenKind::Op
    };
    (kind, end)
}

/// A string constant's contents, and where each byte of them came from.
/// Borrowed from the input when the contents are written as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    /// Where `text` starts in the original.
    start: usize,
    /// Where the map stops being byte for byte, in order.
    jumps: Vec<Jump>,
}

/// `text[at..at + len]` stands for `original[from..from + from_len]` as a
/// whole: an escape, or (`len` 0) the quotes and whitespace between two
/// parts. The bytes after it are copies of those after `from + from_len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Jump {
    at: usize,
    len: usize,
    from: usize,
    from_len: usize,
}

impl Decoded<'_> {
    /// The bytes of the original text that `range` of [`Decoded::text`] was
    /// decoded from. Within a verbatim run the map is byte for byte (so char
    /// boundaries map to char boundaries); an escape (`''`, `\n`, `\u00e9`)
    /// maps as a whole, so replacing the result never leaves half an escape.
    pub fn original_span(&self, range: Range<usize>) -> Range<usize> {
        let start = self.original(range.start, false);
        if range.is_empty() {
            return start..start;
        }
        start..self.original(range.end - 1, true).max(start)
    }

    /// Where byte `at` of the text came from (`end`: the end of it).
    fn original(&self, at: usize, end: bool) -> usize {
        let k = self.jumps.partition_point(|j| j.at <= at);
        let (run_at, run_from) = match k.checked_sub(1).map(|k| self.jumps[k]) {
            None => (0, self.start),
            Some(j) if at < j.at + j.len => return if end { j.from + j.from_len } else { j.from },
            Some(j) => (j.at + j.len, j.from + j.from_len),
        };
        run_from + (at - run_at) + usize::from(end)
    }
}

/// Builds the decoded contents of a constant that has escapes or parts.
struct Builder<'a> {
    sql: &'a str,
    text: String,
    jumps: Vec<Jump>,
}

impl Builder<'_> {
    fn verbatim(&mut self, range: Range<usize>) {
        self.text.push_str(self.sql.get(range).unwrap_or(""));
    }

    fn jump(&mut self, from: Range<usize>, c: Option<char>) {
        let len = c.map_or(0, char::len_utf8);
        self.jumps.push(Jump {
            at: self.text.len(),
            len,
            from: from.start,
            from_len: from.len(),
        });
        self.text.extend(c);
    }
}

/// `text` as a string constant of one of three forms: 0 standard (`'…'`),
/// 1 escape (`E'…'`), otherwise dollar-quoted with a tag `text` does not
/// contain. The inverse of [`decode_string`], for the tests and the fuzzer
/// that check every way of writing a value.
pub fn spell_literal(text: &str, form: usize) -> String {
    match form {
        0 => format!("'{}'", text.replace('\'', "''")),
        1 => format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
        _ => {
            let tag = (0..)
                .map(|n| format!("$q{n}$"))
                .find(|t| !text.contains(t.as_str()))
                .expect("a finite text lacks some tag");
            format!("{tag}{text}{tag}")
        }
    }
}

/// The contents of a string constant token of `sql`, or `None` for other
/// tokens. Escapes decode as the server would; escapes the server rejects
/// (invalid code points, bytes that are not UTF-8) decode to U+FFFD.
pub fn decode_string<'a>(sql: &'a str, token: &Token) -> Option<Decoded<'a>> {
    use StringKind as S;
    let TokenKind::String(kind) = token.kind else {
        return None;
    };
    let b = sql.as_bytes();
    let span = token.span.clone();
    sql.get(span.clone())?;
    if kind == S::Dollar {
        let body = dollar_tag_end(b, span.start)?;
        let delim = &b[span.start..body];
        let closed = span.len() >= 2 * delim.len() && b[..span.end].ends_with(delim);
        let end = if closed {
            span.end - delim.len()
        } else {
            span.end
        };
        return Some(Decoded {
            text: Cow::Borrowed(sql.get(body..end)?),
            start: body,
            jumps: Vec::new(),
        });
    }
    let quote = span.start
        + match kind {
            S::Standard => 0,
            S::Unicode => 2,
            // A plain string read with standard_conforming_strings off.
            S::Extended if b[span.start] == b'\'' => 0,
            _ => 1,
        };
    (b.get(quote) == Some(&b'\'')).then(|| decode_quoted(sql, quote, b'\'', kind, span.end))
}

/// The name an identifier token stands for: unquoted ones folded to ASCII
/// lower case, quoted ones as written (`""` undoubled, `U&` escapes
/// decoded). `None` for other tokens. Not truncated to NAMEDATALEN.
pub fn identifier<'a>(sql: &'a str, token: &Token) -> Option<Cow<'a, str>> {
    let text = sql.get(token.span.clone())?;
    match token.kind {
        TokenKind::Ident if text.bytes().any(|c| c.is_ascii_uppercase()) => {
            Some(Cow::Owned(text.to_ascii_lowercase()))
        }
        TokenKind::Ident => Some(Cow::Borrowed(text)),
        TokenKind::QuotedIdent if text.starts_with('"') => Some(
            decode_quoted(
                sql,
                token.span.start,
                b'"',
                StringKind::Standard,
                token.span.end,
            )
            .text,
        ),
        TokenKind::QuotedIdent => Some(
            decode_quoted(
                sql,
                token.span.start + 2,
                b'"',
                StringKind::Unicode,
                token.span.end,
            )
            .text,
        ),
        _ => None,
    }
}

/// One quoted part at `quote`: its contents, its end, and the quote of the
/// part continuing it (string constants only).
fn part(b: &[u8], quote: usize, q: u8, kind: StringKind) -> (Range<usize>, usize, Option<usize>) {
    let (contents_end, end) = part_end(b, quote, q, kind);
    let next = if q == b'\'' {
        continuation(b, end)
    } else {
        None
    };
    (quote + 1..contents_end, end, next)
}

/// Decodes the parts of the constant or identifier quoted by `q` from
/// `quote` up to `end`.
fn decode_quoted(sql: &str, quote: usize, q: u8, kind: StringKind, end: usize) -> Decoded<'_> {
    let b = &sql.as_bytes()[..end];
    let escape = if kind == StringKind::Unicode {
        let mut last = part(b, quote, q, kind);
        while let Some(next) = last.2 {
            last = part(b, next, q, kind);
        }
        uescape_char(sql, last.1..end)
    } else {
        b'\\'
    };
    let (mut contents, _, mut next) = part(b, quote, q, kind);
    let special = |c: &u8| {
        *c == q
            || (*c == b'\\' && kind == StringKind::Extended)
            || (*c == escape && kind == StringKind::Unicode)
    };
    if next.is_none() && !b[contents.clone()].iter().any(special) {
        let text = Cow::Borrowed(sql.get(contents.clone()).unwrap_or(""));
        return Decoded {
            text,
            start: contents.start,
            jumps: Vec::new(),
        };
    }
    let mut d = Builder {
        sql,
        text: String::new(),
        jumps: Vec::new(),
    };
    let start = contents.start;
    loop {
        decode_part(b, contents.clone(), q, kind, escape, &mut d);
        let Some(quote) = next else { break };
        d.jump(contents.end..quote + 1, None);
        (contents, _, next) = part(b, quote, q, kind);
    }
    Decoded {
        text: Cow::Owned(d.text),
        start,
        jumps: d.jumps,
    }
}

/// The escape character a `UESCAPE '<c>'` clause in `tail` names, or `\`.
fn uescape_char(sql: &str, tail: Range<usize>) -> u8 {
    let b = sql.as_bytes();
    let Some(quote) = b
        .get(tail.clone())
        .and_then(|t| t.iter().position(|&c| c == b'\''))
    else {
        return b'\\';
    };
    let quote = tail.start + quote;
    let (contents_end, _) = part_end(&b[..tail.end], quote, b'\'', StringKind::Standard);
    match &b[quote + 1..contents_end] {
        [c] if c.is_ascii() => *c,
        _ => b'\\',
    }
}

/// Appends the decoded contents `range` of one part.
fn decode_part(
    b: &[u8],
    range: Range<usize>,
    q: u8,
    kind: StringKind,
    escape: u8,
    d: &mut Builder<'_>,
) {
    let mut run = range.start;
    let mut i = range.start;
    while i < range.end {
        let decoded = match b[i] {
            c if c == q && matches!(kind, StringKind::Bit | StringKind::Hex) => None,
            c if c == q => Some((2, q as char)),
            b'\\' if kind == StringKind::Extended => d.sql.get(i..range.end).map(backslash_escape),
            c if c == escape && kind == StringKind::Unicode => {
                unicode_escape(&b[i..range.end], escape)
            }
            _ => None,
        };
        match decoded {
            Some((len, c)) => {
                d.verbatim(run..i);
                let len = len.min(range.end - i);
                d.jump(i..i + len, Some(c));
                i += len;
                run = i;
            }
            None => i += 1,
        }
    }
    d.verbatim(run..range.end);
}

/// An E-string escape at the start of `s` (which starts with `\`): its
/// length and the character it stands for.
fn backslash_escape(s: &str) -> (usize, char) {
    let b = s.as_bytes();
    let hex_run = |from: usize, max: usize| {
        b[from..]
            .iter()
            .take(max)
            .take_while(|c| c.is_ascii_hexdigit())
            .count()
    };
    let value = |digits: &[u8], radix: u32| {
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| u32::from_str_radix(d, radix).ok())
    };
    let byte = |v: Option<u32>| match v.map(|v| v & 0xff) {
        Some(v) if v < 0x80 => v as u8 as char,
        _ => char::REPLACEMENT_CHARACTER,
    };
    let code_point = |v: Option<u32>| {
        v.and_then(char::from_u32)
            .unwrap_or(char::REPLACEMENT_CHARACTER)
    };
    let Some(c) = s[1..].chars().next() else {
        return (1, char::REPLACEMENT_CHARACTER);
    };
    match c {
        'b' => (2, '\u{8}'),
        'f' => (2, '\u{c}'),
        'n' => (2, '\n'),
        'r' => (2, '\r'),
        't' => (2, '\t'),
        '0'..='7' => {
            let n = b[1..]
                .iter()
                .take(3)
                .take_while(|c| (b'0'..=b'7').contains(c))
                .count();
            (1 + n, byte(value(&b[1..1 + n], 8)))
        }
        'x' if hex_run(2, 2) > 0 => {
            let n = hex_run(2, 2);
            (2 + n, byte(value(&b[2..2 + n], 16)))
        }
        'u' if hex_run(2, 4) == 4 => (6, code_point(value(&b[2..6], 16))),
        'U' if hex_run(2, 8) == 8 => (10, code_point(value(&b[2..10], 16))),
        other => (1 + other.len_utf8(), other),
    }
}

/// A `U&` escape at the start of `b` (which starts with the escape
/// character): doubled escape, `XXXX` or `+XXXXXX`. `None` when malformed
/// (which the server rejects): it is then kept as written.
fn unicode_escape(b: &[u8], escape: u8) -> Option<(usize, char)> {
    let hex = |digits: &[u8]| {
        let d = std::str::from_utf8(digits).ok()?;
        let v = u32::from_str_radix(d, 16).ok()?;
        Some(char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER))
    };
    let is_hex = |r: Range<usize>| {
        b.get(r)
            .is_some_and(|d| d.iter().all(u8::is_ascii_hexdigit))
    };
    if b.get(1) == Some(&escape) {
        Some((2, escape as char))
    } else if b.get(1) == Some(&b'+') && is_hex(2..8) {
        Some((8, hex(&b[2..8])?))
    } else if is_hex(1..5) {
        Some((5, hex(&b[1..5])?))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds(sql: &str) -> Vec<(TokenKind, &str)> {
        tokens(sql).map(|t| (t.kind, &sql[t.span])).collect()
    }

    fn contents(sql: &str) -> String {
        let t = tokens(sql).next().unwrap();
        decode_string(sql, &t).unwrap().text.into_owned()
    }

    use StringKind as S;
    use TokenKind as K;

    #[test]
    fn comments_are_whitespace_and_nest() {
        assert_eq!(
            kinds("a/* x /* y */ still */b -- c\nd"),
            [(K::Ident, "a"), (K::Ident, "b"), (K::Ident, "d")]
        );
        assert_eq!(kinds("/* /* */"), []);
        assert_eq!(kinds("a /* unterminated ( 'x"), [(K::Ident, "a")]);
        assert_eq!(kinds("/**/x/*/ */y"), [(K::Ident, "x"), (K::Ident, "y")]);
    }

    #[test]
    fn comment_start_cuts_an_operator_run() {
        assert_eq!(
            kinds("a+/*c*/b"),
            [(K::Ident, "a"), (K::Op, "+"), (K::Ident, "b")]
        );
        assert_eq!(
            kinds("a<>--c\nb"),
            [(K::Ident, "a"), (K::Op, "<>"), (K::Ident, "b")]
        );
        assert_eq!(
            kinds("x=>--c\n1"),
            [(K::Ident, "x"), (K::Arrow, "=>"), (K::Number, "1")]
        );
    }

    #[test]
    fn operators_follow_scan_l() {
        assert_eq!(
            kinds("a=-1"),
            [
                (K::Ident, "a"),
                (K::Op, "="),
                (K::Op, "-"),
                (K::Number, "1")
            ]
        );
        assert_eq!(
            kinds("a@-1"),
            [(K::Ident, "a"), (K::Op, "@-"), (K::Number, "1")]
        );
        assert_eq!(
            kinds("p => 1, q := 2"),
            [
                (K::Ident, "p"),
                (K::Arrow, "=>"),
                (K::Number, "1"),
                (K::Comma, ","),
                (K::Ident, "q"),
                (K::ColonEquals, ":="),
                (K::Number, "2")
            ]
        );
        assert_eq!(
            kinds("x::text[]:y;"),
            [
                (K::Ident, "x"),
                (K::Typecast, "::"),
                (K::Ident, "text"),
                (K::LBracket, "["),
                (K::RBracket, "]"),
                (K::Colon, ":"),
                (K::Ident, "y"),
                (K::Semicolon, ";")
            ]
        );
        assert_eq!(
            kinds("a=>>b"),
            [(K::Ident, "a"), (K::Op, "=>>"), (K::Ident, "b")]
        );
    }

    #[test]
    fn identifiers_fold_and_quote() {
        assert_eq!(
            kinds("Ab$1 _x é9 a.b"),
            [
                (K::Ident, "Ab$1"),
                (K::Ident, "_x"),
                (K::Ident, "é9"),
                (K::Ident, "a"),
                (K::Dot, "."),
                (K::Ident, "b")
            ]
        );
        let name = |sql: &str| {
            identifier(sql, &tokens(sql).next().unwrap())
                .unwrap()
                .into_owned()
        };
        assert_eq!(name("UnLock"), "unlock");
        assert_eq!(name("\"UnLo\"\"ck\""), "UnLo\"ck");
        assert_eq!(name("U&\"\\0075nlock\""), "unlock");
        assert_eq!(name("u&\"!0075n!+00006Cock\" UESCAPE '!'"), "unlock");
        assert_eq!(name("\"unterminated"), "unterminated");
        assert_eq!(
            kinds("U&\"a\" uescape '!' x"),
            [(K::QuotedIdent, "U&\"a\" uescape '!'"), (K::Ident, "x")]
        );
    }

    #[test]
    fn string_constants_of_every_form() {
        assert_eq!(
            kinds("'a''b' e'c\\'d' B'01' x'1F' n'z' U&'\\0041' $$q$$ $t$ $x$ $t$"),
            [
                (K::String(S::Standard), "'a''b'"),
                (K::String(S::Extended), "e'c\\'d'"),
                (K::String(S::Bit), "B'01'"),
                (K::String(S::Hex), "x'1F'"),
                (K::String(S::National), "n'z'"),
                (K::String(S::Unicode), "U&'\\0041'"),
                (K::String(S::Dollar), "$$q$$"),
                (K::String(S::Dollar), "$t$ $x$ $t$"),
            ]
        );
        assert_eq!(contents("'a''b'"), "a'b");
        assert_eq!(contents("'a\\'"), "a\\");
        assert_eq!(
            contents("E'c\\'d\\\\\\n\\x41\\101\\u00e9\\U0001F600\\q'"),
            "c'd\\\nAAé😀q"
        );
        assert_eq!(contents("U&'\\0041\\+01F600\\\\x'"), "A😀\\x");
        assert_eq!(contents("U&'!0041\\' UESCAPE '!'"), "A\\");
        assert_eq!(contents("$t$ $x$ '' $t$"), " $x$ '' ");
    }

    #[test]
    fn newline_separated_literals_are_one_constant() {
        assert_eq!(
            kinds("'a'\n'b' 'c'"),
            [
                (K::String(S::Standard), "'a'\n'b'"),
                (K::String(S::Standard), "'c'")
            ]
        );
        assert_eq!(contents("'a' -- x\n  'b'\n'c'"), "abc");
        assert_eq!(contents("E'\\''\n'x'"), "'x");
        assert_eq!(kinds("'a' 'b'").len(), 2);
        assert_eq!(
            kinds("'a' /* c */\n'b'").len(),
            2,
            "scan.l allows only -- comments there"
        );
    }

    #[test]
    fn unterminated_constructs_run_to_the_end() {
        assert_eq!(
            kinds("x 'abc"),
            [(K::Ident, "x"), (K::String(S::Standard), "'abc")]
        );
        assert_eq!(kinds("E'ab\\"), [(K::String(S::Extended), "E'ab\\")]);
        assert_eq!(kinds("$a$ b $"), [(K::String(S::Dollar), "$a$ b $")]);
        assert_eq!(contents("$a$ b $"), " b $");
        assert_eq!(contents("$$$"), "$");
        assert_eq!(kinds("\"ab"), [(K::QuotedIdent, "\"ab")]);
    }

    #[test]
    fn parameters_numbers_and_dollars() {
        assert_eq!(
            kinds("$1 $23 $99999999999 a$b$ $ $1_0"),
            [
                (K::Param(1), "$1"),
                (K::Param(23), "$23"),
                (K::Param(u32::MAX), "$99999999999"),
                (K::Ident, "a$b$"),
                (K::Other, "$"),
                (K::Param(10), "$1_0"),
            ]
        );
        assert_eq!(
            kinds("1 1.5 .5e-3 0x1F 1_000 1e 1..2"),
            [
                (K::Number, "1"),
                (K::Number, "1.5"),
                (K::Number, ".5e-3"),
                (K::Number, "0x1F"),
                (K::Number, "1_000"),
                (K::Number, "1e"),
                (K::Number, "1"),
                (K::Dot, "."),
                (K::Number, ".2"),
            ]
        );
    }

    #[test]
    fn decoded_offsets_map_back_to_the_original() {
        let sql = "x E'ab\\'c''d' y";
        let t = tokens(sql).nth(1).unwrap();
        let d = decode_string(sql, &t).unwrap();
        assert_eq!(d.text, "ab'c'd");
        assert_eq!(&sql[d.original_span(0..2)], "ab");
        assert_eq!(&sql[d.original_span(2..3)], "\\'");
        assert_eq!(&sql[d.original_span(1..5)], "b\\'c''");
        assert_eq!(&sql[d.original_span(0..6)], "ab\\'c''d");
        let sql = "'ab'\n'cd'";
        let d = decode_string(sql, &tokens(sql).next().unwrap()).unwrap();
        assert_eq!(&sql[d.original_span(1..2)], "b");
        assert_eq!(&sql[d.original_span(2..4)], "cd");
        assert_eq!(&sql[d.original_span(1..3)], "b'\n'c");
    }

    proptest! {
        #[test]
        fn any_text_tokenizes_into_ordered_char_aligned_spans(sql in "(?s).{0,200}") {
            let mut at = 0;
            for t in tokens(&sql) {
                prop_assert!(at <= t.span.start && t.span.start < t.span.end && t.span.end <= sql.len());
                prop_assert!(sql.is_char_boundary(t.span.start) && sql.is_char_boundary(t.span.end));
                if let Some(d) = decode_string(&sql, &t) {
                    for (i, _) in d.text.char_indices() {
                        let r = d.original_span(i..d.text.len());
                        prop_assert!(t.span.start <= r.start && r.end <= t.span.end);
                        prop_assert!(sql.is_char_boundary(r.start) && sql.is_char_boundary(r.end));
                    }
                }
                let _ = identifier(&sql, &t);
                at = t.span.end;
            }
        }

        #[test]
        fn sql_like_text_never_panics(sql in r#"([a-zU&E$'"\\/*\-\n (),;:=>0-9é]|\$\$|/\*|\*/|--|''|U&'){0,80}"#) {
            for t in tokens(&sql) {
                let _ = decode_string(&sql, &t);
                let _ = identifier(&sql, &t);
            }
        }
    }
}
