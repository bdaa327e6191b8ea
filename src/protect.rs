//! Transparent table protection: one static BEFORE INSERT OR UPDATE row
//! trigger, configured from han_crypto.protected_tables/_columns, seals
//! protected columns before the row reaches the heap or the WAL; the
//! `_open_*` functions decrypt them for the `<table>_decrypted` view.
//!
//! Every value is bound (column::Place) to the table's binding name, the
//! column, the row's keyring and its primary key, so a value copied to
//! another row, column, table or team does not decrypt. A value that already
//! authenticates as an envelope for exactly this place is kept as it is — an
//! authenticated check, never a prefix sniff — which makes restores,
//! `INSERT … ON CONFLICT … EXCLUDED.col` and no-op updates safe; anything
//! else, including a forged "envelope", is sealed like any other plaintext.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::num::NonZeroUsize;
use std::rc::Rc;

use han_crypto_core::buffer;
use han_crypto_core::column::{self, Place};
use han_crypto_core::envelope::{self, ContentType};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::catalog;
use crate::error::{HcError, HcResult};
use crate::keyring::{self, Access};

/// How a protected column stores its envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Bytea,
    Jsonb,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(Self::Text),
            "bytea" => Some(Self::Bytea),
            "jsonb" => Some(Self::Jsonb),
            _ => None,
        }
    }

    /// The kind a column of type `typid` (with `typmod`) is sealed as, if
    /// han_crypto can protect it: text and unbounded varchar, bytea, jsonb.
    pub fn of_type(typid: pg_sys::Oid, typmod: i32) -> Option<Self> {
        match typid {
            pg_sys::TEXTOID => Some(Kind::Text),
            pg_sys::VARCHAROID if typmod < 0 => Some(Kind::Text),
            pg_sys::BYTEAOID => Some(Kind::Bytea),
            pg_sys::JSONBOID => Some(Kind::Jsonb),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Bytea => "bytea",
            Kind::Jsonb => "jsonb",
        }
    }

    fn content(self) -> ContentType {
        match self {
            Kind::Text => ContentType::Text,
            Kind::Bytea => ContentType::Bytes,
            Kind::Jsonb => ContentType::Json,
        }
    }

    /// The envelope inside a stored value, if it has the stored form.
    fn envelope_of(self, value: &[u8]) -> HcResult<Option<Vec<u8>>> {
        let text = || std::str::from_utf8(value).ok();
        Ok(match self {
            Kind::Bytea if column::is_envelope(value) => Some(buffer::copy_of(value)?),
            Kind::Bytea => None,
            Kind::Text => text().map(column::decode_text).transpose()?.flatten(),
            Kind::Jsonb => text().map(column::decode_json).transpose()?.flatten(),
        })
    }
}

/// The envelope inside a value stored in a protected column of `kind`
/// (text, bytea or jsonb), if it has the stored form.
pub fn stored_envelope(kind: &str, value: &[u8]) -> HcResult<Option<Vec<u8>>> {
    match Kind::parse(kind) {
        Some(k) => k.envelope_of(value),
        None => Ok(None),
    }
}

struct ColumnConfig {
    name: String,
    attno: NonZeroUsize,
    kind: Kind,
    /// Which redaction rules run before sealing (text and jsonb only).
    redact: Option<han_crypto_core::redact::Policy>,
    /// Compress-then-encrypt (the `compress` option).
    compress: bool,
    /// Where redacted values are kept, if the column quarantines them.
    quarantine: Option<crate::redaction::Quarantine>,
}

struct TableConfig {
    binding: String,
    keyring_column: String,
    keyring_attno: NonZeroUsize,
    key_attnos: Vec<NonZeroUsize>,
    columns: Vec<ColumnConfig>,
}

thread_local! {
    static CONFIGS: RefCell<HashMap<pg_sys::Oid, Rc<TableConfig>>> = RefCell::new(HashMap::new());
}

/// Relcache invalidation hook: drop a table's cached configuration when it
/// (or the protection catalog, or everything) changes.
pub fn on_relcache(relid: pg_sys::Oid, catalog_changed: bool) {
    CONFIGS.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            if catalog_changed || relid == pg_sys::InvalidOid {
                c.clear();
            } else {
                c.remove(&relid);
            }
        }
    });
}

/// The attribute number of column `name` in the trigger relation's own
/// descriptor. For a protected column (`kind`), its real type must be one
/// that kind is stored in: the trigger reads and writes its datums as
/// varlenas of that type, so the recorded configuration is never trusted
/// for that (a column whose type changed since protect(), or a
/// configuration that does not describe this relation, is refused).
fn attno_of(tupdesc: pg_sys::TupleDesc, name: &str, kind: Option<Kind>) -> HcResult<NonZeroUsize> {
    // SAFETY: tupdesc is the trigger relation's descriptor, valid for the
    // call; natts bounds the attribute array.
    unsafe {
        let n = (*tupdesc).natts as usize;
        for i in 0..n {
            let att = crate::pg_compat::tuple_desc_attr(tupdesc, i);
            if (*att).attisdropped {
                continue;
            }
            let att_name = CStr::from_ptr((*att).attname.data.as_ptr()).to_string_lossy();
            if att_name != name {
                continue;
            }
            if let Some(kind) = kind {
                if Kind::of_type((*att).atttypid, (*att).atttypmod) != Some(kind) {
                    return Err(HcError::ProtectedColumnType {
                        column: name.to_string(),
                        kind: kind.name(),
                        actual: crate::catalog::type_name((*att).atttypid, (*att).atttypmod),
                    });
                }
            }
            return Ok(NonZeroUsize::new(i + 1).expect("attribute numbers start at 1"));
        }
    }
    Err(HcError::MissingProtectedColumn(name.to_string()))
}

fn config_for(relid: pg_sys::Oid, tupdesc: pg_sys::TupleDesc) -> HcResult<Rc<TableConfig>> {
    if let Some(c) = CONFIGS.with(|c| c.borrow().get(&relid).cloned()) {
        return Ok(c);
    }
    let row = catalog::protected_table(relid).ok_or_else(|| {
        HcError::InvalidArgument(
            "table has han_crypto's trigger but no protection configuration".into(),
        )
    })?;
    let mut columns = Vec::with_capacity(row.columns.len());
    for (name, kind) in row.columns {
        let kind = Kind::parse(&kind)
            .ok_or_else(|| HcError::InvalidArgument("unknown protected column kind".into()))?;
        let redact = match kind {
            Kind::Bytea => None,
            Kind::Text | Kind::Jsonb => crate::redaction::column_policy(&row.options, &name)?,
        };
        let compress = crate::redaction::column_flag(&row.options, &name, "compress")?;
        let quarantine = match kind {
            Kind::Bytea => None,
            Kind::Text | Kind::Jsonb => crate::redaction::column_quarantine(&row.options, &name)?,
        };
        columns.push(ColumnConfig {
            attno: attno_of(tupdesc, &name, Some(kind))?,
            name,
            kind,
            redact,
            compress,
            quarantine,
        });
    }
    let config = Rc::new(TableConfig {
        keyring_attno: attno_of(tupdesc, &row.keyring_column, None)?,
        key_attnos: row
            .key_columns
            .iter()
            .map(|k| attno_of(tupdesc, k, None))
            .collect::<HcResult<_>>()?,
        binding: row.binding,
        keyring_column: row.keyring_column,
        columns,
    });
    CONFIGS.with(|c| c.borrow_mut().insert(relid, config.clone()));
    Ok(config)
}

/// An attribute as PostgreSQL prints it (its type's output function).
fn text_of(
    tuple: *mut pg_sys::HeapTupleData,
    tupdesc: pg_sys::TupleDesc,
    attno: NonZeroUsize,
) -> Option<String> {
    with_text_of(tuple, tupdesc, attno, |t| t.to_string_lossy().into_owned())
}

/// Like [`text_of`], for a protected value: copied fallibly, since its
/// size is the writer's.
fn value_text_of(
    tuple: *mut pg_sys::HeapTupleData,
    tupdesc: pg_sys::TupleDesc,
    attno: NonZeroUsize,
) -> HcResult<Option<Vec<u8>>> {
    Ok(with_text_of(tuple, tupdesc, attno, |t| buffer::copy_of(t.to_bytes())).transpose()?)
}

/// `f` of an attribute's output text, or `None` for SQL NULL.
fn with_text_of<T>(
    tuple: *mut pg_sys::HeapTupleData,
    tupdesc: pg_sys::TupleDesc,
    attno: NonZeroUsize,
    f: impl FnOnce(&CStr) -> T,
) -> Option<T> {
    // SAFETY: a valid tuple and descriptor of the trigger's relation;
    // SPI_getvalue returns NULL for SQL NULL, else a palloc'd C string.
    unsafe {
        let p = pg_sys::SPI_getvalue(tuple, tupdesc, attno.get() as i32);
        (!p.is_null()).then(|| f(CStr::from_ptr(p)))
    }
}

/// The stored bytes of a protected column (bytea raw, others as text).
fn value_of(
    tuple: *mut pg_sys::HeapTupleData,
    tupdesc: pg_sys::TupleDesc,
    col: &ColumnConfig,
) -> HcResult<Option<Vec<u8>>> {
    match col.kind {
        // text and bytea are both plain varlenas: their bytes, detoasted,
        // without the output function and its copy (text in a UTF-8
        // database is valid UTF-8 already).
        Kind::Bytea | Kind::Text => {
            let mut isnull = false;
            // SAFETY: as above; the datum is detoasted by the conversion.
            unsafe {
                let d = pg_sys::SPI_getbinval(tuple, tupdesc, col.attno.get() as i32, &mut isnull);
                <&[u8] as FromDatum>::from_polymorphic_datum(d, isnull, pg_sys::BYTEAOID)
                    .map(buffer::copy_of)
                    .transpose()
                    .map_err(HcError::from)
            }
        }
        Kind::Jsonb => value_text_of(tuple, tupdesc, col.attno),
    }
}

/// The new values of the columns the trigger changes, applied to the row in
/// one `heap_modify_tuple` (a row nothing changed in is returned as it is).
struct Replacements {
    values: Vec<pg_sys::Datum>,
    nulls: Vec<bool>,
    replace: Vec<bool>,
    any: bool,
}

impl Replacements {
    fn new(natts: usize) -> Self {
        Self {
            values: vec![pg_sys::Datum::from(0); natts],
            nulls: vec![false; natts],
            replace: vec![false; natts],
            any: false,
        }
    }

    /// Stores `envelope` in its column's form: bytea raw, text as the
    /// prefixed base64 written straight into the new datum, jsonb tagged.
    fn store(&mut self, col: &ColumnConfig, envelope: &[u8]) -> HcResult<()> {
        let datum = match col.kind {
            Kind::Bytea => crate::varlena::OwnedBytea::copy_of(envelope)?.into_datum(),
            // text shares bytea's varlena layout; the payload is ASCII.
            Kind::Text => {
                crate::varlena::OwnedBytea::build(column::text_len(envelope.len()), |out| {
                    column::encode_text_into(envelope, out);
                    Ok(())
                })?
                .into_datum()
            }
            // jsonb_in parses the tagged text (guarded: its ERRORs stay
            // ERRORs), with no serde_json tree of the whole value in between.
            Kind::Jsonb => {
                let text = std::ffi::CString::new(column::encode_json(envelope)?)
                    .map_err(|_| HcError::InvalidUtf8)?;
                // SAFETY: jsonb_in takes a NUL-terminated C string, which
                // outlives the call; it returns a palloc'd jsonb datum.
                unsafe {
                    pgrx::direct_function_call_as_datum(
                        pg_sys::jsonb_in,
                        &[text.as_c_str().into_datum()],
                    )
                }
                .ok_or(HcError::InvalidUtf8)?
            }
        };
        let i = col.attno.get() - 1;
        self.values[i] = datum;
        self.replace[i] = true;
        self.any = true;
        Ok(())
    }

    /// The row to store: `tuple` itself, or a copy with the new values.
    fn apply(
        mut self,
        tuple: *mut pg_sys::HeapTupleData,
        tupdesc: pg_sys::TupleDesc,
    ) -> *mut pg_sys::HeapTupleData {
        if !self.any {
            return tuple;
        }
        // SAFETY: the trigger's own tuple and descriptor; the arrays have
        // one entry per attribute of that descriptor.
        unsafe {
            pg_sys::heap_modify_tuple(
                tuple,
                tupdesc,
                self.values.as_mut_ptr(),
                self.nulls.as_mut_ptr(),
                self.replace.as_mut_ptr(),
            )
        }
    }
}

/// Whether `env` is an envelope sealed for exactly `place`. Asked only
/// once the writer may write there (see [`WriteRights`]), so it is no oracle
/// for non-members and cannot make them force key derivations.
fn authenticates(env: &[u8], place: &Place<'_>) -> HcResult<bool> {
    let Ok(parsed) = envelope::parse(env) else {
        return Ok(false);
    };
    let Ok(ring) = keyring::by_id(&parsed.header.key.keyring_id) else {
        return Ok(false);
    };
    if ring.name != place.keyring {
        return Ok(false);
    }
    let key = keyring::key_for_check(&ring, parsed.header.key)?;
    Ok(parsed.verify(&key, &place.context())?)
}

/// Who may change what a row's protected values decrypt to: writers of the
/// row's keyring, checked per keyring once per row. The one exception is a
/// restore: the table's owner, acting as itself (no application actor
/// named), may store values that already authenticate for their exact
/// place, as pg_restore does — the owner could disable the trigger anyway.
struct WriteRights {
    relid: pg_sys::Oid,
    /// Known once asked (most rows never need it).
    restore_exempt: Option<bool>,
    checked: Vec<String>,
}

impl WriteRights {
    fn new(relid: pg_sys::Oid) -> Self {
        Self {
            relid,
            restore_exempt: None,
            checked: Vec::new(),
        }
    }

    /// The table's owner acting as itself, as pg_restore does.
    fn restore_exempt(&mut self) -> bool {
        let relid = self.relid;
        *self.restore_exempt.get_or_insert_with(|| {
            let owner = crate::pg_compat::current_user_owns_relation(relid);
            owner && !crate::actor::is_named()
        })
    }

    /// Requires writer access on `keyring` for the current actor.
    fn require_writer(&mut self, keyring: &str) -> HcResult<()> {
        if self.checked.iter().any(|k| k == keyring) {
            return Ok(());
        }
        let ring = keyring::by_name(keyring)?;
        keyring::authorize(&ring, Access::Encrypt)?;
        self.checked.push(keyring.to_string());
        Ok(())
    }

    /// Whether a value written in envelope form may be kept as it is
    /// because it authenticates for `place`.
    fn keeps_sealed(&mut self, env: &[u8], place: &Place<'_>) -> HcResult<bool> {
        if !self.restore_exempt() {
            self.require_writer(place.keyring)?;
        }
        authenticates(env, place)
    }
}

fn seal(col: &ColumnConfig, plaintext: &[u8], place: &Place<'_>) -> HcResult<Vec<u8>> {
    let (key_ref, key) = keyring::encryption_key(place.keyring)?;
    Ok(envelope::seal_with(
        &key,
        key_ref,
        col.kind.content(),
        plaintext,
        &place.context(),
        col.compress,
    )?)
}

/// Checks `env` belongs to `place`'s keyring and the current actor holds
/// `access` there, and returns the key to open it with.
fn key_to_open(
    env: &envelope::Envelope<'_>,
    place: &Place<'_>,
    access: Access,
) -> HcResult<Rc<han_crypto_core::aead::XaesKey>> {
    let ring = keyring::by_name(place.keyring)?;
    if env.header.key.keyring_id != ring.id {
        return Err(HcError::Core(han_crypto_core::Error::AuthenticationFailed));
    }
    keyring::authorize(&ring, access)?;
    keyring::key_for_check(&ring, env.header.key)
}

/// Opens `env` for `place` as the current actor, who must hold `access`.
fn open(env: &[u8], place: &Place<'_>, access: Access) -> HcResult<zeroize::Zeroizing<Vec<u8>>> {
    let parsed = envelope::parse(env)?;
    // Re-sealing (a row moved to another keyring, a restore) opens values
    // too: a honeytoken moved that way alerts, as any read of it would.
    crate::honeytoken::check(&parsed, "reseal", Some(place.keyring))?;
    let key = key_to_open(&parsed, place, access)?;
    Ok(parsed.open(&key, &place.context())?)
}

fn keys_of(
    tuple: *mut pg_sys::HeapTupleData,
    tupdesc: pg_sys::TupleDesc,
    cfg: &TableConfig,
) -> Vec<Option<String>> {
    cfg.key_attnos
        .iter()
        .map(|a| text_of(tuple, tupdesc, *a))
        .collect()
}

/// Refuses any use of the trigger function but the one protect() creates:
/// BEFORE INSERT OR UPDATE OR DELETE, FOR EACH ROW (anyone who owns a table
/// can attach it to that table in any other way; a statement-level or AFTER
/// firing has no row to seal, or would have its result ignored).
fn check_firing(event: u32) -> HcResult<()> {
    let op = event & pg_sys::TRIGGER_EVENT_OPMASK;
    let before = event & pg_sys::TRIGGER_EVENT_TIMINGMASK == pg_sys::TRIGGER_EVENT_BEFORE;
    let row = event & pg_sys::TRIGGER_EVENT_ROW != 0;
    let op_ok = matches!(
        op,
        pg_sys::TRIGGER_EVENT_INSERT | pg_sys::TRIGGER_EVENT_UPDATE | pg_sys::TRIGGER_EVENT_DELETE
    );
    if before && row && op_ok {
        Ok(())
    } else {
        Err(HcError::TriggerMisuse)
    }
}

/// DELETE destroys what a row's protected values decrypt to: writers of
/// its keyring only (or the owner restoring, as for writes), so a writer of
/// another team cannot delete a row and re-insert its key as its own.
fn check_delete(
    td: &pg_sys::TriggerData,
    relid: pg_sys::Oid,
    tupdesc: pg_sys::TupleDesc,
) -> HcResult<*mut pg_sys::HeapTupleData> {
    let old = td.tg_trigtuple;
    if old.is_null() {
        return Err(HcError::TriggerMisuse);
    }
    let cfg = config_for(relid, tupdesc)?;
    let mut rights = WriteRights::new(relid);
    if !rights.restore_exempt() {
        if let Some(keyring) = text_of(old, tupdesc, cfg.keyring_attno) {
            rights.require_writer(&keyring)?;
        }
    }
    // What quarantine kept for the row goes with it.
    if cfg.columns.iter().any(|c| c.quarantine.is_some()) {
        forget_kept(&cfg, &keys_of(old, tupdesc, &cfg))?;
    }
    Ok(old)
}

fn protect_row(trigger: &PgTrigger<'_>) -> HcResult<*mut pg_sys::HeapTupleData> {
    let td = trigger.trigger_data();
    check_firing(td.tg_event)?;
    let op = td.tg_event & pg_sys::TRIGGER_EVENT_OPMASK;
    let is_update = op == pg_sys::TRIGGER_EVENT_UPDATE;
    // SAFETY: the trigger manager hands us a valid relation and tuples.
    let (relid, tupdesc) = unsafe { ((*td.tg_relation).rd_id, (*td.tg_relation).rd_att) };
    if op == pg_sys::TRIGGER_EVENT_DELETE {
        return check_delete(td, relid, tupdesc);
    }
    let (new_raw, old_raw) = if is_update {
        (td.tg_newtuple, Some(td.tg_trigtuple))
    } else {
        (td.tg_trigtuple, None)
    };
    if new_raw.is_null() || old_raw.is_some_and(|t| t.is_null()) {
        return Err(HcError::TriggerMisuse);
    }
    let cfg = config_for(relid, tupdesc)?;
    let mut rights = WriteRights::new(relid);

    let keyring_name = text_of(new_raw, tupdesc, cfg.keyring_attno)
        .ok_or_else(|| HcError::NoKeyring(Some(cfg.keyring_column.clone())))?;
    let key_values = keys_of(new_raw, tupdesc, &cfg);
    let key_refs: Vec<Option<&str>> = key_values.iter().map(|k| k.as_deref()).collect();

    let old_keyring = old_raw.and_then(|t| text_of(t, tupdesc, cfg.keyring_attno));
    let old_keys = old_raw.map(|t| keys_of(t, tupdesc, &cfg));
    let moved = is_update
        && (old_keyring.as_deref() != Some(keyring_name.as_str())
            || old_keys.as_ref() != Some(&key_values));
    if moved {
        // Moving a row to another keyring or key takes it from one place
        // and gives it to another: writer on both, whatever its values.
        if let Some(old) = old_keyring.as_deref() {
            rights.require_writer(old)?;
        }
        rights.require_writer(&keyring_name)?;
    }

    // Kept values are bound to the row's key: a row that moves to another
    // key forgets them (its values are sealed again below, not redacted).
    if moved && old_keys.as_ref() != Some(&key_values) {
        forget_kept(&cfg, old_keys.as_deref().unwrap_or_default())?;
    }

    // SAFETY: the relation's descriptor, valid for the call.
    let mut new = Replacements::new(unsafe { (*tupdesc).natts } as usize);
    for col in &cfg.columns {
        let value = value_of(new_raw, tupdesc, col)?;
        let old_value = match old_raw {
            Some(t) => value_of(t, tupdesc, col)?,
            None => None,
        };
        let Some(value) = value else {
            // NULL: erasing a value changes what the row decrypts to.
            if old_value.is_some() {
                rights.require_writer(old_keyring.as_deref().unwrap_or(&keyring_name))?;
            }
            continue;
        };
        let place = Place {
            binding: &cfg.binding,
            column: &col.name,
            keyring: &keyring_name,
            key: &key_refs,
        };
        if is_update && old_value.as_deref() == Some(value.as_slice()) {
            if let Some(env) = col.kind.envelope_of(&value)? {
                if !moved {
                    continue; // untouched column: no re-encryption
                }
                // The row moved to another keyring or key: re-bind.
                let old_key_refs: Vec<Option<&str>> = old_keys
                    .as_ref()
                    .map(|k| k.iter().map(|v| v.as_deref()).collect())
                    .unwrap_or_default();
                let old_place = Place {
                    binding: &cfg.binding,
                    column: &col.name,
                    keyring: old_keyring.as_deref().unwrap_or(""),
                    key: &old_key_refs,
                };
                let plain = open(&env, &old_place, Access::Encrypt)?;
                let sealed = seal(col, &plain, &place)?;
                // Same key, another keyring: kept values follow the value.
                if col.quarantine.is_some() && old_keys.as_ref() == Some(&key_values) {
                    let from = envelope::parse(&env)?.tag;
                    crate::quarantine::follow(&place, &from, &envelope::parse(&sealed)?.tag)?;
                }
                new.store(col, &sealed)?;
                continue;
            }
            // A plaintext value from before the table was protected: seal it below.
        }
        if let Some(env) = col.kind.envelope_of(&value)? {
            if rights.keeps_sealed(&env, &place)? {
                // Already sealed for exactly this place (restore, EXCLUDED,
                // replay by a writer). An UPDATE to it replaces the row's
                // value: what was kept for the old one goes.
                if is_update && col.quarantine.is_some() {
                    crate::quarantine::forget(&place, Some(&envelope::parse(&env)?.tag))?;
                }
                continue;
            }
        }
        // New plaintext: redact first (nothing secret reaches the envelope,
        // the heap or the WAL), then seal.
        let (value, kept, redacted) = match (col.redact, &col.quarantine) {
            (Some(policy), Some(_)) => {
                let (v, kept) = redact_value_keeping(col.kind, value, policy)?;
                let kinds = kept.iter().map(|k| k.kind.clone()).collect();
                (v, kept, kinds)
            }
            (Some(policy), None) => {
                let (v, kinds) = redact_value(col.kind, value, policy)?;
                (v, Vec::new(), kinds)
            }
            (None, _) => (value, Vec::new(), Vec::new()),
        };
        let sealed = seal(col, &value, &place)?;
        audit_sealed_write(&place, &redacted)?;
        if let Some(q) = &col.quarantine {
            // Kept values belong to this stored value, named by its tag. An
            // UPDATE replaces the row's value (it is locked and will be
            // written), so what was kept for the old one goes.
            let tag = envelope::parse(&sealed)?.tag;
            if is_update {
                crate::quarantine::forget(&place, Some(&tag))?;
            }
            crate::quarantine::keep(q, &place, &tag, &kept)?;
        }
        new.store(col, &sealed)?;
    }
    Ok(new.apply(new_raw, tupdesc))
}

/// Forgets what quarantine kept for every column of the row with primary
/// key `keys` (deleted, or moved to another key).
fn forget_kept(cfg: &TableConfig, keys: &[Option<String>]) -> HcResult<()> {
    let key_refs: Vec<Option<&str>> = keys.iter().map(|k| k.as_deref()).collect();
    for col in cfg.columns.iter().filter(|c| c.quarantine.is_some()) {
        let place = Place {
            binding: &cfg.binding,
            column: &col.name,
            keyring: "",
            key: &key_refs,
        };
        crate::quarantine::forget(&place, None)?;
    }
    Ok(())
}

/// `redact_value`, keeping each removed value for quarantine.
fn redact_value_keeping(
    kind: Kind,
    value: Vec<u8>,
    policy: han_crypto_core::redact::Policy,
) -> HcResult<(Vec<u8>, Vec<crate::redaction::Kept>)> {
    let text = String::from_utf8(value).map_err(|_| HcError::InvalidUtf8)?;
    let (out, found, kept) = match kind {
        Kind::Text => crate::redaction::text_keeping(&text, policy)?,
        Kind::Jsonb => match crate::redaction::json_text_keeping(&text, policy)? {
            Some(r) => r,
            None => return Ok((text.into_bytes(), Vec::new())),
        },
        Kind::Bytea => return Ok((text.into_bytes(), Vec::new())),
    };
    crate::redaction::record(&found);
    Ok((out.into_bytes(), kept))
}

/// A text or jsonb value with its secrets replaced by markers; counts what
/// was redacted (types only).
fn redact_value(
    kind: Kind,
    value: Vec<u8>,
    policy: han_crypto_core::redact::Policy,
) -> HcResult<(Vec<u8>, Vec<String>)> {
    let text = String::from_utf8(value).map_err(|_| HcError::InvalidUtf8)?;
    let mut kinds = Vec::new();
    let mut note = |found: &[han_crypto_core::redact::Finding]| {
        crate::redaction::record(found);
        kinds.extend(found.iter().map(|f| f.kind.to_string()));
    };
    let redacted = match kind {
        Kind::Text => {
            let (out, found) = crate::redaction::text(&text, policy)?;
            note(&found);
            match out {
                std::borrow::Cow::Borrowed(_) => None,
                std::borrow::Cow::Owned(o) => Some(o),
            }
        }
        Kind::Jsonb => crate::redaction::json_text(&text, policy)?.map(|(out, found)| {
            note(&found);
            out
        }),
        Kind::Bytea => None,
    };
    Ok((redacted.unwrap_or(text).into_bytes(), kinds))
}

/// A row's key as audit events list it: its key columns, comma-separated.
fn audit_row_key(place: &Place<'_>) -> String {
    let parts: Vec<&str> = place.key.iter().map(|k| k.unwrap_or("")).collect();
    parts.join(",")
}

/// Records a sealed write of `place` and, when the redactor removed
/// something, a redaction event with the types and how many (never the
/// values).
fn audit_sealed_write(place: &Place<'_>, redacted: &[String]) -> HcResult<()> {
    let row_key = || audit_row_key(place);
    crate::audit::record(
        crate::audit::Access::new("sealed_write")
            .object(place.binding)
            .keyring(place.keyring)
            .row_key(row_key),
    )?;
    if redacted.is_empty() {
        return Ok(());
    }
    let mut types: std::collections::BTreeMap<&str, i64> = Default::default();
    for k in redacted {
        *types.entry(k.as_str()).or_default() += 1;
    }
    crate::audit::record(
        crate::audit::Access::new("redact")
            .object(format!("{}.{}", place.binding, place.column))
            .keyring(place.keyring)
            .detail(serde_json::json!({ "types": types }))
            .row_key(row_key),
    )
}

/// Version-1 calling-convention record for `_protect_trigger`.
#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo__protect_trigger() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// The protection trigger (BEFORE INSERT OR UPDATE, FOR EACH ROW), declared
/// in sql/protect.sql. A plain V1 function under `pg_guard` rather than
/// `#[pg_trigger]`, whose wrapper reports every error as an internal one:
/// here each failure keeps its own SQLSTATE.
///
/// # Safety
/// Called by PostgreSQL's trigger manager with a valid `fcinfo`.
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn _protect_trigger(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: PostgreSQL passes a valid fcinfo; from_fcinfo checks that it
    // is a trigger call.
    let trigger = match unsafe { fcinfo.as_ref() }.map(|f| unsafe { PgTrigger::from_fcinfo(f) }) {
        Some(Ok(t)) => t,
        _ => {
            ErrorReport::from(HcError::TriggerMisuse).report(PgLogLevel::ERROR);
            unreachable!("an ERROR does not return")
        }
    };
    let outcome = protect_row(&trigger);
    let datum = match outcome {
        Ok(tuple) => pg_sys::Datum::from(tuple),
        Err(e) => {
            ErrorReport::from(e).report(PgLogLevel::ERROR);
            unreachable!("an ERROR does not return")
        }
    };
    datum
}

/// Version-1 calling-convention record for `_forget_truncated`.
#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo__forget_truncated() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// AFTER TRUNCATE FOR EACH STATEMENT on a protected table (protect()
/// creates it): what quarantine kept for the table's rows goes with them.
/// Attached to another table, it can only forget that table's entries.
///
/// # Safety
/// Called by PostgreSQL's trigger manager with a valid `fcinfo`.
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn _forget_truncated(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    let misuse = || HcError::Refused {
        code: pgrx::PgSqlErrorCode::ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
        message: "han_crypto._forget_truncated() must fire AFTER TRUNCATE FOR EACH STATEMENT"
            .into(),
        hint: Some("Only han_crypto.protect() creates this trigger.".into()),
    };
    // SAFETY: PostgreSQL passes a valid fcinfo; from_fcinfo checks that it
    // is a trigger call, whose relation is valid for the call.
    let outcome = match unsafe { fcinfo.as_ref() }.map(|f| unsafe { PgTrigger::from_fcinfo(f) }) {
        Some(Ok(t)) => {
            let td = t.trigger_data();
            let event = td.tg_event;
            let truncate = event & pg_sys::TRIGGER_EVENT_OPMASK == pg_sys::TRIGGER_EVENT_TRUNCATE;
            let after = event & pg_sys::TRIGGER_EVENT_TIMINGMASK == pg_sys::TRIGGER_EVENT_AFTER;
            if truncate && after && event & pg_sys::TRIGGER_EVENT_ROW == 0 {
                // SAFETY: the trigger manager's relation.
                let relid = unsafe { (*td.tg_relation).rd_id };
                crate::quarantine::forget_table(relid, None)
            } else {
                Err(misuse())
            }
        }
        _ => Err(misuse()),
    };
    if let Err(e) = outcome {
        ErrorReport::from(e).report(PgLogLevel::ERROR);
    }
    pg_sys::Datum::from(0)
}

/// An envelope ready to open for the view: its bytes, key and context.
struct ViewOpen {
    envelope: Vec<u8>,
    key: Rc<han_crypto_core::aead::XaesKey>,
    context: Vec<u8>,
    binding: String,
    keyring: String,
    row_key: String,
}

impl ViewOpen {
    /// Records this read, opened or failed (see [`audit_view_read`]).
    fn audit(&self, result: Result<(), &HcError>) -> HcResult<()> {
        let key = [Some(self.row_key.as_str())];
        let place = Place {
            binding: &self.binding,
            column: "",
            keyring: &self.keyring,
            key: &key,
        };
        audit_view_read(&place, result)?;
        if result.is_ok() {
            if let Ok(env) = envelope::parse(&self.envelope) {
                crate::honeytoken::check(&env, "view", Some(&self.keyring))?;
            }
        }
        Ok(())
    }
}

/// Finds what opening a stored value needs; `None` when the actor may not
/// read it (the view shows NULL), unless `strict` (unprotect), which makes
/// that an error so no value is ever replaced by NULL.
fn prepare_view_open(
    value: &[u8],
    kind: Kind,
    binding: &str,
    column_name: &str,
    keyring: Option<&str>,
    key: &pgrx::datum::Array<'_, &str>,
    strict: bool,
) -> HcResult<Option<ViewOpen>> {
    let keyring = keyring.ok_or(HcError::NoKeyring(None))?;
    let envelope = kind
        .envelope_of(value)?
        .ok_or_else(|| HcError::NotEncrypted(column_name.to_string()))?;
    // Borrowed from the array datum: no per-row String allocations.
    let key_refs: Vec<Option<&str>> = key.iter().collect();
    let place = Place {
        binding,
        column: column_name,
        keyring,
        key: &key_refs,
    };
    let parsed = envelope::parse(&envelope)?;
    match key_to_open(&parsed, &place, Access::Decrypt) {
        Ok(key) => Ok(Some(ViewOpen {
            key,
            context: place.context(),
            envelope,
            binding: binding.to_owned(),
            keyring: keyring.to_owned(),
            row_key: key_refs
                .iter()
                .map(|k| k.unwrap_or(""))
                .collect::<Vec<_>>()
                .join(","),
        })),
        // Rows the actor may not read show no plaintext: NULL, not an
        // error; the refusal is recorded.
        Err(e @ HcError::NotAllowed { .. }) if !strict => {
            audit_view_read(&place, Err(&e))?;
            Ok(None)
        }
        Err(e) => {
            audit_view_read(&place, Err(&e))?;
            Err(e)
        }
    }
}

/// Records a read of `place` through the view: before its plaintext is
/// returned (ok), or as a refusal or failure. An Err means the plaintext
/// must not be returned.
fn audit_view_read(place: &Place<'_>, result: Result<(), &HcError>) -> HcResult<()> {
    let access = crate::audit::Access::new("view_read")
        .object(place.binding)
        .keyring(place.keyring)
        .row_key(|| audit_row_key(place));
    let access = match result {
        Ok(()) => access.outcome(crate::audit::Outcome::Ok),
        Err(e) => access.failure(e),
    };
    crate::audit::record(access)
}

/// The place arguments of the view's functions, which the view always
/// passes; NULL from a direct call is an error, never a panic.
type PlaceArgs<'a, 'm, 's> = (&'a str, &'a str, pgrx::datum::Array<'m, &'s str>, bool);

fn place_args<'a, 'm, 's>(
    binding: Option<&'a str>,
    column_name: Option<&'a str>,
    key: Option<pgrx::datum::Array<'m, &'s str>>,
    strict: Option<bool>,
) -> HcResult<PlaceArgs<'a, 'm, 's>> {
    Ok((
        binding.ok_or(HcError::NullArgument("binding"))?,
        column_name.ok_or(HcError::NullArgument("column_name"))?,
        key.ok_or(HcError::NullArgument("key"))?,
        strict.ok_or(HcError::NullArgument("strict"))?,
    ))
}

/// Decrypts a stored value for the view (jsonb and bytea columns).
fn open_for_view(
    value: Option<&[u8]>,
    kind: Kind,
    binding: &str,
    column_name: &str,
    keyring: Option<&str>,
    key: pgrx::datum::Array<'_, &str>,
    strict: bool,
) -> HcResult<Option<zeroize::Zeroizing<Vec<u8>>>> {
    let Some(value) = value else { return Ok(None) };
    let Some(v) = prepare_view_open(value, kind, binding, column_name, keyring, &key, strict)?
    else {
        return Ok(None);
    };
    let opened = envelope::parse(&v.envelope)
        .and_then(|p| p.open(&v.key, &v.context))
        .map_err(HcError::from);
    v.audit(opened.as_ref().map(|_| ()))?;
    Ok(Some(opened?))
}

/// Decrypts a protected text column for the `<table>_decrypted` view,
/// straight into the returned datum.
///
/// The view's functions pin no search_path (a SET clause costs ~1.5 µs per
/// call on PostgreSQL 15): they resolve no name on the hot path, and reach
/// the catalog only through catalog::as_owner, which pins it. The
/// hostile-caller harness (tests/tests/hostile_caller.rs) checks this on
/// cold and warm backends.
// STABLE: no side effects, same answer within a statement, so a query that
// does not use a decrypted column does not pay for decrypting it.
#[pg_extern(stable, parallel_unsafe)]
fn _open_text(
    value: Option<&str>,
    binding: Option<&str>,
    column_name: Option<&str>,
    keyring: Option<&str>,
    key: Option<pgrx::datum::Array<'_, &str>>,
    strict: default!(Option<bool>, false),
) -> Result<Option<crate::varlena::OwnedText>, ErrorReport> {
    let (binding, column_name, key, strict) = place_args(binding, column_name, key, strict)?;
    let Some(value) = value else { return Ok(None) };
    let Some(v) = prepare_view_open(
        value.as_bytes(),
        Kind::Text,
        binding,
        column_name,
        keyring,
        &key,
        strict,
    )?
    else {
        return Ok(None);
    };
    let parsed = envelope::parse(&v.envelope).map_err(HcError::from)?;
    if parsed.is_compressed() {
        let plain = parsed.open(&v.key, &v.context).map_err(HcError::from);
        v.audit(plain.as_ref().map(|_| ()))?;
        return Ok(Some(crate::varlena::OwnedText::copy_of_utf8(&plain?)?));
    }
    let text = crate::varlena::OwnedText::build_utf8(parsed.ciphertext.len(), |out| {
        let opened = parsed
            .open_into(&v.key, &v.context, out)
            .map_err(HcError::from);
        if let Err(e) = v.audit(opened.as_ref().map(|_| ())) {
            out.fill(0);
            return Err(e);
        }
        opened
    })?;
    Ok(Some(text))
}

/// Decrypts a protected jsonb column, given and returned as text (the view
/// casts both ways, so no jsonb passes through pgrx's conversion, which
/// panics on documents nested deeper than serde_json's limit).
// STABLE: no side effects, same answer within a statement, so a query that
// does not use a decrypted column does not pay for decrypting it.
#[pg_extern(stable, parallel_unsafe)]
fn _open_json(
    value: Option<&str>,
    binding: Option<&str>,
    column_name: Option<&str>,
    keyring: Option<&str>,
    key: Option<pgrx::datum::Array<'_, &str>>,
    strict: default!(Option<bool>, false),
) -> Result<Option<crate::varlena::OwnedText>, ErrorReport> {
    let (binding, column_name, key, strict) = place_args(binding, column_name, key, strict)?;
    let plain = open_for_view(
        value.map(str::as_bytes),
        Kind::Jsonb,
        binding,
        column_name,
        keyring,
        key,
        strict,
    )?;
    Ok(plain
        .map(|p| crate::varlena::OwnedText::copy_of_utf8(&p))
        .transpose()?)
}

/// Decrypts a protected bytea column for the `<table>_decrypted` view.
// STABLE: no side effects, same answer within a statement, so a query that
// does not use a decrypted column does not pay for decrypting it.
#[pg_extern(stable, parallel_unsafe)]
fn _open_bytea(
    value: Option<&[u8]>,
    binding: Option<&str>,
    column_name: Option<&str>,
    keyring: Option<&str>,
    key: Option<pgrx::datum::Array<'_, &str>>,
    strict: default!(Option<bool>, false),
) -> Result<Option<crate::varlena::OwnedBytea>, ErrorReport> {
    let (binding, column_name, key, strict) = place_args(binding, column_name, key, strict)?;
    let plain = open_for_view(
        value,
        Kind::Bytea,
        binding,
        column_name,
        keyring,
        key,
        strict,
    )?;
    Ok(plain
        .map(|p| crate::varlena::OwnedBytea::copy_of(&p))
        .transpose()?)
}

/// The caller's own right to restore into `relid` (SELECT and UPDATE on
/// it; row security, which restoring as the owner would bypass, only for
/// the owner), and the owner to read and write the row as.
fn restore_rights(relid: pg_sys::Oid) -> HcResult<pg_sys::Oid> {
    let (owner, row_security) = catalog::owner_and_row_security(relid)?;
    // SAFETY: a privilege check by OID for the current user.
    // (One check per privilege: pg_class_aclcheck passes when any one of
    // the modes asked for is held.)
    let (me, granted) = unsafe {
        let me = pg_sys::GetUserId();
        let holds = |mode: u32| {
            pg_sys::pg_class_aclcheck(relid, me, mode as pg_sys::AclMode)
                == pg_sys::AclResult::ACLCHECK_OK
        };
        (me, holds(pg_sys::ACL_SELECT) && holds(pg_sys::ACL_UPDATE))
    };
    if !granted {
        return Err(HcError::PermissionDenied {
            message: "restore_redactions() needs SELECT and UPDATE on the table".into(),
            hint: "The table's owner grants them, as for any update of the table.",
        });
    }
    if row_security && me != owner && !crate::pg_compat::current_user_owns_relation(relid) {
        return Err(HcError::PermissionDenied {
            message: "the table has row security: only its owner restores redactions in it".into(),
            hint: "restore_redactions() reads and writes the row as the table's owner, which row security would not restrict.",
        });
    }
    Ok(owner)
}

/// Puts back what quarantine kept for one value (han_crypto.
/// restore_redactions): opens the row's value and the kept entries, puts
/// each entry back at its marker, seals the result for the row and stores
/// it. Needs an admin of the quarantine keyring who is also a writer of the
/// row's keyring and may select and update the table; the row itself is
/// read and written as the table's owner (see [`restore_rights`]).
/// Returns how many values were put back; what remains kept for the value
/// is forgotten (its markers moved).
pub fn restore_redactions(
    relid: pg_sys::Oid,
    row_key: &[Option<String>],
    column_name: &str,
) -> HcResult<i32> {
    let cfg = catalog::protected_table(relid).ok_or_else(|| HcError::Refused {
        code: pgrx::PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        message: "the table is not protected by han_crypto".into(),
        hint: None,
    })?;
    let kind = cfg
        .columns
        .iter()
        .find(|(c, _)| c == column_name)
        .and_then(|(_, k)| Kind::parse(k))
        .filter(|k| *k != Kind::Bytea)
        .ok_or_else(|| {
            HcError::InvalidArgument(format!(
                "{} is not a protected text or jsonb column of the table",
                crate::error::quoted(column_name)
            ))
        })?;
    if row_key.len() != cfg.key_columns.len() || row_key.iter().any(Option::is_none) {
        return Err(HcError::InvalidArgument(format!(
            "row_key must give the {} primary-key value(s) of the row ({}), none NULL",
            cfg.key_columns.len(),
            cfg.key_columns.join(", ")
        )));
    }
    let qring = keyring::by_name(&crate::redaction::quarantine_keyring(&cfg.options)?)?;
    keyring::authorize(&qring, Access::Manage)?;
    catalog::require_writable("han_crypto.restore_redactions()")?;

    // The row is read and written as the table's owner, in a
    // security-restricted operation: the owner's triggers, rules and
    // policies must not run with the rights of the quarantine admin who
    // restores (who could be made to copy out any secret they may read).
    // The caller's own rights are checked here instead.
    let owner = restore_rights(relid)?;
    let table = catalog::relation_sql_name(relid)?;
    let ident = catalog::quote_ident;
    let matches: Vec<String> = cfg
        .key_columns
        .iter()
        .enumerate()
        .map(|(i, k)| {
            format!(
                "{}::pg_catalog.text OPERATOR(pg_catalog.=) $1[{}]",
                ident(k),
                i + 1
            )
        })
        .collect();
    let where_clause = matches.join(" AND ");
    let key_arg: Vec<Option<String>> = row_key.to_vec();
    // FOR UPDATE needs read-write SPI (a read-only one refuses row locks).
    let row = catalog::as_role(owner, true, || {
        Spi::connect_mut(
            |client| -> HcResult<Option<(Option<String>, Option<String>)>> {
                let t = client.update(
            &format!(
                "SELECT {}::pg_catalog.text, {}::pg_catalog.text FROM {table} WHERE {where_clause} FOR UPDATE",
                ident(&cfg.keyring_column),
                ident(column_name)
            ),
            Some(2),
            &[key_arg.clone().into()],
        )?;
                if t.len() > 1 {
                    return Err(HcError::InvalidArgument(
                        "row_key matches more than one row".into(),
                    ));
                }
                match t.into_iter().next() {
                    Some(r) => Ok(Some((r.get::<String>(1)?, r.get::<String>(2)?))),
                    None => Ok(None),
                }
            },
        )
    })?;
    let Some((row_keyring, stored)) = row else {
        return Err(HcError::Refused {
            code: pgrx::PgSqlErrorCode::ERRCODE_NO_DATA_FOUND,
            message: "no row of the table has that key (or row security hides it)".into(),
            hint: None,
        });
    };
    let row_keyring = row_keyring.ok_or(HcError::NoKeyring(Some(cfg.keyring_column.clone())))?;
    let key_refs: Vec<Option<&str>> = row_key.iter().map(|k| k.as_deref()).collect();
    let place = Place {
        binding: &cfg.binding,
        column: column_name,
        keyring: &row_keyring,
        key: &key_refs,
    };
    let Some(stored) = stored else {
        return Ok(0);
    };
    let env = kind
        .envelope_of(stored.as_bytes())?
        .ok_or_else(|| HcError::NotEncrypted(column_name.to_string()))?;
    let tag = envelope::parse(&env)?.tag;
    let entries = crate::quarantine::entries(&place, &tag)?;
    if entries.is_empty() {
        return Ok(0);
    }
    let plain = open(&env, &place, Access::Encrypt)?;
    let text = std::str::from_utf8(&plain).map_err(|_| HcError::InvalidUtf8)?;

    let mut opened = Vec::with_capacity(entries.len());
    for e in &entries {
        opened.push((
            e.ordinal as usize,
            e.kind.as_str(),
            crate::quarantine::open(&qring, &place, e)?,
        ));
    }
    let refs: Vec<(usize, &str, &str)> = opened
        .iter()
        .map(|(o, k, v)| (*o, *k, v.as_str()))
        .collect();
    let (restored, count) = han_crypto_core::redact::restore(text, &refs, |v| match kind {
        // Inside a JSON string: escaped as JSON.
        Kind::Jsonb => {
            let s = serde_json::to_string(v).unwrap_or_default();
            s[1..s.len().saturating_sub(1).max(1)].to_string()
        }
        _ => v.to_string(),
    });
    if count > 0 {
        let compress = crate::redaction::column_flag(&cfg.options, column_name, "compress")?;
        let (key_ref, key) = keyring::encryption_key(&row_keyring)?;
        let sealed = envelope::seal_with(
            &key,
            key_ref,
            kind.content(),
            restored.as_bytes(),
            &place.context(),
            compress,
        )?;
        let (stored_form, cast) = match kind {
            Kind::Jsonb => (column::encode_json(&sealed)?, "::pg_catalog.jsonb"),
            _ => (column::encode_text(&sealed)?, "::pg_catalog.text"),
        };
        // The trigger keeps a value that authenticates for its place.
        catalog::as_role(owner, true, || {
            Spi::run_with_args(
                &format!(
                    "UPDATE {table} SET {} = $2{cast} WHERE {where_clause}",
                    ident(column_name)
                ),
                &[key_arg.into(), stored_form.as_str().into()],
            )
        })?;
    }
    crate::quarantine::forget(&place, None)?;
    Ok(count as i32)
}
