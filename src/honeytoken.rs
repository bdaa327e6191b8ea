//! Honeytokens on the read path: every decryption is checked against the
//! nonces of han_crypto.honeytokens (one hash lookup; none at all while
//! the table is empty), and a hit is recorded, durably, before the
//! plaintext leaves: the audit writer's honeytoken rule turns it into a
//! critical alert. The set is cached per backend and dropped when the
//! table changes anywhere (a relcache invalidation, see catalog::changed).

use std::cell::RefCell;
use std::collections::HashMap;

use han_crypto_core::alerts::HONEYTOKEN_ACTION;
use han_crypto_core::envelope::Envelope;
use pgrx::prelude::*;

use crate::catalog::as_owner;
use crate::error::HcResult;

type Nonce = [u8; 24];
/// Honeytoken nonces and the table each was planted in.
type Planted = HashMap<Nonce, String>;

thread_local! {
    static PLANTED: RefCell<Option<Planted>> = const { RefCell::new(None) };
    static TABLE: std::cell::Cell<Option<pg_sys::Oid>> = const { std::cell::Cell::new(None) };
}

/// Relcache invalidation (from keyring.rs's callback): forget the set when
/// the table changed, or on a reset.
pub fn on_relcache(relid: pg_sys::Oid) {
    if relid == pg_sys::InvalidOid || TABLE.get().is_none_or(|t| t == relid) {
        PLANTED.with(|n| n.borrow_mut().take());
    }
}

fn load() -> HcResult<Planted> {
    as_owner(|| {
        Spi::connect(|c| {
            let oid = c
                .select(
                    "SELECT 'han_crypto.honeytokens'::pg_catalog.regclass::pg_catalog.oid",
                    Some(1),
                    &[],
                )?
                .first()
                .get_one::<pg_sys::Oid>()?;
            TABLE.set(oid);
            let mut planted = HashMap::new();
            for row in c.select(
                "SELECT nonce, table_name FROM han_crypto.honeytokens",
                None,
                &[],
            )? {
                if let (Some(n), Some(t)) = (row.get::<Vec<u8>>(1)?, row.get::<String>(2)?) {
                    if let Ok(n) = Nonce::try_from(n.as_slice()) {
                        planted.insert(n, t);
                    }
                }
            }
            Ok(planted)
        })
    })
}

/// The table a honeytoken with `nonce` was planted in, if it is one.
fn planted_in(nonce: &Nonce) -> HcResult<Option<String>> {
    if PLANTED.with(|p| p.borrow().is_none()) {
        let planted = load()?;
        PLANTED.with(|p| *p.borrow_mut() = Some(planted));
    }
    Ok(PLANTED.with(|p| p.borrow().as_ref().and_then(|m| m.get(nonce).cloned())))
}

/// After `env` was opened, before its plaintext is returned: a honeytoken
/// is recorded (waiting for the writer; an Err means no plaintext). `via`
/// names the read path (the view, decrypt(), …).
pub fn check(env: &Envelope<'_>, via: &str, keyring: Option<&str>) -> HcResult<()> {
    let Some(table) = planted_in(&env.header.nonce)? else {
        return Ok(());
    };
    let mut access = crate::audit::Access::new(HONEYTOKEN_ACTION)
        .object(table)
        .outcome(crate::audit::Outcome::Ok)
        .detail(serde_json::json!({ "via": via }));
    if let Some(k) = keyring {
        access = access.keyring(k);
    }
    crate::audit::record_single(access)
}
