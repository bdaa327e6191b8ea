//! Prints each line of a file redacted (a debugging aid for rule work):
//!     cargo run -p han_crypto_core --example redact_lines -- FILE
use han_crypto_core::redact::{builtin, Policy};

fn main() {
    let path = std::env::args().nth(1).expect("usage: redact_lines FILE");
    for line in std::fs::read_to_string(path)
        .expect("readable file")
        .lines()
    {
        let (out, found) = builtin().redact(line, Policy::ALL);
        let mark = if found.is_empty() { ' ' } else { '*' };
        println!("{mark} {out}");
    }
}
