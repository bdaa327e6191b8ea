//! Keyrings and their keys, cached per backend.
//!
//! A keyring row is looked up once per backend; a key version is derived
//! once per backend and kept expanded in zeroizing memory (`XaesKey` wipes
//! its AES key schedule on drop), so per-row cost is one hash lookup.
//!
//! Rows created lazily by this backend (the default keyring, the root
//! key-check value) are cached before their transaction commits. If that
//! transaction or a subtransaction aborts, the rows vanish, so the caches
//! are dropped by transaction callbacks: an envelope must never name a
//! keyring that was rolled back.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use han_crypto_core::aead::XaesKey;
use han_crypto_core::envelope::KeyRef;
use han_crypto_core::envelope_json::uuid_to_string;
use han_crypto_core::kdf::derive_keyring_key;
use pgrx::pg_sys;

use crate::catalog::{self, KeyringRow};
use crate::error::{HcError, HcResult};
use crate::root_key;

/// Name of the keyring used when a call names none.
pub const DEFAULT_KEYRING: &str = "default";

thread_local! {
    static BY_NAME: RefCell<HashMap<String, KeyringRow>> = RefCell::new(HashMap::new());
    static BY_ID: RefCell<HashMap<[u8; 16], KeyringRow>> = RefCell::new(HashMap::new());
    static KEYS: RefCell<HashMap<KeyRef, Rc<XaesKey>>> = RefCell::new(HashMap::new());
    static UNCOMMITTED_WRITE: Cell<bool> = const { Cell::new(false) };
    static CALLBACKS: Cell<bool> = const { Cell::new(false) };
    static DERIVATIONS: Cell<u64> = const { Cell::new(0) };
}

/// How many keys this backend has derived (each one is then cached).
#[cfg_attr(not(feature = "pg_test"), allow(dead_code))]
pub fn derivations() -> u64 {
    DERIVATIONS.get()
}

fn remember(row: KeyringRow) -> KeyringRow {
    BY_NAME.with(|m| m.borrow_mut().insert(row.name.clone(), row.clone()));
    BY_ID.with(|m| m.borrow_mut().insert(row.id, row.clone()));
    row
}

/// The keyring called `name`; `default` is created on first use.
pub fn by_name(name: &str) -> HcResult<KeyringRow> {
    if let Some(row) = BY_NAME.with(|m| m.borrow().get(name).cloned()) {
        return Ok(row);
    }
    let row = match catalog::keyring_by_name(name) {
        Some(row) => row,
        None if name == DEFAULT_KEYRING => catalog::ensure_default_keyring()
            .ok_or_else(|| HcError::UnknownKeyring(name.to_string()))?,
        None => return Err(HcError::UnknownKeyring(name.to_string())),
    };
    Ok(remember(row))
}

/// The keyring with id `id` (as named inside an envelope).
pub fn by_id(id: &[u8; 16]) -> HcResult<KeyringRow> {
    if let Some(row) = BY_ID.with(|m| m.borrow().get(id).cloned()) {
        return Ok(row);
    }
    catalog::keyring_by_id(id)
        .map(remember)
        .ok_or_else(|| HcError::UnknownKeyringId(uuid_to_string(id)))
}

/// The key for `key_ref`, derived on first use in this backend.
pub fn key(key_ref: KeyRef) -> HcResult<Rc<XaesKey>> {
    if let Some(k) = KEYS.with(|m| m.borrow().get(&key_ref).cloned()) {
        return Ok(k);
    }
    let ring = by_id(&key_ref.keyring_id)?;
    if key_ref.key_version == 0 || key_ref.key_version > ring.active_version {
        return Err(HcError::UnknownKeyVersion {
            keyring: ring.name,
            version: key_ref.key_version,
        });
    }
    let root = root_key::get()?;
    let derived = derive_keyring_key(&root.key, &key_ref.keyring_id, key_ref.key_version);
    let k = Rc::new(XaesKey::new(&derived));
    DERIVATIONS.set(DERIVATIONS.get() + 1);
    KEYS.with(|m| m.borrow_mut().insert(key_ref, k.clone()));
    Ok(k)
}

/// The key new values of keyring `name` are sealed with.
pub fn encryption_key(name: &str) -> HcResult<(KeyRef, Rc<XaesKey>)> {
    let ring = by_name(name)?;
    let key_ref = KeyRef {
        keyring_id: ring.id,
        key_version: ring.active_version,
    };
    Ok((key_ref, key(key_ref)?))
}

fn forget_everything() {
    BY_NAME.with(|m| m.try_borrow_mut().map(|mut m| m.clear()).ok());
    BY_ID.with(|m| m.try_borrow_mut().map(|mut m| m.clear()).ok());
    KEYS.with(|m| m.try_borrow_mut().map(|mut m| m.clear()).ok());
    root_key::forget();
}

/// Called after this backend inserted catalog rows in the current transaction.
pub fn note_catalog_write() {
    UNCOMMITTED_WRITE.set(true);
    if !CALLBACKS.replace(true) {
        // SAFETY: registering process-lifetime callbacks with no argument.
        unsafe {
            pg_sys::RegisterXactCallback(Some(on_xact_event), std::ptr::null_mut());
            pg_sys::RegisterSubXactCallback(Some(on_subxact_event), std::ptr::null_mut());
        }
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_xact_event(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
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

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_subxact_event(
    event: pg_sys::SubXactEvent::Type,
    _my: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB && UNCOMMITTED_WRITE.get() {
        forget_everything();
    }
}

/// Drops every cache, as a fresh backend would start (tests only).
#[cfg(any(test, feature = "pg_test"))]
pub fn forget_for_tests() {
    forget_everything();
}
