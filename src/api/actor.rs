//! Naming the acting principal for the current transaction.

use han_crypto_core::jwt;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::actor::{self, Actor};
use crate::audit;
use crate::error::{HcError, HcResult};
use crate::gucs;

/// Environment variable holding the application's JWT secret.
const JWT_ENV: &str = "HAN_CRYPTO_JWT_SECRET";

fn require_app_role(what: &str) -> HcResult<()> {
    if actor::has_role(c"han_crypto_app") {
        return Ok(());
    }
    Err(HcError::PermissionDenied {
        message: format!("{what} requires the privileges of role han_crypto_app"),
        hint: "GRANT han_crypto_app TO the application's database role.",
    })
}

fn warn_outside_transaction_block(what: &str) {
    // SAFETY: reads backend-local transaction state.
    if !unsafe { pg_sys::IsTransactionBlock() } {
        pgrx::warning!(
            "{what} outside a transaction block lasts only until the end of this statement"
        );
    }
}

/// Names the actor for the rest of this transaction (trusted application
/// roles only: members of han_crypto_app).
#[pg_extern(volatile, parallel_unsafe)]
fn set_actor(
    principal: Option<&str>,
    client_addr: default!(Option<pgrx::Inet>, "NULL"),
) -> Result<(), ErrorReport> {
    if let Err(e) = require_app_role("set_actor()") {
        audit::record(audit::Access::new("set_actor").failure(&e))?;
        return Err(e.into());
    }
    let principal = principal.ok_or(HcError::NullArgument("principal"))?;
    if !is_valid_principal(principal) {
        return Err(HcError::InvalidArgument(PRINCIPAL_RULE.into()).into());
    }
    warn_outside_transaction_block("set_actor()");
    actor::set(Actor {
        principal: principal.to_string(),
        client_addr: client_addr.map(|a| a.0),
        via: "set_actor",
    });
    // Recorded as the actor just named.
    audit::record(audit::Access::new("set_actor").outcome(audit::Outcome::Ok))?;
    Ok(())
}

const PRINCIPAL_RULE: &str =
    "principal must be 1 to 200 characters, none of them control or invisible formatting characters";

/// What any actor's name must be, however it is established: names end up
/// in membership rows, error messages and the server log, where a
/// direction override or a zero-width character would make one principal
/// read as another.
fn is_valid_principal(principal: &str) -> bool {
    let n = principal.chars().count();
    (1..=200).contains(&n)
        && !principal
            .chars()
            .any(|c| c.is_control() || actor::is_invisible_format(c))
}

/// The configured secret, refused (55000) when shorter than HS256 needs:
/// a short or empty secret would let anyone forge tokens.
fn jwt_secret() -> HcResult<zeroize::Zeroizing<Vec<u8>>> {
    let secret = configured_jwt_secret()?;
    if secret.len() < jwt::MIN_SECRET_BYTES {
        return Err(HcError::WeakJwtSecret);
    }
    Ok(secret)
}

fn configured_jwt_secret() -> HcResult<zeroize::Zeroizing<Vec<u8>>> {
    if let Some(v) = std::env::var_os(JWT_ENV) {
        return Ok(zeroize::Zeroizing::new(
            v.to_string_lossy().into_owned().into_bytes(),
        ));
    }
    if let Some(path) = gucs::jwt_secret_file() {
        let text = std::fs::read_to_string(&path).map_err(|e| HcError::RootKeyConfig {
            message: format!("could not read JWT secret file \"{path}\": {}", e.kind()),
            hint: "Check han_crypto.jwt_secret_file and the file's permissions.",
        })?;
        return Ok(zeroize::Zeroizing::new(
            text.trim_end_matches(['\n', '\r']).as_bytes().to_vec(),
        ));
    }
    Err(HcError::NoJwtSecret)
}

/// Verifies an HS256 JWT and makes its principal claim the actor for the
/// rest of this transaction. Returns the principal. Pass the token as a
/// bind parameter.
#[pg_extern(volatile, parallel_unsafe)]
fn authenticate(token: &str) -> Result<String, ErrorReport> {
    match authenticate_inner(token) {
        Ok(principal) => {
            // Recorded as the actor the token named.
            audit::record(audit::Access::new("authenticate").outcome(audit::Outcome::Ok))?;
            Ok(principal)
        }
        Err(e) => {
            // Whatever the cause, a rejected token is a failed
            // authentication (the reason says which).
            let access = audit::Access::new("authenticate")
                .failure(&e)
                .outcome(audit::Outcome::Failed)
                .detail(serde_json::json!({ "reason": rejection_reason(&e) }));
            audit::record(access)?;
            Err(e.into())
        }
    }
}

/// Why a token was refused, in words that never quote it.
fn rejection_reason(e: &HcError) -> &'static str {
    match e {
        HcError::Core(han_crypto_core::Error::Token(why)) => why,
        HcError::NoJwtSecret => "no JWT secret is configured",
        HcError::WeakJwtSecret => "the JWT secret is too short",
        HcError::PermissionDenied { .. } => "the role is not han_crypto_app",
        _ => "refused",
    }
}

fn authenticate_inner(token: &str) -> HcResult<String> {
    require_app_role("authenticate()")?;
    let secret = jwt_secret()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let claim = gucs::jwt_principal_claim();
    let (audience, issuer) = (gucs::jwt_audience(), gucs::jwt_issuer());
    let policy = jwt::Policy {
        now,
        leeway: i64::from(gucs::JWT_LEEWAY.get()),
        principal_claim: &claim,
        max_lifetime: match gucs::JWT_MAX_LIFETIME.get() {
            0 => None,
            s => Some(i64::from(s)),
        },
        audience: audience.as_deref(),
        issuer: issuer.as_deref(),
    };
    let principal = jwt::verify_hs256(token, &secret, &policy).map_err(HcError::from)?;
    if !is_valid_principal(&principal) {
        return Err(HcError::Core(han_crypto_core::Error::Token(
            "the token's principal claim must be 1 to 200 characters, none of them control or invisible formatting characters",
        )));
    }
    warn_outside_transaction_block("authenticate()");
    actor::set(Actor {
        principal: principal.clone(),
        client_addr: None,
        via: "jwt",
    });
    Ok(principal)
}

/// Who is acting: the principal named in this transaction, else current_user.
#[pg_extern(volatile, parallel_unsafe)]
fn current_actor() -> String {
    actor::current()
}

/// The acting principal and how it was established (`role`, `set_actor` or
/// `jwt`), with the client address the application reported.
#[pg_extern(volatile, parallel_unsafe)]
fn actor_info() -> pgrx::JsonB {
    let named = actor::named();
    pgrx::JsonB(serde_json::json!({
        "principal": actor::current(),
        "via": named.as_ref().map(|a| a.via).unwrap_or("role"),
        "client_addr": named.and_then(|a| a.client_addr),
        "database_role": actor::current_role_name(),
    }))
}
