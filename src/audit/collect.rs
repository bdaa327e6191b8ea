//! What the areas call to record an access, and the statement-level
//! folding of accesses into events (han_crypto.audit_level = statement):
//! the first access of a statement to an (action, object, keyring,
//! outcome) is a `begin` event, committed before the caller goes on; later
//! ones only count; an `end` event with the count follows when the next
//! statement records something or the transaction ends, without waiting.
//! If the backend dies first, the `begin` still proves the access.

use std::cell::RefCell;
use std::collections::HashMap;

use han_crypto_core::audit::{canonical_json, Event, Field, Kind, Value};
use han_crypto_core::redact::Policy;
use pgrx::pg_sys;

use super::client;
use crate::error::{HcError, HcResult};
use crate::gucs::{self, AuditLevel, AuditMode};

/// How an access ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Ok,
    /// Refused by han_crypto's own rules (not a member, locked keyring).
    Denied,
    /// A cryptographic failure (authentication, wrong passphrase).
    Failed,
    /// Any other error (an invalid call of an administrative function).
    Error,
}

impl Outcome {
    /// How a failure of han_crypto's own counts: a refusal of the actor,
    /// or a failure (authentication, corrupt or unknown key).
    pub fn of(e: &HcError) -> Outcome {
        match e {
            HcError::NotAllowed { .. }
            | HcError::KeyringLocked(_)
            | HcError::RetiredKeyVersion { .. }
            | HcError::PermissionDenied { .. } => Outcome::Denied,
            // A value or a key that does not open: what a probe produces.
            HcError::Core(_)
            | HcError::CorruptKeyring(_)
            | HcError::ContentMismatch { .. }
            | HcError::UnknownKeyringId(_)
            | HcError::UnknownKeyVersion { .. }
            | HcError::WrongRootKey => Outcome::Failed,
            _ => Outcome::Error,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
        }
    }
}

/// One access, as an area describes it. Never a value: names, versions,
/// counts and types only.
#[derive(Clone, Debug, Default)]
pub struct Access {
    pub action: &'static str,
    pub object: Option<String>,
    pub keyring: Option<String>,
    pub key_version: Option<i64>,
    pub outcome: Option<Outcome>,
    pub sqlstate: Option<String>,
    /// Counts and type names only.
    pub detail: Option<serde_json::Value>,
    pub row_key: Option<String>,
}

impl Access {
    pub fn new(action: &'static str) -> Access {
        Access {
            action,
            ..Access::default()
        }
    }
    pub fn object(mut self, o: impl Into<String>) -> Access {
        self.object = Some(o.into());
        self
    }
    pub fn keyring(mut self, k: impl Into<String>) -> Access {
        self.keyring = Some(k.into());
        self
    }
    pub fn key_version(mut self, v: u32) -> Access {
        self.key_version = Some(i64::from(v));
        self
    }
    pub fn outcome(mut self, o: Outcome) -> Access {
        self.outcome = Some(o);
        self
    }
    pub fn row_key(mut self, k: impl FnOnce() -> String) -> Access {
        if row_key_limit() > 0 {
            self.row_key = Some(k());
        }
        self
    }
    /// The outcome of `result`: ok, or what its error counts as.
    pub fn result<T>(self, result: &Result<T, HcError>) -> Access {
        match result {
            Ok(_) => self.outcome(Outcome::Ok),
            Err(e) => self.failure(e),
        }
    }
    /// What `e` counts as (denied, failed or error), with its SQLSTATE.
    pub fn failure(mut self, e: &HcError) -> Access {
        self.sqlstate = Some(e.sqlstate());
        self.outcome(Outcome::of(e))
    }
    pub fn detail(mut self, d: serde_json::Value) -> Access {
        self.detail = Some(d);
        self
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    action: &'static str,
    object: Option<String>,
    keyring: Option<String>,
    key_version: Option<i64>,
    outcome: Outcome,
    sqlstate: Option<String>,
}

struct Open {
    begin_seq: i64,
    /// Asynchronous mode: the statement's one event, not yet sent.
    whole: Option<Event>,
    count: i64,
    row_keys: Vec<String>,
}

#[derive(Default)]
struct Statement {
    id: (i64, i64),
    open: HashMap<Key, Open>,
}

thread_local! {
    static CURRENT: RefCell<Statement> = RefCell::new(Statement::default());
}

fn statement_id() -> (i64, i64) {
    // SAFETY: reading backend-local timestamps.
    unsafe {
        (
            pg_sys::GetCurrentTransactionStartTimestamp(),
            pg_sys::GetCurrentStatementStartTimestamp(),
        )
    }
}

/// Records an access. At statement level, the first of its kind in the
/// statement waits for the writer (the caller must not release anything
/// before this returns Ok); the rest are counted. Failures and refusals
/// are recorded the same way. An Err means nothing may be released.
pub fn record(mut access: Access) -> HcResult<()> {
    if super::is_writer() {
        return Ok(());
    }
    if !note_settings_change()? {
        return Ok(());
    }
    if !on_standby() && PENDING.with(|p| !p.borrow().is_empty()) {
        flush_pending()?;
    }
    let key_of = |a: &Access| Key {
        action: a.action,
        object: a.object.clone(),
        keyring: a.keyring.clone(),
        key_version: a.key_version,
        outcome: a.outcome.unwrap_or(Outcome::Ok),
        sqlstate: a.sqlstate.clone(),
    };
    let mut key = key_of(&access);
    let id = statement_id();
    let per_row = gucs::AUDIT_LEVEL.get() == AuditLevel::Row;
    if !per_row {
        // One statement naming thousands of made-up keyrings is one
        // statement: past MAX_KEYS distinct objects, the rest are counted
        // together instead of each becoming an event.
        let crowded = CURRENT.with(|c| {
            let c = c.borrow();
            c.id == id && c.open.len() >= MAX_KEYS && !c.open.contains_key(&key)
        });
        if crowded {
            access.object = None;
            access.keyring = Some(format!("(more than {MAX_KEYS} in one statement)"));
            access.key_version = None;
            key = key_of(&access);
        }
        let counted = CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            if c.id != id {
                let ended = std::mem::take(&mut c.open);
                c.id = id;
                drop(c);
                send_ends(ended);
                return false;
            }
            match c.open.get_mut(&key) {
                Some(open) => {
                    open.count += 1;
                    if let Some(k) = &access.row_key {
                        if open.row_keys.len() < row_key_limit() {
                            open.row_keys.push(clean_text(k.clone()));
                        }
                    }
                    true
                }
                None => false,
            }
        });
        if counted {
            return Ok(());
        }
    }
    // Asynchronous, statement level: nothing waits for the first access,
    // so the statement's accesses are one event, sent with its count when
    // it ends (half the writer's work of a begin and an end).
    let fold = !per_row
        && gucs::AUDIT_MODE.get() == AuditMode::Async
        && !on_standby()
        && !trail_created_here()?;
    let kind = if per_row || fold {
        Kind::Single
    } else {
        Kind::Begin
    };
    let event = build(&access, kind)?;
    let (seq, whole) = if fold {
        client::ensure_writer()?;
        (0, Some(event))
    } else if on_standby() {
        (super::standby::log_event(event)?, None)
    } else {
        (commit_event(&event.encode())?, None)
    };
    if !per_row {
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            if c.id == id {
                c.open.insert(
                    key,
                    Open {
                        begin_seq: seq,
                        whole,
                        count: 1,
                        row_keys: access
                            .row_key
                            .map(clean_text)
                            .into_iter()
                            .take(row_key_limit())
                            .collect(),
                    },
                );
            }
        });
    }
    Ok(())
}

thread_local! {
    /// (transaction start, whether it created the trail), asked once per transaction.
    static CREATED_HERE: std::cell::Cell<Option<(i64, bool)>> = const { std::cell::Cell::new(None) };
}

/// Whether the current transaction created the trail (see
/// writer::append_in_creating_transaction).
fn trail_created_here() -> HcResult<bool> {
    let id = statement_id().0;
    if let Some((t, v)) = CREATED_HERE.get() {
        if t == id {
            return Ok(v);
        }
    }
    let v = super::store::chain_is_this_transactions()?;
    CREATED_HERE.set(Some((id, v)));
    Ok(v)
}

/// Hands `bytes` (one encoded event) to the writer and returns its seq:
/// committed before this returns in the durable mode, queued in the
/// asynchronous one; in the transaction that created the trail, appended
/// directly.
fn commit_event(bytes: &[u8]) -> HcResult<i64> {
    if gucs::AUDIT_MODE.get() == AuditMode::Async && !trail_created_here()? {
        return client::submit_queued(bytes);
    }
    commit_event_waiting(bytes)
}

/// As [`commit_event`], waiting for the commit whatever the mode: for the
/// event that records a change of the mode itself.
fn commit_event_waiting(bytes: &[u8]) -> HcResult<i64> {
    if trail_created_here()? {
        return super::writer::append_in_creating_transaction(bytes);
    }
    client::submit(bytes)
}

/// At PRE_COMMIT: in the transaction that created the trail, the statement's
/// closing counts and the checkpoint go in before it commits.
pub fn before_commit() -> HcResult<()> {
    if CREATED_HERE
        .get()
        .is_some_and(|(t, v)| v && t == statement_id().0)
    {
        let ended = CURRENT.with(|c| std::mem::take(&mut c.borrow_mut().open));
        for bytes in end_events(ended) {
            super::writer::append_in_creating_transaction(&bytes)?;
        }
        super::writer::sign_creating_transaction()?;
    }
    Ok(())
}

/// Records a complete event on its own (lifecycle and configuration
/// changes), waiting for the writer.
pub fn record_single(access: Access) -> HcResult<()> {
    record_whole(access, Kind::Single)
}

/// Runs as [`record_single`] with the outcome of `result` (ok, denied,
/// failed or error with its SQLSTATE), then hands `result` back.
pub fn audited<T>(access: Access, result: HcResult<T>) -> HcResult<T> {
    record_single(access.result(&result))?;
    result
}

/// Records a marker (left by archiving), waiting for the writer's commit
/// whatever the mode: what follows it removes the events it describes.
pub fn record_marker(access: Access) -> HcResult<()> {
    record_whole(access, Kind::Marker)
}

fn record_whole(access: Access, kind: Kind) -> HcResult<()> {
    if super::is_writer() {
        return Ok(());
    }
    // An archive marker is written even with audit_mode = off: the
    // removal it accounts for follows it.
    if !note_settings_change()? && kind != Kind::Marker {
        return Ok(());
    }
    let event = build(&access, kind)?;
    if on_standby() {
        return super::standby::log_event(event).map(|_| ());
    }
    if kind == Kind::Marker {
        return commit_event_waiting(&event.encode()).map(|_| ());
    }
    commit_event(&event.encode()).map(|_| ())
}

fn on_standby() -> bool {
    // SAFETY: reading shared recovery state.
    unsafe { pg_sys::RecoveryInProgress() }
}

/// The settings that decide what is recorded, as this session last saw them.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Settings {
    level: AuditLevel,
    mode: AuditMode,
}

thread_local! {
    static SEEN: std::cell::Cell<Option<Settings>> = const { std::cell::Cell::new(None) };
}

fn level_name(l: AuditLevel) -> &'static str {
    match l {
        AuditLevel::Row => "row",
        AuditLevel::Statement => "statement",
    }
}

fn mode_name(m: AuditMode) -> &'static str {
    match m {
        AuditMode::Durable => "durable",
        AuditMode::Async => "async",
        AuditMode::Off => "off",
    }
}

/// A change of han_crypto.audit_level or audit_mode in this session (only
/// a superuser can make one) is an event of its own, recorded before the
/// next access it governs. Returns whether accesses are recorded now.
fn note_settings_change() -> HcResult<bool> {
    let now = Settings {
        level: gucs::AUDIT_LEVEL.get(),
        mode: gucs::AUDIT_MODE.get(),
    };
    // First look in this session: compare with the built-in defaults, so a
    // level or mode set for the session by postgresql.conf, ALTER SYSTEM,
    // ALTER ROLE or ALTER DATABASE is recorded too.
    let before = SEEN.replace(Some(now)).unwrap_or(DEFAULT_SETTINGS);
    for (setting, from, to) in [
        (
            "han_crypto.audit_level",
            level_name(before.level),
            level_name(now.level),
        ),
        (
            "han_crypto.audit_mode",
            mode_name(before.mode),
            mode_name(now.mode),
        ),
    ] {
        if from == to {
            continue;
        }
        let access = Access::new("config")
            .object(setting)
            .detail(serde_json::json!({ "from": from, "to": to }));
        let event = build(&access, Kind::Single)?;
        // A hot standby cannot write the trail: its events go to the
        // server log, signed, in this backend's standby chain.
        let sent = if on_standby() {
            super::standby::log_event(event).map(|_| ())
        } else {
            commit_event_waiting(&event.encode()).map(|_| ())
        };
        if let Err(e) = sent {
            SEEN.set(Some(before));
            return Err(e);
        }
    }
    Ok(now.mode != AuditMode::Off)
}

const DEFAULT_SETTINGS: Settings = Settings {
    level: AuditLevel::Statement,
    mode: AuditMode::Durable,
};

/// Distinct (action, object, keyring, version, outcome) events one
/// statement makes before the rest are counted together.
const MAX_KEYS: usize = 64;

fn row_key_limit() -> usize {
    gucs::AUDIT_ROW_KEYS.get().max(0) as usize
}

/// The closing events of a statement's accesses.
fn end_events(ended: HashMap<Key, Open>) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(ended.len());
    for (key, open) in ended {
        if let Some(mut e) = open.whole {
            let _ = e.set(Field::RowCount, Value::Int(open.count));
            if !open.row_keys.is_empty() {
                let _ = e.set(Field::RowKeys, Value::List(open.row_keys));
            }
            out.push(e.encode());
            continue;
        }
        let mut e = Event::new(0, super::now_us(), Kind::End);
        let _ = e.set(Field::Action, Value::Text(key.action.into()));
        let _ = e.set(Field::Outcome, Value::Text(key.outcome.name().into()));
        let _ = e.set(Field::BeginSeq, Value::Int(open.begin_seq));
        let _ = e.set(Field::RowCount, Value::Int(open.count));
        if !open.row_keys.is_empty() {
            let _ = e.set(Field::RowKeys, Value::List(open.row_keys));
        }
        out.push(e.encode());
    }
    out
}

/// The closing counts of a statement's accesses, without waiting: what the
/// writer cannot take now goes with this backend's next event.
fn send_ends(ended: HashMap<Key, Open>) {
    if on_standby() {
        for e in end_events(ended) {
            if let Ok(e) = Event::decode(&e) {
                let _ = super::standby::log_event(e);
            }
        }
        return;
    }
    for bytes in end_events(ended) {
        if !client::try_submit(&bytes) {
            PENDING.with(|p| {
                if let Ok(mut p) = p.try_borrow_mut() {
                    if p.len() < MAX_PENDING {
                        p.push(bytes);
                    }
                }
            });
        }
    }
}

thread_local! {
    /// `end` events the writer could not take when they were made (it had
    /// stopped, or restarted): sent with the next event this backend records.
    static PENDING: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}
const MAX_PENDING: usize = 1000;

/// Sends what [`PENDING`] holds, waiting for the writer like any event.
fn flush_pending() -> HcResult<()> {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    for (i, bytes) in pending.iter().enumerate() {
        if let Err(e) = commit_event(bytes) {
            PENDING.with(|p| p.borrow_mut().extend(pending[i..].iter().cloned()));
            return Err(e);
        }
    }
    Ok(())
}

/// At transaction end: close the statement's accesses.
pub fn on_transaction_end() {
    // A trail this transaction created is gone if it aborted, and was
    // closed at PRE_COMMIT if it committed: nothing to send either way.
    if CREATED_HERE
        .get()
        .is_some_and(|(t, v)| v && t == statement_id().0)
    {
        CURRENT.with(|c| c.try_borrow_mut().map(|mut c| c.open.clear()).ok());
        return;
    }
    let ended = CURRENT.with(|c| {
        c.try_borrow_mut()
            .map(|mut c| std::mem::take(&mut c.open))
            .ok()
    });
    if let Some(ended) = ended {
        send_ends(ended);
    }
}

fn cstr_name(p: *const std::ffi::c_char) -> Option<String> {
    // SAFETY: a NUL-terminated string from PostgreSQL, or NULL.
    (!p.is_null()).then(|| {
        unsafe { std::ffi::CStr::from_ptr(p) }
            .to_string_lossy()
            .into_owned()
    })
}

fn role_name(oid: pg_sys::Oid) -> Option<String> {
    // SAFETY: noerr = true returns NULL for a dropped role.
    cstr_name(unsafe { pg_sys::GetUserNameFromId(oid, true) })
}

/// Longest text field kept, in bytes: names a caller made up (a 100 kB
/// "keyring" that does not exist) must not fill the trail.
const MAX_TEXT: usize = 256;

/// `t`, cut at a character boundary after MAX_TEXT bytes, marked with "…".
fn bounded(t: String) -> String {
    if t.len() <= MAX_TEXT {
        return t;
    }
    let mut end = MAX_TEXT;
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &t[..end])
}

/// A caller-supplied text as the trail keeps it: control and invisible
/// formatting characters escaped (a newline or a direction override must
/// not make one name read as another), whatever the redactor finds in it
/// replaced (a passphrase passed as a keyring name by mistake must not
/// stay in an append-only table), and bounded.
fn clean_text(t: String) -> String {
    // Redact first: a secret spread over lines (a PEM key) is recognised
    // only with its line breaks, which escaping would hide from the scanner.
    let redacted = match crate::redaction::text(&t, Policy::ALL) {
        Ok((clean, _)) => clean.into_owned(),
        Err(_) => "[unreadable]".into(),
    };
    let escape = |c: char| {
        c.is_control() || crate::actor::is_invisible_format(c) || c == '\u{2028}' || c == '\u{2029}'
    };
    let escaped: String = if redacted.chars().any(escape) {
        redacted
            .chars()
            .map(|c| {
                if escape(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        redacted
    };
    bounded(escaped)
}

/// The event for `access`, with who, where and when.
fn build(access: &Access, kind: Kind) -> HcResult<Event> {
    let mut e = Event::new(0, super::now_us(), kind);
    let set = |e: &mut Event, f: Field, v: Value| {
        let v = match v {
            Value::Text(t) => Value::Text(clean_text(t)),
            other => other,
        };
        e.set(f, v).map_err(|x| HcError::Catalog(x.to_string()))
    };
    // SAFETY: reading backend-local state.
    let (xid, session_user, current_user, pid) = unsafe {
        (
            pg_sys::GetTopFullTransactionIdIfAny().value,
            pg_sys::GetSessionUserId(),
            pg_sys::GetUserId(),
            pg_sys::MyProcPid,
        )
    };
    if xid != 0 {
        set(&mut e, Field::Xid, Value::Int(xid as i64))?;
    }
    if let Some(n) = role_name(session_user) {
        set(&mut e, Field::SessionUser, Value::Text(n))?;
    }
    if let Some(n) = role_name(current_user) {
        set(&mut e, Field::CurrentUser, Value::Text(n.clone()))?;
    }
    let named = crate::actor::named();
    let (actor, via, addr) = match named {
        Some(a) => (a.principal, a.via, a.client_addr),
        None => (crate::actor::current_role_name(), "role", None),
    };
    set(&mut e, Field::Actor, Value::Text(actor))?;
    set(&mut e, Field::ActorVia, Value::Text(via.into()))?;
    if let Some(addr) = addr.or_else(client_addr) {
        set(&mut e, Field::ClientAddr, Value::Text(addr))?;
    }
    if let Some(app) = application_name() {
        set(&mut e, Field::ApplicationName, Value::Text(app))?;
    }
    set(&mut e, Field::BackendPid, Value::Int(i64::from(pid)))?;
    set(&mut e, Field::Action, Value::Text(access.action.into()))?;
    if let Some(o) = &access.object {
        set(&mut e, Field::Object, Value::Text(o.clone()))?;
    }
    if let Some(k) = &access.keyring {
        set(&mut e, Field::Keyring, Value::Text(k.clone()))?;
    }
    if let Some(v) = access.key_version {
        set(&mut e, Field::KeyVersion, Value::Int(v))?;
    }
    set(
        &mut e,
        Field::Outcome,
        Value::Text(access.outcome.unwrap_or(Outcome::Ok).name().into()),
    )?;
    if let Some(s) = &access.sqlstate {
        set(&mut e, Field::Sqlstate, Value::Text(s.clone()))?;
    }
    if kind == Kind::Single {
        set(&mut e, Field::RowCount, Value::Int(1))?;
        if let Some(k) = &access.row_key {
            set(
                &mut e,
                Field::RowKeys,
                Value::List(vec![clean_text(k.clone())]),
            )?;
        }
    }
    if let Some(d) = &access.detail {
        let mut json = canonical_json(d).map_err(|x| HcError::Catalog(x.to_string()))?;
        // Details are counts and names; one that outgrows a field (a
        // caller-supplied value in it) is recorded as that fact, never
        // an internal error.
        if json.len() > han_crypto_core::audit::event::MAX_FIELD_LEN {
            json = r#"{"truncated":true}"#.to_owned();
        }
        set(&mut e, Field::Detail, Value::Json(json))?;
    }
    Ok(e)
}

/// The client's address as the server sees it (inet_client_addr()); none
/// over a Unix socket. Fixed for the session, so asked once.
fn client_addr() -> Option<String> {
    thread_local! {
        static ADDR: std::cell::OnceCell<Option<String>> = const { std::cell::OnceCell::new() };
    }
    ADDR.with(|a| {
        a.get_or_init(|| {
            // A read-only query: Spi::get_one's read-write form assigns a
            // transaction id, which a hot standby refuses.
            pgrx::Spi::connect(|c| {
                c.select(
                    "SELECT pg_catalog.host(pg_catalog.inet_client_addr())",
                    Some(1),
                    &[],
                )?
                .first()
                .get_one::<String>()
            })
            .ok()
            .flatten()
        })
        .clone()
    })
}

/// application_name is the client's to choose: what a redactor finds in it
/// never reaches the trail.
fn application_name() -> Option<String> {
    // SAFETY: the GUC's current value; NULL-safe.
    let app = cstr_name(unsafe { pg_sys::application_name })?;
    if app.is_empty() {
        return None;
    }
    let app: String = app.chars().take(64).collect();
    match crate::redaction::text(&app, Policy::ALL) {
        Ok((clean, _)) => Some(clean.into_owned()),
        Err(_) => Some("[unreadable]".into()),
    }
}
