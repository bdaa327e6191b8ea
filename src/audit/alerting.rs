//! Access monitoring inside the audit writer: every event it chains goes
//! through the rules (han_crypto_core::alerts) in the same transaction, so
//! a probe that rolls back alerts all the same. An alert is a row in
//! han_crypto_audit.alerts, an `alert` event in the chain (same batch) and
//! a `NOTIFY han_crypto_alerts` delivered when the batch commits. While an
//! alert is open (its window has not passed), more matches update its
//! count instead of raising another.
//!
//! Rules are read when the writer starts and again after
//! han_crypto.alert_rules changes (a relcache invalidation the writer
//! receives at its next transaction). A rule row that cannot be used is
//! skipped with a WARNING in the server log; nothing here may fail the
//! batch for a reason an administrator's row could cause.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use han_crypto_core::alerts::{Evaluator, Firing, LocalTime, Rule, Severity, ALERT_ACTION};
use han_crypto_core::audit::{verify::StoredEvent, Event, Field, Kind, Value};
use pgrx::prelude::*;

use crate::error::{HcError, HcResult};

/// Events replayed (quietly) into the windows when a writer starts.
const REPLAY_LIMIT: i64 = 200_000;
/// The NOTIFY channel.
pub const CHANNEL: &str = "han_crypto_alerts";

struct Alerting {
    evaluator: Evaluator,
    next_id: i64,
    zones: ZoneCache,
}

thread_local! {
    static STATE: RefCell<Option<Alerting>> = const { RefCell::new(None) };
    static RULES_TABLE: Cell<Option<pg_sys::Oid>> = const { Cell::new(None) };
    static RULES_CHANGED: Cell<bool> = const { Cell::new(false) };
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_relcache(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    if relid == pg_sys::InvalidOid || RULES_TABLE.get() == Some(relid) {
        RULES_CHANGED.set(true);
    }
}

/// In the writer, inside its first transaction: reads the rules and the
/// address history, and replays the recent trail into the windows.
pub fn start() -> HcResult<()> {
    // SAFETY: a process-lifetime callback, registered once by the writer.
    unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache), pg_sys::Datum::from(0)) };
    let rules = load_rules()?;
    let max_window = rules.iter().map(|r| r.window_us).max().unwrap_or(0);
    let mut evaluator = Evaluator::new(rules);
    let (next_id, addresses) = Spi::connect(|c| {
        let next = c
            .select(
                "SELECT coalesce(max(id), 0) + 1 FROM han_crypto_audit.alerts",
                Some(1),
                &[],
            )?
            .first()
            .get_one::<i64>()?
            .unwrap_or(1);
        let mut seen = Vec::new();
        for row in c.select(
            "SELECT keyring, actor, client_addr FROM han_crypto_audit._seen_addresses LIMIT 1000000",
            None,
            &[],
        )? {
            if let (Some(k), Some(a), Some(addr)) =
                (row.get::<String>(1)?, row.get::<String>(2)?, row.get::<String>(3)?)
            {
                seen.push((k, a, addr));
            }
        }
        Ok::<_, HcError>((next, seen))
    })?;
    for (k, a, addr) in &addresses {
        evaluator.remember_address(k, a, addr);
    }
    let mut zones = ZoneCache::default();
    if max_window > 0 {
        let from: Option<i64> = Spi::connect(|c| {
            c.select(
                "SELECT min(seq) FROM han_crypto_audit._events
                  WHERE ts > pg_catalog.now() - $1 * interval '1 microsecond'",
                Some(1),
                &[max_window.into()],
            )?
            .first()
            .get_one::<i64>()
        })?;
        if let Some(from) = from {
            // The newest events of the window, when it holds more.
            let from = from.max(super::store::last_seq()? - REPLAY_LIMIT + 1);
            for row in super::store::events(from, i64::MAX, REPLAY_LIMIT)? {
                evaluator.observe(&row.event, &mut zones, true);
            }
        }
    }
    evaluator.take_new_addresses();
    STATE.with(|s| {
        *s.borrow_mut() = Some(Alerting {
            evaluator,
            next_id,
            zones,
        })
    });
    Ok(())
}

fn load_rules() -> HcResult<Vec<Rule>> {
    let (oid, rows) = Spi::connect(|c| {
        let oid = c
            .select(
                "SELECT 'han_crypto.alert_rules'::pg_catalog.regclass::pg_catalog.oid",
                Some(1),
                &[],
            )?
            .first()
            .get_one::<pg_sys::Oid>()?;
        let mut rows = Vec::new();
        for row in c.select(
            "SELECT name, kind, subject, threshold,
                    (EXTRACT(epoch FROM time_window) * 1000000)::pg_catalog.int8,
                    severity, params::pg_catalog.text
               FROM han_crypto.alert_rules WHERE enabled ORDER BY name",
            None,
            &[],
        )? {
            rows.push((
                row.get::<String>(1)?.unwrap_or_default(),
                row.get::<String>(2)?.unwrap_or_default(),
                row.get::<String>(3)?.unwrap_or_default(),
                row.get::<i64>(4)?.unwrap_or(0),
                row.get::<i64>(5)?.unwrap_or(0),
                row.get::<String>(6)?.unwrap_or_default(),
                row.get::<String>(7)?.unwrap_or_else(|| "{}".into()),
            ));
        }
        Ok::<_, HcError>((oid, rows))
    })?;
    RULES_TABLE.set(oid);
    RULES_CHANGED.set(false);
    let mut rules = Vec::new();
    for (name, kind, subject, threshold, window, severity, params) in rows {
        match Rule::from_row(
            &name, &kind, &subject, threshold, window, &severity, &params,
        ) {
            Ok(r) => rules.push(r),
            Err(e) => pgrx::warning!("han_crypto audit writer: {e}; the rule is skipped"),
        }
    }
    Ok(rules)
}

/// A new alert, waiting for its event's seq.
pub struct Opened {
    firing: Firing,
    id: i64,
    /// Repeats seen before the alert's row is stored.
    repeats: i64,
}

/// Applies the rules to `rows` (just chained): the alerts they open (ids
/// given) and the repeats of open ones. Reloads the rules first if they
/// changed.
pub fn evaluate(rows: &[StoredEvent]) -> (Vec<Opened>, Vec<Firing>) {
    if STATE.with(|s| s.borrow().is_none()) {
        return (Vec::new(), Vec::new());
    }
    if RULES_CHANGED.get() {
        // Read in a subtransaction of its own: a failure keeps the rules
        // in force and never fails the batch.
        match guarded(load_rules) {
            Ok(rules) => STATE.with(|s| {
                if let Some(a) = s.borrow_mut().as_mut() {
                    a.evaluator.set_rules(rules);
                }
            }),
            Err(e) => {
                RULES_CHANGED.set(false);
                pgrx::warning!("han_crypto audit writer: the alert rules were not read again: {e}");
            }
        }
    }
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let (mut opened, mut repeats) = (Vec::new(), Vec::new());
        let Some(a) = s.as_mut() else {
            return (opened, repeats);
        };
        for row in rows {
            for firing in a.evaluator.observe(&row.event, &mut a.zones, false) {
                let same = |o: &&mut Opened| {
                    o.firing.rule == firing.rule
                        && o.firing.subject_kind == firing.subject_kind
                        && o.firing.subject == firing.subject
                };
                if !firing.repeat {
                    opened.push(Opened {
                        firing,
                        id: a.next_id,
                        repeats: 0,
                    });
                    a.next_id += 1;
                } else if let Some(o) = opened.iter_mut().find(same) {
                    // Its row is not stored yet: the repeat goes into it.
                    o.firing.count = o.firing.count.max(firing.count);
                    o.firing.last_seq = firing.last_seq;
                    o.firing.last_ts_us = firing.last_ts_us;
                    o.repeats += 1;
                } else {
                    repeats.push(firing);
                }
            }
        }
        (opened, repeats)
    })
}

/// The `alert` event of a new alert (no subject values beyond what the
/// events it counts already hold: the rule, the subject, counts, seqs).
pub fn alert_event(o: &Opened, ts_us: i64) -> Event {
    let f = &o.firing;
    let mut e = Event::new(0, ts_us, Kind::Single);
    let _ = e.set(Field::Action, Value::Text(ALERT_ACTION.into()));
    let _ = e.set(Field::Object, Value::Text(f.rule.clone()));
    let _ = e.set(Field::Outcome, Value::Text("ok".into()));
    let _ = e.set(Field::RowCount, Value::Int(f.count));
    let _ = e.set(
        Field::Detail,
        Value::Json(payload(f, o.id, None).to_string()),
    );
    e
}

fn payload(f: &Firing, id: i64, alert_seq: Option<u64>) -> serde_json::Value {
    let subject: String = f.subject.chars().take(200).collect();
    serde_json::json!({
        "id": id,
        "rule": f.rule,
        "kind": f.kind.name(),
        "severity": f.severity.name(),
        "subject_kind": f.subject_kind.name(),
        "subject": subject,
        "count": f.count,
        "first_seq": f.first_seq,
        "last_seq": f.last_seq,
        "alert_seq": alert_seq,
    })
}

/// Stores new alerts (`opened`, with their events' seqs: rows and
/// NOTIFYs) and repeats (counted into the open alert), in the writer's
/// batch transaction. In a subtransaction: whatever goes wrong here (an
/// alerts table someone damaged) is a WARNING, and the batch's events
/// still commit, their `alert` events included.
pub fn persist(opened: &[(Opened, u64)], repeats: &[Firing]) {
    if let Err(e) = guarded(|| store(opened, repeats)) {
        pgrx::warning!("han_crypto audit writer: alerts not stored: {e}");
    }
}

/// Runs `f` in a subtransaction: its work commits with the batch if it
/// succeeds, and is undone (the batch going on) if it fails, with the
/// failure's message.
fn guarded<T>(f: impl FnOnce() -> HcResult<T>) -> Result<T, String> {
    // SAFETY: the internal-subtransaction protocol of PL handlers: memory
    // context and resource owner remembered and restored either way.
    unsafe {
        let cxt = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(cxt);
        let result = PgTryBuilder::new(std::panic::AssertUnwindSafe(|| {
            f().map_err(|e| {
                pgrx::pg_sys::panic::ErrorReport::from(e)
                    .message()
                    .to_owned()
            })
        }))
        .catch_others(|e| match e {
            pgrx::pg_sys::panic::CaughtError::PostgresError(r)
            | pgrx::pg_sys::panic::CaughtError::ErrorReport(r)
            | pgrx::pg_sys::panic::CaughtError::RustPanic { ereport: r, .. } => {
                Err(r.message().to_owned())
            }
        })
        .execute();
        match &result {
            Ok(_) => pg_sys::ReleaseCurrentSubTransaction(),
            Err(_) => pg_sys::RollbackAndReleaseCurrentSubTransaction(),
        }
        pg_sys::MemoryContextSwitchTo(cxt);
        pg_sys::CurrentResourceOwner = owner;
        result
    }
}

fn store(opened: &[(Opened, u64)], repeats: &[Firing]) -> HcResult<()> {
    let addresses = STATE.with(|s| {
        s.borrow_mut()
            .as_mut()
            .map(|a| a.evaluator.take_new_addresses())
            .unwrap_or_default()
    });
    if opened.is_empty() && repeats.is_empty() && addresses.is_empty() {
        return Ok(());
    }
    let news = opened
        .iter()
        .map(|(o, seq)| (&o.firing, Some((o.id, *seq, o.repeats))));
    let all = news.chain(repeats.iter().map(|f| (f, None)));
    Spi::connect_mut(|c| {
        // NOTIFY's queue is the cluster's, and a full one fails the commit
        // (the whole batch): any role can fill it by holding a LISTEN open.
        // Past half full, alerts are stored and recorded but not delivered.
        let deliver = c
            .select(
                "SELECT pg_catalog.pg_notification_queue_usage() < 0.5",
                Some(1),
                &[],
            )?
            .first()
            .get_one::<bool>()?
            .unwrap_or(false);
        if !deliver && !opened.is_empty() {
            pgrx::warning!(
                "han_crypto audit writer: the NOTIFY queue is more than half full; alerts are stored but not notified"
            );
        }
        for (f, new) in all {
            let subject: String = f.subject.chars().take(200).collect();
            match new {
                Some((id, seq, seen_repeats)) => {
                    c.update(
                        "INSERT INTO han_crypto_audit.alerts (id, rule, severity, subject_kind, subject,
                             event_count, threshold, time_window, first_seq, last_seq, first_at, last_at,
                             open_until, alert_seq, repeats)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8 * interval '1 microsecond', $9, $10,
                             pg_catalog.to_timestamp(0) + $11::pg_catalog.int8 * interval '1 microsecond',
                             pg_catalog.to_timestamp(0) + $12::pg_catalog.int8 * interval '1 microsecond',
                             pg_catalog.to_timestamp(0) + $13::pg_catalog.int8 * interval '1 microsecond', $14, $15)",
                        None,
                        &[
                            id.into(),
                            f.rule.clone().into(),
                            f.severity.name().into(),
                            f.subject_kind.name().into(),
                            subject.into(),
                            f.count.into(),
                            f.threshold.into(),
                            f.window_us.into(),
                            (f.first_seq as i64).into(),
                            (f.last_seq as i64).into(),
                            f.first_ts_us.into(),
                            f.last_ts_us.into(),
                            f.open_until_us.into(),
                            (seq as i64).into(),
                            seen_repeats.into(),
                        ],
                    )?;
                    if deliver {
                        let body = payload(f, id, Some(seq)).to_string();
                        c.update(
                            "SELECT pg_catalog.pg_notify($1, $2)",
                            None,
                            &[CHANNEL.into(), body.into()],
                        )?;
                    }
                }
                None => {
                    let updated = c.update(
                        "UPDATE han_crypto_audit.alerts
                            SET event_count = GREATEST(event_count, $4),
                                last_seq = $5, repeats = repeats + 1,
                                last_at = pg_catalog.to_timestamp(0) + $6::pg_catalog.int8 * interval '1 microsecond'
                          WHERE id = (SELECT max(id) FROM han_crypto_audit.alerts
                                       WHERE rule = $1 AND subject_kind = $2 AND subject = $3)
                          RETURNING id",
                        None,
                        &[
                            f.rule.clone().into(),
                            f.subject_kind.name().into(),
                            subject.into(),
                            f.count.into(),
                            (f.last_seq as i64).into(),
                            f.last_ts_us.into(),
                        ],
                    )?;
                    // A critical alert is never silenced: each repeat is
                    // delivered too (the row still counts them as one).
                    let id = updated.first().get_one::<i64>().ok().flatten();
                    if let (Some(id), Severity::Critical, true) = (id, f.severity, deliver) {
                        let mut body = payload(f, id, None);
                        body["repeat"] = serde_json::Value::Bool(true);
                        c.update(
                            "SELECT pg_catalog.pg_notify($1, $2)",
                            None,
                            &[CHANNEL.into(), body.to_string().into()],
                        )?;
                    }
                }
            }
        }
        for (keyring, actor, addr) in addresses {
            c.update(
                "INSERT INTO han_crypto_audit._seen_addresses VALUES ($1, $2, $3, pg_catalog.now())
                 ON CONFLICT DO NOTHING",
                None,
                &[keyring.into(), actor.into(), addr.into()],
            )?;
        }
        Ok::<_, HcError>(())
    })
}

/// UTC offsets of named time zones, from PostgreSQL's time zone database,
/// each asked at most once a minute (DST moves them).
#[derive(Default)]
struct ZoneCache {
    offsets: HashMap<String, (Option<i64>, Instant)>,
}

impl LocalTime for ZoneCache {
    fn local(&mut self, time_zone: &str, ts_us: i64) -> Option<(u32, u32)> {
        let fresh = self
            .offsets
            .get(time_zone)
            .filter(|(_, at)| at.elapsed() < Duration::from_secs(60))
            .map(|(o, _)| *o);
        let offset = match fresh {
            Some(o) => o,
            None => {
                // pg_timezone_names answers for any name without raising.
                let o = Spi::connect(|c| {
                    c.select(
                        "SELECT EXTRACT(epoch FROM utc_offset)::pg_catalog.int8
                           FROM pg_catalog.pg_timezone_names WHERE name = $1",
                        Some(1),
                        &[time_zone.into()],
                    )?
                    .first()
                    .get_one::<i64>()
                })
                .ok()
                .flatten();
                if self.offsets.len() > 1000 {
                    self.offsets.clear();
                }
                self.offsets
                    .insert(time_zone.to_owned(), (o, Instant::now()));
                o
            }
        }?;
        let secs = ts_us.div_euclid(1_000_000) + offset;
        let days = secs.div_euclid(86_400);
        // 1970-01-01 was a Thursday (ISO 4).
        let day = ((days + 3).rem_euclid(7) + 1) as u32;
        Some((day, (secs.rem_euclid(86_400) / 60) as u32))
    }
}
