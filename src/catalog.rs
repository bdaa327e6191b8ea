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

use crate::error::{HcError, HcResult};

thread_local! {
    static OWNER: Cell<Option<pg_sys::Oid>> = const { Cell::new(None) };
}

/// One value of a read-only query. pgrx's Spi::get_one* run queries as
/// read-write, which assigns a transaction id: on a hot standby that is an
/// error, and anywhere it makes a read cost a commit record. Reads go
/// through here (SPI read-only) instead.
fn select_one<T: FromDatum + IntoDatum>(
    sql: &str,
    args: &[pgrx::datum::DatumWithOid<'_>],
) -> Option<T> {
    Spi::connect(|client| {
        client
            .select(sql, Some(1), args)
            .ok()?
            .first()
            .get_one::<T>()
            .ok()
            .flatten()
    })
}

pub fn extension_owner() -> pg_sys::Oid {
    if let Some(oid) = OWNER.get() {
        return oid;
    }
    let oid = select_one::<pg_sys::Oid>(
        "SELECT extowner FROM pg_catalog.pg_extension \
         WHERE extname OPERATOR(pg_catalog.=) 'han_crypto'",
        &[],
    )
    .unwrap_or_else(|| {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "extension \"han_crypto\" is not installed in this database",
            "Run CREATE EXTENSION han_crypto CASCADE."
        );
    });
    OWNER.set(Some(oid));
    // Resolve, while catalog access is allowed, the tables whose relcache
    // invalidations must flush han_crypto's caches.
    let watched = Spi::connect(|client| {
        client
            .select(
                "SELECT 'han_crypto.keyrings'::pg_catalog.regclass::pg_catalog.oid, \
                        'han_crypto.members'::pg_catalog.regclass::pg_catalog.oid, \
                        'han_crypto.protected_tables'::pg_catalog.regclass::pg_catalog.oid",
                Some(1),
                &[],
            )?
            .first()
            .get_three::<pg_sys::Oid, pg_sys::Oid, pg_sys::Oid>()
    });
    if let Ok((Some(keyrings), Some(members), Some(protected))) = watched {
        crate::keyring::watch(keyrings, members, protected);
    }
    oid
}

/// Restores the caller's identity and settings, also when unwinding from an
/// ERROR (transaction abort would restore them too; this keeps the window
/// closed even inside a subtransaction that catches the error).
struct OwnerGuard {
    saved_user: pg_sys::Oid,
    saved_context: i32,
    guc_level: i32,
    pushed_snapshot: bool,
}

impl Drop for OwnerGuard {
    fn drop(&mut self) {
        // SAFETY: plain backend-local state setters with values obtained
        // from the matching getters in `as_owner`. The snapshot pushed there
        // is popped unless an ERROR is unwinding, whose (sub)transaction
        // abort pops it (SPI may have left its own above it).
        unsafe {
            if self.pushed_snapshot && !std::thread::panicking() {
                pg_sys::PopActiveSnapshot();
            }
            pg_sys::AtEOXact_GUC(true, self.guc_level);
            pg_sys::SetUserIdAndSecContext(self.saved_user, self.saved_context);
        }
    }
}

/// Runs `f` as the extension owner with a pinned search_path, reading on a
/// snapshot taken now.
///
/// The snapshot matters for access control: what `f` reads fills caches
/// that outlive the transaction (memberships, keyrings, protection
/// configuration). Read under a REPEATABLE READ or SERIALIZABLE
/// transaction's snapshot, a row revoked or changed since that snapshot was
/// taken would be cached again after the invalidation that announced the
/// change, and kept after COMMIT. Read-only SPI uses the active snapshot, so
/// the latest one is pushed; writes (read-write SPI) still take the
/// transaction's own, as PostgreSQL's isolation rules expect.
pub fn as_owner<R>(f: impl FnOnce() -> R) -> R {
    as_role(extension_owner(), false, f)
}

/// Runs `f` as role `role`, as [`as_owner`] does. `restricted` also makes
/// it a security-restricted operation (as VACUUM and REFRESH MATERIALIZED
/// VIEW run a table owner's code): the role's code cannot change the
/// session (SET ROLE, temporary objects) that it runs in.
pub fn as_role<R>(role: pg_sys::Oid, restricted: bool, f: impl FnOnce() -> R) -> R {
    let owner = role;
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
            // No new snapshot can be taken in parallel mode; there the
            // query's own is read (a parallel worker's caches die with it).
            pushed_snapshot: !pg_sys::IsInParallelMode(),
        };
        if guard.pushed_snapshot {
            pg_sys::PushActiveSnapshot(pg_sys::GetLatestSnapshot());
        }
        let restriction = if restricted {
            pg_sys::SECURITY_RESTRICTED_OPERATION as i32
        } else {
            0
        };
        pg_sys::SetUserIdAndSecContext(
            owner,
            saved_context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32 | restriction,
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

/// Whether a protected table other than `relid` has binding `binding`.
pub fn binding_taken(binding: &str, relid: pg_sys::Oid) -> bool {
    as_owner(|| {
        Spi::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT FROM han_crypto.protected_tables \
                            WHERE binding OPERATOR(pg_catalog.=) $1 \
                              AND relid::pg_catalog.oid OPERATOR(pg_catalog.<>) $2)",
            &[binding.into(), relid.into()],
        )
    })
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// A relation's owner, and whether it has row security enabled.
pub fn owner_and_row_security(relid: pg_sys::Oid) -> HcResult<(pg_sys::Oid, bool)> {
    as_owner(|| {
        Spi::get_two_with_args::<pg_sys::Oid, bool>(
            "SELECT relowner, relrowsecurity FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) $1",
            &[relid.into()],
        )
    })
    .ok()
    .and_then(|(o, r)| Some((o?, r.unwrap_or(false))))
    .ok_or_else(|| HcError::InvalidArgument("the relation does not exist".into()))
}

/// A relation's schema-qualified name as SQL text, each part quoted as
/// needed.
pub fn relation_sql_name(relid: pg_sys::Oid) -> HcResult<String> {
    // SAFETY: syscache lookups by OID; NULL when the relation is gone.
    unsafe {
        let rel = pg_sys::get_rel_name(relid);
        let ns = pg_sys::get_namespace_name(pg_sys::get_rel_namespace(relid));
        if rel.is_null() || ns.is_null() {
            return Err(HcError::InvalidArgument(
                "the relation does not exist".into(),
            ));
        }
        Ok(
            std::ffi::CStr::from_ptr(pg_sys::quote_qualified_identifier(ns, rel))
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// An identifier as SQL text, quoted when it needs to be.
pub fn quote_ident(s: &str) -> String {
    let c = std::ffi::CString::new(s).unwrap_or_default();
    // SAFETY: quote_identifier returns its argument or a palloc'd quoted copy.
    unsafe {
        std::ffi::CStr::from_ptr(pg_sys::quote_identifier(c.as_ptr()))
            .to_string_lossy()
            .into_owned()
    }
}

/// Whether this transaction can write han_crypto's catalog: not on a hot
/// standby, not in a read-only transaction.
pub fn writable() -> bool {
    // SAFETY: reading backend-local state.
    unsafe { !pg_sys::RecoveryInProgress() && !pg_sys::XactReadOnly }
}

/// Refuses a catalog write that cannot happen here with 25006 and a hint,
/// before it is attempted (an INSERT on a standby would fail less clearly).
pub fn require_writable(what: &'static str) -> HcResult<()> {
    if writable() {
        Ok(())
    } else {
        Err(HcError::ReadOnly(what))
    }
}

/// A type as SQL prints it (`bigint`, `character varying(20)`).
pub fn type_name(typid: pg_sys::Oid, typmod: i32) -> String {
    // SAFETY: format_type_with_typemod returns a palloc'd C string for any
    // OID (unknown ones print as "???").
    unsafe {
        std::ffi::CStr::from_ptr(pg_sys::format_type_with_typemod(typid, typmod))
            .to_string_lossy()
            .into_owned()
    }
}

/// How long a first-use insert (the default keyring, the root key-check
/// value) waits for another transaction inserting the same row: any role can
/// start that insert and keep its transaction open, which must not block
/// every other backend's first key use for longer than this.
const FIRST_USE_LOCK_TIMEOUT: &std::ffi::CStr = c"5s";

/// Bounds lock waits for the rest of the current `as_owner` scope (whose
/// GUC nest level restores the caller's setting); a wait beyond it fails
/// with 55P03 (lock_not_available).
fn bound_lock_wait() {
    // SAFETY: setting a GUC at the nest level as_owner opened.
    unsafe {
        pg_sys::set_config_option(
            c"lock_timeout".as_ptr(),
            FIRST_USE_LOCK_TIMEOUT.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
    }
}

/// The kinds of keyring (see sql/bootstrap.sql).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyringKind {
    Root,
    Team,
    User,
    Passphrase,
}

impl KeyringKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "root" => Some(Self::Root),
            "team" => Some(Self::Team),
            "user" => Some(Self::User),
            "passphrase" => Some(Self::Passphrase),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Team => "team",
            Self::User => "user",
            Self::Passphrase => "passphrase",
        }
    }
}

/// A row of han_crypto.keyrings.
#[derive(Debug, Clone)]
pub struct KeyringRow {
    pub id: [u8; 16],
    pub name: String,
    pub kind: KeyringKind,
    pub active_version: u32,
}

fn keyring_where(clause: &str, arg: pgrx::datum::DatumWithOid<'_>) -> Option<KeyringRow> {
    let sql =
        format!("SELECT id, name, kind, active_version FROM han_crypto.keyrings WHERE {clause}");
    as_owner(|| {
        Spi::connect(|client| {
            let table = client.select(&sql, Some(1), &[arg]).ok()?;
            let row = table.into_iter().next()?;
            let id: Uuid = row.get(1).ok()??;
            let name: String = row.get(2).ok()??;
            let kind: String = row.get(3).ok()??;
            let version: i32 = row.get(4).ok()??;
            Some(KeyringRow {
                id: *id.as_bytes(),
                name,
                kind: KeyringKind::parse(&kind)?,
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

/// A row of han_crypto.keyring_versions (wrapped material only).
pub struct VersionRow {
    pub wrapped_key: Vec<u8>,
    /// Team/user versions: the data key, derived at creation, wrapped under the root key.
    pub wrapped_data_key: Option<Vec<u8>>,
    pub salt: Vec<u8>,
    pub kdf: serde_json::Value,
    pub state: String,
}

pub fn version_row(id: &[u8; 16], version: u32) -> Option<VersionRow> {
    as_owner(|| {
        Spi::connect(|client| {
            let table = client
                .select(
                    "SELECT wrapped_key, salt, kdf, state, wrapped_data_key FROM han_crypto.keyring_versions \
                     WHERE keyring_id = $1 AND version = $2",
                    Some(1),
                    &[Uuid::from_bytes(*id).into(), (version as i32).into()],
                )
                .ok()?;
            let row = table.into_iter().next()?;
            Some(VersionRow {
                wrapped_key: row.get(1).ok()??,
                salt: row.get(2).ok()??,
                kdf: row.get::<pgrx::JsonB>(3).ok()??.0,
                state: row.get(4).ok()??,
                wrapped_data_key: row.get(5).ok()?,
            })
        })
    })
}

/// The role `principal` holds in keyring `id`, if any.
pub fn member_role(id: &[u8; 16], principal: &str) -> Option<String> {
    as_owner(|| {
        select_one::<String>(
            "SELECT role FROM han_crypto.members WHERE keyring_id = $1 AND principal = $2",
            &[Uuid::from_bytes(*id).into(), principal.into()],
        )
    })
}

/// Inserts a keyring; `None` if the name is taken.
pub fn insert_keyring(
    name: &str,
    kind: KeyringKind,
    created_by: &str,
) -> HcResult<Option<[u8; 16]>> {
    require_writable("creating a keyring")?;
    let id = as_owner(|| {
        Spi::get_one_with_args::<Uuid>(
            "INSERT INTO han_crypto.keyrings (name, kind, created_by) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING RETURNING id",
            &[name.into(), kind.name().into(), created_by.into()],
        )
        .ok()
        .flatten()
    });
    Ok(id.map(|id| *id.as_bytes()))
}

/// Stores the wrapped key of a keyring version: inserted when the keyring
/// is created, replaced when a passphrase changes (same data key, new wrap).
pub fn put_version(
    id: &[u8; 16],
    version: u32,
    wrapped: &[u8],
    wrapped_data_key: Option<&[u8]>,
    salt: &[u8],
    kdf: serde_json::Value,
    kdf_ms: f32,
) -> HcResult<()> {
    require_writable("storing a keyring version")?;
    as_owner(|| {
        Spi::run_with_args(
            "INSERT INTO han_crypto.keyring_versions (keyring_id, version, wrapped_key, wrapped_data_key, salt, kdf, kdf_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (keyring_id, version) DO UPDATE SET wrapped_key = EXCLUDED.wrapped_key, \
                 wrapped_data_key = EXCLUDED.wrapped_data_key, \
                 salt = EXCLUDED.salt, kdf = EXCLUDED.kdf, kdf_ms = EXCLUDED.kdf_ms",
            &[
                Uuid::from_bytes(*id).into(),
                (version as i32).into(),
                wrapped.into(),
                wrapped_data_key.into(),
                salt.into(),
                pgrx::JsonB(kdf).into(),
                kdf_ms.into(),
            ],
        )
        .expect("storing a keyring version");
    });
    Ok(())
}

pub fn upsert_member(id: &[u8; 16], principal: &str, role: &str, granted_by: &str) -> HcResult<()> {
    require_writable("granting keyring access")?;
    as_owner(|| {
        Spi::run_with_args(
            "INSERT INTO han_crypto.members (keyring_id, principal, role, granted_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (keyring_id, principal) DO UPDATE SET role = EXCLUDED.role, \
                 granted_by = EXCLUDED.granted_by, granted_at = pg_catalog.now()",
            &[Uuid::from_bytes(*id).into(), principal.into(), role.into(), granted_by.into()],
        )
        .expect("granting keyring access");
    });
    changed(Table::Members);
    Ok(())
}

/// Removes a membership; false if there was none.
pub fn delete_member(id: &[u8; 16], principal: &str) -> HcResult<bool> {
    require_writable("revoking keyring access")?;
    let n = as_owner(|| {
        Spi::get_one_with_args::<i64>(
            "WITH d AS (DELETE FROM han_crypto.members WHERE keyring_id = $1 AND principal = $2 RETURNING 1) \
             SELECT count(*) FROM d",
            &[Uuid::from_bytes(*id).into(), principal.into()],
        )
        .ok()
        .flatten()
        .unwrap_or(0)
    });
    // Every backend re-reads memberships (and drops derived keys). Nothing
    // to announce when nothing was revoked: each announcement makes every
    // backend re-read, which a keyring admin could otherwise repeat at will.
    if n > 0 {
        changed(Table::Keyrings);
    }
    Ok(n > 0)
}

/// Records a failed unlock: always in the server log, which no caller can
/// suppress or roll back (a guesser who rolls back its transaction erases
/// the row below), and in han_crypto.unlock_failures where this
/// transaction can write (not on a standby or in a read-only transaction;
/// then false is returned). The durable record is the audit trail's
/// `unlock` or `change_passphrase` event with outcome `failed`, which the
/// caller records too.
pub fn record_unlock_failure(id: &[u8; 16], keyring: &str, principal: &str) -> bool {
    let writable = writable();
    pgrx::log!(
        // Quoted and escaped: a name holding `"` reads unambiguously.
        "han_crypto: failed unlock of keyring {} by {}{}",
        crate::error::quoted(keyring),
        crate::error::quoted(principal),
        if writable {
            ""
        } else {
            " (not recorded in han_crypto.unlock_failures: this transaction cannot write)"
        }
    );
    if !writable {
        return false;
    }
    as_owner(|| {
        Spi::run_with_args(
            "INSERT INTO han_crypto.unlock_failures (keyring_id, principal) VALUES ($1, $2)",
            &[Uuid::from_bytes(*id).into(), principal.into()],
        )
        .expect("recording a failed unlock");
    });
    true
}

pub fn insert_keypair(
    key_id: &[u8; 16],
    keyring: &[u8; 16],
    public_key: &[u8],
    sealed_private: &[u8],
) -> HcResult<()> {
    require_writable("creating a key pair")?;
    as_owner(|| {
        Spi::run_with_args(
            "INSERT INTO han_crypto.keypairs (key_id, keyring_id, public_key, sealed_private) VALUES ($1, $2, $3, $4)",
            &[key_id.as_slice().into(), Uuid::from_bytes(*keyring).into(), public_key.into(), sealed_private.into()],
        )
        .expect("storing a key pair");
    });
    Ok(())
}

/// The keyring and sealed private key of key pair `key_id`.
pub fn keypair(key_id: &[u8; 16]) -> Option<([u8; 16], Vec<u8>)> {
    as_owner(|| {
        Spi::connect(|client| {
            let table = client
                .select(
                    "SELECT keyring_id, sealed_private FROM han_crypto.keypairs WHERE key_id = $1",
                    Some(1),
                    &[key_id.as_slice().into()],
                )
                .ok()?;
            let row = table.into_iter().next()?;
            let id: Uuid = row.get(1).ok()??;
            Some((*id.as_bytes(), row.get(2).ok()??))
        })
    })
}

/// A protected table's configuration.
pub struct ProtectedTable {
    pub binding: String,
    pub keyring_column: String,
    pub key_columns: Vec<String>,
    /// (column name, kind)
    pub columns: Vec<(String, String)>,
    /// protect()'s options, including the redaction policy.
    pub options: serde_json::Value,
}

/// The configuration of `relid`, or for a partition, of its nearest
/// protected ancestor (the trigger fires on the partition a row lands in;
/// its values are bound to the protected table's binding).
pub fn protected_table(relid: pg_sys::Oid) -> Option<ProtectedTable> {
    protected_table_where(relid, true)
}

/// The configuration recorded for exactly `relid` (no ancestor).
pub fn own_protection(relid: pg_sys::Oid) -> Option<ProtectedTable> {
    protected_table_where(relid, false)
}

fn protected_table_where(relid: pg_sys::Oid, ancestors: bool) -> Option<ProtectedTable> {
    as_owner(|| {
        Spi::connect(|client| {
            let t = client
                .select(
                    "WITH rels AS ( \
                         SELECT $1::pg_catalog.oid AS rel, 0::bigint AS depth \
                         UNION ALL \
                         SELECT a.rel::pg_catalog.oid, a.depth \
                         FROM pg_catalog.pg_partition_ancestors($1::pg_catalog.oid::pg_catalog.regclass) \
                              WITH ORDINALITY AS a(rel, depth) WHERE $2) \
                     SELECT t.relid::pg_catalog.oid, t.binding, t.keyring_column::text, t.key_columns::text[], t.options \
                     FROM han_crypto.protected_tables t JOIN rels ON rels.rel = t.relid::pg_catalog.oid \
                     ORDER BY rels.depth LIMIT 1",
                    Some(1),
                    &[relid.into(), ancestors.into()],
                )
                .ok()?;
            let row = t.into_iter().next()?;
            let relid: pg_sys::Oid = row.get(1).ok()??;
            let binding: String = row.get(2).ok()??;
            let keyring_column: String = row.get(3).ok()??;
            let key_columns: Vec<String> = row.get::<Vec<String>>(4).ok()??;
            let options = row
                .get::<pgrx::JsonB>(5)
                .ok()
                .flatten()
                .map(|j| j.0)
                .unwrap_or_default();
            let cols = client
                .select(
                    "SELECT column_name::text, kind FROM han_crypto.protected_columns \
                     WHERE relid = $1::pg_catalog.oid ORDER BY column_name",
                    None,
                    &[relid.into()],
                )
                .ok()?;
            let mut columns = Vec::new();
            for r in cols {
                columns.push((r.get::<String>(1).ok()??, r.get::<String>(2).ok()??));
            }
            Some(ProtectedTable {
                binding,
                keyring_column,
                key_columns,
                columns,
                options,
            })
        })
    })
}

#[allow(clippy::too_many_arguments)]
pub fn put_protection(
    relid: pg_sys::Oid,
    binding: &str,
    keyring_column: &str,
    key_columns: &[String],
    columns: &[String],
    kinds: &[String],
    view_name: &str,
    options: serde_json::Value,
) -> HcResult<()> {
    require_writable("protect()")?;
    let by = crate::actor::current_role_name();
    as_owner(|| {
        Spi::run_with_args(
            "INSERT INTO han_crypto.protected_tables (relid, binding, keyring_column, key_columns, view_name, options, protected_by) \
             VALUES ($1::pg_catalog.oid, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (relid) DO UPDATE SET keyring_column = EXCLUDED.keyring_column, \
                 key_columns = EXCLUDED.key_columns, view_name = EXCLUDED.view_name, options = EXCLUDED.options",
            &[
                relid.into(),
                binding.into(),
                keyring_column.into(),
                key_columns.to_vec().into(),
                view_name.into(),
                pgrx::JsonB(options).into(),
                by.as_str().into(),
            ],
        )
        .expect("recording a protected table");
        Spi::run_with_args(
            "DELETE FROM han_crypto.protected_columns WHERE relid = $1::pg_catalog.oid",
            &[relid.into()],
        )
        .expect("replacing protected columns");
        for (c, k) in columns.iter().zip(kinds) {
            Spi::run_with_args(
                "INSERT INTO han_crypto.protected_columns (relid, column_name, kind) VALUES ($1::pg_catalog.oid, $2, $3)",
                &[relid.into(), c.as_str().into(), k.as_str().into()],
            )
            .expect("recording a protected column");
        }
    });
    changed(Table::Protection);
    Ok(())
}

pub fn delete_protection(relid: pg_sys::Oid) -> HcResult<()> {
    require_writable("unprotect()")?;
    as_owner(|| {
        Spi::run_with_args(
            "DELETE FROM han_crypto.protected_tables WHERE relid = $1::pg_catalog.oid",
            &[relid.into()],
        )
        .expect("removing a protected table");
    });
    changed(Table::Protection);
    Ok(())
}

pub fn delete_protected_columns(relid: pg_sys::Oid, columns: &[String]) -> HcResult<()> {
    require_writable("unprotect()")?;
    as_owner(|| {
        Spi::run_with_args(
            "DELETE FROM han_crypto.protected_columns WHERE relid = $1::pg_catalog.oid AND column_name::text = ANY ($2)",
            &[relid.into(), columns.to_vec().into()],
        )
        .expect("removing protected columns");
    });
    changed(Table::Protection);
    Ok(())
}

/// Catalog tables whose changes other backends must hear about:
/// `Members` flushes cached memberships, `Keyrings` flushes everything.
#[derive(Clone, Copy)]
pub enum Table {
    Keyrings,
    Members,
    Protection,
    RedactionRules,
    Honeytokens,
    AlertRules,
}

/// Queues a relcache invalidation for `table`: at commit PostgreSQL sends
/// it to every backend, whose callback (keyring.rs) then drops its caches.
/// This is what makes a revocation bite in sessions that already used a key.
pub fn changed(table: Table) {
    let name = match table {
        Table::Keyrings => c"han_crypto.keyrings",
        Table::Members => c"han_crypto.members",
        Table::Protection => c"han_crypto.protected_tables",
        Table::RedactionRules => c"han_crypto.redaction_rules",
        Table::Honeytokens => c"han_crypto.honeytokens",
        Table::AlertRules => c"han_crypto.alert_rules",
    };
    // SAFETY: resolving a constant, schema-qualified relation name; the
    // invalidation is transactional and harmless if it is spurious.
    unsafe {
        let rv = pg_sys::makeRangeVarFromNameList(crate::pg_compat::qualified_name_list(name));
        let oid = pg_sys::RangeVarGetRelidExtended(
            rv,
            pg_sys::NoLock as i32,
            0,
            None,
            std::ptr::null_mut(),
        );
        pg_sys::CacheInvalidateRelcacheByRelid(oid);
    }
}

/// Creates the `default` keyring if it does not exist yet. Lazily, on first
/// use rather than in the install script, so that pg_dump carries the row
/// (its id is inside every envelope) and a restore never meets a duplicate.
pub fn ensure_default_keyring() -> HcResult<Option<KeyringRow>> {
    require_writable("the first use of the default keyring")?;
    as_owner(|| {
        bound_lock_wait();
        Spi::run(
            "INSERT INTO han_crypto.keyrings (name, kind) VALUES ('default', 'root') \
             ON CONFLICT (name) DO NOTHING",
        )
        .expect("inserting the default keyring");
    });
    crate::keyring::note_catalog_write();
    Ok(keyring_by_name("default"))
}

/// The stored root key-check value, if one was recorded.
pub fn root_key_check_value() -> Option<Vec<u8>> {
    as_owner(|| select_one::<Vec<u8>>("SELECT check_value FROM han_crypto._root_key_check", &[]))
}

/// Records the key-check value of the root key in use (first use only).
/// Skipped in read-only transactions (e.g. on a standby): there is nothing to
/// protect yet, and the next writable use records it.
pub fn record_root_key_check_value(kcv: &[u8]) -> bool {
    if !writable() {
        return false;
    }
    as_owner(|| {
        bound_lock_wait();
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

/// An operator's redaction rule as stored.
pub struct RedactionRuleRow {
    pub name: String,
    pub pattern: String,
    pub kind: String,
    pub keywords: Vec<String>,
    pub min_entropy: f32,
}

/// Enabled redaction rules and allowlist patterns, and the OIDs of the two
/// tables (so the relcache callback can recognise them without lookups).
pub fn redaction_config() -> (Vec<RedactionRuleRow>, Vec<String>, pg_sys::Oid, pg_sys::Oid) {
    as_owner(|| {
        Spi::connect(|client| {
            let mut rules = Vec::new();
            if let Ok(t) = client.select(
                "SELECT name, pattern, kind, keywords, min_entropy FROM han_crypto.redaction_rules \
                 WHERE enabled ORDER BY name",
                None,
                &[],
            ) {
                for r in t {
                    let (Ok(Some(name)), Ok(Some(pattern)), Ok(Some(kind))) =
                        (r.get::<String>(1), r.get::<String>(2), r.get::<String>(3))
                    else {
                        continue;
                    };
                    rules.push(RedactionRuleRow {
                        name,
                        pattern,
                        kind,
                        keywords: r.get::<Vec<String>>(4).ok().flatten().unwrap_or_default(),
                        min_entropy: r.get::<f32>(5).ok().flatten().unwrap_or(0.0),
                    });
                }
            }
            let mut allow = Vec::new();
            if let Ok(t) = client.select(
                "SELECT pattern FROM han_crypto.redaction_allowlist ORDER BY id",
                None,
                &[],
            ) {
                for r in t {
                    if let Ok(Some(p)) = r.get::<String>(1) {
                        allow.push(p);
                    }
                }
            }
            let oid_of = |q: &str| {
                client
                    .select(q, Some(1), &[])
                    .ok()
                    .and_then(|t| t.first().get_one::<pg_sys::Oid>().ok().flatten())
                    .unwrap_or(pg_sys::InvalidOid)
            };
            let rules_oid =
                oid_of("SELECT 'han_crypto.redaction_rules'::pg_catalog.regclass::pg_catalog.oid");
            let allow_oid = oid_of(
                "SELECT 'han_crypto.redaction_allowlist'::pg_catalog.regclass::pg_catalog.oid",
            );
            (rules, allow, rules_oid, allow_oid)
        })
    })
}
