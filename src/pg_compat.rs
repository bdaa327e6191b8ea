//! Everything that differs between the PostgreSQL major versions han_crypto
//! builds for (15 to 18, one Cargo feature each), in one place: the rest of
//! the extension calls these and carries no version `#[cfg]`.

use std::ffi::CStr;

use pgrx::pg_sys;

/// Whether the current user owns relation `relid` (or inherits the rights
/// of its owner). PG16 generalised `pg_class_ownercheck` into
/// `object_ownercheck`.
pub fn current_user_owns_relation(relid: pg_sys::Oid) -> bool {
    // SAFETY: an ownership check by OID for the current user; a missing
    // relation reports an error through PostgreSQL's usual path.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            pg_sys::pg_class_ownercheck(relid, pg_sys::GetUserId())
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::object_ownercheck(pg_sys::RelationRelationId, relid, pg_sys::GetUserId())
        }
    }
}

/// A (possibly schema-qualified) name split into its parts. PG16 added a
/// soft-error context argument; NULL keeps errors hard, as before.
///
/// # Safety
/// Must run inside a transaction, in a memory context that outlives the list.
pub unsafe fn qualified_name_list(name: &CStr) -> *mut pg_sys::List {
    // SAFETY: the caller's contract; the name is NUL-terminated.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            pg_sys::stringToQualifiedNameList(name.as_ptr())
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::stringToQualifiedNameList(name.as_ptr(), std::ptr::null_mut())
        }
    }
}

/// Attribute `i` (0-based, below `natts`) of a tuple descriptor. PG18 put
/// an array of compact attributes in front of the full ones.
///
/// # Safety
/// `tupdesc` must be a valid descriptor and `i < natts`.
pub unsafe fn tuple_desc_attr(
    tupdesc: pg_sys::TupleDesc,
    i: usize,
) -> *const pg_sys::FormData_pg_attribute {
    // SAFETY: the caller's contract.
    unsafe {
        #[cfg(feature = "pg18")]
        {
            pg_sys::TupleDescAttr(tupdesc, i as std::ffi::c_int)
        }
        #[cfg(not(feature = "pg18"))]
        {
            (*tupdesc).attrs.as_ptr().add(i)
        }
    }
}

/// A named struct of `size` bytes in shared memory, the same one in every
/// process of the cluster, made on first use without
/// shared_preload_libraries; `init` runs once, when it is made. PG17 added
/// the DSM registry for this; before it, the main segment's slack serves,
/// under AddinShmemInitLock (as contrib/pg_prewarm does on 15 and 16).
///
/// # Safety
/// `init` must fully initialise `size` bytes; every caller must pass the
/// same `name`, `size` and layout.
pub unsafe fn named_shared_struct(
    name: &CStr,
    size: usize,
    init: unsafe extern "C-unwind" fn(*mut std::ffi::c_void),
) -> *mut std::ffi::c_void {
    let mut found = false;
    // SAFETY: the caller's contract; both paths initialise under a lock that
    // every other caller also takes.
    unsafe {
        #[cfg(any(feature = "pg15", feature = "pg16"))]
        {
            // AddinShmemInitLock is MainLWLockArray[21] on 15 and 16
            // (lwlocknames.h); the C macro is not in the bindings.
            let lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock;
            pg_sys::LWLockAcquire(lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
            let ptr = pg_sys::ShmemInitStruct(name.as_ptr(), size, &mut found);
            if !found {
                init(ptr);
            }
            pg_sys::LWLockRelease(lock);
            ptr
        }
        #[cfg(not(any(feature = "pg15", feature = "pg16")))]
        {
            pg_sys::GetNamedDSMSegment(name.as_ptr(), size, Some(init), &mut found)
        }
    }
}
