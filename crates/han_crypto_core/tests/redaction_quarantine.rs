//! Quarantine's core: redaction that keeps each removed value with the
//! position of its marker, and putting kept values back (issue #15).

use han_crypto_core::redact::{builtin, json, marker_ordinals, restore, Policy, Removed};
use proptest::prelude::*;

/// The (ordinal, kind, value) entries quarantine stores for `removed`.
fn entries(out: &str, removed: &[Removed]) -> Vec<(usize, String, String)> {
    let ats: Vec<usize> = removed.iter().map(|r| r.at).collect();
    marker_ordinals(out, &ats)
        .into_iter()
        .zip(removed)
        .map(|(o, r)| {
            (
                o.expect("a marker stands where it was recorded"),
                r.kind.to_string(),
                r.value.to_string(),
            )
        })
        .collect()
}

fn put_back(out: &str, e: &[(usize, String, String)]) -> (String, usize) {
    let refs: Vec<(usize, &str, &str)> = e
        .iter()
        .map(|(o, k, v)| (*o, k.as_str(), v.as_str()))
        .collect();
    let (text, n) = restore(out, &refs, |v| v.to_string());
    (text.to_string(), n)
}

const SESSION: &str = "deploying with\nexport AWS_ACCESS_KEY_ID=AKIAZ7QX3RDV5TEN2MWB\nexport AWS_SECRET_ACCESS_KEY=q8Lr2Tq9e4Zx7Vb1Nm5Kp3Hd6Gf0Sa2Wc8Ey4Ju1\nand the old note said [REDACTED:password] already\nPGPASSWORD='Xk29!vbq7Lm' psql -h db\n";

#[test]
fn a_restored_text_is_the_original() {
    let (out, found, removed) = builtin().redact_keeping(SESSION, Policy::ALL);
    assert!(found.len() >= 3, "{out}");
    assert_eq!(removed.len(), found.len());
    let e = entries(&out, &removed);
    // The marker that was in the text before is not one of them.
    assert!(e.iter().all(|(o, _, _)| *o != 2), "{e:?}");
    let (back, n) = put_back(&out, &e);
    assert_eq!(n, e.len());
    assert_eq!(back, SESSION);
}

#[test]
fn one_value_can_be_put_back_alone() {
    let (out, _, removed) = builtin().redact_keeping(SESSION, Policy::ALL);
    let e = entries(&out, &removed);
    let pw = e
        .iter()
        .find(|(_, _, v)| v == "Xk29!vbq7Lm")
        .unwrap()
        .clone();
    let (back, n) = put_back(&out, &[pw]);
    assert_eq!(n, 1);
    assert!(back.contains("PGPASSWORD='Xk29!vbq7Lm'"));
    assert!(!back.contains("q8Lr2Tq9e4Zx7Vb1Nm5Kp3Hd6Gf0Sa2Wc8Ey4Ju1"));
}

#[test]
fn an_entry_whose_marker_is_gone_or_of_another_type_is_skipped() {
    let (out, _, removed) = builtin().redact_keeping(SESSION, Policy::ALL);
    let mut e = entries(&out, &removed);
    // The text was edited since: no marker of that ordinal, or another type.
    e.push((99, "password".into(), "nope".into()));
    e[0].1 = "not_its_type".into();
    let (back, n) = put_back(&out, &e);
    assert_eq!(n, e.len() - 2);
    assert!(!back.contains("nope"));
}

#[test]
fn values_found_only_on_a_rescan_are_kept_too() {
    // The first pass's markers give the second its context (a pair split
    // by the first redaction); whatever the passes found, all come back.
    let text = "creds AKIAZ7QX3RDV5TEN2MWB q8Lr2Tq9e4Zx7Vb1Nm5Kp3Hd6Gf0Sa2Wc8Ey4Ju1 token=ghp_Zq8Wm2Xr6Tv0Ys4Bn8Cq2Df6Gh0Lq4pX9aB";
    let (out, found, removed) = builtin().redact_keeping(text, Policy::ALL);
    assert_eq!(found.len(), removed.len());
    let (back, _) = put_back(&out, &entries(&out, &removed));
    assert_eq!(back, text);
}

#[test]
fn a_restored_json_text_is_the_original_document() {
    let doc = r#"{"tool": "bash", "stdout": "export STRIPE_KEY=sk_live_51Hq2Lm7Rk4Vw9Zp1Tn6Bc3Hd8Jf5Xs0Yt2Qa\n\"quoted\" é", "meta": {"password": "Tr0ub4dor&3", "n": 12345678901234567890}}"#;
    let (out, _, removed) =
        json::redact_text_keeping(builtin(), doc, Policy::ALL).expect("secrets found");
    let e = entries(&out, &removed);
    assert_eq!(e.len(), 2, "{out}");
    let refs: Vec<(usize, &str, &str)> = e
        .iter()
        .map(|(o, k, v)| (*o, k.as_str(), v.as_str()))
        .collect();
    let (back, n) = restore(&out, &refs, |v| {
        let s = serde_json::to_string(v).unwrap();
        s[1..s.len() - 1].to_string()
    });
    assert_eq!(n, 2);
    let a: serde_json::Value = serde_json::from_str(doc).unwrap();
    let b: serde_json::Value = serde_json::from_str(&back).unwrap();
    assert_eq!(a, b);
}

#[test]
fn the_kept_values_do_not_print() {
    let (_, _, removed) = builtin().redact_keeping(SESSION, Policy::ALL);
    let shown = format!("{removed:?}");
    assert!(!shown.contains("Xk29!vbq7Lm"), "{shown}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever the text, putting every kept value back gives it back.
    #[test]
    fn restoring_everything_is_the_identity(
        parts in proptest::collection::vec(
            prop_oneof![
                "[a-z ]{0,12}",
                Just("password=Xk29!vbq7Lm ".to_string()),
                Just("AKIAZ7QX3RDV5TEN2MWB ".to_string()),
                Just("[REDACTED:token] ".to_string()),
                Just("ghp_Zq8Wm2Xr6Tv0Ys4Bn8Cq2Df6Gh0Lq4pX9aB\n".to_string()),
                Just("secret: ".to_string()),
            ],
            0..12,
        )
    ) {
        let text: String = parts.concat();
        let (out, _, removed) = builtin().redact_keeping(&text, Policy::ALL);
        let (back, _) = put_back(&out, &entries(&out, &removed));
        prop_assert_eq!(back, text);
    }
}
