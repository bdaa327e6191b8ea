//! Prints each line of a file redacted (a debugging aid for rule work):
//!     cargo run -p han_crypto_core --example redact_lines -- FILE [--whole]
//! With `--whole` the file is redacted as one text (context across lines:
//! table headers, YAML blocks) and the lines that changed are marked.
use han_crypto_core::redact::{builtin, Policy};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: redact_lines FILE [--whole]");
    let text = std::fs::read_to_string(path).expect("readable file");
    if args.iter().any(|a| a == "--whole") {
        let (out, _) = builtin().redact(&text, Policy::ALL);
        for (before, after) in text.lines().zip(out.lines()) {
            let mark = if before == after { ' ' } else { '*' };
            println!("{mark} {after}");
        }
        return;
    }
    for line in text.lines() {
        let (out, found) = builtin().redact(line, Policy::ALL);
        let mark = if found.is_empty() { ' ' } else { '*' };
        println!("{mark} {out}");
    }
}
