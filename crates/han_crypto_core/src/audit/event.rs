//! One audit event and its canonical byte encoding (format v1).
//!
//! The encoding is what the chain hashes, so it must be injective: two events
//! that differ in anything never share an encoding. It is a fixed header and
//! then tag-length-value fields in strictly ascending tag order, absent fields
//! omitted:
//!
//! ```text
//! "HCAE" ‖ 0x01 ‖ u64 seq ‖ i64 ts_us ‖ u8 kind ‖ (u8 tag ‖ u32 len ‖ value)*
//! ```
//!
//! All integers are big-endian. An `Int` value is 8 bytes (i64), `Text` its
//! UTF-8 bytes, `List` each item as `u32 len ‖ bytes`, `Json` the canonical
//! JSON text of [`canonical_json`]. The decoder is strict (unknown tags, tags
//! out of order, trailing bytes, non-canonical JSON are errors), so an encoding
//! decodes to exactly one event and re-encodes to the same bytes.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::AuditError;

/// The first bytes of every encoded event.
pub const EVENT_MAGIC: &[u8; 4] = b"HCAE";
/// The encoding's version byte.
pub const EVENT_VERSION: u8 = 1;
/// Bytes before the first field: magic, version, seq, ts, kind.
const HEADER_LEN: usize = 4 + 1 + 8 + 8 + 1;
/// No field value may exceed this (a bounded row-key list, a small detail).
pub const MAX_FIELD_LEN: usize = 64 * 1024;

/// What an event record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// The first access of a statement to an (object, action, outcome):
    /// durable before the first plaintext leaves.
    Begin = 1,
    /// The counts and row keys that close a `Begin` (field `begin_seq`).
    End = 2,
    /// A complete event on its own (row level, lifecycle, configuration).
    Single = 3,
    /// Left by archiving: the chain before it was exported and removed.
    Marker = 4,
}

impl Kind {
    /// The name used in SQL and in exports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Begin => "begin",
            Kind::End => "end",
            Kind::Single => "single",
            Kind::Marker => "marker",
        }
    }

    /// Inverse of [`Kind::name`].
    pub fn from_name(name: &str) -> Option<Kind> {
        [Kind::Begin, Kind::End, Kind::Single, Kind::Marker]
            .into_iter()
            .find(|k| k.name() == name)
    }

    fn from_byte(b: u8) -> Option<Kind> {
        [Kind::Begin, Kind::End, Kind::Single, Kind::Marker]
            .into_iter()
            .find(|k| *k as u8 == b)
    }
}

/// The type a field's value has; fixed per field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Int,
    Text,
    List,
    Json,
}

macro_rules! fields {
    ($($variant:ident = $tag:literal, $name:literal, $ty:ident;)*) => {
        /// A field an event may carry. The tag is its place in the encoding
        /// and never changes meaning; the name is the column and export key.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum Field { $($variant = $tag,)* }

        impl Field {
            /// Every field, in tag order.
            pub const ALL: &'static [Field] = &[$(Field::$variant,)*];

            /// Column and export name.
            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name,)* }
            }

            /// The type of this field's value.
            pub fn ty(self) -> FieldType {
                match self { $(Field::$variant => FieldType::$ty,)* }
            }
        }
    };
}

// The two role names are not `session_user`/`current_user`: those are
// reserved words, and these names are also the audit table's columns.
fields! {
    Xid = 1, "xid", Int;
    SessionUser = 2, "session_user_name", Text;
    CurrentUser = 3, "current_user_name", Text;
    Actor = 4, "actor", Text;
    ActorVia = 5, "actor_via", Text;
    ClientAddr = 6, "client_addr", Text;
    ApplicationName = 7, "application_name", Text;
    BackendPid = 8, "backend_pid", Int;
    Action = 9, "action", Text;
    Object = 10, "object", Text;
    Keyring = 11, "keyring", Text;
    KeyVersion = 12, "key_version", Int;
    Outcome = 13, "outcome", Text;
    Sqlstate = 14, "sqlstate", Text;
    RowCount = 15, "row_count", Int;
    RowKeys = 16, "row_keys", List;
    BeginSeq = 17, "begin_seq", Int;
    Detail = 18, "detail", Json;
}

impl Field {
    fn from_tag(tag: u8) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| *f as u8 == tag)
    }

    /// Inverse of [`Field::name`].
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// A field's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Text(String),
    List(Vec<String>),
    /// Canonical JSON text (see [`canonical_json`]).
    Json(String),
}

impl Value {
    fn ty(&self) -> FieldType {
        match self {
            Value::Int(_) => FieldType::Int,
            Value::Text(_) => FieldType::Text,
            Value::List(_) => FieldType::List,
            Value::Json(_) => FieldType::Json,
        }
    }
}

/// One audit event. `seq` is assigned by the single writer; everything else
/// by the backend that saw the access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub seq: u64,
    /// Microseconds since the Unix epoch (`clock_timestamp()` at the access).
    pub ts_us: i64,
    pub kind: Kind,
    fields: BTreeMap<Field, Value>,
}

impl Event {
    /// An event with no fields yet.
    pub fn new(seq: u64, ts_us: i64, kind: Kind) -> Event {
        Event {
            seq,
            ts_us,
            kind,
            fields: BTreeMap::new(),
        }
    }

    /// Sets a field. A JSON value is canonicalised here, so the stored form
    /// is the hashed form.
    pub fn set(&mut self, field: Field, value: Value) -> Result<(), AuditError> {
        if value.ty() != field.ty() {
            return Err(AuditError::Malformed(format!(
                "field {} takes a value of another type",
                field.name()
            )));
        }
        let value = match value {
            Value::Json(text) => {
                let parsed: Json = serde_json::from_str(&text).map_err(|_| {
                    AuditError::Malformed(format!("field {} is not JSON", field.name()))
                })?;
                Value::Json(canonical_json(&parsed)?)
            }
            other => other,
        };
        if encoded_len(&value) > MAX_FIELD_LEN {
            return Err(AuditError::Malformed(format!(
                "field {} is longer than {MAX_FIELD_LEN} bytes",
                field.name()
            )));
        }
        self.fields.insert(field, value);
        Ok(())
    }

    /// Sets a text field (convenience for the common case).
    pub fn set_text(&mut self, field: Field, text: &str) -> Result<(), AuditError> {
        self.set(field, Value::Text(text.to_owned()))
    }

    /// Sets an integer field.
    pub fn set_int(&mut self, field: Field, n: i64) -> Result<(), AuditError> {
        self.set(field, Value::Int(n))
    }

    /// The value of a field, if present.
    pub fn get(&self, field: Field) -> Option<&Value> {
        self.fields.get(&field)
    }

    /// The present fields, in tag order.
    pub fn fields(&self) -> impl Iterator<Item = (Field, &Value)> {
        self.fields.iter().map(|(f, v)| (*f, v))
    }

    /// The canonical encoding (what the chain hashes).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 16 * self.fields.len());
        out.extend_from_slice(EVENT_MAGIC);
        out.push(EVENT_VERSION);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.ts_us.to_be_bytes());
        out.push(self.kind as u8);
        for (field, value) in &self.fields {
            out.push(*field as u8);
            out.extend_from_slice(&(encoded_len(value) as u32).to_be_bytes());
            match value {
                Value::Int(n) => out.extend_from_slice(&n.to_be_bytes()),
                Value::Text(s) | Value::Json(s) => out.extend_from_slice(s.as_bytes()),
                Value::List(items) => {
                    for item in items {
                        out.extend_from_slice(&(item.len() as u32).to_be_bytes());
                        out.extend_from_slice(item.as_bytes());
                    }
                }
            }
        }
        out
    }

    /// Parses an encoding; the inverse of [`Event::encode`], and strict.
    pub fn decode(bytes: &[u8]) -> Result<Event, AuditError> {
        let bad = |why: &str| AuditError::Malformed(format!("event encoding: {why}"));
        if bytes.len() < HEADER_LEN || &bytes[..4] != EVENT_MAGIC {
            return Err(bad("too short or bad magic"));
        }
        if bytes[4] != EVENT_VERSION {
            return Err(bad("unsupported version"));
        }
        let seq = u64::from_be_bytes(bytes[5..13].try_into().expect("8 bytes"));
        let ts_us = i64::from_be_bytes(bytes[13..21].try_into().expect("8 bytes"));
        let kind = Kind::from_byte(bytes[21]).ok_or_else(|| bad("unknown kind"))?;
        let mut event = Event::new(seq, ts_us, kind);
        let mut rest = &bytes[HEADER_LEN..];
        let mut last_tag = 0u8;
        while !rest.is_empty() {
            if rest.len() < 5 {
                return Err(bad("truncated field header"));
            }
            let tag = rest[0];
            let len = u32::from_be_bytes(rest[1..5].try_into().expect("4 bytes")) as usize;
            if tag <= last_tag {
                return Err(bad("fields out of order"));
            }
            last_tag = tag;
            let field = Field::from_tag(tag).ok_or_else(|| bad("unknown field"))?;
            if len > MAX_FIELD_LEN || rest.len() - 5 < len {
                return Err(bad("field length out of range"));
            }
            let raw = &rest[5..5 + len];
            rest = &rest[5 + len..];
            let text = |raw: &[u8]| {
                std::str::from_utf8(raw)
                    .map(str::to_owned)
                    .map_err(|_| bad("text is not UTF-8"))
            };
            let value = match field.ty() {
                FieldType::Int => Value::Int(i64::from_be_bytes(
                    raw.try_into().map_err(|_| bad("integer is not 8 bytes"))?,
                )),
                FieldType::Text => Value::Text(text(raw)?),
                FieldType::Json => {
                    let s = text(raw)?;
                    let parsed: Json =
                        serde_json::from_str(&s).map_err(|_| bad("detail is not JSON"))?;
                    if canonical_json(&parsed)? != s {
                        return Err(bad("detail is not canonical JSON"));
                    }
                    Value::Json(s)
                }
                FieldType::List => {
                    let mut items = Vec::new();
                    let mut list = raw;
                    while !list.is_empty() {
                        if list.len() < 4 {
                            return Err(bad("truncated list item"));
                        }
                        let n = u32::from_be_bytes(list[..4].try_into().expect("4 bytes")) as usize;
                        if list.len() - 4 < n {
                            return Err(bad("list item length out of range"));
                        }
                        items.push(text(&list[4..4 + n])?);
                        list = &list[4 + n..];
                    }
                    Value::List(items)
                }
            };
            event.fields.insert(field, value);
        }
        Ok(event)
    }

    /// The event as a JSON object: `seq`, `ts_us`, `kind` and each present
    /// field under its name (`detail` as a JSON value, not a string).
    pub fn to_json(&self) -> Json {
        let mut map = serde_json::Map::new();
        map.insert("seq".into(), Json::from(self.seq));
        map.insert("ts_us".into(), Json::from(self.ts_us));
        map.insert("kind".into(), Json::from(self.kind.name()));
        for (field, value) in &self.fields {
            let v = match value {
                Value::Int(n) => Json::from(*n),
                Value::Text(s) => Json::from(s.as_str()),
                Value::List(items) => Json::from(items.clone()),
                Value::Json(s) => serde_json::from_str(s).expect("canonical JSON parses"),
            };
            map.insert(field.name().into(), v);
        }
        Json::Object(map)
    }

    /// Inverse of [`Event::to_json`]; unknown keys are an error, so nothing
    /// can ride along unhashed.
    pub fn from_json(json: &Json) -> Result<Event, AuditError> {
        let bad = |why: String| AuditError::Malformed(format!("event JSON: {why}"));
        let obj = json
            .as_object()
            .ok_or_else(|| bad("not an object".into()))?;
        let seq = obj
            .get("seq")
            .and_then(Json::as_u64)
            .ok_or_else(|| bad("seq missing".into()))?;
        let ts_us = obj
            .get("ts_us")
            .and_then(Json::as_i64)
            .ok_or_else(|| bad("ts_us missing".into()))?;
        let kind = obj
            .get("kind")
            .and_then(Json::as_str)
            .and_then(Kind::from_name)
            .ok_or_else(|| bad("kind missing or unknown".into()))?;
        let mut event = Event::new(seq, ts_us, kind);
        for (key, v) in obj {
            if matches!(key.as_str(), "seq" | "ts_us" | "kind") {
                continue;
            }
            let field = Field::from_name(key).ok_or_else(|| bad(format!("unknown key {key:?}")))?;
            let wrong = || bad(format!("{key} has the wrong type"));
            let value = match field.ty() {
                FieldType::Int => Value::Int(v.as_i64().ok_or_else(wrong)?),
                FieldType::Text => Value::Text(v.as_str().ok_or_else(wrong)?.to_owned()),
                FieldType::List => Value::List(
                    v.as_array()
                        .ok_or_else(wrong)?
                        .iter()
                        .map(|item| item.as_str().map(str::to_owned).ok_or_else(wrong))
                        .collect::<Result<_, _>>()?,
                ),
                FieldType::Json => Value::Json(canonical_json(v)?),
            };
            event.set(field, value)?;
        }
        Ok(event)
    }
}

fn encoded_len(value: &Value) -> usize {
    match value {
        Value::Int(_) => 8,
        Value::Text(s) | Value::Json(s) => s.len(),
        Value::List(items) => items.iter().map(|i| 4 + i.len()).sum(),
    }
}

/// The canonical text of a JSON value: object keys sorted by their UTF-8
/// bytes, no whitespace, strings escaped as serde_json escapes them, and only
/// integer numbers. So a `detail` that went through `jsonb` (which reorders
/// keys and adds spaces) canonicalises back to the bytes that were hashed.
pub fn canonical_json(value: &Json) -> Result<String, AuditError> {
    let mut out = String::new();
    write_canonical(value, &mut out)?;
    Ok(out)
}

fn write_canonical(value: &Json, out: &mut String) -> Result<(), AuditError> {
    match value {
        Json::Null | Json::Bool(_) | Json::String(_) => {
            out.push_str(&serde_json::to_string(value).expect("a scalar serialises"))
        }
        Json::Number(n) => {
            if n.is_f64() {
                return Err(AuditError::Malformed(
                    "detail holds a non-integer number (only integers are allowed)".into(),
                ));
            }
            out.push_str(&n.to_string());
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out)?;
            }
            out.push(']');
        }
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).expect("a key serialises"));
                out.push(':');
                write_canonical(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// An event read straight from its JSON object (the export's event lines),
/// with no intermediate JSON tree: what makes reading a million-event export
/// fast. Exactly [`Event::from_json`]'s rules: unknown keys, wrong types and
/// missing header fields are errors.
pub struct EventFromJson(pub Event);

impl<'de> serde::Deserialize<'de> for EventFromJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = EventFromJson;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an audit event object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<EventFromJson, A::Error> {
                use serde::de::Error;
                let (mut seq, mut ts_us, mut kind) = (None, None, None);
                let mut fields: Vec<(Field, Value)> = Vec::new();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "seq" => seq = Some(map.next_value::<u64>()?),
                        "ts_us" => ts_us = Some(map.next_value::<i64>()?),
                        "kind" => {
                            let k = map.next_value::<std::borrow::Cow<'de, str>>()?;
                            kind = Some(
                                Kind::from_name(&k)
                                    .ok_or_else(|| A::Error::custom("kind unknown"))?,
                            );
                        }
                        name => {
                            let field = Field::from_name(name)
                                .ok_or_else(|| A::Error::custom(format!("unknown key {name:?}")))?;
                            let value = match field.ty() {
                                FieldType::Int => Value::Int(map.next_value()?),
                                FieldType::Text => Value::Text(map.next_value()?),
                                FieldType::List => Value::List(map.next_value()?),
                                FieldType::Json => {
                                    let j: Json = map.next_value()?;
                                    Value::Json(canonical_json(&j).map_err(A::Error::custom)?)
                                }
                            };
                            fields.push((field, value));
                        }
                    }
                }
                let (Some(seq), Some(ts_us), Some(kind)) = (seq, ts_us, kind) else {
                    return Err(A::Error::custom("seq, ts_us or kind missing"));
                };
                let mut event = Event::new(seq, ts_us, kind);
                for (field, value) in fields {
                    event.set(field, value).map_err(A::Error::custom)?;
                }
                Ok(EventFromJson(event))
            }
        }
        d.deserialize_map(V)
    }
}
