//! HS256 JSON Web Token verification (RFC 7519 / RFC 7515), for applications
//! that authenticate their users with a JWT and connect with one role.
//!
//! Deliberately narrow: the only accepted algorithm is HS256 (so `none`,
//! RS256-with-the-HMAC-secret confusion and friends are refused before
//! anything else), the signature is checked in constant time before the
//! payload is even parsed, `exp` is required, `nbf` is honoured, and unknown
//! critical header parameters are refused. Errors name the reason, never
//! the token or a claim value.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use ring::hmac;
use serde_json::Value;

use crate::{Error, Result};

/// What a valid token must satisfy besides its signature.
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    /// Current time, seconds since the Unix epoch.
    pub now: i64,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway: i64,
    /// Claim naming the principal (`sub` by default).
    pub principal_claim: &'a str,
    /// Longest lifetime accepted, in seconds: `exp` may lie at most this far
    /// ahead of now (and of `iat`, when present). `None`: no limit.
    pub max_lifetime: Option<i64>,
    /// When set, `aud` must be this string or an array containing it.
    pub audience: Option<&'a str>,
    /// When set, `iss` must equal it.
    pub issuer: Option<&'a str>,
}

/// Shortest HS256 secret accepted: RFC 7518 §3.2 requires a key at least
/// as long as the hash output (256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

fn decode_json(part: &str, what: &'static str) -> Result<Value> {
    let bytes = B64URL.decode(part).map_err(|_| Error::Token(what))?;
    serde_json::from_slice(&bytes).map_err(|_| Error::Token(what))
}

fn time_claim(payload: &Value, name: &str) -> Result<Option<i64>> {
    match payload.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(Error::Token("JWT time claim is not a number")),
    }
}

/// Verifies an HS256 token with `secret` and returns the principal.
pub fn verify_hs256(token: &str, secret: &[u8], policy: &Policy<'_>) -> Result<String> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(Error::Token("JWT secret is shorter than 32 bytes"));
    }
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Token("JWT must have three dot-separated parts"));
    };
    let header = decode_json(h, "JWT header is not base64url-encoded JSON")?;
    match header.get("alg").and_then(Value::as_str) {
        Some("HS256") => {}
        Some("none") | Some("None") | Some("NONE") => {
            return Err(Error::Token("JWT algorithm \"none\" is not accepted"))
        }
        _ => return Err(Error::Token("JWT algorithm is not HS256")),
    }
    if header.get("crit").is_some() {
        return Err(Error::Token(
            "JWT has critical header parameters this verifier does not support",
        ));
    }
    let signature = B64URL
        .decode(s)
        .map_err(|_| Error::Token("JWT signature is not base64url"))?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let signed = &token.trim()[..h.len() + 1 + p.len()];
    hmac::verify(&key, signed.as_bytes(), &signature)
        .map_err(|_| Error::Token("JWT signature is invalid"))?;

    let payload = decode_json(p, "JWT payload is not base64url-encoded JSON")?;
    if !payload.is_object() {
        return Err(Error::Token("JWT payload is not a JSON object"));
    }
    let exp = time_claim(&payload, "exp")?.ok_or(Error::Token("JWT has no \"exp\" claim"))?;
    if policy.now >= exp.saturating_add(policy.leeway) {
        return Err(Error::Token("JWT has expired"));
    }
    if let Some(nbf) = time_claim(&payload, "nbf")? {
        if policy.now.saturating_add(policy.leeway) < nbf {
            return Err(Error::Token("JWT is not valid yet (nbf)"));
        }
    }
    let iat = time_claim(&payload, "iat")?;
    if iat.is_some_and(|iat| iat > policy.now.saturating_add(policy.leeway)) {
        return Err(Error::Token("JWT is issued in the future (iat)"));
    }
    if let Some(max) = policy.max_lifetime {
        let from = iat.unwrap_or(policy.now).min(policy.now);
        if exp.saturating_sub(from) > max.saturating_add(policy.leeway) {
            return Err(Error::Token("JWT lifetime exceeds the configured maximum"));
        }
    }
    if let Some(aud) = policy.audience {
        let ok = match payload.get("aud") {
            Some(Value::String(a)) => a == aud,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(aud)),
            _ => false,
        };
        if !ok {
            return Err(Error::Token("JWT audience (aud) is not the configured one"));
        }
    }
    if let Some(iss) = policy.issuer {
        if payload.get("iss").and_then(Value::as_str) != Some(iss) {
            return Err(Error::Token("JWT issuer (iss) is not the configured one"));
        }
    }
    match payload.get(policy.principal_claim) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(Error::Token(
            "JWT principal claim is not a non-empty string",
        )),
        None => Err(Error::Token("JWT lacks the configured principal claim")),
    }
}

/// Builds an HS256 token (for tests and tooling; the server only verifies).
pub fn sign_hs256(header: &Value, payload: &Value, secret: &[u8]) -> String {
    let h = B64URL.encode(header.to_string());
    let p = B64URL.encode(payload.to_string());
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let sig = hmac::sign(&key, format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", B64URL.encode(sig.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"app-jwt-secret-used-by-the-platform";
    fn policy() -> Policy<'static> {
        Policy {
            now: 1_800_000_000,
            leeway: 0,
            principal_claim: "sub",
            max_lifetime: None,
            audience: None,
            issuer: None,
        }
    }
    fn hs256() -> Value {
        json!({"alg": "HS256", "typ": "JWT"})
    }

    #[test]
    fn valid_token_yields_principal() {
        let t = sign_hs256(
            &hs256(),
            &json!({"sub": "user-42", "exp": 1_800_000_100}),
            SECRET,
        );
        assert_eq!(verify_hs256(&t, SECRET, &policy()).unwrap(), "user-42");
        let custom = Policy {
            principal_claim: "email",
            ..policy()
        };
        let t = sign_hs256(
            &hs256(),
            &json!({"email": "a@b.c", "exp": 1_800_000_100}),
            SECRET,
        );
        assert_eq!(verify_hs256(&t, SECRET, &custom).unwrap(), "a@b.c");
    }

    #[test]
    fn forged_expired_none_and_early_tokens_are_refused() {
        let claims = json!({"sub": "user-42", "exp": 1_800_000_100});
        let wrong_key = sign_hs256(&hs256(), &claims, b"another secret");
        assert_eq!(
            verify_hs256(&wrong_key, SECRET, &policy()).unwrap_err(),
            Error::Token("JWT signature is invalid")
        );
        // Payload swapped under a valid signature.
        let good = sign_hs256(&hs256(), &claims, SECRET);
        let other = sign_hs256(
            &hs256(),
            &json!({"sub": "admin", "exp": 1_800_000_100}),
            SECRET,
        );
        let parts: Vec<&str> = good.split('.').collect();
        let other_payload = other.split('.').nth(1).unwrap();
        let forged = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
        assert!(verify_hs256(&forged, SECRET, &policy()).is_err());
        let none = format!(
            "{}.{}.",
            B64URL.encode(r#"{"alg":"none"}"#),
            B64URL.encode(claims.to_string())
        );
        assert_eq!(
            verify_hs256(&none, SECRET, &policy()).unwrap_err(),
            Error::Token("JWT algorithm \"none\" is not accepted")
        );
        let rs = sign_hs256(&json!({"alg": "RS256"}), &claims, SECRET);
        assert_eq!(
            verify_hs256(&rs, SECRET, &policy()).unwrap_err(),
            Error::Token("JWT algorithm is not HS256")
        );
        let expired = sign_hs256(&hs256(), &json!({"sub": "u", "exp": 1_799_999_999}), SECRET);
        assert_eq!(
            verify_hs256(&expired, SECRET, &policy()).unwrap_err(),
            Error::Token("JWT has expired")
        );
        let no_exp = sign_hs256(&hs256(), &json!({"sub": "u"}), SECRET);
        assert!(verify_hs256(&no_exp, SECRET, &policy()).is_err());
        let early = sign_hs256(
            &hs256(),
            &json!({"sub": "u", "exp": 1_900_000_000, "nbf": 1_800_000_500}),
            SECRET,
        );
        assert_eq!(
            verify_hs256(&early, SECRET, &policy()).unwrap_err(),
            Error::Token("JWT is not valid yet (nbf)")
        );
        let crit = sign_hs256(&json!({"alg": "HS256", "crit": ["b64"]}), &claims, SECRET);
        assert!(verify_hs256(&crit, SECRET, &policy()).is_err());
        for junk in ["", "a.b", "a.b.c.d", "!!!.???.***"] {
            assert!(verify_hs256(junk, SECRET, &policy()).is_err());
        }
    }

    #[test]
    fn short_secrets_never_authenticate() {
        let claims = json!({"sub": "user-42", "exp": 1_800_000_100});
        for secret in [&b""[..], b"x", &[0u8; 31]] {
            let t = sign_hs256(&hs256(), &claims, secret);
            assert_eq!(
                verify_hs256(&t, secret, &policy()).unwrap_err(),
                Error::Token("JWT secret is shorter than 32 bytes")
            );
        }
    }

    #[test]
    fn far_future_expiry_and_future_iat_are_refused_under_a_maximum_lifetime() {
        let p = Policy {
            max_lifetime: Some(3600),
            ..policy()
        };
        let ok = sign_hs256(&hs256(), &json!({"sub": "u", "exp": 1_800_003_000}), SECRET);
        assert_eq!(verify_hs256(&ok, SECRET, &p).unwrap(), "u");
        let forever = sign_hs256(
            &hs256(),
            &json!({"sub": "u", "exp": 4_000_000_000i64}),
            SECRET,
        );
        assert_eq!(
            verify_hs256(&forever, SECRET, &p).unwrap_err(),
            Error::Token("JWT lifetime exceeds the configured maximum")
        );
        // Issued long ago with a long life: counted from iat.
        let long = sign_hs256(
            &hs256(),
            &json!({"sub": "u", "iat": 1_790_000_000, "exp": 1_800_000_100}),
            SECRET,
        );
        assert!(verify_hs256(&long, SECRET, &p).is_err());
        let future_iat = sign_hs256(
            &hs256(),
            &json!({"sub": "u", "iat": 1_800_000_500, "exp": 1_800_001_000}),
            SECRET,
        );
        assert_eq!(
            verify_hs256(&future_iat, SECRET, &p).unwrap_err(),
            Error::Token("JWT is issued in the future (iat)")
        );
    }

    #[test]
    fn tokens_for_another_audience_or_issuer_are_refused() {
        let p = Policy {
            audience: Some("sessions-api"),
            issuer: Some("https://auth.example"),
            ..policy()
        };
        let good = json!({"sub": "u", "exp": 1_800_000_100, "aud": ["x", "sessions-api"], "iss": "https://auth.example"});
        assert_eq!(
            verify_hs256(&sign_hs256(&hs256(), &good, SECRET), SECRET, &p).unwrap(),
            "u"
        );
        for bad in [
            json!({"sub": "u", "exp": 1_800_000_100, "iss": "https://auth.example"}),
            json!({"sub": "u", "exp": 1_800_000_100, "aud": "other", "iss": "https://auth.example"}),
            json!({"sub": "u", "exp": 1_800_000_100, "aud": "sessions-api"}),
            json!({"sub": "u", "exp": 1_800_000_100, "aud": "sessions-api", "iss": "https://evil.example"}),
        ] {
            assert!(
                verify_hs256(&sign_hs256(&hs256(), &bad, SECRET), SECRET, &p).is_err(),
                "{bad}"
            );
        }
    }
}
