//! Who is acting: the principal whose keyring membership is checked.
//!
//! By default the database role (`current_user`). An application that
//! connects with one role for all its users names the user per transaction,
//! either by trust (`set_actor`, only for roles granted han_crypto_app) or by
//! proof (`authenticate`, an HS256 JWT verified with the application's own
//! secret). Both last until the end of the transaction — never longer — so a
//! pooled connection (PgBouncer in transaction mode) never hands one user's
//! identity to the next client.

use std::cell::RefCell;
use std::ffi::CStr;

use pgrx::pg_sys;

/// An actor named by the application for the current transaction.
#[derive(Debug, Clone)]
pub struct Actor {
    pub principal: String,
    pub client_addr: Option<String>,
    /// `set_actor` or `jwt`.
    pub via: &'static str,
}

/// PostgreSQL's TopSubTransactionId: the transaction itself.
const TOP_SUBTRANSACTION_ID: pg_sys::SubTransactionId = 1;

thread_local! {
    static ACTOR: RefCell<Option<Actor>> = const { RefCell::new(None) };
    /// Actors replaced inside a subtransaction: (that subtransaction, the
    /// actor before). Rolling the subtransaction back (ROLLBACK TO
    /// SAVEPOINT, a caught error) restores the actor before it.
    static REPLACED: RefCell<Vec<(pg_sys::SubTransactionId, Option<Actor>)>> = const { RefCell::new(Vec::new()) };
    /// Name of the last role looked up, by OID, for this transaction:
    /// decrypting a column asks once per row, and the lookup is not free.
    static ROLE_NAME: RefCell<Option<(pg_sys::Oid, String)>> = const { RefCell::new(None) };
}

/// The database role name in effect (`current_user`).
pub fn current_role_name() -> String {
    // SAFETY: reading the backend's current user id.
    let oid = unsafe { pg_sys::GetUserId() };
    if let Some(name) = ROLE_NAME.with(|r| {
        r.borrow()
            .as_ref()
            .filter(|(o, _)| *o == oid)
            .map(|(_, n)| n.clone())
    }) {
        return name;
    }
    // SAFETY: GetUserId() is always a valid role in a running transaction;
    // with noerr = false a missing role raises an ERROR instead of NULL.
    let name = unsafe {
        CStr::from_ptr(pg_sys::GetUserNameFromId(oid, false))
            .to_string_lossy()
            .into_owned()
    };
    ROLE_NAME.with(|r| *r.borrow_mut() = Some((oid, name.clone())));
    name
}

/// The principal whose memberships count right now.
pub fn current() -> String {
    ACTOR
        .with(|a| a.borrow().as_ref().map(|a| a.principal.clone()))
        .unwrap_or_else(current_role_name)
}

/// The application-named actor, if one is set in this transaction.
pub fn named() -> Option<Actor> {
    ACTOR.with(|a| a.borrow().clone())
}

/// Whether an application actor is named in this transaction (no copy).
pub fn is_named() -> bool {
    ACTOR.with(|a| a.borrow().is_some())
}

/// Names the actor for the rest of the transaction (or until the
/// subtransaction it is named in rolls back).
pub fn set(actor: Actor) {
    let previous = ACTOR.with(|a| a.borrow_mut().replace(actor));
    // SAFETY: reading backend-local transaction state.
    let sub = unsafe { pg_sys::GetCurrentSubTransactionId() };
    if sub > TOP_SUBTRANSACTION_ID {
        REPLACED.with(|r| {
            let mut r = r.borrow_mut();
            // The first replacement in a subtransaction holds what to go back to.
            if r.last().is_none_or(|(s, _)| *s != sub) {
                r.push((sub, previous));
            }
        });
    }
}

/// Whether the current role has the privileges of `role` (membership with
/// inheritance, or superuser).
pub fn has_role(role: &CStr) -> bool {
    // SAFETY: catalog lookups by name; missing_ok returns InvalidOid.
    unsafe {
        let oid = pg_sys::get_role_oid(role.as_ptr(), true);
        oid != pg_sys::InvalidOid && pg_sys::has_privs_of_role(pg_sys::GetUserId(), oid)
    }
}

/// Registers the transaction handlers below (from _PG_init).
pub fn register_callbacks() {
    crate::xact::on_xact(on_xact_event);
    crate::xact::on_subxact(on_subxact_event);
}

/// Ends the actor with its transaction.
fn on_xact_event(event: pg_sys::XactEvent::Type) {
    use pg_sys::XactEvent::*;
    if matches!(
        event,
        XACT_EVENT_COMMIT
            | XACT_EVENT_ABORT
            | XACT_EVENT_PREPARE
            | XACT_EVENT_PARALLEL_COMMIT
            | XACT_EVENT_PARALLEL_ABORT
    ) {
        ACTOR.with(|a| {
            if let Ok(mut a) = a.try_borrow_mut() {
                *a = None;
            }
        });
        REPLACED.with(|r| {
            if let Ok(mut r) = r.try_borrow_mut() {
                r.clear();
            }
        });
        // Role names are cached for one transaction only (ALTER ROLE RENAME).
        ROLE_NAME.with(|r| {
            if let Ok(mut r) = r.try_borrow_mut() {
                *r = None;
            }
        });
    }
}

/// Restores the actor on subtransaction abort. Subtransaction ids grow
/// monotonically, so every replacement made in the aborted subtransaction
/// or one nested in it has an id >= its own.
fn on_subxact_event(event: pg_sys::SubXactEvent::Type, my_subid: pg_sys::SubTransactionId) {
    if event != pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        return;
    }
    REPLACED.with(|r| {
        let Ok(mut r) = r.try_borrow_mut() else {
            return;
        };
        while r.last().is_some_and(|(s, _)| *s >= my_subid) {
            let (_, previous) = r.pop().expect("checked above");
            ACTOR.with(|a| {
                if let Ok(mut a) = a.try_borrow_mut() {
                    *a = previous;
                }
            });
        }
    });
}

/// Unicode format characters (category Cf) that change how text around
/// them reads without showing: bidi controls, zero-width characters.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}
