//! Keyrings: create, share, and (for passphrase keyrings) unlock.

use han_crypto_core::envelope::KeyRef;
use han_crypto_core::keys::{fill_random, SecretKey};
use han_crypto_core::password::{KdfSpec, SALT_LEN};
use han_crypto_core::wrap::{wrap_key, WrapContext};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{JsonB, Uuid};

use crate::actor;
use crate::audit;
use crate::catalog::{self, KeyringKind};
use crate::error::{HcError, HcResult};
use crate::keyring::{self, Access, PURPOSE_DATA_KEY, PURPOSE_PASSPHRASE, PURPOSE_SECRET};
use crate::root_key;

const MIN_PASSPHRASE_CHARS: usize = 8;

fn check_name(name: &str) -> HcResult<()> {
    if name.is_empty() || name.chars().count() > 200 {
        return Err(HcError::InvalidArgument(
            "keyring name must be 1 to 200 characters".into(),
        ));
    }
    Ok(())
}

fn check_principal(principal: &str) -> HcResult<()> {
    if principal.is_empty() || principal.chars().count() > 200 {
        return Err(HcError::InvalidArgument(
            "principal must be 1 to 200 characters".into(),
        ));
    }
    Ok(())
}

fn salt() -> HcResult<[u8; SALT_LEN]> {
    let mut s = [0u8; SALT_LEN];
    fill_random(&mut s)?;
    Ok(s)
}

/// What a keyring version's key is wrapped under.
enum WrapUnder<'a> {
    /// A key at hand (team/user keyrings: the root key).
    Key(&'a SecretKey),
    /// The key the KDF derives (passphrase keyrings: from the passphrase).
    Derived,
}

/// Runs `spec` over `kdf_input` with a fresh salt (which also measures its
/// cost), wraps `key` for version `version` of keyring `id` with `purpose`,
/// and stores the result with the KDF parameters and cost.
fn store_version(
    id: [u8; 16],
    version: u32,
    spec: &KdfSpec,
    kdf_input: &[u8],
    purpose: &str,
    key: &SecretKey,
    under: WrapUnder<'_>,
) -> HcResult<()> {
    let salt = salt()?;
    let (derived, ms) = keyring::derive_password_key(spec, kdf_input, &salt)?;
    let kek = match under {
        WrapUnder::Key(k) => k,
        WrapUnder::Derived => &derived,
    };
    let ctx = WrapContext {
        purpose,
        keyring_id: id,
        version,
    };
    let wrapped = wrap_key(kek, key, &ctx)?;
    // A team/user version's data key, derived once here and kept wrapped
    // under the root key beside its secret, so that no backend pays the
    // KDF again: whoever can unwrap the secret can derive it anyway.
    let wrapped_data_key = match under {
        WrapUnder::Key(root) => Some(wrap_key(
            root,
            &derived,
            &WrapContext {
                purpose: PURPOSE_DATA_KEY,
                keyring_id: id,
                version,
            },
        )?),
        WrapUnder::Derived => None,
    };
    catalog::put_version(
        &id,
        version,
        &wrapped,
        wrapped_data_key.as_deref(),
        &salt,
        spec.to_json(),
        ms,
    )?;
    Ok(())
}

/// Inserts a keyring whose creator (the current actor) becomes its admin.
fn new_keyring(name: &str, kind: KeyringKind) -> HcResult<([u8; 16], String)> {
    check_name(name)?;
    let creator = actor::current();
    let id = catalog::insert_keyring(name, kind, &creator)?
        .ok_or_else(|| HcError::DuplicateKeyring(name.into()))?;
    catalog::upsert_member(&id, &creator, "admin", &creator)?;
    Ok((id, creator))
}

/// Creates a team or user keyring: version 1 gets a random secret wrapped
/// under the root key; its data key is Argon2id(secret, salt), whose
/// parameters and measured cost are stored with it.
#[pg_extern(volatile, parallel_unsafe)]
fn create_keyring(name: &str, kind: default!(&str, "'team'")) -> Result<Uuid, ErrorReport> {
    audited("create_keyring", name, create_keyring_inner(name, kind))
}

fn create_keyring_inner(name: &str, kind: &str) -> HcResult<Uuid> {
    let kind = match kind {
        "team" => KeyringKind::Team,
        "user" => KeyringKind::User,
        _ => {
            return Err(HcError::InvalidArgument(
                "kind must be 'team' or 'user' (passphrase keyrings: han_crypto.create_passphrase_keyring())".into(),
            ))
        }
    };
    let root = root_key::get()?;
    let (id, _) = new_keyring(name, kind)?;
    let secret = SecretKey::generate().map_err(HcError::from)?;
    let spec = KdfSpec::ARGON2ID_DEFAULT;
    store_version(
        id,
        1,
        &spec,
        secret.expose(),
        PURPOSE_SECRET,
        &secret,
        WrapUnder::Key(&root.key),
    )?;
    Ok(Uuid::from_bytes(id))
}

/// Creates a passphrase keyring: a random data key wrapped under a key
/// derived from the passphrase. The server keeps no usable key at rest; the
/// creator has it unlocked for this session.
#[pg_extern(volatile, parallel_unsafe)]
fn create_passphrase_keyring(
    name: &str,
    passphrase: &str,
    kdf: default!(&str, "'argon2id'"),
) -> Result<Uuid, ErrorReport> {
    audited(
        "create_keyring",
        name,
        create_passphrase_keyring_inner(name, passphrase, kdf),
    )
}

fn create_passphrase_keyring_inner(name: &str, passphrase: &str, kdf: &str) -> HcResult<Uuid> {
    let spec = KdfSpec::by_name(kdf).ok_or_else(|| {
        HcError::InvalidArgument("kdf must be 'argon2id' or 'pbkdf2-sha256'".into())
    })?;
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(HcError::InvalidArgument(format!(
            "passphrase must be at least {MIN_PASSPHRASE_CHARS} characters"
        )));
    }
    let (id, _) = new_keyring(name, KeyringKind::Passphrase)?;
    let data_key = SecretKey::generate().map_err(HcError::from)?;
    store_version(
        id,
        1,
        &spec,
        passphrase.as_bytes(),
        PURPOSE_PASSPHRASE,
        &data_key,
        WrapUnder::Derived,
    )?;
    keyring::remember_unlocked(
        KeyRef {
            keyring_id: id,
            key_version: 1,
        },
        &data_key,
    );
    Ok(Uuid::from_bytes(id))
}

/// Grants `principal` a role on a keyring (reader, writer or admin).
/// Needs keyring admin, or han_crypto_admin.
#[pg_extern(volatile, parallel_unsafe)]
fn grant_access(
    keyring: &str,
    principal: &str,
    role: default!(&str, "'reader'"),
) -> Result<(), ErrorReport> {
    audited("grant", keyring, grant_inner(keyring, principal, role))
}

fn grant_inner(keyring: &str, principal: &str, role: &str) -> HcResult<()> {
    if !matches!(role, "reader" | "writer" | "admin") {
        return Err(HcError::InvalidArgument(
            "role must be 'reader', 'writer' or 'admin'".into(),
        ));
    }
    check_principal(principal)?;
    let ring = keyring::by_name(keyring)?;
    if ring.kind == KeyringKind::Root {
        return Err(HcError::WrongKind {
            keyring: ring.name.clone(),
            expected: "team, user or passphrase",
        });
    }
    keyring::authorize(&ring, Access::Manage)?;
    catalog::upsert_member(&ring.id, principal, role, &actor::current())?;
    Ok(())
}

/// Removes `principal` from a keyring; true if it was a member. Takes effect
/// at the next statement in every session.
#[pg_extern(volatile, parallel_unsafe)]
fn revoke_access(keyring: &str, principal: &str) -> Result<bool, ErrorReport> {
    let result = keyring::by_name(keyring).and_then(|ring| {
        keyring::authorize(&ring, Access::Manage)?;
        catalog::delete_member(&ring.id, principal)
    });
    audited("revoke", keyring, result)
}

/// Records a keyring operation with the outcome of `result`, then passes
/// `result` on. A failure to record fails the call (and rolls back what it
/// wrote): no keyring change goes unrecorded.
fn audited<T>(action: &'static str, keyring: &str, result: HcResult<T>) -> Result<T, ErrorReport> {
    Ok(audit::audited(
        audit::Access::new(action).keyring(keyring),
        result,
    )?)
}

fn passphrase_keyring(name: &str) -> HcResult<std::rc::Rc<catalog::KeyringRow>> {
    let ring = keyring::by_name(name)?;
    if ring.kind != KeyringKind::Passphrase {
        return Err(HcError::WrongKind {
            keyring: ring.name.clone(),
            expected: "passphrase",
        });
    }
    Ok(ring)
}

/// Unlocks a passphrase keyring for the current actor in this session.
/// A wrong passphrase returns false (and is recorded); it raises no error,
/// so no error report can carry the statement. Pass the passphrase as a
/// bind parameter.
#[pg_extern(volatile, parallel_unsafe)]
fn unlock(keyring: &str, passphrase: &str) -> Result<bool, ErrorReport> {
    let opened = passphrase_keyring(keyring).and_then(|ring| {
        keyring::authorize(&ring, Access::Decrypt)?;
        let key =
            keyring::open_passphrase_version(&ring, ring.active_version, passphrase.as_bytes())?;
        Ok((ring, key))
    });
    let (ring, key) = match opened {
        Ok(found) => found,
        Err(e) => return audited("unlock", keyring, Err(e)),
    };
    let outcome = if key.is_some() {
        audit::Outcome::Ok
    } else {
        audit::Outcome::Failed
    };
    audit::record_single(
        audit::Access::new("unlock")
            .keyring(keyring)
            .outcome(outcome),
    )?;
    match key {
        Some(data_key) => {
            keyring::remember_unlocked(
                KeyRef {
                    keyring_id: ring.id,
                    key_version: ring.active_version,
                },
                &data_key,
            );
            Ok(true)
        }
        None => {
            catalog::record_unlock_failure(&ring.id, &ring.name, &actor::current());
            Ok(false)
        }
    }
}

/// Forgets unlocked passphrase keys of the current actor: one keyring, or all.
#[pg_extern(volatile, parallel_unsafe)]
fn lock(keyring: default!(Option<&str>, "NULL")) -> Result<(), ErrorReport> {
    let id = match keyring {
        Some(name) => Some(audited("lock", name, passphrase_keyring(name))?.id),
        None => {
            audit::record_single(audit::Access::new("lock"))?;
            None
        }
    };
    keyring::lock(id);
    Ok(())
}

/// Re-wraps a passphrase keyring's data key under a new passphrase. No data
/// is re-encrypted: the data key stays the same. Needs keyring admin.
#[pg_extern(volatile, parallel_unsafe)]
fn change_passphrase(
    keyring: &str,
    old_passphrase: &str,
    new_passphrase: &str,
) -> Result<(), ErrorReport> {
    audited(
        "change_passphrase",
        keyring,
        change_passphrase_inner(keyring, old_passphrase, new_passphrase),
    )
}

fn change_passphrase_inner(
    keyring: &str,
    old_passphrase: &str,
    new_passphrase: &str,
) -> HcResult<()> {
    let ring = passphrase_keyring(keyring)?;
    keyring::authorize(&ring, Access::Manage)?;
    if new_passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(HcError::InvalidArgument(format!(
            "passphrase must be at least {MIN_PASSPHRASE_CHARS} characters"
        )));
    }
    let version = ring.active_version;
    let Some(data_key) =
        keyring::open_passphrase_version(&ring, version, old_passphrase.as_bytes())?
    else {
        catalog::record_unlock_failure(&ring.id, &ring.name, &actor::current());
        return Err(HcError::PassphraseIncorrect(ring.name.clone()));
    };
    let stored =
        catalog::version_row(&ring.id, version).ok_or_else(|| HcError::UnknownKeyVersion {
            keyring: ring.name.clone(),
            version,
        })?;
    let spec = KdfSpec::from_json(&stored.kdf).map_err(HcError::from)?;
    store_version(
        ring.id,
        version,
        &spec,
        new_passphrase.as_bytes(),
        PURPOSE_PASSPHRASE,
        &data_key,
        WrapUnder::Derived,
    )?;
    Ok(())
}

/// This backend's key cache: derivations, hits, sizes and lifetimes.
#[pg_extern(volatile, parallel_unsafe)]
fn key_cache_stats() -> JsonB {
    JsonB(keyring::stats())
}
