//! JSON objects read in place: each member's value stays unparsed in the
//! caller's text, so a large string member (an envelope's base64) is never
//! copied before it is decoded.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::value::RawValue;

/// An object's members, by name, each value still unparsed.
pub(crate) type Members<'a> = BTreeMap<Cow<'a, str>, &'a RawValue>;

/// The members of `text`, if it is a JSON object.
pub(crate) fn members(text: &str) -> Option<Members<'_>> {
    serde_json::from_str(text).ok()
}

/// A string value: borrowed from the text unless it has escapes.
pub(crate) fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    if let Ok(s) = serde_json::from_str::<&str>(raw.get()) {
        return Some(Cow::Borrowed(s));
    }
    serde_json::from_str::<String>(raw.get())
        .ok()
        .map(Cow::Owned)
}
