//! The audit trail's pure logic: encoding, chain, checkpoints, verifier.
//! Each tamper test is named after the attack it defeats.

use han_crypto_core::audit::{
    genesis, link, AuditPublicKey, AuditSigningKey, ChainId, Checkpoint, Event, Field, Kind,
    Reason, Report, Start, StoredEvent, Value, Verifier,
};
use proptest::prelude::*;

const CHAIN: ChainId = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const SYSID: u64 = 7_301_234_567_890_123_456;

fn h(hex: &str) -> Vec<u8> {
    hex::decode(hex).unwrap()
}

fn sample_event() -> Event {
    let mut e = Event::new(1, 1_764_633_600_000_000, Kind::Single);
    e.set_text(Field::SessionUser, "alice").unwrap();
    e.set_text(Field::Action, "decrypt").unwrap();
    e.set_int(Field::RowCount, 3).unwrap();
    e.set(Field::RowKeys, Value::List(vec!["7".into(), "9".into()]))
        .unwrap();
    e.set(Field::Detail, Value::Json(r#"{"b": [2], "a": 1}"#.into()))
        .unwrap();
    e
}

/// Known answers computed independently (Python's hashlib over bytes built
/// by hand from docs/FORMAT.md), so the Rust encoding and the document agree.
#[test]
fn chain_known_answers_match_an_independent_computation() {
    let g = genesis(&CHAIN, SYSID);
    assert_eq!(
        hex::encode(g),
        "098fff1054f223c0f71a27323f192a9e2172770593a50559da168ed2837688cf"
    );
    let enc = sample_event().encode();
    assert_eq!(
        hex::encode(&enc),
        "48434145010000000000000001000644ecc6e30000030200000005616c6963650900000007646563727970740f000000080000000000000003100000000a00000001370000000139120000000f7b2261223a312c2262223a5b325d7d"
    );
    assert_eq!(
        hex::encode(link(&g, &enc)),
        "d57358236e4153d466096dbee9eb61f9884414896fbf9edf6025316d154ff7d8"
    );
}

/// RFC 8032 §7.1, TEST 1 and TEST 2, through the wrapper the writer uses.
#[test]
fn ed25519_rfc8032_vectors_through_the_wrapper() {
    for (seed, public, msg, sig) in [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ] {
        let key = AuditSigningKey::from_seed(&h(seed).try_into().unwrap());
        assert_eq!(key.public_key().to_hex(), public);
        assert_eq!(hex::encode(key.sign_bytes(&h(msg))), sig);
    }
}

#[test]
fn signing_key_is_derived_per_chain_and_version_and_never_printed() {
    let root = han_crypto_core::keys::SecretKey::from_bytes(&[7u8; 32]).unwrap();
    let a = AuditSigningKey::derive(&root, &CHAIN, 1).unwrap();
    let b = AuditSigningKey::derive(&root, &CHAIN, 1).unwrap();
    let c = AuditSigningKey::derive(&root, &CHAIN, 2).unwrap();
    let d = AuditSigningKey::derive(&root, &[9u8; 16], 1).unwrap();
    assert_eq!(a.public_key(), b.public_key());
    assert_ne!(a.public_key(), c.public_key());
    assert_ne!(a.public_key(), d.public_key());
    assert_eq!(format!("{a:?}"), "AuditSigningKey(..)");
}

#[test]
fn detail_is_canonical_whatever_jsonb_did_to_it() {
    let mut a = Event::new(1, 0, Kind::Single);
    a.set(
        Field::Detail,
        Value::Json(r#"{"z":1,"a":{"y":"é","b":[1,2]}}"#.into()),
    )
    .unwrap();
    let mut b = Event::new(1, 0, Kind::Single);
    b.set(
        Field::Detail,
        Value::Json("{\"a\": {\"b\": [1, 2], \"y\": \"\\u00e9\"}, \"z\": 1}".into()),
    )
    .unwrap();
    assert_eq!(a.encode(), b.encode());
    let mut c = Event::new(1, 0, Kind::Single);
    assert!(c
        .set(Field::Detail, Value::Json(r#"{"ratio":0.5}"#.into()))
        .is_err());
}

#[test]
fn decode_is_strict_and_inverts_encode() {
    let e = sample_event();
    let enc = e.encode();
    assert_eq!(Event::decode(&enc).unwrap(), e);
    // Trailing byte, truncation, bad magic, unknown kind.
    let mut t = enc.clone();
    t.push(0);
    assert!(Event::decode(&t).is_err());
    assert!(Event::decode(&enc[..enc.len() - 1]).is_err());
    let mut m = enc.clone();
    m[0] = b'X';
    assert!(Event::decode(&m).is_err());
    let mut k = enc.clone();
    k[21] = 99;
    assert!(Event::decode(&k).is_err());
    // Fields out of order: swap the first two fields' tags.
    let mut o = enc.clone();
    o[22] = 9;
    assert!(Event::decode(&o).is_err());
}

#[test]
fn json_form_round_trips_and_refuses_smuggled_keys() {
    let e = sample_event();
    let j = e.to_json();
    assert_eq!(Event::from_json(&j).unwrap(), e);
    let mut extra = j.clone();
    extra["plaintext"] = serde_json::json!("x");
    assert!(Event::from_json(&extra).is_err());
    let mut wrong = j.clone();
    wrong["row_count"] = serde_json::json!("3");
    assert!(Event::from_json(&wrong).is_err());
}

fn field_value() -> impl Strategy<Value = (Field, Value)> {
    (
        0..Field::ALL.len(),
        any::<i64>(),
        ".{0,12}",
        prop::collection::vec(".{0,6}", 0..4),
    )
        .prop_map(|(i, n, s, list)| {
            let f = Field::ALL[i];
            let v = match f.ty() {
                han_crypto_core::audit::FieldType::Int => Value::Int(n),
                han_crypto_core::audit::FieldType::Text => Value::Text(s),
                han_crypto_core::audit::FieldType::List => Value::List(list),
                han_crypto_core::audit::FieldType::Json => {
                    Value::Json(serde_json::json!({ "k": s, "n": n }).to_string())
                }
            };
            (f, v)
        })
}

fn event_strategy() -> impl Strategy<Value = Event> {
    (
        any::<u64>(),
        any::<i64>(),
        0..4usize,
        prop::collection::vec(field_value(), 0..8),
    )
        .prop_map(|(seq, ts, k, fields)| {
            let kind = [Kind::Begin, Kind::End, Kind::Single, Kind::Marker][k];
            let mut e = Event::new(seq, ts, kind);
            for (f, v) in fields {
                e.set(f, v).unwrap();
            }
            e
        })
}

proptest! {
    /// Distinct events never share an encoding (the chain would not see
    /// the difference), and every encoding decodes back to its event.
    #[test]
    fn event_encoding_is_injective(a in event_strategy(), b in event_strategy()) {
        let (ea, eb) = (a.encode(), b.encode());
        prop_assert_eq!(Event::decode(&ea).unwrap(), a.clone());
        prop_assert_eq!(a == b, ea == eb);
    }

    /// The decoder never panics, whatever bytes it is given.
    #[test]
    fn decoder_is_total(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Event::decode(&bytes);
        let mut v = b"HCAE\x01".to_vec();
        v.extend_from_slice(&bytes);
        let _ = Event::decode(&v);
    }
}

// ---- A chain to tamper with -------------------------------------------------

struct Trail {
    key: AuditSigningKey,
    events: Vec<StoredEvent>,
    checkpoints: Vec<Checkpoint>,
}

/// `n` events, a checkpoint every `every` events and one at the end.
fn trail(n: u64, every: u64) -> Trail {
    let key = AuditSigningKey::derive(
        &han_crypto_core::keys::SecretKey::from_bytes(&[42u8; 32]).unwrap(),
        &CHAIN,
        1,
    )
    .unwrap();
    let mut head = genesis(&CHAIN, SYSID);
    let mut events = Vec::new();
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    for seq in 1..=n {
        let mut e = Event::new(seq, 1_000_000 * seq as i64, Kind::Single);
        e.set_text(Field::Actor, &format!("user{}", seq % 3))
            .unwrap();
        e.set_text(Field::Action, "decrypt").unwrap();
        e.set_int(Field::RowCount, seq as i64).unwrap();
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
                .map(|c| c.digest(&CHAIN))
                .unwrap_or_else(|| han_crypto_core::audit::checkpoint::first_prev_digest(&CHAIN));
            let cp = key.checkpoint(&CHAIN, checkpoints.len() as u64 + 1, seq, head, 0, prev);
            checkpoints.push(cp);
        }
    }
    Trail {
        key,
        events,
        checkpoints,
    }
}

fn verify_with(
    t: &Trail,
    events: &[StoredEvent],
    checkpoints: &[Checkpoint],
    external: Option<Checkpoint>,
) -> Report {
    let mut v = Verifier::new(
        CHAIN,
        vec![t.key.public_key()],
        Start::Genesis {
            system_identifier: SYSID,
        },
        None,
    );
    if let Some(x) = external {
        v.expect_external(x);
    }
    let mut cps = checkpoints.iter().peekable();
    for e in events {
        v.push_event(e);
        while let Some(cp) = cps.next_if(|c| c.seq <= e.event.seq) {
            v.push_checkpoint(cp);
        }
    }
    for cp in cps {
        v.push_checkpoint(cp);
    }
    v.finish()
}

/// The trail's checkpoints made again over its events' current hashes.
fn resign(mut t: Trail) -> Trail {
    let mut prev = han_crypto_core::audit::checkpoint::first_prev_digest(&CHAIN);
    for i in 0..t.checkpoints.len() {
        let seq = t.checkpoints[i].seq;
        let head = t.events[seq as usize - 1].hash;
        t.checkpoints[i] = t.key.checkpoint(&CHAIN, i as u64 + 1, seq, head, 0, prev);
        prev = t.checkpoints[i].digest(&CHAIN);
    }
    t
}

fn verify(t: &Trail) -> Report {
    verify_with(t, &t.events, &t.checkpoints, None)
}

fn fault(r: &Report) -> (Reason, u64) {
    let f = r.fault.as_ref().expect("a fault");
    (f.reason, f.first_bad_seq)
}

fn rehash_from(events: &mut [StoredEvent], from: usize) {
    let mut head = if from == 0 {
        genesis(&CHAIN, SYSID)
    } else {
        events[from - 1].hash
    };
    for e in &mut events[from..] {
        e.prev_hash = head;
        e.hash = link(&head, &e.event.encode());
        head = e.hash;
    }
}

#[test]
fn intact_trail_verifies_and_is_signed_through_its_end() {
    let t = trail(50, 10);
    let r = verify(&t);
    assert!(r.ok(), "{:?}", r.fault);
    assert_eq!(r.checked, 50);
    assert_eq!(r.checkpoints_checked, 5);
    assert_eq!(r.signed_through, Some(50));
    assert_eq!(r.unsigned_tail(), 0);
}

#[test]
fn edited_field_detected_at_its_seq() {
    let mut t = trail(50, 10);
    t.events[22]
        .event
        .set_text(Field::Actor, "mallory")
        .unwrap();
    assert_eq!(fault(&verify(&t)), (Reason::Edited, 23));
}

#[test]
fn edited_field_with_its_own_hash_recomputed_detected_at_its_seq() {
    let mut t = trail(50, 10);
    let e = &mut t.events[22];
    e.event.set_text(Field::Actor, "mallory").unwrap();
    e.hash = link(&e.prev_hash, &e.event.encode());
    assert_eq!(fault(&verify(&t)), (Reason::Edited, 23));
}

#[test]
fn deleted_middle_row_detected() {
    let mut t = trail(50, 10);
    t.events.remove(30);
    assert_eq!(fault(&verify(&t)), (Reason::Deleted, 31));
}

#[test]
fn deleted_last_rows_detected_against_the_stored_checkpoint() {
    let mut t = trail(50, 10);
    t.events.truncate(45);
    let r = verify(&t);
    assert_eq!(fault(&r), (Reason::CutAfterCheckpoint, 46));
}

#[test]
fn forged_insert_with_renumbering_detected_at_the_forged_row() {
    let mut t = trail(50, 10);
    // A row slipped in as seq 21, linked correctly to seq 20; later rows
    // renumbered but (without the will to rehash everything) left as they were.
    let mut forged = Event::new(21, 0, Kind::Single);
    forged.set_text(Field::Action, "decrypt").unwrap();
    let prev = t.events[19].hash;
    let row = StoredEvent {
        hash: link(&prev, &forged.encode()),
        prev_hash: prev,
        event: forged,
    };
    t.events.insert(20, row);
    for e in &mut t.events[21..] {
        e.event.seq += 1;
    }
    assert_eq!(fault(&verify(&t)), (Reason::Inserted, 21));
}

#[test]
fn forged_insert_with_duplicate_seq_detected() {
    let mut t = trail(50, 10);
    let dup = t.events[20].clone();
    t.events.insert(21, dup);
    assert_eq!(fault(&verify(&t)).0, Reason::Inserted);
}

#[test]
fn swapped_rows_detected_as_reordered() {
    // Lines of an export in the wrong order.
    let mut t = trail(50, 10);
    t.events.swap(12, 13);
    assert_eq!(fault(&verify(&t)), (Reason::Reordered, 13));
    // Two rows' seq numbers exchanged in the table, everything else kept.
    let mut t = trail(50, 10);
    let (a, b) = (t.events[12].event.seq, t.events[13].event.seq);
    t.events[12].event.seq = b;
    t.events[13].event.seq = a;
    t.events.swap(12, 13);
    assert_eq!(fault(&verify(&t)), (Reason::Reordered, 13));
}

#[test]
fn cut_tail_detected_against_an_external_checkpoint() {
    let t = trail(50, 10);
    let outside = t.checkpoints.last().unwrap().clone();
    // The attacker removes events 41.. and the checkpoints that cover them.
    let events = &t.events[..40];
    let cps: Vec<_> = t
        .checkpoints
        .iter()
        .filter(|c| c.seq <= 40)
        .cloned()
        .collect();
    assert!(verify_with(&t, events, &cps, None).ok());
    let r = verify_with(&t, events, &cps, Some(outside));
    assert_eq!(fault(&r), (Reason::CutAfterCheckpoint, 41));
}

#[test]
fn rewrite_with_recomputed_hashes_without_the_key_fails_at_a_checkpoint() {
    let mut t = trail(50, 10);
    t.events[33]
        .event
        .set_text(Field::Actor, "mallory")
        .unwrap();
    rehash_from(&mut t.events, 33);
    // Old checkpoints kept: the one at 40 signed another head.
    let r = verify(&t);
    assert_eq!(fault(&r), (Reason::CheckpointMismatch, 31));
    // Checkpoints re-signed with another key: not the audit key.
    let other = AuditSigningKey::derive(
        &han_crypto_core::keys::SecretKey::from_bytes(&[1u8; 32]).unwrap(),
        &CHAIN,
        1,
    )
    .unwrap();
    let mut cps = t.checkpoints.clone();
    for i in 0..cps.len() {
        let prev = if i == 0 {
            han_crypto_core::audit::checkpoint::first_prev_digest(&CHAIN)
        } else {
            cps[i - 1].digest(&CHAIN)
        };
        let seq = cps[i].seq;
        let head = t.events[seq as usize - 1].hash;
        cps[i] = other.checkpoint(&CHAIN, i as u64 + 1, seq, head, 0, prev);
    }
    assert_eq!(
        fault(&verify_with(&t, &t.events, &cps, None)).0,
        Reason::UnknownKey
    );
    // Checkpoint rows edited to the new heads, signatures kept.
    let mut cps = t.checkpoints.clone();
    for cp in &mut cps {
        cp.head = t.events[cp.seq as usize - 1].hash;
    }
    assert_eq!(
        fault(&verify_with(&t, &t.events, &cps, None)),
        (Reason::BadSignature, 31)
    );
}

#[test]
fn removed_and_replayed_checkpoints_detected() {
    let t = trail(50, 10);
    let mut cps = t.checkpoints.clone();
    cps.remove(2);
    let r = verify_with(&t, &t.events, &cps, None);
    assert_eq!(r.fault.as_ref().unwrap().reason, Reason::CheckpointMissing);
    let mut cps = t.checkpoints.clone();
    cps.insert(3, t.checkpoints[1].clone());
    let r = verify_with(&t, &t.events, &cps, None);
    assert_eq!(r.fault.as_ref().unwrap().reason, Reason::CheckpointReplayed);
}

#[test]
fn events_spliced_from_another_chain_detected() {
    let t = trail(20, 10);
    let other = {
        let key = AuditSigningKey::derive(
            &han_crypto_core::keys::SecretKey::from_bytes(&[42u8; 32]).unwrap(),
            &CHAIN,
            1,
        )
        .unwrap();
        let mut head = genesis(&CHAIN, SYSID + 1);
        let mut v = Vec::new();
        for s in &t.events {
            let hash = link(&head, &s.event.encode());
            v.push(StoredEvent {
                event: s.event.clone(),
                prev_hash: head,
                hash,
            });
            head = hash;
        }
        let _ = key;
        v
    };
    let r = verify_with(&t, &other, &t.checkpoints, None);
    assert!(!r.ok());
    assert_eq!(r.fault.unwrap().first_bad_seq, 1);
}

/// `t` with event `at` (1-based) turned into the marker of an archive of
/// the events up to `through`, rehashed and re-signed.
fn with_marker(mut t: Trail, at: usize, through: u64) -> Trail {
    let e = &mut t.events[at - 1].event;
    *e = Event::new(e.seq, e.ts_us, Kind::Marker);
    e.set_text(Field::Action, "archive").unwrap();
    e.set_text(Field::Outcome, "ok").unwrap();
    e.set(
        Field::Detail,
        Value::Json(format!(r#"{{"through_seq": {through}}}"#)),
    )
    .unwrap();
    rehash_from(&mut t.events, at - 1);
    resign(t)
}

#[test]
fn archived_prefix_verifies_from_its_signed_head() {
    let t = with_marker(trail(50, 10), 25, 20);
    let closing = &t.checkpoints[1]; // seq 20
    let mut v = Verifier::new(
        CHAIN,
        vec![t.key.public_key()],
        Start::After {
            seq: closing.seq,
            head: closing.head,
        },
        None,
    );
    let mut cps = t.checkpoints.iter().peekable();
    while let Some(cp) = cps.next_if(|c| c.seq <= 20) {
        v.push_checkpoint(cp);
    }
    for e in &t.events[20..] {
        v.push_event(e);
        while let Some(cp) = cps.next_if(|c| c.seq <= e.event.seq) {
            v.push_checkpoint(cp);
        }
    }
    let r = v.finish();
    assert!(r.ok(), "{:?}", r.fault);
    assert_eq!(r.checked, 30);
}

/// What audit_archive leaves: the events after a checkpoint, that
/// checkpoint and the later ones (the earlier ones went with the archive).
fn verify_archived(t: &Trail, start: Start, cps: &[Checkpoint], from: usize) -> Report {
    let mut v = Verifier::new(CHAIN, vec![t.key.public_key()], start, None);
    let mut cps = cps.iter().peekable();
    while let Some(cp) = cps.next_if(|c| c.seq <= from as u64) {
        v.push_checkpoint(cp);
    }
    for e in &t.events[from..] {
        v.push_event(e);
        while let Some(cp) = cps.next_if(|c| c.seq <= e.event.seq) {
            v.push_checkpoint(cp);
        }
    }
    for cp in cps {
        v.push_checkpoint(cp);
    }
    v.finish()
}

#[test]
fn archived_trail_verifies_from_the_checkpoint_left_as_its_anchor() {
    let t = with_marker(trail(50, 10), 25, 20);
    let anchor = t.checkpoints[1].clone(); // seq 20
    let start = Start::After {
        seq: anchor.seq,
        head: anchor.head,
    };
    let r = verify_archived(&t, start, &t.checkpoints[1..], 20);
    assert!(r.ok(), "{:?}", r.fault);
    assert_eq!(r.checked, 30);
    assert_eq!(r.signed_through, Some(50));
}

#[test]
fn archived_start_without_its_anchoring_checkpoint_is_not_proven() {
    let t = with_marker(trail(50, 10), 25, 20);
    let anchor = &t.checkpoints[1];
    let start = Start::After {
        seq: anchor.seq,
        head: anchor.head,
    };
    // The anchor removed too: the later checkpoints do not chain from it.
    let r = verify_archived(&t, start, &t.checkpoints[2..], 20);
    assert_eq!(fault(&r).0, Reason::CheckpointMissing);
    // No checkpoint at all: not even the marker is signed.
    let r = verify_archived(&t, start, &[], 20);
    assert!(!r.ok());
}

/// A header that claims an archived start, over a trail whose first
/// events were simply deleted (no marker): reported deleted from event 1.
#[test]
fn archived_start_without_a_signed_marker_is_a_deleted_start() {
    let t = trail(50, 10);
    let anchor = &t.checkpoints[1];
    let start = Start::After {
        seq: anchor.seq,
        head: anchor.head,
    };
    let r = verify_archived(&t, start, &t.checkpoints[1..], 20);
    assert_eq!(fault(&r), (Reason::Deleted, 1));
    // A marker for another range does not account for these events.
    let t = with_marker(trail(50, 10), 25, 10);
    let anchor = &t.checkpoints[1];
    let start = Start::After {
        seq: anchor.seq,
        head: anchor.head,
    };
    let r = verify_archived(&t, start, &t.checkpoints[1..], 20);
    assert_eq!(fault(&r), (Reason::Deleted, 1));
}

#[test]
fn archived_start_claiming_another_head_fails() {
    let t = with_marker(trail(50, 10), 25, 20);
    let anchor = &t.checkpoints[1];
    // Events 1..=20 deleted behind the trail's back, the claimed start
    // being some head no checkpoint signed.
    let start = Start::After {
        seq: 20,
        head: [7u8; 32],
    };
    let r = verify_archived(&t, start, &t.checkpoints[1..], 20);
    assert!(!r.ok());
    // A forged anchor (signed by another key) is refused too.
    let other = AuditSigningKey::derive(
        &han_crypto_core::keys::SecretKey::from_bytes(&[9u8; 32]).unwrap(),
        &CHAIN,
        1,
    )
    .unwrap();
    let forged = other.checkpoint(
        &CHAIN,
        anchor.n,
        anchor.seq,
        anchor.head,
        0,
        anchor.prev_digest,
    );
    let mut cps = t.checkpoints[1..].to_vec();
    cps[0] = forged;
    let start = Start::After {
        seq: anchor.seq,
        head: anchor.head,
    };
    let r = verify_archived(&t, start, &cps, 20);
    assert!(!r.ok());
}

#[test]
fn range_verification_is_anchored_by_the_checkpoint_before_it() {
    let t = trail(50, 10);
    let run = |events: &[StoredEvent]| {
        let mut v = Verifier::new(
            CHAIN,
            vec![t.key.public_key()],
            Start::Unanchored { from_seq: 21 },
            Some(35),
        );
        let mut cps = t.checkpoints.iter().peekable();
        while let Some(cp) = cps.next_if(|c| c.seq <= 20) {
            v.push_checkpoint(cp);
        }
        for e in &events[20..35] {
            v.push_event(e);
            while let Some(cp) = cps.next_if(|c| c.seq <= e.event.seq) {
                v.push_checkpoint(cp);
            }
        }
        for cp in cps {
            v.push_checkpoint(cp);
        }
        v.finish()
    };
    let r = run(&t.events);
    assert!(r.ok(), "{:?}", r.fault);
    assert_eq!(r.checked, 15);
    let mut bad = t.events.clone();
    bad[20].prev_hash = [0u8; 32];
    bad[20].hash = link(&bad[20].prev_hash, &bad[20].event.encode());
    assert_eq!(fault(&run(&bad)), (Reason::CheckpointMismatch, 21));
}

#[test]
fn checkpoint_json_round_trips_and_a_public_key_parses_from_hex() {
    let t = trail(10, 5);
    let cp = &t.checkpoints[0];
    assert_eq!(&Checkpoint::from_json(&cp.to_json()).unwrap(), cp);
    let pk = AuditPublicKey::from_hex(&t.key.public_key().to_hex()).unwrap();
    assert!(pk.verifies(&CHAIN, cp));
    assert!(AuditPublicKey::from_hex("zz").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Any single change to a signed trail is reported (never a false "ok"),
    /// and the verifier never panics, whatever the change.
    #[test]
    fn any_single_tamper_is_reported(at in 0usize..40, how in 0u8..7, byte in 0usize..32) {
        let mut t = trail(40, 8);
        match how {
            0 => { t.events[at].event.set_int(Field::RowCount, -1).unwrap(); }
            1 => { t.events.remove(at); }
            2 => { let j = (at + 1) % 40; t.events.swap(at, j); }
            3 => { let d = t.events[at].clone(); t.events.insert(at, d); }
            4 => { t.events[at].hash[byte] ^= 1; }
            5 => { t.events[at].prev_hash[byte] ^= 1; }
            _ => {
                t.events[at].event.set_text(Field::Actor, "x").unwrap();
                rehash_from(&mut t.events, at);
            }
        }
        let r = verify(&t);
        prop_assert!(!r.ok());
    }
}

// ---- Exports ------------------------------------------------------------------

use han_crypto_core::audit::export::{export_lines, verify_export, ExportHeader};

fn header(t: &Trail) -> ExportHeader {
    ExportHeader {
        chain_id: CHAIN,
        system_identifier: SYSID,
        start: Start::Genesis {
            system_identifier: SYSID,
        },
        from_seq: 1,
        to_seq: None,
        public_keys: vec![t.key.public_key()],
    }
}

fn export_text(t: &Trail, events: &[StoredEvent]) -> String {
    export_lines(&header(t), events, &t.checkpoints).join("\n") + "\n"
}

#[test]
fn export_verifies_offline_and_names_the_same_first_bad_seq() {
    let t = trail(60, 10);
    let text = export_text(&t, &t.events);
    let r = verify_export(text.as_bytes(), &t.key.public_key(), None).unwrap();
    assert!(r.report.ok(), "{:?}", r.report.fault);
    assert_eq!(r.report.checked, 60);
    let mut bad = t.events.clone();
    bad[17].event.set_text(Field::Actor, "mallory").unwrap();
    let text = export_text(&t, &bad);
    let r = verify_export(text.as_bytes(), &t.key.public_key(), None).unwrap();
    assert_eq!(fault(&r.report), (Reason::Edited, 18));
}

#[test]
fn export_through_copy_text_escaping_still_verifies() {
    let mut t = trail(20, 10);
    t.events[3]
        .event
        .set_text(Field::ApplicationName, "psql \\ \"quoted\"\ttab")
        .unwrap();
    rehash_from(&mut t.events, 3);
    let t = resign(t);
    let text = export_text(&t, &t.events);
    let copied: String = text
        .lines()
        .map(|l| l.replace('\\', "\\\\").replace('\t', "\\t") + "\n")
        .collect();
    assert_ne!(copied, text);
    let r = verify_export(copied.as_bytes(), &t.key.public_key(), None).unwrap();
    assert!(r.report.ok(), "{:?}", r.report.fault);
}

#[test]
fn export_cut_short_or_edited_as_a_file_is_refused() {
    let t = trail(30, 10);
    let text = export_text(&t, &t.events);
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines[..lines.len() - 1].join("\n");
    let e = verify_export(cut.as_bytes(), &t.key.public_key(), None).unwrap_err();
    assert!(e.to_string().contains("cut short"), "{e}");
    // Cut at a checkpoint boundary with the end line rewritten by hand is
    // a chain that ends early: the external checkpoint shows it.
    let outside = t.checkpoints.last().unwrap().clone();
    let events = &t.events[..20];
    let cps: Vec<_> = t
        .checkpoints
        .iter()
        .filter(|c| c.seq <= 20)
        .cloned()
        .collect();
    let short = export_lines(&header(&t), events, &cps).join("\n");
    assert!(verify_export(short.as_bytes(), &t.key.public_key(), None)
        .unwrap()
        .report
        .ok());
    let r = verify_export(short.as_bytes(), &t.key.public_key(), Some(outside)).unwrap();
    assert_eq!(fault(&r.report), (Reason::CutAfterCheckpoint, 21));
    // A middle event line removed from the file: the chain names it.
    let mut v: Vec<&str> = lines.clone();
    v.remove(5);
    let r = verify_export(v.join("\n").as_bytes(), &t.key.public_key(), None).unwrap();
    assert_eq!(fault(&r.report).0, Reason::Deleted);
}

#[test]
fn export_against_the_wrong_public_key_does_not_verify() {
    let t = trail(10, 5);
    let text = export_text(&t, &t.events);
    let other = AuditSigningKey::from_seed(&[5u8; 32]).public_key();
    let r = verify_export(text.as_bytes(), &other, None).unwrap();
    assert_eq!(fault(&r.report).0, Reason::UnknownKey);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// The export reader never panics: random bytes, and a valid export
    /// with random bytes changed, inserted or removed.
    #[test]
    fn export_reader_is_total(junk in prop::collection::vec(any::<u8>(), 0..400),
                              at in 0usize..4000, byte in any::<u8>(), how in 0u8..3) {
        let t = trail(12, 4);
        let _ = verify_export(&junk[..], &t.key.public_key(), None);
        let mut text = export_text(&t, &t.events).into_bytes();
        let at = at % text.len();
        match how {
            0 => text[at] = byte,
            1 => text.insert(at, byte),
            _ => { text.remove(at); }
        }
        if let Ok(r) = verify_export(&text[..], &t.key.public_key(), None) {
            // A change the reader accepts as intact must not have changed
            // any verified value: only JSON whitespace or escapes can.
            if r.report.ok() {
                prop_assert_eq!(r.report.checked, 12);
            }
        }
    }
}

mod standby_log {
    use super::*;
    use han_crypto_core::audit::standby::{verify_standby_log, StandbyChain, LOG_MARKER};

    fn key(b: u8) -> AuditSigningKey {
        AuditSigningKey::derive(
            &han_crypto_core::keys::SecretKey::from_bytes(&[b; 32]).unwrap(),
            &CHAIN,
            1,
        )
        .unwrap()
    }

    /// Two backends' chains, interleaved as a server log interleaves them.
    fn log_lines(k: &AuditSigningKey) -> Vec<String> {
        let mut a = StandbyChain::new([1; 16], CHAIN, SYSID);
        let mut b = StandbyChain::new([2; 16], CHAIN, SYSID);
        let mut out = vec!["2026-12-03 LOG:  database system is ready".to_string()];
        for i in 0..4 {
            for (c, who) in [(&mut a, "alice"), (&mut b, "bob")] {
                let mut e = Event::new(0, 1_000 + i, Kind::Begin);
                e.set_text(Field::Actor, who).unwrap();
                e.set_text(Field::Action, "view_read").unwrap();
                out.push(format!(
                    "2026-12-03 [42] LOG:  {LOG_MARKER}{}",
                    c.line(k, e)
                ));
            }
        }
        out
    }

    fn check(
        lines: &[String],
        k: &AuditSigningKey,
    ) -> han_crypto_core::audit::standby::StandbyReport {
        verify_standby_log(lines.join("\n").as_bytes(), &k.public_key())
    }

    #[test]
    fn standby_log_of_interleaved_chains_verifies() {
        let k = key(5);
        let r = check(&log_lines(&k), &k);
        assert!(r.ok(), "{:?}", r.fault);
        assert_eq!((r.chains, r.events), (2, 8));
    }

    #[test]
    fn standby_log_edit_delete_insert_reorder_and_forgery_are_detected() {
        let k = key(5);
        let lines = log_lines(&k);
        let mut edited = lines.clone();
        edited[3] = edited[3].replace("alice", "mallory");
        let mut deleted = lines.clone();
        deleted.remove(3);
        let mut first_gone = lines.clone();
        first_gone.remove(1);
        let mut swapped = lines.clone();
        swapped.swap(1, 3);
        let mut repeated = lines.clone();
        repeated.insert(4, lines[3].clone());
        let other = key(6);
        let forged = log_lines(&other);
        for (name, bad) in [
            ("edited", &edited),
            ("deleted", &deleted),
            ("first line deleted", &first_gone),
            ("swapped", &swapped),
            ("repeated", &repeated),
            ("signed by another key", &forged),
        ] {
            let r = check(bad, &k);
            assert!(!r.ok(), "{name} went unnoticed");
        }
        let mut garbled = lines.clone();
        garbled[2] = format!("LOG:  {LOG_MARKER}{{not json");
        assert!(!check(&garbled, &k).ok());
    }
}
