//! A hot standby's record of accesses. It cannot write the trail, so each
//! backend keeps a chain of its own, signed with the primary's audit key
//! (derived from the root key, which the standby has), and writes each
//! event to the server log as one line (core's `audit::standby`). Writing
//! the line is the event's durability here: a call does not go on until it
//! has been written.

use std::cell::RefCell;

use han_crypto_core::audit::standby::{StandbyChain, LOG_MARKER};
use han_crypto_core::audit::{AuditSigningKey, Event};

use super::store;
use crate::error::{HcError, HcResult};

thread_local! {
    static CHAIN: RefCell<Option<(StandbyChain, AuditSigningKey)>> = const { RefCell::new(None) };
}

/// Writes `event` to the server log as the next link of this backend's
/// standby chain; returns its number there.
pub fn log_event(event: Event) -> HcResult<i64> {
    CHAIN.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(start()?);
        }
        let (chain, key) = c.as_mut().expect("set above");
        let line = chain.line(key, event);
        pgrx::log!("{LOG_MARKER}{line}");
        Ok(chain.seq() as i64)
    })
}

fn start() -> HcResult<(StandbyChain, AuditSigningKey)> {
    let primary = store::require_chain()?;
    let root = crate::root_key::get_without_recording()?;
    let key = AuditSigningKey::derive(&root, &primary.chain_id, primary.signing_key_version)
        .map_err(|e| HcError::Catalog(e.to_string()))?;
    let mut id = [0u8; 16];
    han_crypto_core::keys::fill_random(&mut id)?;
    Ok((
        StandbyChain::new(id, primary.chain_id, primary.system_identifier),
        key,
    ))
}
