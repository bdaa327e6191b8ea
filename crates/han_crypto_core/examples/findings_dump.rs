//! Every finding on every case of JSONL sets, one line per case (a diff aid:
//! a change meant to keep behaviour must leave this output unchanged):
//!     cargo run --release -p han_crypto_core --example findings_dump -- SET.jsonl...
use han_crypto_core::redact::{builtin, Policy};
fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read_to_string(&path).unwrap();
        for line in data.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = v["text"].as_str().unwrap();
            let id = v.get("id").map(|i| i.to_string()).unwrap_or_default();
            let f = builtin().scan(text, Policy::ALL);
            let list: Vec<String> = f
                .iter()
                .map(|f| {
                    format!(
                        "{}-{}:{}:{}:{:.2}",
                        f.start, f.end, f.kind, f.rule, f.confidence
                    )
                })
                .collect();
            println!("{path} {id} {}", list.join(" "));
        }
    }
}
