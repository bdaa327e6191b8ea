//! Secret detection and redaction, before anything is encrypted or stored.
//!
//! A [`Scanner`] finds secrets in text with three kinds of evidence:
//! vendor credential formats and structural secrets ([`rules`]: `ghp_…`,
//! `AKIA…`, PEM blocks, JWTs, `user:pass@` in URLs), the name a value is
//! assigned to in any common syntax ([`assign`]: `DB_PASSWORD=…`,
//! `"api_key": "…"`, `--token …`), and the shape of the value itself
//! ([`entropy`]: how random it looks). Placeholders and references
//! (`${VAR}`, `your-api-key-here`, `xxxx`, `var.db_password`) are left alone.
//!
//! Work is linear in the input: one Aho-Corasick pass over the text finds
//! the keywords that matter anywhere, a second one over the windows around
//! long tokens finds providers' names and vendor prefixes, and only the
//! rules whose keywords occur run their (linear time) regexes. Text without
//! candidates costs little more than the first pass.
//!
//! [`Scanner::redact`] replaces each finding with `[REDACTED:<type>]`;
//! overlapping findings merge, existing markers are never touched, and
//! `redact(redact(x)) == redact(x)`.

mod assign;
pub mod entropy;
mod escaped;
pub mod json;
mod listing;
pub mod names;
mod pairs;
pub mod placeholder;
pub mod rules;
pub mod sample;
mod sinks;
mod structure;
mod tables;

use std::borrow::Cow;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::bytes::{Regex, RegexBuilder};

pub use rules::Group;

/// Every marker starts with this.
pub const MARKER_PREFIX: &str = "[REDACTED:";

/// Limits on operators' patterns (THREATS §7.4): compiled size and length.
pub const MAX_PATTERN_LEN: usize = 4096;
const REGEX_SIZE_LIMIT: usize = 1 << 20;
const DFA_SIZE_LIMIT: usize = 2 << 20;

/// One detected secret: a byte range of the scanned text.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Redaction type, as the marker shows it.
    pub kind: Cow<'static, str>,
    /// The rule that found it (`assignment`, a built-in kind, or a custom rule's name).
    pub rule: Cow<'static, str>,
    pub start: usize,
    pub end: usize,
    /// 0–1: vendor formats ~0.95, structural ~0.9, context 0.6–0.85.
    pub confidence: f32,
}

/// Why an operator's rule or allowlist pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("pattern is {0} bytes long; the limit is {MAX_PATTERN_LEN}")]
    TooLong(usize),
    #[error("invalid regular expression: {0}")]
    InvalidRegex(String),
    #[error("redaction type must be 1-40 characters of a-z, 0-9 and _")]
    InvalidKind,
    #[error("the pattern matches the empty string")]
    MatchesEmpty,
}

fn compile(pattern: &str, case_insensitive: bool) -> Result<Regex, RuleError> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(RuleError::TooLong(pattern.len()));
    }
    RegexBuilder::new(pattern)
        .unicode(false)
        .case_insensitive(case_insensitive)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => {
                RuleError::InvalidRegex("the compiled pattern exceeds 1 MiB".into())
            }
            other => RuleError::InvalidRegex(first_line(&other.to_string())),
        })
}

fn first_line(s: &str) -> String {
    // The regex crate's messages quote the pattern; keep only the verdict.
    s.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("syntax error")
        .trim_start_matches("error: ")
        .to_string()
}

/// An operator's rule: a regex (a group named `s` marks the secret), the
/// type its findings get, optional keywords and entropy floor.
#[derive(Debug, Clone)]
pub struct CustomRule {
    pub name: String,
    pub kind: String,
    regex: Regex,
    keywords: Vec<String>,
    min_entropy: f32,
}

impl CustomRule {
    pub fn new(
        name: &str,
        pattern: &str,
        kind: &str,
        keywords: &[String],
        min_entropy: f32,
    ) -> Result<Self, RuleError> {
        if kind.is_empty()
            || kind.len() > 40
            || !kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(RuleError::InvalidKind);
        }
        let regex = compile(pattern, false)?;
        if regex.is_match(b"") {
            return Err(RuleError::MatchesEmpty);
        }
        let keywords = keywords
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .filter(|k| !k.is_empty())
            .collect();
        Ok(CustomRule {
            name: name.to_string(),
            kind: kind.to_string(),
            regex,
            keywords,
            min_entropy,
        })
    }
}

/// An allowlist entry: candidates it matches are not secrets.
#[derive(Debug, Clone)]
pub struct AllowPattern(Regex);

impl AllowPattern {
    pub fn new(pattern: &str) -> Result<Self, RuleError> {
        let re = compile(pattern, false)?;
        if re.is_match(b"") {
            return Err(RuleError::MatchesEmpty);
        }
        Ok(AllowPattern(re))
    }
}

/// Which rule groups run (per column in protect()), and the confidence a
/// finding needs to count (in hundredths; 0 keeps every finding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy(u8, u8);

impl Policy {
    pub const ALL: Policy = Policy(0b1111, 0);

    pub fn only(groups: &[Group]) -> Policy {
        Policy(groups.iter().fold(0, |m, g| m | Self::bit(*g)), 0)
    }

    /// The same groups, keeping only findings of at least `c` (0–1).
    pub fn with_min_confidence(self, c: f32) -> Policy {
        Policy(self.0, (c.clamp(0.0, 1.0) * 100.0).round() as u8)
    }

    /// Whether a finding of this confidence counts under the policy.
    pub fn keeps(self, confidence: f32) -> bool {
        confidence * 100.0 + 0.001 >= f32::from(self.1)
    }

    fn bit(g: Group) -> u8 {
        match g {
            Group::Vendor => 1,
            Group::Structural => 2,
            Group::Context => 4,
            Group::Custom => 8,
        }
    }

    pub fn allows(self, g: Group) -> bool {
        self.0 & Self::bit(g) != 0
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::ALL
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Builtin(u16),
    Custom(u16),
    Assignment,
    CurlUser,
    KubernetesSecret,
    /// `[REDACTED:` — an earlier marker, found in the same pass.
    Marker,
    /// A noun only prose gives a value to (`my PAT: …`).
    Prose,
    /// `INSERT INTO t (…) VALUES (…)`: values under secret-ish columns.
    SqlInsert,
    /// A call that takes a key, or an environment lookup with a fallback.
    CodeSink,
    /// A command that prints a secret (`… | base64 -d`, `cat master.key`).
    Printed,
}

/// Keywords of the assignment parser: every word class, plus vendors.
const ASSIGNMENT_KEYWORDS: &[&str] = &[
    "pass", "pwd", "pw", "secret", "token", "key", "cred", "auth", "login", "bearer", "salt",
    "pepper", "psk", "erlang",
];

fn builtin_regexes() -> &'static [OnceLock<Regex>] {
    static R: OnceLock<Vec<OnceLock<Regex>>> = OnceLock::new();
    R.get_or_init(|| rules::RULES.iter().map(|_| OnceLock::new()).collect())
}

fn builtin_regex(i: usize) -> &'static Regex {
    builtin_regexes()[i]
        .get_or_init(|| compile(rules::RULES[i].pattern, false).expect("built-in rule compiles"))
}

/// Keywords and what each one sets off.
struct Keywords {
    automaton: AhoCorasick,
    targets: Vec<Vec<Target>>,
}

impl Keywords {
    fn build(words: Vec<String>, targets: Vec<Vec<Target>>) -> Keywords {
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&words)
            .expect("keyword automaton builds");
        Keywords { automaton, targets }
    }
}

/// The scanner: built-in rules plus an operator's rules and allowlist.
///
/// Keywords live in two automata. Those that start a parse anywhere
/// (secret nouns, commands, calls, structural formats, operators' rules)
/// are searched in the whole text. Providers' names and the prefixes of
/// vendor formats only ever count beside a long token (`token_windows`), so
/// they are searched there alone: one automaton of ~300 words is too big
/// for the cache and was most of the scan's cost on text without secrets.
pub struct Scanner {
    custom: Vec<CustomRule>,
    allow: Vec<AllowPattern>,
    everywhere: Keywords,
    near_tokens: Keywords,
    /// Custom rules without keywords run on every text.
    always: Vec<u16>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("custom", &self.custom.len())
            .field("allow", &self.allow.len())
            .finish()
    }
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new(Vec::new(), Vec::new())
    }
}

/// The scanner with only the built-in rules, shared.
pub fn builtin() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(Scanner::default)
}

impl Scanner {
    pub fn new(custom: Vec<CustomRule>, allow: Vec<AllowPattern>) -> Scanner {
        let mut words: Vec<String> = Vec::new();
        let mut targets: Vec<Vec<Target>> = Vec::new();
        let mut add = |kw: &str, t: Target| {
            let kw = kw.to_ascii_lowercase();
            match words.iter().position(|w| *w == kw) {
                Some(i) => {
                    if !targets[i].contains(&t) {
                        targets[i].push(t)
                    }
                }
                None => {
                    words.push(kw);
                    targets.push(vec![t]);
                }
            }
        };
        for (i, r) in rules::RULES.iter().enumerate() {
            for k in r.keywords {
                add(k, Target::Builtin(i as u16));
            }
        }
        for k in ASSIGNMENT_KEYWORDS.iter().chain(names::VENDORS) {
            add(k, Target::Assignment);
        }
        add("-u", Target::CurlUser);
        add("--user", Target::CurlUser);
        add("--auth", Target::CurlUser);
        add("secret", Target::KubernetesSecret);
        add(MARKER_PREFIX, Target::Marker);
        add("pat", Target::Prose);
        // Secret nouns of other languages, for prose ("la contraseña … es …").
        for k in ["contraseña", "senha", "kennwort", "schlüssel", "clave"] {
            add(k, Target::Prose);
        }
        add("insert into", Target::SqlInsert);
        for k in sinks::keywords() {
            add(k, Target::CodeSink);
        }
        for k in listing::COMMAND_KEYWORDS {
            add(k, Target::Printed);
        }
        let mut always = Vec::new();
        for (i, r) in custom.iter().enumerate() {
            if r.keywords.is_empty() {
                always.push(i as u16);
            }
            for k in &r.keywords {
                add(k, Target::Custom(i as u16));
            }
        }
        // A word belongs near tokens when all it sets off is a vendor
        // format (whose match holds the word, inside or just before the
        // token) or, for a provider's name, the assignment parser (whose
        // value beside a provider must be a long random token).
        // A word can be in both: `token` starts the assignment parser
        // anywhere, and the Vault format's rule only near a token.
        let secret_word = |w: &str| {
            ASSIGNMENT_KEYWORDS
                .iter()
                .any(|k| k.eq_ignore_ascii_case(w))
        };
        let (mut anywhere, mut near) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
        for (w, t) in words.into_iter().zip(targets) {
            let (near_t, anywhere_t): (Vec<Target>, Vec<Target>) =
                t.into_iter().partition(|t| match *t {
                    Target::Builtin(i) => rules::RULES[i as usize].group == Group::Vendor,
                    Target::Assignment => !secret_word(&w),
                    _ => false,
                });
            for (side, t) in [(&mut near, near_t), (&mut anywhere, anywhere_t)] {
                if !t.is_empty() {
                    side.0.push(w.clone());
                    side.1.push(t);
                }
            }
        }
        Scanner {
            custom,
            allow,
            everywhere: Keywords::build(anywhere.0, anywhere.1),
            near_tokens: Keywords::build(near.0, near.1),
            always,
        }
    }

    /// Keyword hits in `text` as `(start, end, targets)`, in order of their
    /// end (as one overlapping search would report them): the whole-text
    /// search, streamed, merged with the (few) hits near long tokens.
    fn keyword_hits<'s>(
        &'s self,
        text: &'s str,
        windows: &[(usize, usize)],
    ) -> impl Iterator<Item = (usize, usize, &'s [Target])> + 's {
        let bytes = text.as_bytes();
        let mut near: Vec<(usize, usize, &[Target])> = Vec::new();
        for &(ws, we) in windows {
            for m in self
                .near_tokens
                .automaton
                .find_overlapping_iter(&bytes[ws..we])
            {
                let t = &self.near_tokens.targets[m.pattern().as_usize()];
                near.push((ws + m.start(), ws + m.end(), t));
            }
        }
        let mut near = near.into_iter().peekable();
        let mut everywhere = self
            .everywhere
            .automaton
            .find_overlapping_iter(bytes)
            .map(|m| {
                let t = &self.everywhere.targets[m.pattern().as_usize()];
                (m.start(), m.end(), &t[..])
            })
            .peekable();
        std::iter::from_fn(move || match (everywhere.peek(), near.peek()) {
            (Some(a), Some(b)) if b.1 < a.1 => near.next(),
            (Some(_), _) => everywhere.next(),
            (None, _) => near.next(),
        })
    }

    /// All secrets in `text`, merged and ordered, with byte offsets.
    pub fn scan(&self, text: &str, policy: Policy) -> Vec<Finding> {
        let mut found = self.scan_level(text, policy, 0);
        if policy.1 > 0 {
            found.retain(|f| policy.keeps(f.confidence));
        }
        found
    }

    /// `scan`, reading string-literal escapes (`\n`, `\"`) as what they
    /// mean too, down to `MAX_ESCAPE_LEVELS` (a JSON string inside a JSON
    /// string doubles its backslashes; a `.env` file's `\n`-escaped PEM key,
    /// printed by a tool into a JSON result inside an agent's JSON record,
    /// is three levels down).
    fn scan_level(&self, text: &str, policy: Policy, level: u8) -> Vec<Finding> {
        const MAX_ESCAPE_LEVELS: u8 = 3;
        let mut found = Vec::new();
        if text.is_empty() {
            return found;
        }
        let mut run_builtin = vec![false; rules::RULES.len()];
        let mut run_custom = vec![false; self.custom.len()];
        let (mut curl, mut k8s) = (false, false);
        let mut assign_done_until = 0usize;
        // Markers of an earlier redaction are not text: `[REDACTED:password]: x`
        // must not read as an assignment to a name called password.
        // Matches come in order of their end, so a marker is known before
        // any keyword inside it.
        let mut markers: Vec<(usize, usize)> = Vec::new();
        let windows = token_windows(text.as_bytes());
        for (hit, hit_end, targets) in self.keyword_hits(text, &windows) {
            if overlaps_marker(&markers, hit, hit_end) {
                continue;
            }
            for t in targets {
                match *t {
                    Target::Marker => {
                        if let Some(span) = marker_at(text, hit) {
                            markers.push(span);
                        }
                    }
                    Target::Builtin(i) => run_builtin[i as usize] = true,
                    Target::Custom(i) => run_custom[i as usize] = true,
                    Target::CurlUser => curl = true,
                    Target::KubernetesSecret => k8s = true,
                    Target::Prose | Target::Assignment => {
                        if policy.allows(Group::Context) && hit >= assign_done_until {
                            let (from, to) = (hit, hit_end);
                            let (hit, rule) = match *t {
                                Target::Assignment => match assign::parse_at(text, from, to) {
                                    Some(a) => (Some(a), "assignment"),
                                    None => (assign::prose_at(text, from, to), "prose"),
                                },
                                _ => (assign::prose_at(text, from, to), "prose"),
                            };
                            if let Some(a) = hit {
                                assign_done_until = a.value_end;
                                found.push(a.finding(rule));
                            } else if let Some((cells, end)) = tables::column_at(text, from) {
                                // A table header: the column's values below it.
                                assign_done_until = end;
                                push_cells(&mut found, cells);
                            } else if let Some(a) = listing::row_at(text, from, to)
                                .or_else(|| listing::name_value_at(text, from, to))
                                .or_else(|| listing::label_line_at(text, from, to))
                            {
                                assign_done_until = a.value_end;
                                found.push(a.finding("listing"));
                            } else if let Some((a, rule)) = sinks::setter_at(text, from, to)
                                .map(|a| (a, "code_argument"))
                                .or_else(|| {
                                    sinks::byte_array_at(text, from, to).map(|a| (a, "byte_array"))
                                })
                            {
                                assign_done_until = a.value_end;
                                found.push(a.finding(rule));
                            } else {
                                for (start, end) in sinks::vendor_client_at(text, from, to) {
                                    assign_done_until = end;
                                    found.push(Finding {
                                        kind: Cow::Borrowed(names::NameClass::Key.kind()),
                                        rule: Cow::Borrowed("code_argument"),
                                        start,
                                        end,
                                        confidence: 0.75,
                                    });
                                }
                            }
                        }
                    }
                    Target::CodeSink => {
                        if policy.allows(Group::Context) {
                            if let Some((start, end, class, confidence)) =
                                sinks::at(text, hit, hit_end)
                            {
                                found.push(Finding {
                                    kind: Cow::Borrowed(class.kind()),
                                    rule: Cow::Borrowed("code_argument"),
                                    start,
                                    end,
                                    confidence,
                                });
                            }
                        }
                    }
                    Target::Printed => {
                        if policy.allows(Group::Context) && hit >= assign_done_until {
                            if let Some(a) = listing::printed_at(text, hit, hit_end) {
                                assign_done_until = a.value_end;
                                found.push(a.finding("printed"));
                            }
                            // A secrets file's `user:password` lines, past the
                            // first (overlaps merge).
                            for a in listing::printed_records_at(text, hit, hit_end) {
                                assign_done_until = assign_done_until.max(a.value_end);
                                found.push(a.finding("printed"));
                            }
                            // A command that stores what it is given as a
                            // secret (`gh secret set NAME --body …`); the
                            // names on its line are still read (overlaps merge).
                            for a in listing::stored_at(text, hit, hit_end) {
                                found.push(a.finding("stored"));
                            }
                        }
                    }
                    Target::SqlInsert => {
                        if policy.allows(Group::Context) && hit >= assign_done_until {
                            if let Some((cells, end)) = tables::sql_insert_at(text, hit) {
                                assign_done_until = end;
                                push_cells(&mut found, cells);
                            }
                        }
                    }
                }
            }
        }
        for (i, run) in run_builtin.iter().enumerate() {
            let spec = &rules::RULES[i];
            if *run && policy.allows(spec.group) {
                self.run_builtin(i, text, &mut found);
            }
        }
        if policy.allows(Group::Structural) {
            if curl {
                structure::curl_user(text, &mut found);
            }
            if k8s {
                structure::kubernetes_secret(text, &mut found);
            }
        }
        // Published examples (RFC 6749's tokens, jwt.io's token), whichever
        // built-in rule matched them; an operator's own rule still applies.
        found.retain(|f| !placeholder::is_published_example(&text[f.start..f.end]));
        if policy.allows(Group::Custom) {
            for i in self.always.iter().map(|&i| i as usize) {
                run_custom[i] = true;
            }
            for (i, run) in run_custom.iter().enumerate() {
                if *run {
                    self.run_custom(i, text, &mut found);
                }
            }
        }
        if policy.allows(Group::Vendor) {
            structure::discord_bot_tokens(text, &windows, &mut found);
            let partners = pairs::partners(text, &found);
            found.extend(partners);
            let ids = pairs::named_ids(text, &found);
            found.extend(ids);
            found.extend(pairs::unnamed(text, &windows));
        }
        if !found.is_empty()
            && (text.contains("encryptedData") || text.contains("-----BEGIN PGP MESSAGE"))
        {
            // Context findings only: a vendor format or a key block inside
            // is not what the block's ciphertext looks like.
            let blocks = merged_spans(placeholder::encrypted_blocks(text));
            found.retain(|f| f.confidence >= 0.9 || !inside_span(&blocks, f.start, f.end));
        }
        if !found.is_empty() && text.contains("CHECKSUMS:") {
            // A lock file's digest section (`SPEC CHECKSUMS:` of a
            // Podfile.lock): `FirebaseAuth: <sha1>` names a package.
            let sections = placeholder::checksum_sections(text);
            found.retain(|f| f.confidence >= 0.9 || !inside_span(&sections, f.start, f.end));
        }
        if level < MAX_ESCAPE_LEVELS {
            for (rs, re) in escaped::regions(text) {
                if let Some(view) = escaped::unescape(&text[rs..re]) {
                    for f in self.scan_level(&view.text, policy, level + 1) {
                        let (start, end) = view.original(f.start, f.end);
                        found.push(Finding {
                            start: rs + start,
                            end: rs + end,
                            ..f
                        });
                    }
                }
            }
        }
        self.finish(text, found, &markers)
    }

    fn run_builtin(&self, i: usize, text: &str, out: &mut Vec<Finding>) {
        let spec = &rules::RULES[i];
        let re = builtin_regex(i);
        for caps in re.captures_iter(text.as_bytes()) {
            // The secret is group `s` (or `s2`…`s4` in a rule's other forms).
            let Some(m) = caps
                .name("s")
                .or_else(|| caps.name("s2"))
                .or_else(|| caps.name("s3"))
                .or_else(|| caps.name("s4"))
                .or_else(|| caps.get(0))
            else {
                continue;
            };
            let (start, end) = snap(text, m.start(), m.end());
            let secret = &text[start..end];
            if !structure::valid(spec, secret, &caps, text, end) {
                continue;
            }
            out.push(Finding {
                kind: Cow::Borrowed(spec.kind),
                rule: Cow::Borrowed(spec.kind),
                start,
                end,
                confidence: spec.confidence,
            });
        }
    }

    fn run_custom(&self, i: usize, text: &str, out: &mut Vec<Finding>) {
        let rule = &self.custom[i];
        for caps in rule.regex.captures_iter(text.as_bytes()) {
            let Some(m) = caps.name("s").or_else(|| caps.get(0)) else {
                continue;
            };
            if m.start() == m.end() {
                continue;
            }
            let (start, end) = snap(text, m.start(), m.end());
            if rule.min_entropy > 0.0
                && (entropy::shannon(&text[start..end]) as f32) < rule.min_entropy
            {
                continue;
            }
            out.push(Finding {
                kind: Cow::Owned(rule.kind.clone()),
                rule: Cow::Owned(rule.name.clone()),
                start,
                end,
                confidence: 0.9,
            });
        }
    }

    /// Drops allowlisted findings and ones inside existing markers, then
    /// merges overlaps: the merged span takes the most confident type.
    fn finish(
        &self,
        text: &str,
        mut found: Vec<Finding>,
        markers: &[(usize, usize)],
    ) -> Vec<Finding> {
        if found.is_empty() {
            return found;
        }
        found.retain(|f| {
            f.end > f.start
                && !overlaps_marker(markers, f.start, f.end)
                && !self
                    .allow
                    .iter()
                    .any(|a| a.0.is_match(&text.as_bytes()[f.start..f.end]))
        });
        found.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut merged: Vec<Finding> = Vec::with_capacity(found.len());
        for f in found {
            match merged.last_mut() {
                Some(last) if f.start < last.end => {
                    if f.confidence > last.confidence {
                        last.kind = f.kind;
                        last.rule = f.rule;
                        last.confidence = f.confidence;
                    }
                    last.end = last.end.max(f.end);
                }
                _ => merged.push(f),
            }
        }
        merged
    }

    /// `text` with every finding replaced by its marker. The output is
    /// rescanned around each new marker (only there can a replacement create
    /// new context) until nothing new is found, so redaction is idempotent.
    pub fn redact<'a>(&self, text: &'a str, policy: Policy) -> (Cow<'a, str>, Vec<Finding>) {
        let (out, found, _) = self.redact_inner(text, policy, false);
        (out, found)
    }

    /// `redact`, also returning what each new marker replaced and where the
    /// marker stands in the output (for quarantine, which keeps the removed
    /// values sealed so that a false positive can be put back).
    pub fn redact_keeping<'a>(
        &self,
        text: &'a str,
        policy: Policy,
    ) -> (Cow<'a, str>, Vec<Finding>, Vec<Removed>) {
        self.redact_inner(text, policy, true)
    }

    fn redact_inner<'a>(
        &self,
        text: &'a str,
        policy: Policy,
        keep: bool,
    ) -> (Cow<'a, str>, Vec<Finding>, Vec<Removed>) {
        let mut found = self.scan(text, policy);
        let mut removed = Vec::new();
        if found.is_empty() {
            return (Cow::Borrowed(text), found, removed);
        }
        let mut current = apply_keeping(text, &found, keep.then_some(&mut removed));
        for _ in 0..3 {
            let again = self.scan_near_markers(&current, policy);
            if again.is_empty() {
                break;
            }
            if keep {
                // Earlier markers move by what the new ones replace before them.
                for r in &mut removed {
                    let shift: isize = again
                        .iter()
                        .filter(|f| f.end <= r.at)
                        .map(|f| marker_len(&f.kind) as isize - (f.end - f.start) as isize)
                        .sum();
                    r.at = r.at.saturating_add_signed(shift);
                }
            }
            current = apply_keeping(&current, &again, keep.then_some(&mut removed));
            found.extend(again);
        }
        removed.sort_by_key(|r| r.at);
        (Cow::Owned(current), found, removed)
    }

    /// Scans windows of `text` around its markers; offsets are into `text`.
    fn scan_near_markers(&self, text: &str, policy: Policy) -> Vec<Finding> {
        const REACH: usize = 2048;
        if text.len() <= 8 * REACH {
            return self.scan(text, policy);
        }
        let mut windows: Vec<(usize, usize)> = Vec::new();
        for (s, e) in marker_spans(text) {
            let (ws, we) = snap(text, s.saturating_sub(REACH), (e + REACH).min(text.len()));
            match windows.last_mut() {
                Some(last) if ws <= last.1 => last.1 = last.1.max(we),
                _ => windows.push((ws, we)),
            }
        }
        let mut out = Vec::new();
        for (ws, we) in windows {
            out.extend(self.scan(&text[ws..we], policy).into_iter().map(|mut f| {
                f.start += ws;
                f.end += ws;
                f
            }));
        }
        out
    }
}

/// Values found under a secret-ish table column, as findings.
fn push_cells(found: &mut Vec<Finding>, cells: Vec<tables::Cell>) {
    found.extend(cells.into_iter().map(|c| Finding {
        kind: Cow::Borrowed(c.class.kind()),
        rule: Cow::Borrowed("table_column"),
        start: c.start,
        end: c.end,
        confidence: 0.7,
    }));
}

/// How long a run of token bytes must be for provider names and vendor
/// prefixes to matter: every vendor format is longer, and so is any value
/// the parser accepts beside a provider's name.
const LONG_TOKEN: usize = 16;
/// How far before a long token a provider's name or a vendor format's
/// context word (`codecov … = `, `facebook … 1234|…`) may stand.
const TOKEN_LOOKBACK: usize = 128;

/// The spans where the near-token keywords are searched: each run of at
/// least `LONG_TOKEN` bytes that are not blanks, quotes, brackets or list
/// separators, from `TOKEN_LOOKBACK` bytes before it to one byte after,
/// merged. Prose rarely has such a run; each secret is one.
fn token_windows(b: &[u8]) -> Vec<(usize, usize)> {
    const SEPARATOR: [bool; 256] = {
        let mut t = [false; 256];
        let s = b" \t\r\n\x0b\x0c\"'`<>()[]{},;";
        let mut i = 0;
        while i < s.len() {
            t[s[i] as usize] = true;
            i += 1;
        }
        t
    };
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let sep = |c: u8| SEPARATOR[c as usize];
    let mut out: Vec<(usize, usize)> = Vec::new();
    // A run of LONG_TOKEN (16) bytes covers a whole 8-byte block, and prose
    // puts a blank in almost every block: only blocks with no byte below
    // 0x21 are looked at byte by byte (a word-at-a-time test, exact for
    // presence: the borrow can only start at such a byte).
    let mut block = 0;
    while block + 8 <= b.len() {
        let x = u64::from_ne_bytes(b[block..block + 8].try_into().expect("8 bytes"));
        if x.wrapping_sub(ONES * 0x21) & !x & HIGHS != 0 {
            block += 8;
            continue;
        }
        let mut s = block;
        while s > 0 && !sep(b[s - 1]) {
            s -= 1;
        }
        let mut e = block;
        while e < b.len() && !sep(b[e]) {
            e += 1;
        }
        if e - s >= LONG_TOKEN {
            let (ws, we) = (s.saturating_sub(TOKEN_LOOKBACK), (e + 1).min(b.len()));
            match out.last_mut() {
                Some(last) if ws <= last.1 => last.1 = last.1.max(we),
                _ => out.push((ws, we)),
            }
        }
        // The next block that can start a new run begins after this one's end.
        block = (e.max(block) + 8) & !7;
    }
    out
}

/// Sorted spans with overlaps merged, for binary search.
fn merged_spans(mut spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    spans.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Whether `start..end` lies inside one of the sorted, disjoint `spans`.
fn inside_span(spans: &[(usize, usize)], start: usize, end: usize) -> bool {
    let i = spans.partition_point(|&(s, _)| s <= start);
    i > 0 && spans[i - 1].1 >= end
}

/// Whether `start..end` overlaps one of `markers` (sorted and disjoint, so
/// only the last one starting before `end` can): a binary search, since a
/// text redacted before holds a marker per secret, and scanning them all for
/// every keyword match made rescans quadratic (seconds per megabyte).
fn overlaps_marker(markers: &[(usize, usize)], start: usize, end: usize) -> bool {
    let before_end = markers.partition_point(|&(s, _)| s < end);
    before_end > 0 && markers[before_end - 1].1 > start
}

/// What one marker replaced: the value (secret, so zeroized when dropped),
/// its type, and the byte offset of the marker in the redacted text.
pub struct Removed {
    pub at: usize,
    pub kind: Cow<'static, str>,
    pub value: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for Removed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Removed")
            .field("at", &self.at)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn marker_len(kind: &str) -> usize {
    MARKER_PREFIX.len() + kind.len() + 1
}

/// Replaces the (sorted, disjoint) findings with markers.
pub fn apply(text: &str, found: &[Finding]) -> String {
    apply_keeping(text, found, None)
}

fn apply_keeping(text: &str, found: &[Finding], mut keep: Option<&mut Vec<Removed>>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in found {
        out.push_str(&text[at..f.start]);
        if let Some(keep) = keep.as_deref_mut() {
            keep.push(Removed {
                at: out.len(),
                kind: f.kind.clone(),
                value: zeroize::Zeroizing::new(text[f.start..f.end].to_string()),
            });
        }
        out.push_str(MARKER_PREFIX);
        out.push_str(&f.kind);
        out.push(']');
        at = f.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Puts removed values back: each `(ordinal, kind, value)` names the
/// ordinal-th marker of `text` (0-based, counting every marker), which must
/// be of that type. `escape` encodes a value for where it goes (JSON string
/// escapes in a JSON text). Returns the text and how many were put back;
/// an entry whose marker is not there (the text changed since) is skipped.
pub fn restore(
    text: &str,
    entries: &[(usize, &str, &str)],
    escape: impl Fn(&str) -> String,
) -> (zeroize::Zeroizing<String>, usize) {
    let spans = marker_spans(text);
    let mut wanted: Vec<(usize, usize, String)> = Vec::new();
    for &(ordinal, kind, value) in entries {
        let Some(&(s, e)) = spans.get(ordinal) else {
            continue;
        };
        if &text[s + MARKER_PREFIX.len()..e - 1] == kind && !wanted.iter().any(|w| w.0 == s) {
            wanted.push((s, e, escape(value)));
        }
    }
    wanted.sort_by_key(|w| w.0);
    let mut out = zeroize::Zeroizing::new(String::with_capacity(text.len()));
    let mut at = 0;
    for (s, e, v) in &wanted {
        out.push_str(&text[at..*s]);
        out.push_str(v);
        at = *e;
    }
    out.push_str(&text[at..]);
    for (_, _, v) in &mut wanted {
        zeroize::Zeroize::zeroize(v);
    }
    (out, wanted.len())
}

/// The ordinal (0-based, among all markers) of the marker starting at each
/// byte offset of `ats`, if one starts there.
pub fn marker_ordinals(text: &str, ats: &[usize]) -> Vec<Option<usize>> {
    let spans = marker_spans(text);
    ats.iter()
        .map(|&at| {
            let i = spans.partition_point(|&(s, _)| s < at);
            (spans.get(i)?.0 == at).then_some(i)
        })
        .collect()
}

/// The span of a marker `[REDACTED:type]` starting at `s`, if one does.
fn marker_at(text: &str, s: usize) -> Option<(usize, usize)> {
    let rest = text.get(s..)?.strip_prefix(MARKER_PREFIX)?;
    let n = rest.bytes().take(41).position(|b| b == b']')?;
    rest.as_bytes()[..n]
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .then_some((s, s + MARKER_PREFIX.len() + n + 1))
}

/// Spans of markers already in the text: `[REDACTED:type]`.
fn marker_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(MARKER_PREFIX) {
        let s = from + i;
        match marker_at(text, s) {
            Some(span) => {
                spans.push(span);
                from = span.1;
            }
            None => from = s + MARKER_PREFIX.len(),
        }
    }
    spans
}

/// Widens a byte range to UTF-8 character boundaries.
fn snap(text: &str, mut start: usize, mut end: usize) -> (usize, usize) {
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    while end < text.len() && !text.is_char_boundary(end) {
        end += 1;
    }
    (start, end)
}

/// Why a finding's rule fired, for a person debugging a surprise: the kind
/// of evidence, never the value.
pub fn explain(rule: &str) -> &'static str {
    match rule {
        "assignment" => "the value is assigned to a name that announces a secret",
        "prose" => "the value stands right after a secret noun or a provider's name in prose",
        "table_column" => "the value is in a table column whose header names a secret",
        "listing" => {
            "the value stands in a column beside, or alone on the line under, a label that names a secret (command output, a key/value table)"
        }
        "printed" => "the value is the output of a command that prints a secret (a decoded Secret, a key file, a secret store read)",
        "code_argument" => {
            "the literal is passed where code takes a key (an HMAC, cipher or signing call), or is the fallback of an environment variable that names a secret"
        }
        "credential_pair" => "the value sits beside a recognised access key id, as its secret half",
        "kubernetes_secret" => "the value is in the data of a Kubernetes Secret",
        "curl_user" => "the value is the password of a curl -u user:password",
        "url_password" => "the value is the password in a URL's user:password@",
        "url_signature" => "the value is the signature of a presigned or SAS URL",
        "url_path_key" => "the value is a URL path segment after /key/ or /token/",
        "discord_bot_token" => {
            "the value has Discord's bot token format (its first part decodes to a user id)"
        }
        _ if rules::RULES.iter().any(|r| r.kind == rule && r.group == Group::Vendor) => {
            "the value has a vendor's published credential format"
        }
        _ if rules::RULES.iter().any(|r| r.kind == rule) => {
            "the value has the structure of a credential (a private key block, a JWT, a connection string)"
        }
        _ => "an operator's redaction rule matched",
    }
}

/// Counts of findings per type, in first-seen order: what gets reported
/// about a redaction (never the values).
pub fn tally(found: &[Finding]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for f in found {
        match out.iter_mut().find(|(k, _)| *k == f.kind) {
            Some((_, n)) => *n += 1,
            None => out.push((f.kind.to_string(), 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{overlaps_marker, token_windows, LONG_TOKEN, TOKEN_LOOKBACK};

    /// Byte by byte, the definition `token_windows` implements word-wise.
    fn token_windows_naive(b: &[u8]) -> Vec<(usize, usize)> {
        let sep = |c: u8| b" \t\r\n\x0b\x0c\"'`<>()[]{},;".contains(&c);
        let mut out: Vec<(usize, usize)> = Vec::new();
        let mut run_start = 0;
        for i in 0..=b.len() {
            if i < b.len() && !sep(b[i]) {
                continue;
            }
            if i - run_start >= LONG_TOKEN {
                let (ws, we) = (
                    run_start.saturating_sub(TOKEN_LOOKBACK),
                    (i + 1).min(b.len()),
                );
                match out.last_mut() {
                    Some(last) if ws <= last.1 => last.1 = last.1.max(we),
                    _ => out.push((ws, we)),
                }
            }
            run_start = i + 1;
        }
        out
    }

    #[test]
    fn token_windows_word_at_a_time_agrees_with_byte_by_byte() {
        let alphabet = b"ab9_-./=: \n\t\"'(,;\x7f\xc3";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..4000 {
            let len = round % 300;
            // Runs of one class, of random length: long tokens and blanks.
            let mut text = Vec::with_capacity(len);
            while text.len() < len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let token = state % 3 != 0;
                let n = (state >> 8) as usize % if token { 40 } else { 4 } + 1;
                for k in 0..n {
                    let r = (state >> (16 + k % 40)) as usize;
                    let c = if token {
                        alphabet[r % 9]
                    } else {
                        alphabet[9 + r % 9]
                    };
                    text.push(c);
                }
            }
            text.truncate(len);
            assert_eq!(token_windows(&text), token_windows_naive(&text), "{text:?}");
        }
    }

    #[test]
    fn marker_overlap_by_binary_search_agrees_with_checking_every_marker() {
        let markers: Vec<(usize, usize)> = (0..50).map(|i| (i * 10 + 3, i * 10 + 7)).collect();
        for start in 0..520 {
            for len in 0..25 {
                let end = start + len;
                let naive = markers.iter().any(|&(s, e)| start < e && s < end);
                assert_eq!(
                    overlaps_marker(&markers, start, end),
                    naive,
                    "{start}..{end}"
                );
            }
        }
        assert!(!overlaps_marker(&[], 0, 10));
    }
}
