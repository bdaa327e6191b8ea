//! Buffers whose size comes from a value, reserved fallibly.
//!
//! Rust's ordinary allocation aborts the process when memory runs out. In a
//! PostgreSQL backend an abort is a crash that restarts the whole cluster,
//! and with `vm.overcommit_memory = 2` (PostgreSQL's recommended setting) or
//! a memory limit a single large value is enough. Every buffer sized by a
//! value (a plaintext, an envelope, its text or JSON form) is reserved here
//! instead, so running out is [`Error::OutOfMemory`], which the extension
//! reports as an `ERROR` with SQLSTATE 53200.

use crate::{Error, Result};

fn out_of_memory(len: usize) -> Error {
    Error::OutOfMemory(len as u64)
}

/// An empty vector with room for `len` bytes.
pub fn with_capacity(len: usize) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| out_of_memory(len))?;
    Ok(v)
}

/// `len` zero bytes.
pub fn zeroed(len: usize) -> Result<Vec<u8>> {
    let mut v = with_capacity(len)?;
    v.resize(len, 0);
    Ok(v)
}

/// A copy of `bytes`.
pub fn copy_of(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut v = with_capacity(bytes.len())?;
    v.extend_from_slice(bytes);
    Ok(v)
}

/// An empty string with room for `len` bytes.
pub fn string_with_capacity(len: usize) -> Result<String> {
    let mut s = String::new();
    s.try_reserve_exact(len).map_err(|_| out_of_memory(len))?;
    Ok(s)
}

/// Checks that `len` bytes can be reserved now, for work whose copies are
/// made by code that cannot fail (the redactor's rewrites of a text): the
/// memory is reserved and released at once, and a backend is one thread, so
/// it is still there when that work asks for it.
pub fn ensure_available(len: usize) -> Result<()> {
    with_capacity(len).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_sizes_are_errors_not_aborts() {
        for len in [usize::MAX, isize::MAX as usize, 1 << 62] {
            assert_eq!(zeroed(len).unwrap_err(), Error::OutOfMemory(len as u64));
            assert!(string_with_capacity(len).is_err());
        }
    }

    #[test]
    fn buffers_hold_what_they_say() {
        assert_eq!(zeroed(3).unwrap(), vec![0, 0, 0]);
        assert_eq!(copy_of(b"abc").unwrap(), b"abc");
        assert!(with_capacity(10).unwrap().capacity() >= 10);
    }
}
