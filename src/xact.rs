//! Transaction ends, for every area that keeps per-transaction state: one
//! transaction callback and one subtransaction callback for the whole
//! extension, which call the handlers the areas register (from _PG_init),
//! in registration order. This module calls into no area.

use std::cell::{Cell, RefCell};

use pgrx::pg_sys;

/// Called at every transaction event (commit, abort, prepare, …).
pub type XactHandler = fn(pg_sys::XactEvent::Type);
/// Called at every subtransaction event, with the subtransaction's id.
pub type SubXactHandler = fn(pg_sys::SubXactEvent::Type, pg_sys::SubTransactionId);

thread_local! {
    static XACT: RefCell<Vec<XactHandler>> = const { RefCell::new(Vec::new()) };
    static SUBXACT: RefCell<Vec<SubXactHandler>> = const { RefCell::new(Vec::new()) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

fn ensure_registered() {
    if REGISTERED.replace(true) {
        return;
    }
    // SAFETY: process-lifetime callbacks with no argument, registered once.
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact_event), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact_event), std::ptr::null_mut());
    }
}

/// Adds a handler for transaction events.
pub fn on_xact(handler: XactHandler) {
    ensure_registered();
    XACT.with(|h| h.borrow_mut().push(handler));
}

/// Adds a handler for subtransaction events.
pub fn on_subxact(handler: SubXactHandler) {
    ensure_registered();
    SUBXACT.with(|h| h.borrow_mut().push(handler));
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_xact_event(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    // Copied out: a handler must be free to run code that registers nothing
    // while the list is borrowed.
    let handlers: Vec<XactHandler> = XACT.with(|h| h.borrow().clone());
    for h in handlers {
        h(event);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_subxact_event(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    let handlers: Vec<SubXactHandler> = SUBXACT.with(|h| h.borrow().clone());
    for h in handlers {
        h(event, my_subid);
    }
}
