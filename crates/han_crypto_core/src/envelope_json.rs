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

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::aead::{TAG_LEN, XAES_NONCE_LEN};
use crate::envelope::{self, Algorithm, Compression, ContentType, Header, KeyRef, FORMAT_V1};
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

/// Converts a binary envelope to its JSON form (after a full structural parse).
pub fn to_json(bytes: &[u8]) -> Result<Value> {
    let env = envelope::parse(bytes)?;
    let h = &env.header;
    Ok(json!({
        "v": FORMAT_V1,
        "alg": h.algorithm.name(),
        "kid": uuid_to_string(&h.key.keyring_id),
        "kv": h.key.key_version,
        "iv": B64.encode(h.nonce),
        "ct": B64.encode(env.ciphertext),
        "tag": B64.encode(env.tag),
        "meta": meta(h),
    }))
}

fn meta(h: &envelope::Header) -> Value {
    match h.compression {
        Compression::None => json!({ "content": h.content.name() }),
        c => json!({ "content": h.content.name(), "compression": c.name() }),
    }
}

fn bad(field: &str, what: &str) -> Error {
    Error::MalformedJson(format!("field \"{field}\" {what}"))
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a Value> {
    obj.get(name).ok_or_else(|| bad(name, "is missing"))
}

fn str_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    field(obj, name)?
        .as_str()
        .ok_or_else(|| bad(name, "must be a string"))
}

fn u32_field(obj: &Map<String, Value>, name: &str) -> Result<u32> {
    field(obj, name)?
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad(name, "must be an integer from 0 to 4294967295"))
}

fn b64_field(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>> {
    B64.decode(str_field(obj, name)?)
        .map_err(|_| bad(name, "is not valid base64"))
}

fn only_keys(obj: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(_) => Err(Error::MalformedJson(format!("{what} has an unknown key"))),
        None => Ok(()),
    }
}

/// Rebuilds the binary envelope from its JSON form. The result is parsed
/// again before it is returned, so it is exactly as valid as any envelope.
pub fn from_json(value: &Value) -> Result<Vec<u8>> {
    let obj = value
        .as_object()
        .ok_or_else(|| Error::MalformedJson("envelope must be a JSON object".into()))?;
    only_keys(
        obj,
        &["v", "alg", "kid", "kv", "iv", "ct", "tag", "meta"],
        "envelope",
    )?;
    let v = u32_field(obj, "v")?;
    if v != u32::from(FORMAT_V1) {
        return Err(Error::UnsupportedVersion(
            u8::try_from(v).unwrap_or(u8::MAX),
        ));
    }
    let algorithm = Algorithm::from_name(str_field(obj, "alg")?)
        .ok_or_else(|| bad("alg", "names an unsupported algorithm"))?;
    let keyring_id =
        uuid_from_str(str_field(obj, "kid")?).ok_or_else(|| bad("kid", "is not a UUID"))?;
    let key_version = u32_field(obj, "kv")?;
    if key_version == 0 {
        return Err(bad("kv", "must be at least 1"));
    }
    let nonce: [u8; XAES_NONCE_LEN] = b64_field(obj, "iv")?
        .try_into()
        .map_err(|_| bad("iv", "must decode to 24 bytes"))?;
    let ct = b64_field(obj, "ct")?;
    let tag: [u8; TAG_LEN] = b64_field(obj, "tag")?
        .try_into()
        .map_err(|_| bad("tag", "must decode to 16 bytes"))?;
    let meta = field(obj, "meta")?
        .as_object()
        .ok_or_else(|| bad("meta", "must be an object"))?;
    only_keys(meta, &["content", "compression"], "meta")?;
    let content = ContentType::from_name(str_field(meta, "content")?)
        .ok_or_else(|| bad("meta.content", "must be \"bytea\", \"text\" or \"jsonb\""))?;
    let compression = match meta.get("compression") {
        None => Compression::None,
        Some(v) => match v.as_str() {
            Some("none") => Compression::None,
            Some("zstd") => Compression::Zstd,
            _ => return Err(bad("meta.compression", "must be \"zstd\" or \"none\"")),
        },
    };
    let ciphertext_len = u32::try_from(ct.len()).map_err(|_| Error::TooLarge(ct.len()))?;
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
    let mut out = Vec::with_capacity(header.envelope_len());
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(&ct);
    out.extend_from_slice(&tag);
    envelope::parse(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aead::XaesKey;
    use crate::keys::SecretKey;

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
        let j = to_json(&bin).unwrap();
        assert_eq!(j["kid"], "abababab-abab-abab-abab-abababababab");
        assert_eq!(j["kv"], 3);
        assert_eq!(j["meta"]["content"], "jsonb");
        assert_eq!(from_json(&j).unwrap(), bin);
        assert_eq!(to_json(&from_json(&j).unwrap()).unwrap(), j);
    }

    #[test]
    fn strict_reader_names_field_without_value() {
        let mut j = to_json(&sample()).unwrap();
        j["iv"] = json!("SECRETVALUE!!");
        let e = from_json(&j).unwrap_err().to_string();
        assert!(e.contains("\"iv\"") && !e.contains("SECRETVALUE"), "{e}");
        let mut j = to_json(&sample()).unwrap();
        j["extra"] = json!(1);
        assert!(from_json(&j).is_err());
        let mut j = to_json(&sample()).unwrap();
        j.as_object_mut().unwrap().remove("tag");
        assert!(from_json(&j)
            .unwrap_err()
            .to_string()
            .contains("\"tag\" is missing"));
        assert!(from_json(&json!([1, 2])).is_err());
    }
}
