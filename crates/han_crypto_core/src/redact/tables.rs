//! Secrets whose name is a column header rather than a neighbour: CSV and
//! TSV exports, Markdown and psql-style tables (`| user | password |`), and
//! SQL `INSERT INTO t (…, password) VALUES (…, '…')`. The header names the
//! column once; every row below it gives a value for it.

use super::assign::accept;
use super::names::{classify, NameClass};

/// How many data rows below one header are read.
const MAX_ROWS: usize = 10_000;
/// A header cell is a short name (`API Key`, `db_password`), not a sentence.
const MAX_NAME: usize = 40;
/// Longest header line, and longest data row, read.
const MAX_HEADER: usize = 256;
const MAX_ROW: usize = 64 * 1024;

/// A value found under a secret-ish column: its span and the column's class.
pub struct Cell {
    pub start: usize,
    pub end: usize,
    pub class: NameClass,
}

/// The byte spans of `line`'s cells split at `delim` (offsets into the
/// line), trimmed of blanks; a Markdown/psql row's outer pipes are dropped.
fn cells(line: &str, delim: u8) -> Vec<(usize, usize)> {
    let b = line.as_bytes();
    let (mut from, mut to) = (0, b.len());
    if delim == b'|' {
        while from < to && b[from].is_ascii_whitespace() {
            from += 1;
        }
        while to > from && b[to - 1].is_ascii_whitespace() {
            to -= 1;
        }
        if from < to && b[from] == b'|' {
            from += 1;
        }
        if to > from && b[to - 1] == b'|' {
            to -= 1;
        }
    }
    let mut out = Vec::new();
    let mut s = from;
    for i in from..=to {
        if i == to || b[i] == delim {
            let (mut a, mut e) = (s, i);
            while a < e && b[a].is_ascii_whitespace() {
                a += 1;
            }
            while e > a && b[e - 1].is_ascii_whitespace() {
                e -= 1;
            }
            out.push((a, e));
            s = i + 1;
        }
    }
    out
}

/// A header cell: a name of at most three words, optionally quoted.
fn header_name(cell: &str) -> Option<&str> {
    let name = cell.trim_matches(|c| c == '"' || c == '\'' || c == '`');
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.as_bytes()[0].is_ascii_alphabetic()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b' ' | b'.'))
        && !name.ends_with('.')
        && name.split(' ').count() <= 3
        && name
            .split(' ')
            .all(|w| w.as_bytes().first().is_some_and(u8::is_ascii_alphabetic));
    ok.then_some(name)
}

/// The line around `at`, if it is at most `reach` bytes either side of it
/// (a header or row longer than that is not a table's; the bound keeps a
/// long line full of keywords linear).
fn line_at(text: &str, at: usize, reach: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let lo = at.saturating_sub(reach);
    let start = match b[lo..at].iter().rposition(|&c| c == b'\n') {
        Some(p) => lo + p + 1,
        None if lo == 0 => 0,
        None => return None,
    };
    let hi = (at + reach).min(b.len());
    let end = match b[at..hi].iter().position(|&c| c == b'\n') {
        Some(p) => at + p,
        None if hi == b.len() => b.len(),
        None => return None,
    };
    Some((start, end))
}

/// Whether the keyword at `hit` ends a short cell bounded by table
/// delimiters (or the line's ends, with a delimiter on at least one side):
/// a cheap test that turns prose away after a few bytes, since in prose a
/// keyword is followed by another word.
fn in_a_cell(b: &[u8], hit: usize) -> bool {
    let word_byte = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.');
    let delimiter = |c: u8| matches!(c, b'|' | b'\t' | b',' | b';');
    let mut f = hit;
    while f < b.len() && f - hit <= MAX_NAME && word_byte(b[f]) {
        f += 1;
    }
    while f < b.len() && matches!(b[f], b' ' | b'"' | b'\'' | b'`') && f - hit <= MAX_NAME + 8 {
        f += 1;
    }
    let after = b.get(f).copied();
    if !(matches!(after, None | Some(b'\n' | b'\r')) || after.is_some_and(delimiter)) {
        return false;
    }
    let mut r = hit;
    while r > 0
        && hit - r <= MAX_NAME + 8
        && (word_byte(b[r - 1]) || matches!(b[r - 1], b' ' | b'"' | b'\'' | b'`'))
    {
        r -= 1;
    }
    let before = r.checked_sub(1).map(|i| b[i]);
    let ends_before = matches!(before, None | Some(b'\n')) || before.is_some_and(delimiter);
    ends_before && (after.is_some_and(delimiter) || before.is_some_and(delimiter))
}

/// A Markdown/psql separator row: `|---|:--:|`, `-----+------`.
fn separator(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty()
        && t.contains('-')
        && t.bytes()
            .all(|c| matches!(c, b'-' | b'|' | b'+' | b':' | b' '))
}

/// A header line's delimiter, cells and names, if it reads as one.
type Header<'t> = (u8, Vec<(usize, usize)>, Vec<&'t str>);
fn header_at(header: &str) -> Option<Header<'_>> {
    let delim = [b'|', b'\t', b',', b';']
        .into_iter()
        .find(|&d| header.as_bytes().contains(&d))?;
    let head = cells(header, delim);
    if head.len() < 2 {
        return None;
    }
    let mut names = Vec::with_capacity(head.len());
    for &(a, e) in &head {
        names.push(header_name(&header[a..e])?);
    }
    Some((delim, head, names))
}

/// Where a JSON string member's value opens in `before` (the line up to
/// the hit): just past the last `": "`, if any.
pub(super) fn json_string_start(before: &str) -> Option<usize> {
    let b = before.as_bytes();
    let q = memchr::memrchr(b'"', b)?;
    let mut p = q;
    while p > 0 && matches!(b[p - 1], b' ' | b'\t') {
        p -= 1;
    }
    (p >= 2 && b[p - 1] == b':' && b[p - 2] == b'"').then_some(q + 1)
}

/// Where the JSON string a row sits in closes: the first `"` that no quote
/// earlier on the row opened (a quoted CSV cell's pairs), followed by a
/// member's or an array's delimiter or nothing.
fn json_string_end(row: &str) -> Option<usize> {
    let b = row.as_bytes();
    let mut quotes = 0;
    for (i, &c) in b.iter().enumerate() {
        if c != b'"' {
            continue;
        }
        if quotes % 2 == 0 {
            let mut p = i + 1;
            while p < b.len() && matches!(b[p], b' ' | b'\t') {
                p += 1;
            }
            if matches!(b.get(p), None | Some(b',' | b'}' | b']')) {
                return Some(i);
            }
        }
        quotes += 1;
    }
    None
}

/// If the line holding the keyword hit at `hit` is a table header whose
/// cell there names a secret, the values of that column in the rows below.
/// Returns them and where the table ends.
pub fn column_at(text: &str, hit: usize) -> Option<(Vec<Cell>, usize)> {
    if !in_a_cell(text.as_bytes(), hit) {
        return None;
    }
    let (line_start, le) = line_at(text, hit, MAX_HEADER)?;
    // The header as the whole line, or (a table pasted into a JSON string:
    // a tool's result, decoded) from the string's opening quote:
    // `…"content": "User name,Password,Access key ID`.
    let opened = json_string_start(&text[line_start..hit]).map(|i| line_start + i);
    let (ls, delim, head, names) = [Some(line_start), opened]
        .into_iter()
        .flatten()
        .find_map(|ls| header_at(&text[ls..le]).map(|(d, h, n)| (ls, d, h, n)))?;
    let in_json = ls != line_start;
    // A header opens its table: under a row of the same shape (or a
    // Markdown separator, `|---|---|`) the line is a data row, whose names
    // are values of their columns (`| STRIPE_SECRET_KEY | set | set |` in
    // a table of variable names). (A box's top border, `+----+----+`, may
    // stand over a header: MySQL's.)
    if !in_json && line_start > 0 {
        if let Some((ps, pe)) = line_at(text, line_start - 1, MAX_HEADER) {
            let prev = &text[ps..pe];
            if (delim == b'|' && separator(prev) && !prev.trim_start().starts_with('+'))
                || (prev.as_bytes().contains(&delim) && cells(prev, delim).len() == head.len())
            {
                return None;
            }
        }
    }
    let col = head
        .iter()
        .position(|&(a, e)| ls + a <= hit && hit < ls + e)?;
    let class = classify(names[col]).filter(|c| *c != NameClass::Weak)?;

    let mut found = Vec::new();
    // `pos` is the end of the last line that belongs to the table.
    let (mut pos, mut rows) = (le, 0);
    for row_no in 0..MAX_ROWS {
        if pos >= text.len() {
            break;
        }
        let Some((rs, re)) = line_at(text, pos + 1, MAX_ROW) else {
            break;
        };
        let mut row = &text[rs..re];
        if row_no == 0 && delim == b'|' && separator(row) {
            pos = re;
            continue;
        }
        if row.trim().is_empty() || separator(row) {
            break;
        }
        let mut cs = cells(row, delim);
        // The JSON string the table is in may close on its last row
        // (`…,https://…/console", "ts": …`).
        let mut closed = false;
        if cs.len() != head.len() && in_json {
            if let Some(close) = json_string_end(row) {
                row = &row[..close];
                cs = cells(row, delim);
                closed = true;
            }
        }
        if cs.len() != head.len() {
            break;
        }
        pos = rs + row.len();
        rows += 1;
        let (a, e) = cs[col];
        let raw = &row[a..e];
        let quoted = raw.len() >= 2
            && matches!(raw.as_bytes()[0], b'"' | b'\'')
            && raw.as_bytes()[raw.len() - 1] == raw.as_bytes()[0];
        let (a, e) = if quoted { (a + 1, e - 1) } else { (a, e) };
        let value = &row[a..e];
        // A bare `Key` column lists settings or map keys as often as
        // secrets (`| Key | Description | Default |`): only random cells.
        let bare_key = names[col].eq_ignore_ascii_case("key");
        if !value.is_empty()
            && accept(class, value, quoted, names[col]).is_some()
            && (!bare_key || super::entropy::looks_random(value, 16))
        {
            found.push(Cell {
                start: rs + a,
                end: rs + e,
                class,
            });
        }
        if closed {
            break;
        }
    }
    // A header with no rows is not a table: leave its line to the others.
    (rows > 0).then_some((found, pos))
}

/// `INSERT INTO t (c1, c2, …) VALUES (v1, v2, …), (…)`: the string literals
/// under secret-ish columns. `at` is where `insert` starts.
pub fn sql_insert_at(text: &str, at: usize) -> Option<(Vec<Cell>, usize)> {
    let b = text.as_bytes();
    let mut p = at + "insert".len();
    let skip = |p: &mut usize| {
        while *p < b.len() && b[*p].is_ascii_whitespace() {
            *p += 1;
        }
    };
    let word = |p: &mut usize, w: &str| -> bool {
        skip(p);
        let ok = b.len() >= *p + w.len() && b[*p..*p + w.len()].eq_ignore_ascii_case(w.as_bytes());
        if ok {
            *p += w.len();
        }
        ok
    };
    if !word(&mut p, "into") {
        return None;
    }
    skip(&mut p);
    // The table name, possibly schema-qualified or quoted.
    while p < b.len() && !b[p].is_ascii_whitespace() && b[p] != b'(' {
        p += 1;
    }
    skip(&mut p);
    if b.get(p) != Some(&b'(') {
        return None;
    }
    let close = p + b[p..].iter().take(4096).position(|&c| c == b')')?;
    let names: Vec<&str> = text[p + 1..close]
        .split(',')
        .map(|c| {
            c.trim()
                .trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']')
        })
        .collect();
    let columns: Vec<Option<NameClass>> = names
        .iter()
        .map(|name| classify(name).filter(|c| *c != NameClass::Weak))
        .collect();
    if columns.iter().all(Option::is_none) {
        return None;
    }
    p = close + 1;
    if !word(&mut p, "values") {
        return None;
    }
    let mut found = Vec::new();
    for _ in 0..MAX_ROWS {
        skip(&mut p);
        if b.get(p) != Some(&b'(') {
            break;
        }
        p += 1;
        let mut index = 0;
        loop {
            skip(&mut p);
            if p >= b.len() {
                return Some((found, p));
            }
            if b[p] == b'\'' {
                // A string literal; '' is an escaped quote.
                let start = p + 1;
                let mut q = start;
                while q < b.len() {
                    if b[q] == b'\'' {
                        if b.get(q + 1) == Some(&b'\'') {
                            q += 2;
                            continue;
                        }
                        break;
                    }
                    q += 1;
                }
                if q >= b.len() {
                    return Some((found, q));
                }
                if let Some(Some(class)) = columns.get(index) {
                    let value = &text[start..q];
                    if !value.is_empty() && accept(*class, value, true, names[index]).is_some() {
                        found.push(Cell {
                            start,
                            end: q,
                            class: *class,
                        });
                    }
                }
                p = q + 1;
            } else {
                // Anything else (numbers, NULL, calls): up to the next
                // comma or closing parenthesis at this depth.
                let mut depth = 0usize;
                while p < b.len() {
                    match b[p] {
                        b'(' => depth += 1,
                        b')' if depth == 0 => break,
                        b')' => depth -= 1,
                        b',' if depth == 0 => break,
                        b'\'' => break,
                        _ => {}
                    }
                    p += 1;
                }
                if b.get(p) == Some(&b'\'') {
                    continue; // a literal inside a call: read it as a value
                }
            }
            skip(&mut p);
            match b.get(p) {
                Some(b',') => {
                    p += 1;
                    index += 1;
                }
                Some(b')') => {
                    p += 1;
                    break;
                }
                _ => return Some((found, p)),
            }
        }
        skip(&mut p);
        if b.get(p) == Some(&b',') {
            p += 1;
        } else {
            break;
        }
    }
    Some((found, p))
}
