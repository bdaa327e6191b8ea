//! Values built directly in a palloc'd varlena, so encrypt/decrypt write
//! their output once, in the memory PostgreSQL returns, instead of filling a
//! Rust buffer and copying it (measurably faster on multi-KB rows).

use std::ptr::NonNull;

use pgrx::callconv::{BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::error::HcError;

/// A freshly allocated `bytea` in the current memory context.
pub struct OwnedBytea(NonNull<pg_sys::varlena>);
/// A freshly allocated `text` (valid UTF-8) in the current memory context.
pub struct OwnedText(NonNull<pg_sys::varlena>);

impl_sql_translatable!(OwnedBytea, "bytea");
impl_sql_translatable!(OwnedText, "text");

const VARHDRSZ: usize = pg_sys::VARHDRSZ;
/// PostgreSQL's MaxAllocSize (1 GB - 1): the largest palloc and datum.
const MAX_ALLOC: usize = 0x3fff_ffff;

/// Allocates a varlena with `len` payload bytes and hands the payload to `fill`.
/// The memory belongs to the current memory context; on error it is freed
/// with it (and `fill` is expected to have wiped anything sensitive).
fn alloc_with(
    len: usize,
    fill: impl FnOnce(&mut [u8]) -> Result<(), HcError>,
) -> Result<NonNull<pg_sys::varlena>, HcError> {
    if len > MAX_ALLOC - VARHDRSZ {
        return Err(HcError::Core(han_crypto_core::Error::TooLarge(len)));
    }
    // SAFETY: palloc either returns len + VARHDRSZ writable bytes or raises an
    // ERROR; the header is set before the pointer escapes.
    unsafe {
        let ptr = pg_sys::palloc(len + VARHDRSZ) as *mut pg_sys::varlena;
        pgrx::set_varsize_4b(ptr, (len + VARHDRSZ) as i32);
        let payload = std::slice::from_raw_parts_mut((ptr as *mut u8).add(VARHDRSZ), len);
        if let Err(e) = fill(payload) {
            pg_sys::pfree(ptr.cast());
            return Err(e);
        }
        Ok(NonNull::new_unchecked(ptr))
    }
}

impl OwnedBytea {
    /// The varlena as a datum (ownership passes to the memory context).
    pub fn into_datum(self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.0.as_ptr())
    }

    pub fn build(
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), HcError>,
    ) -> Result<Self, HcError> {
        alloc_with(len, fill).map(Self)
    }

    /// A bytea holding a copy of `bytes` (palloc fails with an ERROR where
    /// a Rust copy would abort the backend).
    pub fn copy_of(bytes: &[u8]) -> Result<Self, HcError> {
        Self::build(bytes.len(), |out| {
            out.copy_from_slice(bytes);
            Ok(())
        })
    }
}

impl OwnedText {
    /// Like [`OwnedBytea::build`], then checks the payload is UTF-8 (wiping
    /// and failing if not), since PostgreSQL text must be.
    pub fn build_utf8(
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), HcError>,
    ) -> Result<Self, HcError> {
        alloc_with(len, |buf| {
            fill(buf)?;
            if std::str::from_utf8(buf).is_err() {
                buf.fill(0);
                return Err(HcError::InvalidUtf8);
            }
            Ok(())
        })
        .map(Self)
    }

    /// A text holding a copy of `bytes`, which must be UTF-8.
    pub fn copy_of_utf8(bytes: &[u8]) -> Result<Self, HcError> {
        Self::build_utf8(bytes.len(), |out| {
            out.copy_from_slice(bytes);
            Ok(())
        })
    }
}

macro_rules! box_ret {
    ($t:ty) => {
        // SAFETY: the pointer is a complete varlena allocated in the current
        // memory context, which outlives the function call's result.
        unsafe impl BoxRet for $t {
            unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
                unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.0.as_ptr())) }
            }
        }
    };
}
box_ret!(OwnedBytea);
box_ret!(OwnedText);
