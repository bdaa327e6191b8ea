//! Time to verify N audit events (default 1,000,000), two ways: the
//! verifier over events in memory (what `audit_verify` adds to reading the
//! rows), and the export reader over a JSON Lines file (what the CLI does).
//! `cargo run --release -p han_crypto_core --example audit_verify_speed [N]`

use std::time::Instant;

use han_crypto_core::audit::checkpoint::first_prev_digest;
use han_crypto_core::audit::export::{verify_export, ExportHeader, ExportWriter};
use han_crypto_core::audit::{
    genesis, link, AuditSigningKey, Checkpoint, Event, Field, Kind, Start, StoredEvent, Verifier,
};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let chain = [1u8; 16];
    let key = AuditSigningKey::derive(
        &han_crypto_core::keys::SecretKey::from_bytes(&[2u8; 32]).unwrap(),
        &chain,
        1,
    )
    .unwrap();
    let mut head = genesis(&chain, 99);
    let mut events = Vec::with_capacity(n as usize);
    let mut cps: Vec<Checkpoint> = Vec::new();
    for seq in 1..=n {
        let mut e = Event::new(seq, 1_764_633_600_000_000 + seq as i64, Kind::Begin);
        e.set_int(Field::Xid, 1000 + seq as i64 / 3).unwrap();
        e.set_text(Field::SessionUser, "app").unwrap();
        e.set_text(Field::CurrentUser, "app").unwrap();
        e.set_text(Field::Actor, "user-4821").unwrap();
        e.set_text(Field::ActorVia, "jwt").unwrap();
        e.set_text(Field::ClientAddr, "10.1.2.3").unwrap();
        e.set_text(Field::ApplicationName, "sessions-api").unwrap();
        e.set_int(Field::BackendPid, 31337).unwrap();
        e.set_text(Field::Action, "view_read").unwrap();
        e.set_text(Field::Object, "public.sessions").unwrap();
        e.set_text(Field::Keyring, "team:acme").unwrap();
        e.set_int(Field::KeyVersion, 1).unwrap();
        e.set_text(Field::Outcome, "ok").unwrap();
        let hash = link(&head, &e.encode());
        events.push(StoredEvent {
            event: e,
            prev_hash: head,
            hash,
        });
        head = hash;
        if seq % 1000 == 0 || seq == n {
            let prev = cps
                .last()
                .map_or_else(|| first_prev_digest(&chain), |c| c.digest(&chain));
            cps.push(key.checkpoint(&chain, cps.len() as u64 + 1, seq, head, 0, prev));
        }
    }
    let t = Instant::now();
    let mut v = Verifier::new(
        chain,
        vec![key.public_key()],
        Start::Genesis {
            system_identifier: 99,
        },
        None,
    );
    let mut it = cps.iter().peekable();
    for e in &events {
        v.push_event(e);
        while let Some(cp) = it.next_if(|c| c.seq <= e.event.seq) {
            v.push_checkpoint(cp);
        }
    }
    let r = v.finish();
    assert!(r.ok());
    println!(
        "verifier, in memory: {n} events, {} checkpoints in {:.2} s",
        r.checkpoints_checked,
        t.elapsed().as_secs_f64()
    );

    let header = ExportHeader {
        chain_id: chain,
        system_identifier: 99,
        start: Start::Genesis {
            system_identifier: 99,
        },
        from_seq: 1,
        to_seq: None,
        public_keys: vec![key.public_key()],
    };
    let path = std::env::temp_dir().join("han_crypto_audit_speed.jsonl");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let (mut w, first) = ExportWriter::start(&header);
        writeln!(f, "{first}").unwrap();
        let mut it = cps.iter().peekable();
        for e in &events {
            writeln!(f, "{}", w.event(e)).unwrap();
            while let Some(cp) = it.next_if(|c| c.seq <= e.event.seq) {
                writeln!(f, "{}", w.checkpoint(cp)).unwrap();
            }
        }
        writeln!(f, "{}", w.finish()).unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    let t = Instant::now();
    let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let r = verify_export(file, &key.public_key(), None).unwrap();
    assert!(r.report.ok());
    println!(
        "export reader (the CLI): {n} events, {} MB in {:.2} s",
        size / 1_000_000,
        t.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_file(&path);
}
