//! The JSON form of an envelope, for interchange and export:
//!
//! ```json
//! {"v": 1, "alg": "XAES-256-GCM", "kid": "<uuid>", "kv": 1,
//!  "iv": "<base64>", "ct": "<base64>", "tag": "<base64>",
//!  "meta": {"content": "text"}}
//! ```
//!
//! Conversion is lossless both ways: `from_json(to_json(b)) == b` for every
//! valid envelope `b`. The reader is strict (unknown keys, wrong types, bad
//! base64 and wrong lengths are errors) so nothing is silently dropped, and
//! its errors name the offending field but never echo its value.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD as B64;
use base64::{DecodeSliceError, Engine};
use serde_json::value::RawValue;

use crate::aead::{TAG_LEN, XAES_NONCE_LEN};
use crate::buffer;
use crate::envelope::{
    self, Algorithm, Compression, ContentType, Header, KeyRef, FORMAT_V1, HEADER_LEN,
};
use crate::json_object::{self, Members};
use crate::{Error, Result};

/// Formats 16 bytes as a lowercase hyphenated UUID.
pub fn uuid_to_string(id: &[u8; 16]) -> String {
    let h = hex::encode(id);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Parses a hyphenated UUID (either case).
pub fn uuid_from_str(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let compact: String = s.chars().filter(|&c| c != '-').collect();
    let mut out = [0u8; 16];
    hex::decode_to_slice(compact, &mut out).ok()?;
    Some(out)
}

/// The JSON text of an envelope (after a full structural parse), built in
/// one buffer reserved up front: the ciphertext's base64 is most of it and
/// can be hundreds of MB.
pub fn to_json(bytes: &[u8]) -> Result<String> {
    let env = envelope::parse(bytes)?;
    let h = &env.header;
    let head = format!(
        r#"{{"v": {}, "alg": "{}", "kid": "{}", "kv": {}, "iv": "{}", "tag": "{}", "meta": {}, "ct": ""#,
        FORMAT_V1,
        h.algorithm.name(),
        uuid_to_string(&h.key.keyring_id),
        h.key.key_version,
        B64.encode(h.nonce),
        B64.encode(env.tag),
        meta(h),
    );
    let ct_len = base64::encoded_len(env.ciphertext.len(), true)
        .ok_or(Error::TooLarge(env.ciphertext.len()))?;
    let mut out = buffer::string_with_capacity(head.len() + ct_len + 2)?;
    out.push_str(&head);
    B64.encode_string(env.ciphertext, &mut out);
    out.push_str("\"}");
    Ok(out)
}

fn meta(h: &envelope::Header) -> String {
    match h.compression {
        Compression::None => format!(r#"{{"content": "{}"}}"#, h.content.name()),
        c => format!(
            r#"{{"content": "{}", "compression": "{}"}}"#,
            h.content.name(),
            c.name()
        ),
    }
}

fn bad(field: &str, what: &str) -> Error {
    Error::MalformedJson(format!("field \"{field}\" {what}"))
}

fn object<'a>(raw: &'a RawValue, what: &str) -> Result<Members<'a>> {
    json_object::members(raw.get())
        .ok_or_else(|| Error::MalformedJson(format!("{what} must be a JSON object")))
}

fn field<'a>(obj: &Members<'a>, name: &str) -> Result<&'a RawValue> {
    obj.get(name)
        .copied()
        .ok_or_else(|| bad(name, "is missing"))
}

fn str_field<'a>(obj: &Members<'a>, name: &str) -> Result<Cow<'a, str>> {
    json_object::string(field(obj, name)?).ok_or_else(|| bad(name, "must be a string"))
}

fn u32_field(obj: &Members<'_>, name: &str) -> Result<u32> {
    serde_json::from_str::<u64>(field(obj, name)?.get())
        .ok()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad(name, "must be an integer from 0 to 4294967295"))
}

fn fixed_b64_field<const N: usize>(obj: &Members<'_>, name: &str) -> Result<[u8; N]> {
    let text = str_field(obj, name)?;
    let mut out = [0u8; N];
    match B64.decode_slice(text.as_bytes(), &mut out) {
        Ok(n) if n == N => Ok(out),
        Ok(_) | Err(DecodeSliceError::OutputSliceTooSmall) => {
            Err(bad(name, &format!("must decode to {N} bytes")))
        }
        Err(_) => Err(bad(name, "is not valid base64")),
    }
}

fn only_keys(obj: &Members<'_>, allowed: &[&str], what: &str) -> Result<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_ref())) {
        Some(_) => Err(Error::MalformedJson(format!("{what} has an unknown key"))),
        None => Ok(()),
    }
}

/// The binary envelope of a JSON text. The ciphertext is decoded straight
/// into the result, reserved fallibly: the text's size is the caller's.
pub fn from_json(text: &str) -> Result<Vec<u8>> {
    let doc: &RawValue = serde_json::from_str(text)
        .map_err(|_| Error::MalformedJson("is not a JSON document han_crypto can read".into()))?;
    let obj = object(doc, "envelope")?;
    only_keys(
        &obj,
        &["v", "alg", "kid", "kv", "iv", "ct", "tag", "meta"],
        "envelope",
    )?;
    let v = u32_field(&obj, "v")?;
    if v != u32::from(FORMAT_V1) {
        return Err(Error::UnsupportedVersion(
            u8::try_from(v).unwrap_or(u8::MAX),
        ));
    }
    let algorithm = Algorithm::from_name(&str_field(&obj, "alg")?)
        .ok_or_else(|| bad("alg", "names an unsupported algorithm"))?;
    let keyring_id =
        uuid_from_str(&str_field(&obj, "kid")?).ok_or_else(|| bad("kid", "is not a UUID"))?;
    let key_version = u32_field(&obj, "kv")?;
    if key_version == 0 {
        return Err(bad("kv", "must be at least 1"));
    }
    let nonce: [u8; XAES_NONCE_LEN] = fixed_b64_field(&obj, "iv")?;
    let ct = str_field(&obj, "ct")?;
    let tag: [u8; TAG_LEN] = fixed_b64_field(&obj, "tag")?;
    let meta = object(field(&obj, "meta")?, "field \"meta\"")?;
    only_keys(&meta, &["content", "compression"], "meta")?;
    let content = ContentType::from_name(&str_field(&meta, "content")?)
        .ok_or_else(|| bad("meta.content", "must be \"bytea\", \"text\" or \"jsonb\""))?;
    let compression = match meta.get("compression") {
        None => Compression::None,
        Some(_) => match str_field(&meta, "compression").as_deref() {
            Ok("none") => Compression::None,
            Ok("zstd") => Compression::Zstd,
            _ => return Err(bad("meta.compression", "must be \"zstd\" or \"none\"")),
        },
    };
    let estimate = base64::decoded_len_estimate(ct.len());
    let mut out = buffer::zeroed(HEADER_LEN + estimate + TAG_LEN)?;
    let ct_len = B64
        .decode_slice(ct.as_bytes(), &mut out[HEADER_LEN..HEADER_LEN + estimate])
        .map_err(|_| bad("ct", "is not valid base64"))?;
    let ciphertext_len = u32::try_from(ct_len).map_err(|_| Error::TooLarge(ct_len))?;
    let header = Header {
        algorithm,
        content,
        key: KeyRef {
            keyring_id,
            key_version,
        },
        ciphertext_len,
        nonce,
        compression,
    };
    out[..HEADER_LEN].copy_from_slice(&header.encode());
    out[HEADER_LEN + ct_len..HEADER_LEN + ct_len + TAG_LEN].copy_from_slice(&tag);
    out.truncate(header.envelope_len());
    envelope::parse(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aead::XaesKey;
    use crate::keys::SecretKey;
    use serde_json::{json, Value};

    fn sample() -> Vec<u8> {
        let key = XaesKey::new(&SecretKey::from_bytes(&[5; 32]).unwrap());
        let kr = KeyRef {
            keyring_id: [0xab; 16],
            key_version: 3,
        };
        envelope::seal(&key, kr, ContentType::Json, br#"{"a": 1}"#, b"ctx").unwrap()
    }

    #[test]
    fn round_trips_both_ways() {
        let bin = sample();
        let text = to_json(&bin).unwrap();
        let j: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(j["kid"], "abababab-abab-abab-abab-abababababab");
        assert_eq!(j["kv"], 3);
        assert_eq!(j["meta"]["content"], "jsonb");
        assert_eq!(from_json(&text).unwrap(), bin);
        assert_eq!(from_json(&j.to_string()).unwrap(), bin);
        assert_eq!(to_json(&from_json(&text).unwrap()).unwrap(), text);
    }

    #[test]
    fn strict_reader_names_field_without_value() {
        let mut j: Value = serde_json::from_str(&to_json(&sample()).unwrap()).unwrap();
        j["iv"] = json!("SECRETVALUE!!");
        let e = from_json(&j.to_string()).unwrap_err().to_string();
        assert!(e.contains("\"iv\"") && !e.contains("SECRETVALUE"), "{e}");
        let mut j: Value = serde_json::from_str(&to_json(&sample()).unwrap()).unwrap();
        j["extra"] = json!(1);
        assert!(from_json(&j.to_string()).is_err());
        let mut j: Value = serde_json::from_str(&to_json(&sample()).unwrap()).unwrap();
        j.as_object_mut().unwrap().remove("tag");
        assert!(from_json(&j.to_string())
            .unwrap_err()
            .to_string()
            .contains("\"tag\" is missing"));
        assert!(from_json("[1, 2]").is_err());
    }

    #[test]
    fn escaped_strings_and_every_length_of_ciphertext_read_back() {
        let key = XaesKey::new(&SecretKey::from_bytes(&[5; 32]).unwrap());
        let kr = KeyRef {
            keyring_id: [1; 16],
            key_version: 1,
        };
        for n in 0..40 {
            let bin = envelope::seal(&key, kr, ContentType::Bytes, &vec![7; n], b"").unwrap();
            let text = to_json(&bin).unwrap();
            assert_eq!(from_json(&text).unwrap(), bin, "{n} bytes");
            // Writers that escape '/' (PHP's json_encode) are read too.
            assert_eq!(from_json(&text.replace('/', "\\/")).unwrap(), bin);
        }
        let mut j: Value = serde_json::from_str(&to_json(&sample()).unwrap()).unwrap();
        j["tag"] = json!("AAAA");
        assert!(from_json(&j.to_string())
            .unwrap_err()
            .to_string()
            .contains("16 bytes"));
        j["tag"] = json!("A".repeat(40));
        assert!(from_json(&j.to_string())
            .unwrap_err()
            .to_string()
            .contains("16 bytes"));
    }
}
