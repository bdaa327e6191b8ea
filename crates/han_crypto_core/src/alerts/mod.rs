//! Access monitoring: rules evaluated on audit events as the writer chains
//! them, so that a probe alerts whatever becomes of its transaction.
//!
//! A [`Rule`] says which events count (its [`RuleKind`]), whose they are
//! (its [`Subject`]), how many within which window make an alert, and how
//! severe it is. The [`Evaluator`] keeps per-(rule, subject) windows in
//! memory and returns a [`Firing`] when a threshold is crossed; while that
//! alert is open (its window has not passed since it opened) further
//! matches update it (`repeat`) instead of opening another.

mod evaluator;
mod rule;
mod window;

pub use evaluator::{Evaluator, Firing, LocalTime};
pub use rule::{AllowedHours, Rule, RuleError, RuleKind, Severity, Subject};

/// The actions that read plaintext.
pub const READ_ACTIONS: &[&str] = &["decrypt", "view_read", "open_sealed"];

/// The action of the event a honeytoken's decryption records.
pub const HONEYTOKEN_ACTION: &str = "honeytoken_read";

/// The action of the event an alert records (never evaluated itself).
pub const ALERT_ACTION: &str = "alert";
