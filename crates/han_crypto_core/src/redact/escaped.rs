//! Text as it sits inside a JSON (or C-style) string literal: how a tool
//! result, a pasted file or a service-account key reaches a session's jsonb.
//! `"-----BEGIN PRIVATE KEY-----\nMIIE…"` holds a backslash and an `n`, not
//! a line break, and `{\"password\": \"…\"}` holds backslashes before its
//! quotes, so the detectors that read lines and quotes miss what the literal
//! means. The scanner also reads the literal's meaning: this module decodes
//! the simple escapes and maps decoded offsets back to the original, so a
//! finding in the decoded text covers whole escape sequences.

/// The decoded view of a text. The map is sparse: one entry per decoded
/// escape (its decoded offset), since between escapes both texts advance
/// together; memory is the view plus 4 bytes per escape.
pub struct Unescaped {
    pub text: String,
    /// Decoded offsets of the bytes that came from a two-byte escape.
    escapes: Vec<u32>,
}

impl Unescaped {
    /// Escapes decoded before decoded offset `at`.
    fn before(&self, at: usize) -> usize {
        self.escapes.partition_point(|&e| (e as usize) < at)
    }

    /// The original byte range behind decoded bytes `start..end` (`end > start`).
    pub fn original(&self, start: usize, end: usize) -> (usize, usize) {
        // Each escape before a decoded byte shifted it one byte left; the
        // last decoded byte, if it is an escape, spans two original bytes.
        (start + self.before(start), end + self.before(end))
    }
}

/// Whether `b` after a backslash is an escape decoded here.
fn simple_escape(b: u8) -> Option<u8> {
    match b {
        b'n' => Some(b'\n'),
        b't' => Some(b'\t'),
        b'r' => Some(b'\r'),
        b'"' => Some(b'"'),
        b'\'' => Some(b'\''),
        b'\\' => Some(b'\\'),
        b'/' => Some(b'/'),
        _ => None,
    }
}

/// The decoded view of `text`, or `None` when it holds no escape worth
/// decoding (the common case costs one pass) or the memory for the view
/// cannot be had. `\uXXXX` and other escapes are kept as they are; only
/// ASCII bytes are decoded, so the view is valid UTF-8 with the same
/// character boundaries.
pub fn unescape(text: &str) -> Option<Unescaped> {
    let b = text.as_bytes();
    let first = memchr::memchr_iter(b'\\', b)
        .find(|&i| b.get(i + 1).copied().and_then(simple_escape).is_some())?;
    // Offsets are kept as u32; a text beyond 4 GiB, which no PostgreSQL
    // value is, is not decoded.
    u32::try_from(b.len()).ok()?;
    // Count first, then reserve exactly (and fallibly): the view and its
    // map never grow by doubling, whatever the text.
    let mut count = 0usize;
    let mut i = first;
    while i + 1 < b.len() {
        if b[i] == b'\\' && simple_escape(b[i + 1]).is_some() {
            count += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    out.try_reserve_exact(b.len() - count).ok()?;
    let mut escapes = Vec::new();
    escapes.try_reserve_exact(count).ok()?;
    out.extend_from_slice(&b[..first]);
    let mut i = first;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if let Some(d) = simple_escape(b[i + 1]) {
                escapes.push(out.len() as u32);
                out.push(d);
                i += 2;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    // Only ASCII bytes were replaced by ASCII bytes.
    let text = String::from_utf8(out).ok()?;
    Some(Unescaped { text, escapes })
}

/// Whether `b[i]` starts an escape decoded here.
fn escape_at(b: &[u8], i: usize) -> bool {
    b[i] == b'\\' && b.get(i + 1).copied().and_then(simple_escape).is_some()
}

/// The parts of `text` worth decoding: each run of lines that holds an
/// escape, with one line of context either side (a label on the line
/// above a value), merged where they meet. A megabyte of prose with a
/// quoted `\"` in one code line is decoded and scanned again only around
/// that line, not whole; a one-line JSON document is one part. Linear: each
/// byte is looked at a bounded number of times.
pub fn regions(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut from = 0;
    while let Some(i) = memchr::memchr_iter(b'\\', &b[from..])
        .map(|i| from + i)
        .find(|&i| escape_at(b, i))
    {
        let floor = out.last().map_or(0, |r| r.1);
        // The start of the line before the escape's, not before the last part.
        let mut start = i;
        for _ in 0..2 {
            start = memchr::memrchr(b'\n', &b[floor..start.saturating_sub(1).max(floor)])
                .map_or(floor, |j| floor + j + 1);
            if start == floor {
                break;
            }
        }
        // The end of the line after the escape's.
        let mut end = i;
        for _ in 0..2 {
            end = memchr::memchr(b'\n', &b[(end + 1).min(b.len())..])
                .map_or(b.len(), |j| end + 1 + j);
            if end == b.len() {
                break;
            }
        }
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => out.push((start, end)),
        }
        from = end.max(i + 2).min(b.len());
        if from >= b.len() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_maps_back() {
        let raw = r#"{\"k\": \"a\nb\"} é\u00e9 \\n"#;
        let u = unescape(raw).unwrap();
        assert_eq!(u.text, "{\"k\": \"a\nb\"} é\\u00e9 \\n");
        let at = u.text.find("a\nb").unwrap();
        let (s, e) = u.original(at, at + 3);
        assert_eq!(&raw[s..e], r"a\nb");
        let at = u.text.find('{').unwrap();
        let (s, e) = u.original(at, at + 3);
        assert_eq!(&raw[s..e], r#"{\"k"#);
        // Every decoded byte maps to the bytes it came from.
        for (i, _) in u.text.char_indices() {
            let end = i + u.text[i..].chars().next().unwrap().len_utf8();
            let (s, e) = u.original(i, end);
            assert!(s < e && e <= raw.len() && raw.is_char_boundary(s) && raw.is_char_boundary(e));
        }
        assert!(unescape("no escapes, only a \\u0041 and C:\\dir").is_none());
    }

    #[test]
    fn regions_are_the_lines_around_escapes() {
        let text = "one\ntwo\nthree \\\"q\\\"\nfour\nfive\nsix\nseven a\\nb\neight";
        let r = regions(text);
        let parts: Vec<&str> = r.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(
            parts,
            ["two\nthree \\\"q\\\"\nfour", "six\nseven a\\nb\neight"]
        );
        // Parts that meet are one; an escape on the first or last line.
        let text = "a \\n\nb\nc \\t";
        assert_eq!(regions(text), [(0, text.len())]);
        assert!(regions("no escapes \\u0041 here").is_empty());
        // One line of JSON is one part, however long.
        let json = format!("{{\\\"k\\\": \\\"{}\\\"}}", "x".repeat(100_000));
        assert_eq!(regions(&json), [(0, json.len())]);
    }

    #[test]
    fn nothing_to_decode() {
        assert!(unescape("plain text\nwith a real newline").is_none());
        assert!(unescape("a \\u00e9 escape only").is_none());
    }
}
