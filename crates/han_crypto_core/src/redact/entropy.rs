//! Measures of how random a candidate string looks: Shannon entropy, the
//! character classes it uses, and the shapes that betray a placeholder or an
//! ordinary word (runs of one character, alphabet sequences, camel-case words).

/// Shannon entropy in bits per character of `s`'s bytes.
pub fn shannon(s: &str) -> f64 {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Which character classes a string uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Classes {
    pub lower: bool,
    pub upper: bool,
    pub digit: bool,
    pub symbol: bool,
    pub non_ascii: bool,
    pub space: bool,
}

impl Classes {
    pub fn of(s: &str) -> Self {
        let mut c = Classes::default();
        for b in s.bytes() {
            match b {
                b'a'..=b'z' => c.lower = true,
                b'A'..=b'Z' => c.upper = true,
                b'0'..=b'9' => c.digit = true,
                b' ' | b'\t' | b'\n' | b'\r' => c.space = true,
                0x80..=0xff => c.non_ascii = true,
                _ => c.symbol = true,
            }
        }
        c
    }

    pub fn count(self) -> usize {
        [self.lower, self.upper, self.digit, self.symbol]
            .iter()
            .filter(|&&x| x)
            .count()
    }
}

/// True when every byte is a hexadecimal digit.
pub fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A provider's typed token: a short prefix of one to three segments
/// (`gsk_`, `sk-or-v1-`, `dp.st.prd.`) and a random body of 20 or more
/// characters. The prefix's letters make the whole look less random than
/// the body is (`sk-or-v1-` + 64 hex is mostly hex, but not all).
pub fn prefixed_random(v: &str) -> bool {
    let b = v.as_bytes();
    let mut segments = 0;
    let mut seg_len = 0;
    for (i, &c) in b.iter().enumerate().take(24) {
        if matches!(c, b'_' | b'-' | b'.') {
            if seg_len == 0 || seg_len > 8 {
                return false;
            }
            segments += 1;
            let body = &v[i + 1..];
            if body.len() >= 20 && (looks_random(body, 20) || is_hex(body) && body.len() >= 32) {
                return true;
            }
            if segments == 3 {
                return false;
            }
            seg_len = 0;
        } else if c.is_ascii_alphanumeric() {
            seg_len += 1;
        } else {
            return false;
        }
    }
    false
}

/// True for the canonical 8-4-4-4-12 UUID form.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Length of the longest run of one repeated byte.
pub fn longest_repeat(s: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    let mut prev = None;
    for b in s.bytes() {
        if Some(b) == prev {
            run += 1;
        } else {
            run = 1;
            prev = Some(b);
        }
        best = best.max(run);
    }
    best
}

/// Number of bytes that continue an ascending or descending alphabet or digit
/// sequence (`abcd`, `1234`, `9876`): keyboard filler in placeholders.
pub fn sequential_bytes(s: &str) -> usize {
    let b = s.as_bytes();
    b.windows(2)
        .filter(|w| {
            let (x, y) = (w[0].to_ascii_lowercase(), w[1].to_ascii_lowercase());
            x.is_ascii_alphanumeric()
                && y.is_ascii_alphanumeric()
                && (y == x.wrapping_add(1) || x == y.wrapping_add(1))
        })
        .count()
}

/// Splits an identifier-like string into lower-case words at `_ - . /` and
/// spaces, at lower→upper case changes (`apiKey`), at the last capital of
/// an upper-case run (`APIKey` → `api`, `key`), and between letters and digits.
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut prev: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev = None;
            continue;
        }
        if let Some(p) = prev {
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let boundary = (p.is_ascii_lowercase() && c.is_ascii_uppercase())
                || (p.is_ascii_uppercase() && c.is_ascii_uppercase() && next_lower)
                || (p.is_ascii_digit() != c.is_ascii_digit());
            if boundary && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c.to_ascii_lowercase());
        prev = Some(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// [`words`] without allocating, for the short identifiers the scanner
/// classifies at every keyword hit: lower-cased into a stack buffer.
pub struct Words {
    buf: [u8; Words::CAP],
    spans: [(u8, u8); Words::CAP / 2],
    n: usize,
}

impl Words {
    const CAP: usize = 128;

    /// `None` for strings longer than the buffer (use [`words`]).
    pub fn of(s: &str) -> Option<Words> {
        let b = s.as_bytes();
        if b.len() > Self::CAP {
            return None;
        }
        let mut w = Words {
            buf: [0; Self::CAP],
            spans: [(0, 0); Self::CAP / 2],
            n: 0,
        };
        let mut start: Option<usize> = None;
        for (i, &c) in b.iter().enumerate() {
            w.buf[i] = c.to_ascii_lowercase();
            if !c.is_ascii_alphanumeric() {
                if let Some(s0) = start.take() {
                    w.push(s0, i);
                }
                continue;
            }
            if let Some(s0) = start {
                let p = b[i - 1];
                let next_lower = b.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                let boundary = (p.is_ascii_lowercase() && c.is_ascii_uppercase())
                    || (p.is_ascii_uppercase() && c.is_ascii_uppercase() && next_lower)
                    || (p.is_ascii_digit() != c.is_ascii_digit());
                if boundary && i > s0 {
                    w.push(s0, i);
                    start = Some(i);
                }
            } else {
                start = Some(i);
            }
        }
        if let Some(s0) = start {
            w.push(s0, b.len());
        }
        Some(w)
    }

    fn push(&mut self, s: usize, e: usize) {
        if self.n < self.spans.len() {
            self.spans[self.n] = (s as u8, e as u8);
            self.n += 1;
        }
    }

    /// The words, lower-case.
    pub fn list(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + Clone {
        self.spans[..self.n]
            .iter()
            .map(|&(s, e)| std::str::from_utf8(&self.buf[s as usize..e as usize]).unwrap_or(""))
    }
}

/// Fraction of adjacent pairs that switch between lower case, upper case and
/// digits. Words and identifiers switch rarely; random tokens switch often.
pub fn class_switch_rate(s: &str) -> f64 {
    fn class(b: u8) -> u8 {
        match b {
            b'a'..=b'z' => 1,
            b'A'..=b'Z' => 2,
            b'0'..=b'9' => 3,
            _ => 0,
        }
    }
    let b = s.as_bytes();
    if b.len() < 2 {
        return 0.0;
    }
    let switches = b
        .windows(2)
        .filter(|w| {
            let (x, y) = (class(w[0]), class(w[1]));
            x != 0 && y != 0 && x != y
        })
        .count();
    switches as f64 / (b.len() - 1) as f64
}

/// Roughly the entropy a uniformly random string of `len` symbols from an
/// alphabet of `alphabet` symbols reaches: the alphabet's entropy less the
/// small-sample bias (Miller-Madow), and never more than the string could hold.
fn expected_entropy(len: usize, alphabet: usize) -> f64 {
    let (n, k) = (len as f64, alphabet as f64);
    let biased = k.log2() - (k - 1.0) / (2.0 * n * std::f64::consts::LN_2);
    biased.max(n.log2() - 0.6).min(k.log2()).min(n.log2())
}

/// Whether `s` looks like machine-generated secret material rather than a
/// word, identifier, number or placeholder. `min_len` is the shortest value
/// considered at all.
pub fn looks_random(s: &str, min_len: usize) -> bool {
    let len = s.len();
    if len < min_len || len > 4096 {
        return false;
    }
    let c = Classes::of(s);
    if c.space || c.non_ascii {
        return false;
    }
    if longest_repeat(s) * 3 > len || sequential_bytes(s) * 2 > len {
        return false;
    }
    let h = shannon(s);
    if c.digit && !c.lower && !c.upper {
        // Pure numbers: only long ones with varied digits.
        return len >= 16 && h >= 2.8;
    }
    // Mostly hex (a hex key with a separator or a stray letter) is judged as hex.
    let hexish = s.bytes().filter(|b| b.is_ascii_hexdigit()).count() * 10 >= len * 9;
    let alphabet = if hexish {
        16
    } else {
        match (c.lower, c.upper, c.digit) {
            (true, true, true) => 62,
            (true, true, false) => 52,
            (true, false, true) | (false, true, true) => 36,
            _ => 26,
        }
    };
    let frac = h / expected_entropy(len, alphabet);
    // Letters only: a random token must switch case often; a word or a
    // camel-case identifier does not.
    if !c.digit && !c.symbol {
        let b = s.as_bytes();
        let upper_pairs = b
            .windows(2)
            .filter(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase())
            .count();
        let mixed = class_switch_rate(s) >= 0.3 && upper_pairs * 12 >= len;
        return len >= 16 && frac >= 0.85 && (mixed || (c.lower != c.upper && len >= 24));
    }
    frac >= 0.80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_simple_strings() {
        assert_eq!(shannon(""), 0.0);
        assert_eq!(shannon("aaaa"), 0.0);
        assert!((shannon("ab") - 1.0).abs() < 1e-9);
        assert!((shannon("abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn words_split_identifiers() {
        assert_eq!(words("apiKey"), ["api", "key"]);
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(
            words("AWS_SECRET_ACCESS_KEY"),
            ["aws", "secret", "access", "key"]
        );
        assert_eq!(words("1passwordToken"), ["1", "password", "token"]);
        assert_eq!(words("client-secret.v2"), ["client", "secret", "v", "2"]);
        for s in [
            "apiKey",
            "APIKey",
            "AWS_SECRET_ACCESS_KEY",
            "1passwordToken",
            "client-secret.v2",
            "--db-Password2",
            "",
            "x",
        ] {
            let w = Words::of(s).unwrap();
            let stack: Vec<&str> = w.list().collect();
            assert_eq!(stack, words(s), "{s}");
        }
    }

    #[test]
    fn random_versus_wordy() {
        for r in [
            "HXe8DGg1iJd2AopzyxkFB7F2",
            "g9rlmrhowmt38acux",
            "3fea6af1349166ea",
            "Sk94HG7f6KB",
            "i7eyeugyb2rfzxh1xp4910fb",
        ] {
            assert!(looks_random(r, 8), "{r}");
        }
        for w in [
            "getPagesInConfluenceSpace",
            "xxxxxxxxxxxxxxxxxxxx",
            "abcdefghijklmnopqrstuvwxyz123",
            "12345678",
            "password",
            "SecurityIdentifier",
        ] {
            assert!(!looks_random(w, 8), "{w}");
        }
    }

    #[test]
    fn uuid_shape() {
        assert!(is_uuid("832d2129-a846-4e27-99f4-7004b6ad53ef"));
        assert!(!is_uuid("832d2129a8464e2799f47004b6ad53ef"));
    }
}
