//! Scanner throughput (criterion): prose-like session text with rare
//! secrets, the shape of the insert path's input. Target: ≥ 200 MB/s per core.
//!
//!     cargo bench -p han_crypto_core --bench scan

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use han_crypto_core::redact::{builtin, Policy};

/// Deterministic prose with code, logs and one secret per ~64 KiB.
fn session_text(bytes: usize) -> String {
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

fn scan(c: &mut Criterion) {
    let mut group = c.benchmark_group("redact");
    for (name, size) in [("4.5KB row", 4608usize), ("1MB", 1 << 20)] {
        let text = session_text(size);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("scan {name}"), |b| {
            b.iter(|| builtin().scan(&text, Policy::ALL))
        });
        group.bench_function(format!("redact {name}"), |b| {
            b.iter(|| builtin().redact(&text, Policy::ALL))
        });
    }
    group.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
