//! `han-crypto audit verify` run as an auditor runs it: files on disk, the
//! public key as text, exit codes. Each tamper gives the same first bad seq
//! as the in-database verifier (which shares the core's code).

use std::path::{Path, PathBuf};
use std::process::Command;

use han_crypto_core::audit::checkpoint::first_prev_digest;
use han_crypto_core::audit::export::{export_lines, ExportHeader};
use han_crypto_core::audit::{
    genesis, link, AuditSigningKey, ChainId, Checkpoint, Event, Field, Kind, Start, StoredEvent,
};
use serde_json::Value;

const CHAIN: ChainId = [7; 16];
const SYSID: u64 = 42;

struct Trail {
    key: AuditSigningKey,
    events: Vec<StoredEvent>,
    checkpoints: Vec<Checkpoint>,
}

fn trail(n: u64, every: u64) -> Trail {
    let key = AuditSigningKey::derive(
        &han_crypto_core::keys::SecretKey::from_bytes(&[9u8; 32]).unwrap(),
        &CHAIN,
        1,
    )
    .unwrap();
    let mut head = genesis(&CHAIN, SYSID);
    let (mut events, mut checkpoints) = (Vec::new(), Vec::<Checkpoint>::new());
    for seq in 1..=n {
        let mut e = Event::new(seq, seq as i64, Kind::Single);
        e.set_text(Field::Action, "view_read").unwrap();
        e.set_int(Field::RowCount, 20_000).unwrap();
        let hash = link(&head, &e.encode());
        events.push(StoredEvent {
            event: e,
            prev_hash: head,
            hash,
        });
        head = hash;
        if seq % every == 0 || seq == n {
            let prev = checkpoints
                .last()
                .map_or_else(|| first_prev_digest(&CHAIN), |c| c.digest(&CHAIN));
            checkpoints.push(key.checkpoint(
                &CHAIN,
                checkpoints.len() as u64 + 1,
                seq,
                head,
                0,
                prev,
            ));
        }
    }
    Trail {
        key,
        events,
        checkpoints,
    }
}

fn write(name: &str, t: &Trail, events: &[StoredEvent], cps: &[Checkpoint]) -> PathBuf {
    let header = ExportHeader {
        chain_id: CHAIN,
        system_identifier: SYSID,
        start: Start::Genesis {
            system_identifier: SYSID,
        },
        from_seq: 1,
        to_seq: None,
        public_keys: vec![t.key.public_key()],
    };
    let dir = std::env::temp_dir().join(format!("han-crypto-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, export_lines(&header, events, cps).join("\n") + "\n").unwrap();
    path
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_han-crypto"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn verify_json(path: &Path, t: &Trail, extra: &[&str]) -> (i32, Value) {
    let pk = t.key.public_key().to_hex();
    let mut args = vec![
        "audit",
        "verify",
        path.to_str().unwrap(),
        "--public-key",
        &pk,
        "--json",
    ];
    args.extend_from_slice(extra);
    let (code, out) = run(&args);
    (code, serde_json::from_str(&out).unwrap())
}

#[test]
fn intact_export_exits_zero() {
    let t = trail(40, 10);
    let p = write("intact.jsonl", &t, &t.events, &t.checkpoints);
    let pk = t.key.public_key().to_hex();
    let (code, out) = run(&["audit", "verify", p.to_str().unwrap(), "--public-key", &pk]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("intact: 40 events, 4 checkpoints"), "{out}");
}

#[test]
fn each_tamper_exits_one_with_its_first_bad_seq() {
    let t = trail(40, 10);
    let mut edited = t.events.clone();
    edited[11].event.set_int(Field::RowCount, 1).unwrap();
    let mut deleted = t.events.clone();
    deleted.remove(25);
    let mut swapped = t.events.clone();
    swapped.swap(5, 6);
    for (name, events, reason, seq) in [
        ("edited", edited, "edited", 12),
        ("deleted", deleted, "deleted", 26),
        ("swapped", swapped, "reordered", 6),
    ] {
        let p = write(&format!("{name}.jsonl"), &t, &events, &t.checkpoints);
        let (code, j) = verify_json(&p, &t, &[]);
        assert_eq!(code, 1, "{name}: {j}");
        assert_eq!(j["reason"], reason, "{name}: {j}");
        assert_eq!(j["first_bad_seq"], seq, "{name}: {j}");
    }
}

#[test]
fn cut_tail_is_caught_by_a_checkpoint_kept_outside_or_in_the_server_log() {
    let t = trail(40, 10);
    let cps: Vec<_> = t
        .checkpoints
        .iter()
        .filter(|c| c.seq <= 20)
        .cloned()
        .collect();
    let p = write("cut.jsonl", &t, &t.events[..20], &cps);
    assert_eq!(verify_json(&p, &t, &[]).0, 0);
    let newest = t.checkpoints.last().unwrap().to_json().to_string();
    let (code, j) = verify_json(&p, &t, &["--checkpoint", &newest]);
    assert_eq!(
        (code, j["reason"].as_str()),
        (1, Some("cut_after_checkpoint")),
        "{j}"
    );
    assert_eq!(j["first_bad_seq"], 21);
    // The same checkpoint as the server-log mirror writes it.
    let log = p.with_file_name("server.log");
    let lines: String = t
        .checkpoints
        .iter()
        .map(|c| {
            format!(
                "2026-12-02 10:00:00 UTC [42] LOG:  han_crypto audit checkpoint {}\n",
                c.to_json()
            )
        })
        .collect();
    std::fs::write(&log, lines).unwrap();
    let (code, j) = verify_json(&p, &t, &["--log", log.to_str().unwrap()]);
    assert_eq!((code, j["first_bad_seq"].as_u64()), (1, Some(21)), "{j}");
}

#[test]
fn unreadable_export_exits_one_and_bad_usage_exits_two() {
    let t = trail(10, 5);
    let p = write("whole.jsonl", &t, &t.events, &t.checkpoints);
    let text = std::fs::read_to_string(&p).unwrap();
    let cut = p.with_file_name("cut-file.jsonl");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let (code, j) = verify_json(&cut, &t, &[]);
    assert_eq!((code, j["reason"].as_str()), (1, Some("malformed")), "{j}");
    assert_eq!(run(&["audit", "verify", p.to_str().unwrap()]).0, 2);
    assert_eq!(
        run(&[
            "audit",
            "verify",
            p.to_str().unwrap(),
            "--public-key",
            "nothex"
        ])
        .0,
        2
    );
    assert_eq!(run(&["frobnicate"]).0, 2);
}
