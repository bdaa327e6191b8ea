//! Protected columns: where a value lives, and how its envelope is stored
//! in a column of its own type.
//!
//! Every protected value is bound to its place: the table's binding name
//! (schema-qualified, fixed when the table is protected, stable across dump
//! and restore), the column, the row's keyring and its primary key. The
//! encoding is canonical and unambiguous — a label, then each field with a
//! 32-bit length prefix, a NULL key part marked apart from an empty one — so
//! `("ab", "c")` and `("a", "bc")` can never produce the same bytes.
//!
//! Stored forms keep the column's type so applications insert plain values:
//! `bytea` holds the raw envelope, `text` / `varchar` hold [`TEXT_PREFIX`]
//! followed by base64, `jsonb` holds `{"han_crypto": "<base64>"}`.

// SIMD base64 (the AWS SDK's choice): the stored forms of every protected
// text and jsonb value go through it on each write and read.
use crate::{buffer, json_object, Result};
use base64_simd::STANDARD as B64;

/// Prefix of an envelope stored in a text column.
pub const TEXT_PREFIX: &str = "hc1:";
/// Key of the one-member object an envelope is stored as in jsonb.
pub const JSON_KEY: &str = "han_crypto";

/// Where a protected value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place<'a> {
    /// Schema-qualified table name fixed at protect time.
    pub binding: &'a str,
    /// Column name.
    pub column: &'a str,
    /// Name of the row's keyring.
    pub keyring: &'a str,
    /// Primary-key values in key order, as PostgreSQL prints them.
    pub key: &'a [Option<&'a str>],
}

fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_be_bytes());
    out.extend_from_slice(field);
}

impl Place<'_> {
    /// The canonical context bytes (the envelope's caller context).
    pub fn context(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(64 + self.binding.len() + self.column.len() + self.keyring.len());
        out.extend_from_slice(b"han_crypto/v1/column");
        push_field(&mut out, self.binding.as_bytes());
        push_field(&mut out, self.column.as_bytes());
        push_field(&mut out, self.keyring.as_bytes());
        push_key(&mut out, self.key);
        out
    }
}

/// A primary key in context bytes: its arity, then each part (NULL apart).
fn push_key(out: &mut Vec<u8>, key: &[Option<&str>]) {
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    for part in key {
        match part {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                push_field(out, v.as_bytes());
            }
        }
    }
}

/// The context of a value that redaction removed from the value at `place`
/// and quarantine keeps: the marker's ordinal and type are bound too, so an
/// entry opens only for the marker it was removed at. The row's keyring is
/// not (the entry is sealed under the quarantine keyring, whatever the
/// row's), nor which stored value it came from (a row that moves to
/// another keyring is sealed again; its entries follow it).
pub fn quarantine_context(place: &Place<'_>, ordinal: u32, kind: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + place.binding.len() + place.column.len() + kind.len());
    out.extend_from_slice(b"han_crypto/v1/quarantine");
    push_field(&mut out, place.binding.as_bytes());
    push_field(&mut out, place.column.as_bytes());
    push_key(&mut out, place.key);
    out.extend_from_slice(&ordinal.to_be_bytes());
    push_field(&mut out, kind.as_bytes());
    out
}

/// The text-column form of an envelope.
pub fn encode_text(envelope: &[u8]) -> Result<String> {
    let mut out = buffer::zeroed(text_len(envelope.len()))?;
    encode_text_into(envelope, &mut out);
    Ok(String::from_utf8(out).expect("the prefix and base64 are ASCII"))
}

/// Length in bytes of the text-column form of an envelope of `envelope_len` bytes.
pub fn text_len(envelope_len: usize) -> usize {
    TEXT_PREFIX.len() + B64.encoded_length(envelope_len)
}

/// Writes the text-column form of `envelope` into `out`, which must be
/// exactly [`text_len`] bytes (so callers can fill a database buffer in place).
pub fn encode_text_into(envelope: &[u8], out: &mut [u8]) {
    assert_eq!(out.len(), text_len(envelope.len()), "text form length");
    let (prefix, rest) = out.split_at_mut(TEXT_PREFIX.len());
    prefix.copy_from_slice(TEXT_PREFIX.as_bytes());
    let written = B64
        .encode(envelope, base64_simd::Out::from_slice(rest))
        .len();
    debug_assert_eq!(written, out.len() - TEXT_PREFIX.len());
}

/// The envelope inside a text-column value, if it has the stored form
/// (a structural check only; authenticity is decided by opening it).
/// Only running out of memory is an error; any other value is `Ok(None)`.
pub fn decode_text(value: &str) -> Result<Option<Vec<u8>>> {
    match value.strip_prefix(TEXT_PREFIX) {
        Some(b64) => decode_b64_envelope(b64),
        None => Ok(None),
    }
}

/// The envelope that `b64` encodes, if it encodes one.
fn decode_b64_envelope(b64: &str) -> Result<Option<Vec<u8>>> {
    let Ok(len) = B64.decoded_length(b64.as_bytes()) else {
        return Ok(None);
    };
    let mut bytes = buffer::zeroed(len)?;
    if B64
        .decode(b64.as_bytes(), base64_simd::Out::from_slice(&mut bytes))
        .is_err()
        || crate::envelope::parse(&bytes).is_err()
    {
        return Ok(None);
    }
    Ok(Some(bytes))
}

/// The jsonb-column form of an envelope, as JSON text. One byte beyond it
/// is reserved, so a caller can NUL-terminate it (`CString::new`) without a
/// reallocation, which would be an infallible copy of the whole value.
pub fn encode_json(envelope: &[u8]) -> Result<String> {
    let head = format!("{{\"{JSON_KEY}\": \"");
    let mut out =
        buffer::string_with_capacity(head.len() + B64.encoded_length(envelope.len()) + 2 + 1)?;
    out.push_str(&head);
    B64.encode_append(envelope, &mut out);
    out.push_str("\"}");
    Ok(out)
}

/// The envelope inside a jsonb-column value (given as JSON text), if any.
/// The value's members stay in the given text: nothing as large as the
/// value is copied before its base64 is decoded.
pub fn decode_json(value: &str) -> Result<Option<Vec<u8>>> {
    let b64 = json_object::members(value)
        .filter(|obj| obj.len() == 1)
        .and_then(|obj| json_object::string(obj.get(JSON_KEY)?));
    match b64 {
        Some(b64) => decode_b64_envelope(&b64),
        None => Ok(None),
    }
}

/// Whether a bytea value has the envelope structure.
pub fn is_envelope(value: &[u8]) -> bool {
    crate::envelope::parse(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aead::XaesKey;
    use crate::envelope::{self, ContentType, KeyRef};
    use crate::keys::SecretKey;
    use proptest::prelude::*;

    fn place<'a>(key: &'a [Option<&'a str>]) -> Place<'a> {
        Place {
            binding: "public.sessions",
            column: "prompt",
            keyring: "team_a",
            key,
        }
    }

    #[test]
    fn every_field_changes_the_context() {
        let base = place(&[Some("42")]).context();
        assert_ne!(
            base,
            Place {
                binding: "public.other",
                ..place(&[Some("42")])
            }
            .context()
        );
        assert_ne!(
            base,
            Place {
                column: "summary",
                ..place(&[Some("42")])
            }
            .context()
        );
        assert_ne!(
            base,
            Place {
                keyring: "team_b",
                ..place(&[Some("42")])
            }
            .context()
        );
        assert_ne!(base, place(&[Some("43")]).context());
        assert_ne!(place(&[None]).context(), place(&[Some("")]).context());
        assert_ne!(
            place(&[Some("1"), Some("23")]).context(),
            place(&[Some("12"), Some("3")]).context()
        );
    }

    proptest! {
        #[test]
        fn distinct_places_never_share_a_context(
            a in proptest::collection::vec(proptest::option::of("[a-c]{0,3}"), 0..3),
            b in proptest::collection::vec(proptest::option::of("[a-c]{0,3}"), 0..3),
            c1 in "[a-c]{0,3}", c2 in "[a-c]{0,3}",
        ) {
            let ka: Vec<Option<&str>> = a.iter().map(|o| o.as_deref()).collect();
            let kb: Vec<Option<&str>> = b.iter().map(|o| o.as_deref()).collect();
            let pa = Place { binding: "s.t", column: &c1, keyring: "k", key: &ka };
            let pb = Place { binding: "s.t", column: &c2, keyring: "k", key: &kb };
            prop_assert_eq!(pa == pb, pa.context() == pb.context());
        }
    }

    #[test]
    fn stored_forms_round_trip_and_reject_lookalikes() {
        let key = XaesKey::new(&SecretKey::from_bytes(&[3; 32]).unwrap());
        let env = envelope::seal(
            &key,
            KeyRef {
                keyring_id: [1; 16],
                key_version: 1,
            },
            ContentType::Text,
            b"x",
            b"",
        )
        .unwrap();
        let text = encode_text(&env).unwrap();
        assert_eq!(decode_text(&text).unwrap().unwrap(), env);
        let mut buf = vec![0; text_len(env.len())];
        encode_text_into(&env, &mut buf);
        assert_eq!(buf, text.into_bytes());
        let json = encode_json(&env).unwrap();
        assert!(json.capacity() > json.len(), "room for a NUL terminator");
        assert_eq!(decode_json(&json).unwrap().unwrap(), env);
        let reparsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(decode_json(&reparsed.to_string()).unwrap().unwrap(), env);
        for lookalike in [
            "hc1:not base64!",
            "hc1:aGVsbG8=",
            "hc1:",
            "plain prompt text",
        ] {
            assert_eq!(decode_text(lookalike), Ok(None), "{lookalike}");
        }
        for lookalike in [
            r#"{"han_crypto": "aGVsbG8=", "x": 1}"#,
            r#"{"prompt": "hello"}"#,
            r#"{"han_crypto": 1}"#,
            "[1]",
            "not json",
        ] {
            assert_eq!(decode_json(lookalike), Ok(None), "{lookalike}");
        }
        assert!(is_envelope(&env) && !is_envelope(b"plain"));
    }
}
