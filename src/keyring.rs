//! Keyrings, who may use them, and their keys — cached per backend.
//!
//! * Keyring rows and memberships are looked up once and cached. Any change
//!   to them (create, grant, revoke, passphrase change) queues a relcache
//!   invalidation on the catalog table (catalog::changed); every backend's
//!   callback below then drops all caches, so a revocation takes effect at
//!   the next statement everywhere, also in sessions that already used the key.
//! * Keys are cached in zeroizing memory (`XaesKey` wipes its AES key
//!   schedule on drop), bounded in number (han_crypto.key_cache_size) and
//!   age (han_crypto.key_cache_lifetime). A team/user version's Argon2id
//!   runs once, when it is created; backends unwrap the stored result (one
//!   AES-GCM operation), never per row and never per backend.
//! * Unlocked passphrase keys belong to the actor who unlocked them, for
//!   han_crypto.unlock_lifetime: another application user served by the same
//!   pooled backend cannot use them.
//! * Rows created lazily by this backend (the default keyring, the root
//!   key-check value) are cached before their transaction commits; if it or a
//!   subtransaction aborts they vanish, so the caches are dropped then too.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use han_crypto_core::aead::XaesKey;
use han_crypto_core::envelope::KeyRef;
use han_crypto_core::envelope_json::uuid_to_string;
use han_crypto_core::kdf::derive_keyring_key;
use han_crypto_core::keys::SecretKey;
use han_crypto_core::password::{KdfLimits, KdfSpec};
use han_crypto_core::wrap::{unwrap_key, WrapContext};
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::catalog::{self, KeyringKind, KeyringRow};
use crate::error::{HcError, HcResult};
use crate::{actor, gucs, root_key};

/// Name of the keyring used when a call names none.
pub const DEFAULT_KEYRING: &str = "default";
/// Wrap purpose of a team/user keyring's secret (under the root key).
pub const PURPOSE_SECRET: &str = "keyring-secret";
/// Wrap purpose of a team/user keyring's data key (the KDF's output from its
/// secret, under the root key).
pub const PURPOSE_DATA_KEY: &str = "keyring-data-key";
/// Wrap purpose of a passphrase keyring's data key (under the passphrase key).
pub const PURPOSE_PASSPHRASE: &str = "passphrase-data-key";
const MEMBERSHIP_CACHE_MAX: usize = 4096;

/// What a caller wants to do with a keyring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Decrypt,
    Encrypt,
    Manage,
}

/// (keyring id, principal) → the principal's role, if any.
type MembershipKey = ([u8; 16], String);
type KeyringIdBytes = [u8; 16];

struct Cached {
    key: Rc<XaesKey>,
    at: Instant,
}

#[derive(Default)]
struct Stats {
    /// Password-KDF runs for a key this backend needed (legacy versions).
    derivations: u64,
    /// Keys made ready for use (unwrapped, derived from the root key, or derived).
    loads: u64,
    hits: u64,
}

thread_local! {
    static BY_NAME: RefCell<HashMap<String, Rc<KeyringRow>>> = RefCell::new(HashMap::new());
    static BY_ID: RefCell<HashMap<[u8; 16], Rc<KeyringRow>>> = RefCell::new(HashMap::new());
    static MEMBERSHIP: RefCell<HashMap<MembershipKey, Option<String>>> = RefCell::new(HashMap::new());
    /// The last membership answered: rows of one statement ask the same.
    static LAST_ROLE: RefCell<Option<(KeyringIdBytes, String, Option<String>)>> = const { RefCell::new(None) };
    static KEYS: RefCell<HashMap<KeyRef, Cached>> = RefCell::new(HashMap::new());
    static UNLOCKED: RefCell<HashMap<(KeyRef, String), Cached>> = RefCell::new(HashMap::new());
    static STATS: RefCell<Stats> = RefCell::new(Stats::default());
    static UNCOMMITTED_WRITE: Cell<bool> = const { Cell::new(false) };
    static CALLBACKS: Cell<bool> = const { Cell::new(false) };
}

/// How many keys this backend has derived (each one is then cached).
#[cfg_attr(not(feature = "pg_test"), allow(dead_code))]
pub fn derivations() -> u64 {
    STATS.with(|s| s.borrow().derivations)
}

/// How many keys this backend has made ready for use (each is then cached).
#[cfg_attr(not(feature = "pg_test"), allow(dead_code))]
pub fn loads() -> u64 {
    STATS.with(|s| s.borrow().loads)
}

/// Cache figures for han_crypto.key_cache_stats().
pub fn stats() -> serde_json::Value {
    let (derivations, loads, hits) =
        STATS.with(|s| (s.borrow().derivations, s.borrow().loads, s.borrow().hits));
    serde_json::json!({
        "derivations": derivations,
        "key_loads": loads,
        "cache_hits": hits,
        "cached_keys": KEYS.with(|m| m.borrow().len()),
        "unlocked": UNLOCKED.with(|m| m.borrow().len()),
        "cached_memberships": MEMBERSHIP.with(|m| m.borrow().len()),
        "max_cached_keys": gucs::KEY_CACHE_SIZE.get(),
        "key_lifetime_s": gucs::KEY_CACHE_LIFETIME.get(),
        "unlock_lifetime_s": gucs::UNLOCK_LIFETIME.get(),
    })
}

fn remember(row: KeyringRow) -> Rc<KeyringRow> {
    let row = Rc::new(row);
    BY_NAME.with(|m| m.borrow_mut().insert(row.name.clone(), row.clone()));
    BY_ID.with(|m| m.borrow_mut().insert(row.id, row.clone()));
    row
}

/// The keyring called `name`; `default` is created on first use.
pub fn by_name(name: &str) -> HcResult<Rc<KeyringRow>> {
    if let Some(row) = BY_NAME.with(|m| m.borrow().get(name).cloned()) {
        return Ok(row);
    }
    let row = match catalog::keyring_by_name(name) {
        Some(row) => row,
        None if name == DEFAULT_KEYRING => catalog::ensure_default_keyring()?
            .ok_or_else(|| HcError::UnknownKeyring(name.to_string()))?,
        None => return Err(HcError::UnknownKeyring(name.to_string())),
    };
    Ok(remember(row))
}

/// The keyring with id `id` (as named inside an envelope).
pub fn by_id(id: &[u8; 16]) -> HcResult<Rc<KeyringRow>> {
    if let Some(row) = BY_ID.with(|m| m.borrow().get(id).cloned()) {
        return Ok(row);
    }
    catalog::keyring_by_id(id)
        .map(remember)
        .ok_or_else(|| HcError::UnknownKeyringId(uuid_to_string(id)))
}

/// The role the current actor holds in `ring`, if any (cached).
pub fn role_of(ring: &KeyringRow, principal: &str) -> Option<String> {
    if let Some(role) = LAST_ROLE.with(|l| {
        l.borrow()
            .as_ref()
            .filter(|(id, p, _)| *id == ring.id && p == principal)
            .map(|(_, _, r)| r.clone())
    }) {
        return role;
    }
    let cache_key = (ring.id, principal.to_string());
    if let Some(role) = MEMBERSHIP.with(|m| m.borrow().get(&cache_key).cloned()) {
        LAST_ROLE.with(|l| *l.borrow_mut() = Some((ring.id, principal.to_string(), role.clone())));
        return role;
    }
    let role = catalog::member_role(&ring.id, principal);
    MEMBERSHIP.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MEMBERSHIP_CACHE_MAX {
            m.clear();
        }
        m.insert(cache_key, role.clone());
    });
    role
}

/// Checks the current actor may use `ring` for `access`. The `default`
/// (root-derived) keyring is open to every role allowed to call the function.
/// Managing any keyring is also open to roles with han_crypto_admin.
pub fn authorize(ring: &KeyringRow, access: Access) -> HcResult<()> {
    // PostgreSQL reads invalidations when a statement locks a relation; a
    // statement that locks none (SELECT decrypt($1) inside a transaction)
    // would act on memberships revoked since. Reading the queue is one
    // shared-counter check when it is empty.
    // SAFETY: callable anywhere inside a transaction; the callbacks it runs
    // only clear backend-local caches.
    unsafe { pg_sys::AcceptInvalidationMessages() };
    if access == Access::Manage && actor::has_role(c"han_crypto_admin") {
        return Ok(());
    }
    if ring.kind == KeyringKind::Root && access != Access::Manage {
        return Ok(());
    }
    let principal = actor::current();
    let role = role_of(ring, &principal);
    let allowed = matches!(
        (role.as_deref(), access),
        (Some(_), Access::Decrypt)
            | (Some("writer" | "admin"), Access::Encrypt)
            | (Some("admin"), Access::Manage)
    );
    if allowed {
        Ok(())
    } else {
        // Revoked (or never a member): whatever it unlocked is wiped now.
        // A member denied a stronger access (a reader encrypting) keeps it.
        if role.is_none() {
            UNLOCKED.with(|m| {
                m.try_borrow_mut()
                    .map(|mut m| m.retain(|(k, p), _| k.keyring_id != ring.id || *p != principal))
                    .ok()
            });
        }
        Err(HcError::NotAllowed {
            keyring: ring.name.clone(),
            principal,
            access,
        })
    }
}

/// The cached key under `k` if younger than `lifetime_s`; an expired entry
/// is removed (and its key wiped when the last reference drops).
fn take_fresh<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Cached>,
    k: &K,
    lifetime_s: i32,
) -> Option<Rc<XaesKey>> {
    let entry = map.get(k)?;
    if entry.at.elapsed() < Duration::from_secs(lifetime_s.max(1) as u64) {
        return Some(entry.key.clone());
    }
    map.remove(k);
    None
}

fn cache_key(key_ref: KeyRef, key: Rc<XaesKey>) {
    KEYS.with(|m| {
        let mut m = m.borrow_mut();
        let max = gucs::KEY_CACHE_SIZE.get().max(1) as usize;
        while m.len() >= max {
            // Evict the oldest entry.
            let oldest = m.iter().min_by_key(|(_, c)| c.at).map(|(k, _)| *k);
            match oldest {
                Some(k) => m.remove(&k),
                None => break,
            };
        }
        m.insert(
            key_ref,
            Cached {
                key,
                at: Instant::now(),
            },
        );
    });
}

/// The key for `key_ref`, derived on first use in this backend. Does not
/// check membership: callers go through [`encryption_key`] or [`decryption_key`].
fn key(ring: &KeyringRow, key_ref: KeyRef) -> HcResult<Rc<XaesKey>> {
    if key_ref.key_version == 0 || key_ref.key_version > ring.active_version {
        return Err(HcError::UnknownKeyVersion {
            keyring: ring.name.clone(),
            version: key_ref.key_version,
        });
    }
    if ring.kind == KeyringKind::Passphrase {
        let principal = actor::current();
        let hit = UNLOCKED.with(|m| {
            take_fresh(
                &mut m.borrow_mut(),
                &(key_ref, principal),
                gucs::UNLOCK_LIFETIME.get(),
            )
        });
        return hit.ok_or_else(|| HcError::KeyringLocked(ring.name.clone()));
    }
    let hit = KEYS.with(|m| {
        take_fresh(
            &mut m.borrow_mut(),
            &key_ref,
            gucs::KEY_CACHE_LIFETIME.get(),
        )
    });
    if let Some(k) = hit {
        STATS.with(|s| s.borrow_mut().hits += 1);
        return Ok(k);
    }
    let root = root_key::get()?;
    let derived = match ring.kind {
        KeyringKind::Root => {
            derive_keyring_key(&root.key, &key_ref.keyring_id, key_ref.key_version)
        }
        _ => {
            let v = catalog::version_row(&key_ref.keyring_id, key_ref.key_version).ok_or_else(
                || HcError::UnknownKeyVersion {
                    keyring: ring.name.clone(),
                    version: key_ref.key_version,
                },
            )?;
            if v.state == "retired" {
                return Err(HcError::RetiredKeyVersion {
                    keyring: ring.name.clone(),
                    version: key_ref.key_version,
                });
            }
            let ctx = |purpose| WrapContext {
                purpose,
                keyring_id: key_ref.keyring_id,
                version: key_ref.key_version,
            };
            let corrupt = |_| HcError::CorruptKeyring(ring.name.clone());
            match &v.wrapped_data_key {
                // Derived when the version was created: an unwrap, no KDF.
                Some(w) => unwrap_key(&root.key, w, &ctx(PURPOSE_DATA_KEY)).map_err(corrupt)?,
                // A version stored without it: derive from its secret.
                None => {
                    let secret = unwrap_key(&root.key, &v.wrapped_key, &ctx(PURPOSE_SECRET))
                        .map_err(corrupt)?;
                    let spec = KdfSpec::from_json(&v.kdf)?;
                    STATS.with(|s| s.borrow_mut().derivations += 1);
                    derive_password_key(&spec, secret.expose(), &v.salt)?.0
                }
            }
        }
    };
    let k = Rc::new(XaesKey::new(&derived));
    STATS.with(|s| s.borrow_mut().loads += 1);
    cache_key(key_ref, k.clone());
    Ok(k)
}

/// The KDF ceilings in force (han_crypto.kdf_max_memory).
pub fn kdf_limits() -> KdfLimits {
    KdfLimits {
        argon2_max_m_kib: gucs::KDF_MAX_MEMORY.get().max(0) as u32,
        ..KdfLimits::default()
    }
}

/// Runs a password KDF under the cluster-wide concurrency limit
/// (kdf_slots), honouring query cancel before and after (Argon2 itself
/// cannot be interrupted, so its cost is bounded by the policy instead).
/// Returns the key and the milliseconds it took.
pub fn derive_password_key(
    spec: &KdfSpec,
    password: &[u8],
    salt: &[u8],
) -> HcResult<(SecretKey, f32)> {
    let limits = kdf_limits();
    spec.check(&limits)?;
    check_for_interrupts!();
    let slot = crate::kdf_slots::acquire(&actor::current())?;
    let started = Instant::now();
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    spec.derive(password, salt, &limits, &mut out[..])?;
    let ms = started.elapsed().as_secs_f32() * 1000.0;
    drop(slot);
    check_for_interrupts!();
    Ok((SecretKey::from_bytes(&out[..])?, ms))
}

/// The key of `key_ref` without a membership check, for the protection
/// trigger's authenticity test of a value written into a row (it learns only
/// whether the value is sealed for that row, never its plaintext).
pub fn key_for_check(ring: &KeyringRow, key_ref: KeyRef) -> HcResult<Rc<XaesKey>> {
    key(ring, key_ref)
}

/// The key new values of keyring `name` are sealed with, for the current actor.
pub fn encryption_key(name: &str) -> HcResult<(KeyRef, Rc<XaesKey>)> {
    let ring = by_name(name)?;
    authorize(&ring, Access::Encrypt)?;
    let key_ref = KeyRef {
        keyring_id: ring.id,
        key_version: ring.active_version,
    };
    Ok((key_ref, key(&ring, key_ref)?))
}

/// Keyring `name`, if values can be deposited into it (see [`deposit_key`]).
pub fn depositable(name: &str) -> HcResult<Rc<KeyringRow>> {
    let ring = by_name(name)?;
    if !matches!(ring.kind, KeyringKind::Team | KeyringKind::User) {
        return Err(HcError::WrongKind {
            keyring: ring.name.clone(),
            expected: "team or user",
        });
    }
    Ok(ring)
}

/// The active key of keyring `name`, for sealing a value that only the
/// keyring's members will read (quarantine), with no membership check:
/// depositing grants no reading. Team and user keyrings only: a root
/// keyring is readable by every role, and a passphrase keyring's key is
/// not at hand for a writer who has not unlocked it.
pub fn deposit_key(name: &str) -> HcResult<(KeyRef, Rc<XaesKey>)> {
    let ring = depositable(name)?;
    let key_ref = KeyRef {
        keyring_id: ring.id,
        key_version: ring.active_version,
    };
    Ok((key_ref, key(&ring, key_ref)?))
}

/// Records `action` on the key an envelope names, with the outcome of
/// `result`. An Err means nothing the key opened may be returned.
pub fn audit_key_use(
    action: &'static str,
    key_ref: KeyRef,
    result: Result<(), &HcError>,
) -> HcResult<()> {
    let name = by_id(&key_ref.keyring_id)
        .map(|r| r.name.clone())
        .unwrap_or_else(|_| uuid_to_string(&key_ref.keyring_id));
    let access = crate::audit::Access::new(action)
        .keyring(name)
        .key_version(key_ref.key_version);
    crate::audit::record(match result {
        Ok(()) => access.outcome(crate::audit::Outcome::Ok),
        Err(e) => access.failure(e),
    })
}

/// The key an envelope names, for the current actor.
pub fn decryption_key(key_ref: KeyRef) -> HcResult<Rc<XaesKey>> {
    let ring = by_id(&key_ref.keyring_id)?;
    authorize(&ring, Access::Decrypt)?;
    key(&ring, key_ref)
}

/// Unlocks a passphrase keyring version for the current actor with its data key.
pub fn remember_unlocked(key_ref: KeyRef, data_key: &SecretKey) {
    let principal = actor::current();
    UNLOCKED.with(|m| {
        m.borrow_mut().insert(
            (key_ref, principal),
            Cached {
                key: Rc::new(XaesKey::new(data_key)),
                at: Instant::now(),
            },
        )
    });
}

/// Locks passphrase keyrings for the current actor: one, or all.
pub fn lock(keyring_id: Option<[u8; 16]>) {
    let principal = actor::current();
    UNLOCKED.with(|m| {
        m.borrow_mut().retain(|(k, p), _| {
            !(p == &principal && keyring_id.is_none_or(|id| id == k.keyring_id))
        })
    });
}

/// Unwraps a passphrase keyring's data key with `passphrase`; `Ok(None)` if
/// the passphrase is wrong.
pub fn open_passphrase_version(
    ring: &KeyringRow,
    version: u32,
    passphrase: &[u8],
) -> HcResult<Option<SecretKey>> {
    let v = catalog::version_row(&ring.id, version).ok_or_else(|| HcError::UnknownKeyVersion {
        keyring: ring.name.clone(),
        version,
    })?;
    let spec = KdfSpec::from_json(&v.kdf)?;
    let (kek, _) = derive_password_key(&spec, passphrase, &v.salt)?;
    let ctx = WrapContext {
        purpose: PURPOSE_PASSPHRASE,
        keyring_id: ring.id,
        version,
    };
    Ok(unwrap_key(&kek, &v.wrapped_key, &ctx).ok())
}

/// Drops keyring rows and memberships (they are re-read on next use).
fn forget_catalog_rows() {
    BY_NAME.with(|m| m.try_borrow_mut().map(|mut m| m.clear()).ok());
    BY_ID.with(|m| m.try_borrow_mut().map(|mut m| m.clear()).ok());
    MEMBERSHIP.with(|m| m.try_borrow_mut().map(|mut m| m.clear()).ok());
    LAST_ROLE.with(|l| l.try_borrow_mut().map(|mut l| *l = None).ok());
}

/// Drops rows, memberships, derived keys and the root key. Unlocked
/// passphrase keys stay: they belong to the actors who unlocked them, every
/// use is authorized afresh against the re-read memberships, and a denied
/// actor's keys are dropped then ([`authorize`]). Dropping them here would
/// let anyone who can change the catalog (a keyring admin revoking someone
/// from their own keyring) lock every passphrase keyring in every session.
fn forget_everything() {
    forget_catalog_rows();
    KEYS.with(|m| m.try_borrow_mut().map(|mut m| m.clear()).ok());
    root_key::forget();
}

/// Drops every cache, as a fresh backend would start (tests only).
#[cfg(any(test, feature = "pg_test"))]
pub fn forget_for_tests() {
    forget_everything();
    UNLOCKED.with(|m| m.try_borrow_mut().map(|mut m| m.clear()).ok());
}

/// Called after this backend inserted catalog rows in the current transaction.
pub fn note_catalog_write() {
    UNCOMMITTED_WRITE.set(true);
}

/// Registers the transaction and invalidation callbacks (from _PG_init).
pub fn register_callbacks() {
    if CALLBACKS.replace(true) {
        return;
    }
    crate::xact::on_xact(on_xact_event);
    crate::xact::on_subxact(on_subxact_event);
    // SAFETY: a process-lifetime callback with no argument, registered once.
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(
            Some(on_relcache_invalidation),
            pg_sys::Datum::from(0),
        );
    }
}

fn on_xact_event(event: pg_sys::XactEvent::Type) {
    use pg_sys::XactEvent::*;
    // A prepared transaction may still be rolled back elsewhere: treat it as
    // an abort. After a commit the rows are durable and the caches stay.
    let aborted = matches!(
        event,
        XACT_EVENT_ABORT | XACT_EVENT_PARALLEL_ABORT | XACT_EVENT_PREPARE
    );
    if aborted && UNCOMMITTED_WRITE.replace(false) {
        forget_everything();
    } else if matches!(event, XACT_EVENT_COMMIT | XACT_EVENT_PARALLEL_COMMIT) {
        UNCOMMITTED_WRITE.set(false);
    }
}

fn on_subxact_event(event: pg_sys::SubXactEvent::Type, _my: pg_sys::SubTransactionId) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB && UNCOMMITTED_WRITE.get() {
        forget_everything();
    }
}

thread_local! {
    /// OIDs of han_crypto.keyrings and han_crypto.members, once known.
    static WATCHED: Cell<Option<(pg_sys::Oid, pg_sys::Oid)>> = const { Cell::new(None) };
    /// OID of han_crypto.protected_tables, once known.
    static PROTECTION_CATALOG: Cell<Option<pg_sys::Oid>> = const { Cell::new(None) };
}

/// Relcache invalidation: a han_crypto catalog table changed (in this or
/// another backend), or everything was reset. No catalog access is allowed
/// here, so the table OIDs are resolved beforehand (see `watch`).
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_relcache_invalidation(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    crate::protect::on_relcache(relid, PROTECTION_CATALOG.get() == Some(relid));
    crate::redaction::on_relcache(relid);
    crate::honeytoken::on_relcache(relid);
    match WATCHED.get() {
        // A cache reset (the shared invalidation queue overflowed, which any
        // role can cause): re-read keyrings and memberships, so every access
        // is checked afresh, but keep keys: dropping unlocked passphrase keys
        // here would let anyone lock every session's keyrings.
        _ if relid == pg_sys::InvalidOid => forget_catalog_rows(),
        Some((keyrings, _)) if relid == keyrings => forget_everything(),
        Some((_, members)) if relid == members => forget_catalog_rows(),
        Some(_) => {}
        None => forget_catalog_rows(),
    }
}

/// Records the OIDs of the catalog tables whose invalidations matter.
pub fn watch(keyrings: pg_sys::Oid, members: pg_sys::Oid, protected: pg_sys::Oid) {
    WATCHED.set(Some((keyrings, members)));
    PROTECTION_CATALOG.set(Some(protected));
}
