//! Deterministic session-like text (prose, code, log lines, one secret per
//! ~64 KiB) for the scanner's benchmark and report: the same input in both,
//! generated rather than stored.

/// `bytes` (at least) of session-like text with rare secrets.
pub fn session_text(bytes: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "function",
        "returns",
        "a",
        "value",
        "when",
        "request",
        "is",
        "handled",
        "by",
        "server",
        "we",
        "should",
        "update",
        "tests",
        "and",
        "check",
        "that",
        "error",
        "message",
        "includes",
        "line",
        "config",
        "database",
        "migration",
        "fails",
        "because",
        "column",
        "missing",
        "then",
        "run",
        "cargo",
        "build",
        "key",
        "token",
        "password",
        "field",
        "in",
        "struct",
        "passes",
        "through",
        "layer",
        "user",
        "wants",
        "refactor",
    ];
    const LINES: &[&str] = &[
        "fn main() { let x = compute(42); println!(\"{x}\"); }",
        "ERROR 2026-11-23T10:00:00Z worker[3]: connection reset by peer (retrying in 5s)",
        "SELECT id, name FROM users WHERE created_at > now() - interval '1 day';",
        "    \"dependencies\": { \"express\": \"^4.19.2\", \"pg\": \"^8.11.0\" },",
    ];
    const SECRETS: &[&str] = &[
        "export AWS_ACCESS_KEY_ID=AKIAZ7Q4XPLM3VN2B6RT",
        "DATABASE_URL=postgres://app:Xk9#mQ2vLp7w@db.internal:5432/app",
        "-H \"Authorization: Bearer ghp_8fK2mQ9xL4vN7pR3tW6yB1cD5gH0jZ2aE4sU\"",
    ];
    let mut out = String::with_capacity(bytes + 256);
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as usize
    };
    let mut since = 0;
    while out.len() < bytes {
        let before = out.len();
        if next() % 100 < 8 {
            out.push_str(LINES[next() % LINES.len()]);
        } else {
            for i in 0..(6 + next() % 14) {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(WORDS[next() % WORDS.len()]);
            }
            out.push('.');
        }
        out.push('\n');
        since += out.len() - before;
        if since > 64 * 1024 {
            out.push_str(SECRETS[next() % SECRETS.len()]);
            out.push('\n');
            since = 0;
        }
    }
    out
}
