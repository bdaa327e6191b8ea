//! `make redaction-report`: recall, precision and F1 of the redactor on the
//! public secret-detection corpus (overall and per type), and scanning
//! throughput on prose-like text with rare secrets.
//!
//!     cargo run --release -p han_crypto_core --example redaction_report -- CORPUS.jsonl [--misses]
//!
//! `--misses` prints each missed case, and for each false positive the rule
//! that fired and the text around it.
//!
//! Scoring follows the corpus README: a `secret` case is found when none of
//! its secrets survives in the redacted text; a `clean` case is a false
//! positive when the redacted text differs from the input at all.

use std::collections::BTreeMap;
use std::time::Instant;

use han_crypto_core::redact::{builtin, sample::session_text, Policy};
use serde_json::Value;

#[derive(Default)]
struct Score {
    tp: u32,
    fn_: u32,
    fp: u32,
    tn: u32,
}

impl Score {
    fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("../shared/corpus/corpus_public.jsonl");
    let show_misses = args.iter().any(|a| a == "--misses");
    let data = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let scanner = builtin();
    let mut overall = Score::default();
    let mut per_type: BTreeMap<String, Score> = BTreeMap::new();
    let mut corpus_bytes = 0usize;
    let started = Instant::now();
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("corpus line is JSON");
        let text = case["text"].as_str().unwrap_or_default();
        corpus_bytes += text.len();
        let (redacted, _) = scanner.redact(text, Policy::ALL);
        let secret_case = case["expect"] == "secret";
        // The public corpus names a case's type; our session sets, its family.
        let ty = case["type"]
            .as_str()
            .or(case["family"].as_str())
            .or(case["negative_for"].as_str())
            .unwrap_or("-")
            .to_string();
        let score = per_type.entry(ty.clone()).or_default();
        if secret_case {
            let secrets: Vec<&str> = case["secrets"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if secrets.iter().all(|s| !redacted.contains(s)) {
                score.tp += 1;
                overall.tp += 1;
            } else {
                score.fn_ += 1;
                overall.fn_ += 1;
                if show_misses {
                    println!(
                        "MISS {ty}: {:?}\n  -> {:?}",
                        text.chars().take(240).collect::<String>(),
                        redacted.chars().take(240).collect::<String>()
                    );
                }
            }
        } else if redacted != text {
            score.fp += 1;
            overall.fp += 1;
            if show_misses {
                // Where it changed, and what fired: the start of a long
                // clean text rarely shows it.
                for f in scanner.scan(text, Policy::ALL) {
                    let mut from = f.start.saturating_sub(60);
                    while !text.is_char_boundary(from) {
                        from -= 1;
                    }
                    let mut to = (f.end + 20).min(text.len());
                    while !text.is_char_boundary(to) {
                        to += 1;
                    }
                    println!(
                        "FP   {ty}: {}/{} ({:.2}) in {:?}",
                        f.rule,
                        f.kind,
                        f.confidence,
                        &text[from..to]
                    );
                }
            }
        } else {
            score.tn += 1;
            overall.tn += 1;
        }
    }
    let corpus_secs = started.elapsed().as_secs_f64();

    println!(
        "\nper type (only types with a miss or a false positive; {} types in all):",
        per_type.len()
    );
    println!(
        "{:<44} {:>5} {:>5} {:>5} {:>5}  {:>6} {:>6}",
        "type", "tp", "fn", "fp", "tn", "recall", "prec"
    );
    for (ty, s) in &per_type {
        if s.fn_ > 0 || s.fp > 0 {
            println!(
                "{:<44} {:>5} {:>5} {:>5} {:>5}  {:>6.3} {:>6.3}",
                ty,
                s.tp,
                s.fn_,
                s.fp,
                s.tn,
                s.recall(),
                s.precision()
            );
        }
    }
    println!(
        "\noverall: {} cases  recall {:.3}  precision {:.3}  F1 {:.3}   (tp {} fn {} fp {} tn {})",
        overall.tp + overall.fn_ + overall.fp + overall.tn,
        overall.recall(),
        overall.precision(),
        overall.f1(),
        overall.tp,
        overall.fn_,
        overall.fp,
        overall.tn
    );
    println!(
        "corpus scan: {:.1} KB in {:.1} ms",
        corpus_bytes as f64 / 1024.0,
        corpus_secs * 1000.0
    );

    let text = session_text(32 << 20);
    let _ = scanner.scan(&text[..4096], Policy::ALL); // compile lazily built rules first
    let started = Instant::now();
    let found = scanner.scan(&text, Policy::ALL);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "throughput: {:.0} MB/s on {} MB of session-like text ({} secrets found, one thread)",
        text.len() as f64 / 1e6 / secs,
        text.len() >> 20,
        found.len()
    );
}
