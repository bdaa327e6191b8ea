//! SPI access to han_crypto's own tables.
//!
//! Callers of encrypt()/decrypt() hold no privileges on these tables (they
//! are revoked from PUBLIC), so every access runs as the extension owner —
//! the same user switch PostgreSQL does for a SECURITY DEFINER function —
//! with search_path pinned to `pg_catalog, pg_temp` so that no object a
//! caller created can be picked up while running with the owner's rights.
//! Statements are constants with bind parameters; nothing is interpolated.

use std::cell::Cell;

use pgrx::prelude::*;
use pgrx::Uuid;

thread_local! {
    static OWNER: Cell<Option<pg_sys::Oid>> = const { Cell::new(None) };
}

fn extension_owner() -> pg_sys::Oid {
    if let Some(oid) = OWNER.get() {
        return oid;
    }
    let oid = Spi::get_one::<pg_sys::Oid>(
        "SELECT extowner FROM pg_catalog.pg_extension \
         WHERE extname OPERATOR(pg_catalog.=) 'han_crypto'",
    )
    .ok()
    .flatten()
    .unwrap_or_else(|| {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "extension \"han_crypto\" is not installed in this database",
            "Run CREATE EXTENSION han_crypto CASCADE."
        );
    });
    OWNER.set(Some(oid));
    oid
}

/// Restores the caller's identity and settings, also when unwinding from an
/// ERROR (transaction abort would restore them too; this keeps the window
/// closed even inside a subtransaction that catches the error).
struct OwnerGuard {
    saved_user: pg_sys::Oid,
    saved_context: i32,
    guc_level: i32,
}

impl Drop for OwnerGuard {
    fn drop(&mut self) {
        // SAFETY: plain backend-local state setters with values obtained
        // from the matching getters in `as_owner`.
        unsafe {
            pg_sys::AtEOXact_GUC(true, self.guc_level);
            pg_sys::SetUserIdAndSecContext(self.saved_user, self.saved_context);
        }
    }
}

/// Runs `f` as the extension owner with a pinned search_path.
pub fn as_owner<R>(f: impl FnOnce() -> R) -> R {
    let owner = extension_owner();
    let mut saved_user = pg_sys::InvalidOid;
    let mut saved_context = 0i32;
    // SAFETY: backend-local state; the guard restores it on every exit path.
    let guard = unsafe {
        pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_context);
        let guc_level = pg_sys::NewGUCNestLevel();
        let guard = OwnerGuard {
            saved_user,
            saved_context,
            guc_level,
        };
        pg_sys::SetUserIdAndSecContext(
            owner,
            saved_context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32,
        );
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            c"pg_catalog, pg_temp".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        guard
    };
    let result = f();
    drop(guard);
    result
}

/// A row of han_crypto.keyrings.
#[derive(Debug, Clone)]
pub struct KeyringRow {
    pub id: [u8; 16],
    pub name: String,
    pub active_version: u32,
}

fn keyring_where(clause: &str, arg: pgrx::datum::DatumWithOid<'_>) -> Option<KeyringRow> {
    let sql = format!("SELECT id, name, active_version FROM han_crypto.keyrings WHERE {clause}");
    as_owner(|| {
        Spi::connect(|client| {
            let table = client.select(&sql, Some(1), &[arg]).ok()?;
            let row = table.into_iter().next()?;
            let id: Uuid = row.get(1).ok()??;
            let name: String = row.get(2).ok()??;
            let version: i32 = row.get(3).ok()??;
            Some(KeyringRow {
                id: *id.as_bytes(),
                name,
                active_version: u32::try_from(version).unwrap_or(0),
            })
        })
    })
}

pub fn keyring_by_name(name: &str) -> Option<KeyringRow> {
    keyring_where("name = $1", name.into())
}

pub fn keyring_by_id(id: &[u8; 16]) -> Option<KeyringRow> {
    keyring_where("id = $1", Uuid::from_bytes(*id).into())
}

/// Creates the `default` keyring if it does not exist yet. Lazily, on first
/// use rather than in the install script, so that pg_dump carries the row
/// (its id is inside every envelope) and a restore never meets a duplicate.
pub fn ensure_default_keyring() -> Option<KeyringRow> {
    as_owner(|| {
        Spi::run(
            "INSERT INTO han_crypto.keyrings (name, kind) VALUES ('default', 'root') \
             ON CONFLICT (name) DO NOTHING",
        )
        .expect("inserting the default keyring");
    });
    crate::keyring::note_catalog_write();
    keyring_by_name("default")
}

/// The stored root key-check value, if one was recorded.
pub fn root_key_check_value() -> Option<Vec<u8>> {
    as_owner(|| {
        Spi::get_one::<Vec<u8>>("SELECT check_value FROM han_crypto._root_key_check")
            .ok()
            .flatten()
    })
}

/// Records the key-check value of the root key in use (first use only).
/// Skipped in read-only transactions (e.g. on a standby): there is nothing to
/// protect yet, and the next writable use records it.
pub fn record_root_key_check_value(kcv: &[u8]) -> bool {
    // SAFETY: reading a backend-local flag.
    if unsafe { pg_sys::XactReadOnly } {
        return false;
    }
    as_owner(|| {
        Spi::run_with_args(
            "INSERT INTO han_crypto._root_key_check (check_value) VALUES ($1) \
             ON CONFLICT DO NOTHING",
            &[kcv.into()],
        )
        .expect("recording the root key-check value");
    });
    crate::keyring::note_catalog_write();
    true
}
