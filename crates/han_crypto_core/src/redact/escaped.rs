//! Text as it sits inside a JSON (or C-style) string literal: how a tool
//! result, a pasted file or a service-account key reaches a session's jsonb.
//! `"-----BEGIN PRIVATE KEY-----\nMIIE…"` holds a backslash and an `n`, not
//! a line break, and `{\"password\": \"…\"}` holds backslashes before its
//! quotes, so the detectors that read lines and quotes miss what the literal
//! means. The scanner also reads the literal's meaning: this module decodes
//! the simple escapes and maps every decoded byte back to the bytes it came
//! from, so a finding in the decoded text covers whole escape sequences of
//! the original.

/// The decoded view of a text and, per decoded byte, the original span it
/// came from.
pub struct Unescaped {
    pub text: String,
    from: Vec<(u32, u32)>,
}

impl Unescaped {
    /// The original byte range behind decoded bytes `start..end` (`end > start`).
    pub fn original(&self, start: usize, end: usize) -> (usize, usize) {
        (self.from[start].0 as usize, self.from[end - 1].1 as usize)
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
/// decoding (the common case costs one `memchr`-like pass). `\uXXXX` and
/// other escapes are kept as they are; only ASCII bytes are ever decoded,
/// so the view is valid UTF-8 with the same character boundaries.
pub fn unescape(text: &str) -> Option<Unescaped> {
    let b = text.as_bytes();
    let first = b
        .windows(2)
        .position(|w| w[0] == b'\\' && simple_escape(w[1]).is_some())?;
    // Offsets are kept as u32 (half the map's memory); a text beyond 4 GiB,
    // which no PostgreSQL value is, is not decoded.
    u32::try_from(b.len()).ok()?;
    let mut out = Vec::with_capacity(b.len());
    let mut from = Vec::with_capacity(b.len());
    for (i, &c) in b[..first].iter().enumerate() {
        out.push(c);
        from.push((i as u32, i as u32 + 1));
    }
    let mut i = first;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if let Some(d) = simple_escape(b[i + 1]) {
                out.push(d);
                from.push((i as u32, i as u32 + 2));
                i += 2;
                continue;
            }
        }
        out.push(b[i]);
        from.push((i as u32, i as u32 + 1));
        i += 1;
    }
    // Only ASCII bytes were replaced by ASCII bytes.
    let text = String::from_utf8(out).ok()?;
    Some(Unescaped { text, from })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_maps_back() {
        let raw = r#"{\"k\": \"a\nb\"} é\u00e9"#;
        let u = unescape(raw).unwrap();
        assert_eq!(u.text, "{\"k\": \"a\nb\"} é\\u00e9");
        let at = u.text.find("a\nb").unwrap();
        let (s, e) = u.original(at, at + 3);
        assert_eq!(&raw[s..e], r"a\nb");
        assert!(unescape("no escapes, only a \\u0041 and C:\\dir").is_none());
    }

    #[test]
    fn nothing_to_decode() {
        assert!(unescape("plain text\nwith a real newline").is_none());
        assert!(unescape("a \\u00e9 escape only").is_none());
    }
}
