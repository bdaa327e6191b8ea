//! The SQL tokenizer and the log policy never panic and report spans on
//! character boundaries, whatever the text; and any passphrase, written as
//! any kind of literal, is masked exactly, in a statement and in a DO body.
#![no_main]
use han_crypto_core::log_policy::{
    analyze, mask_parameter_list, mask_quoted_sql, mask_sql, SecretParams,
};
use han_crypto_core::sql_lex::{decode_string, identifier, spell_literal, tokens};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };

    for t in tokens(text) {
        assert!(
            t.span.start < t.span.end
                && text.is_char_boundary(t.span.start)
                && text.is_char_boundary(t.span.end)
        );
        if let Some(d) = decode_string(text, &t) {
            let r = d.original_span(0..d.text.len());
            assert!(t.span.start <= r.start && r.end <= t.span.end);
        }
        let _ = identifier(text, &t);
    }
    let lookup = |_: &str| Some(text.to_owned());
    let analysis = analyze(text, &lookup);
    let mut at = 0;
    for m in analysis.masks() {
        assert!(at <= m.span.start && m.span.start < m.span.end && m.span.end <= text.len());
        assert!(text.is_char_boundary(m.span.start) && text.is_char_boundary(m.span.end));
        at = m.span.end;
    }
    let _ = analysis.masked(text);
    let _ = mask_quoted_sql(text, &lookup);
    let secret: SecretParams = [(1, "token"), (2, "passphrase")].into_iter().collect();
    let _ = mask_parameter_list(text, &secret);

    let none = |_: &str| None;
    let lit = spell_literal(text, usize::from(form % 3));
    let sql = format!("SELECT han_crypto.unlock('kim', {lit})");
    assert_eq!(
        mask_sql(&sql, &none).as_deref(),
        Some("SELECT han_crypto.unlock('kim', [REDACTED:passphrase])")
    );
    let sql = format!(
        "DO 'BEGIN PERFORM han_crypto.unlock(''kim'', {}); END'",
        lit.replace('\'', "''")
    );
    assert_eq!(
        mask_sql(&sql, &none).as_deref(),
        Some("DO 'BEGIN PERFORM han_crypto.unlock(''kim'', [REDACTED:passphrase]); END'")
    );
});
