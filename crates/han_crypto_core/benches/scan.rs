//! Scanner throughput (criterion): prose-like session text with rare
//! secrets, the shape of the insert path's input. Target: ≥ 200 MB/s per core.
//!
//!     cargo bench -p han_crypto_core --bench scan

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use han_crypto_core::redact::{builtin, sample::session_text, Policy};

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
