//! Rules applied to events in chain order.

use std::collections::{HashMap, HashSet, VecDeque};

use super::rule::{Rule, RuleKind, Severity, Subject};
use super::window::Window;
use super::{ALERT_ACTION, HONEYTOKEN_ACTION, READ_ACTIONS};
use crate::audit::event::{Event, Field, Kind, Value};

/// The local weekday (ISO, 1 = Monday) and minute of the day of a time in
/// a named time zone; `None` for a zone the server does not know. The
/// extension answers from PostgreSQL's time zone database.
pub trait LocalTime {
    fn local(&mut self, time_zone: &str, ts_us: i64) -> Option<(u32, u32)>;
}

/// A threshold crossed (or, with `repeat`, crossed again while its alert
/// is still open: the alert's count and last seq move, nothing new opens).
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    pub rule: String,
    pub kind: RuleKind,
    pub severity: Severity,
    pub subject_kind: Subject,
    pub subject: String,
    /// What the window holds now (events, or rows for the bulk rules).
    pub count: i64,
    pub threshold: i64,
    pub window_us: i64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub first_ts_us: i64,
    pub last_ts_us: i64,
    pub open_until_us: i64,
    pub repeat: bool,
}

/// Who an access was, kept from a statement's `begin` for its `end`.
#[derive(Clone, Debug, Default)]
struct Origin {
    actor: Option<String>,
    client_addr: Option<String>,
    keyring: Option<String>,
    object: Option<String>,
}

/// Bounds on what the evaluator remembers (it runs in the writer, which
/// any role's events feed).
const MAX_OPEN_BEGINS: usize = 100_000;
const MAX_WINDOWS: usize = 100_000;
const MAX_SEEN: usize = 1_000_000;
const SWEEP_EVERY: u64 = 10_000;

pub struct Evaluator {
    rules: Vec<Rule>,
    windows: HashMap<(String, String), Window>,
    begins: HashMap<u64, Origin>,
    begin_order: VecDeque<u64>,
    seen_addresses: HashSet<(String, String, String)>,
    seen_actors: HashSet<(String, String)>,
    new_addresses: Vec<(String, String, String)>,
    observed: u64,
}

fn text(e: &Event, f: Field) -> Option<&str> {
    match e.get(f) {
        Some(Value::Text(t)) => Some(t.as_str()),
        _ => None,
    }
}

fn int(e: &Event, f: Field) -> Option<i64> {
    match e.get(f) {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    }
}

impl Evaluator {
    pub fn new(rules: Vec<Rule>) -> Evaluator {
        Evaluator {
            rules,
            windows: HashMap::new(),
            begins: HashMap::new(),
            begin_order: VecDeque::new(),
            seen_addresses: HashSet::new(),
            seen_actors: HashSet::new(),
            new_addresses: Vec::new(),
            observed: 0,
        }
    }

    /// New rules; windows of rules that keep their name carry over.
    pub fn set_rules(&mut self, rules: Vec<Rule>) {
        let names: HashSet<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        self.windows
            .retain(|(rule, _), _| names.contains(rule.as_str()));
        self.rules = rules;
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Remembers that `actor` used `keyring` from `addr` (stored history).
    pub fn remember_address(&mut self, keyring: &str, actor: &str, addr: &str) {
        if self.seen_addresses.len() < MAX_SEEN {
            self.seen_actors
                .insert((keyring.to_owned(), actor.to_owned()));
            self.seen_addresses
                .insert((keyring.to_owned(), actor.to_owned(), addr.to_owned()));
        }
    }

    /// (keyring, actor, address) first seen since the last call, to store.
    pub fn take_new_addresses(&mut self) -> Vec<(String, String, String)> {
        std::mem::take(&mut self.new_addresses)
    }

    /// Applies every rule to event `e` (already given its seq). `quiet`:
    /// only update the windows (replaying events already evaluated, when
    /// a writer starts), returning nothing.
    pub fn observe(&mut self, e: &Event, clock: &mut dyn LocalTime, quiet: bool) -> Vec<Firing> {
        let Some(action) = text(e, Field::Action) else {
            return Vec::new();
        };
        if action == ALERT_ACTION {
            return Vec::new();
        }
        self.observed += 1;
        if self.observed % SWEEP_EVERY == 0 {
            self.sweep(e.ts_us);
        }
        let outcome = text(e, Field::Outcome).unwrap_or("");
        let rows = int(e, Field::RowCount);
        // The accesses this event adds, and the values a statement read.
        let (origin, weight, statement_rows) = match e.kind {
            Kind::Begin => {
                let o = self.origin_of(e);
                self.keep_begin(e.seq, o.clone());
                (o, 1, None)
            }
            Kind::End => {
                let o = int(e, Field::BeginSeq)
                    .and_then(|b| self.begins.remove(&(b as u64)))
                    .unwrap_or_else(|| self.origin_of(e));
                let n = rows.unwrap_or(1);
                (o, (n - 1).max(0), Some(n))
            }
            Kind::Single => {
                let n = rows.unwrap_or(1);
                (self.origin_of(e), n, Some(n))
            }
            Kind::Marker => return Vec::new(),
        };
        let read = READ_ACTIONS.contains(&action);
        let first_access = matches!(e.kind, Kind::Begin | Kind::Single);
        let new_address = read
            && outcome == "ok"
            && first_access
            && self.rules.iter().any(|r| r.kind == RuleKind::NewClientAddr)
            && self.first_address(&origin);
        let mut out = Vec::new();
        for i in 0..self.rules.len() {
            let rule = &self.rules[i];
            let w = match rule.kind {
                RuleKind::FailedDecrypts => (read && outcome == "failed") as i64 * weight,
                RuleKind::FailedUnlocks => {
                    (action == "unlock" && outcome == "failed") as i64 * weight
                }
                RuleKind::DeniedReads => (read && outcome == "denied") as i64 * weight,
                RuleKind::BulkReadWindow => (read && outcome == "ok") as i64 * weight,
                RuleKind::BulkReadStatement => match statement_rows {
                    Some(n) if read && outcome == "ok" && n > rule.threshold => n,
                    _ => 0,
                },
                RuleKind::OffHours => {
                    let outside = first_access
                        && origin
                            .keyring
                            .as_deref()
                            .and_then(|k| rule.hours.get(k))
                            .is_some_and(|h| {
                                clock
                                    .local(&h.time_zone, e.ts_us)
                                    .is_some_and(|(day, minute)| !h.allows(day, minute))
                            });
                    outside as i64
                }
                RuleKind::NewClientAddr => new_address as i64,
                RuleKind::Honeytoken => (action == HONEYTOKEN_ACTION) as i64 * weight.max(1),
                RuleKind::Actions => rule.actions.iter().any(|a| a == action) as i64,
            };
            if w == 0 {
                continue;
            }
            let rule = &self.rules[i];
            let subject = match rule.subject {
                Subject::Actor => origin.actor.as_deref(),
                Subject::ClientAddr => origin.client_addr.as_deref(),
                Subject::Keyring => origin.keyring.as_deref(),
                Subject::Table => origin.object.as_deref(),
            }
            .unwrap_or("(none)")
            .to_owned();
            let key = (rule.name.clone(), subject.clone());
            if self.windows.len() >= MAX_WINDOWS && !self.windows.contains_key(&key) {
                // Full (many subjects at once, or someone minting actors):
                // one window makes room, any one, so that the cost stays
                // flat and a flood of junk subjects mostly evicts its own.
                if let Some(victim) = self.windows.keys().next().cloned() {
                    self.windows.remove(&victim);
                }
            }
            let window = self.windows.entry(key).or_default();
            let sum = window.add(e.ts_us, e.seq, w, rule.window_us);
            let (count, crossed) = match rule.kind {
                RuleKind::BulkReadStatement => (w, true),
                k if k.exceeds() => (sum, sum > rule.threshold),
                _ => (sum, sum >= rule.threshold),
            };
            if !crossed {
                continue;
            }
            let repeat = window.open_until_us.is_some_and(|t| t > e.ts_us);
            if !repeat {
                window.open_until_us = Some(e.ts_us.saturating_add(rule.window_us));
            }
            let (first_seq, first_ts_us) = match rule.kind {
                RuleKind::BulkReadStatement => (e.seq, e.ts_us),
                _ => window.first(),
            };
            if !quiet {
                out.push(Firing {
                    rule: rule.name.clone(),
                    kind: rule.kind,
                    severity: rule.severity,
                    subject_kind: rule.subject,
                    subject,
                    count,
                    threshold: rule.threshold,
                    window_us: rule.window_us,
                    first_seq,
                    last_seq: e.seq,
                    first_ts_us,
                    last_ts_us: e.ts_us,
                    open_until_us: window.open_until_us.unwrap_or(e.ts_us),
                    repeat,
                });
            }
        }
        out
    }

    fn origin_of(&self, e: &Event) -> Origin {
        let own = |f| text(e, f).map(str::to_owned);
        Origin {
            actor: own(Field::Actor),
            client_addr: own(Field::ClientAddr),
            keyring: own(Field::Keyring),
            object: own(Field::Object),
        }
    }

    fn keep_begin(&mut self, seq: u64, origin: Origin) {
        if self.begin_order.len() >= MAX_OPEN_BEGINS {
            // Ends that never came (crashed statements): forget the oldest.
            if let Some(old) = self.begin_order.pop_front() {
                self.begins.remove(&old);
            }
        }
        self.begin_order.push_back(seq);
        self.begins.insert(seq, origin);
        // Keep the order queue from growing with ends already seen.
        while self
            .begin_order
            .front()
            .is_some_and(|s| !self.begins.contains_key(s))
        {
            self.begin_order.pop_front();
        }
    }

    /// Whether `origin` is an actor known on its keyring from elsewhere,
    /// now from an address it never used there; remembers the address.
    fn first_address(&mut self, origin: &Origin) -> bool {
        let (Some(keyring), Some(actor), Some(addr)) = (
            origin.keyring.as_deref(),
            origin.actor.as_deref(),
            origin.client_addr.as_deref(),
        ) else {
            return false;
        };
        let key = (keyring.to_owned(), actor.to_owned(), addr.to_owned());
        if self.seen_addresses.contains(&key) || self.seen_addresses.len() >= MAX_SEEN {
            return false;
        }
        let known = !self
            .seen_actors
            .insert((keyring.to_owned(), actor.to_owned()));
        self.seen_addresses.insert(key.clone());
        self.new_addresses.push(key);
        known
    }

    /// Drops windows that can no longer alert or be repeated.
    fn sweep(&mut self, now_us: i64) {
        let windows: HashMap<&str, i64> = self
            .rules
            .iter()
            .map(|r| (r.name.as_str(), r.window_us))
            .collect();
        self.windows.retain(|(rule, _), w| {
            windows
                .get(rule.as_str())
                .is_some_and(|len| !w.idle(now_us, *len))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Utc;
    impl LocalTime for Utc {
        fn local(&mut self, _tz: &str, ts_us: i64) -> Option<(u32, u32)> {
            let secs = ts_us.div_euclid(1_000_000);
            let days = secs.div_euclid(86_400);
            // 1970-01-01 was a Thursday (ISO 4).
            let day = ((days + 3).rem_euclid(7) + 1) as u32;
            Some((day, (secs.rem_euclid(86_400) / 60) as u32))
        }
    }

    fn rule(name: &str, kind: &str, subject: &str, threshold: i64, params: &str) -> Rule {
        Rule::from_row(
            name,
            kind,
            subject,
            threshold,
            600_000_000,
            "warning",
            params,
        )
        .unwrap()
    }

    fn event(seq: u64, ts_s: i64, kind: Kind, action: &str, outcome: &str) -> Event {
        let mut e = Event::new(seq, ts_s * 1_000_000, kind);
        e.set_text(Field::Action, action).unwrap();
        e.set_text(Field::Outcome, outcome).unwrap();
        e.set_text(Field::Actor, "mallory").unwrap();
        e.set_text(Field::ClientAddr, "10.0.0.9").unwrap();
        e.set_text(Field::Keyring, "notes").unwrap();
        e.set_text(Field::Object, "public.notes").unwrap();
        e
    }

    #[test]
    fn failures_alert_at_the_threshold_not_below_and_repeat_while_open() {
        let mut ev = Evaluator::new(vec![rule("f", "failed_decrypts", "actor", 3, "{}")]);
        let mut out = Vec::new();
        for seq in 1..=2 {
            out.extend(ev.observe(
                &event(seq, 100, Kind::Single, "decrypt", "failed"),
                &mut Utc,
                false,
            ));
        }
        assert!(out.is_empty(), "2 of 3: nothing");
        // Successes and other actors do not count.
        ev.observe(
            &event(3, 100, Kind::Single, "decrypt", "ok"),
            &mut Utc,
            false,
        );
        let mut other = event(4, 100, Kind::Single, "decrypt", "failed");
        other.set_text(Field::Actor, "alice").unwrap();
        assert!(ev.observe(&other, &mut Utc, false).is_empty());
        let f = ev.observe(
            &event(5, 101, Kind::Single, "decrypt", "failed"),
            &mut Utc,
            false,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].count, f[0].first_seq, f[0].last_seq, f[0].repeat),
            (3, 1, 5, false)
        );
        assert_eq!(f[0].subject, "mallory");
        let again = ev.observe(
            &event(6, 102, Kind::Single, "decrypt", "failed"),
            &mut Utc,
            false,
        );
        assert_eq!((again[0].count, again[0].repeat), (4, true));
        // After the window, a new alert needs the threshold again.
        assert!(ev
            .observe(
                &event(7, 800, Kind::Single, "decrypt", "failed"),
                &mut Utc,
                false
            )
            .is_empty());
    }

    #[test]
    fn a_statement_counts_once_at_begin_and_the_rest_at_end() {
        let mut ev = Evaluator::new(vec![
            rule("f", "failed_decrypts", "client_addr", 5, "{}"),
            rule("bulk", "bulk_read_statement", "actor", 100, "{}"),
            rule("bulkw", "bulk_read_window", "actor", 150, "{}"),
        ]);
        assert!(ev
            .observe(
                &event(1, 10, Kind::Begin, "decrypt", "failed"),
                &mut Utc,
                false
            )
            .is_empty());
        let mut end = Event::new(2, 10_000_000, Kind::End);
        end.set_text(Field::Action, "decrypt").unwrap();
        end.set_text(Field::Outcome, "failed").unwrap();
        end.set_int(Field::BeginSeq, 1).unwrap();
        end.set_int(Field::RowCount, 5).unwrap();
        let f = ev.observe(&end, &mut Utc, false);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].subject.as_str(), f[0].count), ("10.0.0.9", 5));
        // 100 rows: not more than 100; 101: bulk.
        ev.observe(
            &event(3, 20, Kind::Begin, "view_read", "ok"),
            &mut Utc,
            false,
        );
        let mut end = Event::new(4, 20_000_000, Kind::End);
        end.set_text(Field::Action, "view_read").unwrap();
        end.set_text(Field::Outcome, "ok").unwrap();
        end.set_int(Field::BeginSeq, 3).unwrap();
        end.set_int(Field::RowCount, 100).unwrap();
        assert!(ev.observe(&end, &mut Utc, false).is_empty());
        let mut one = event(5, 21, Kind::Single, "view_read", "ok");
        one.set_int(Field::RowCount, 101).unwrap();
        let f = ev.observe(&one, &mut Utc, false);
        let names: Vec<&str> = f.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(names, ["bulk", "bulkw"], "{f:?}");
        assert_eq!(f[1].count, 201);
    }

    #[test]
    fn new_addresses_off_hours_honeytokens_and_listed_actions() {
        let mut ev = Evaluator::new(vec![
            rule("addr", "new_client_addr", "actor", 1, "{}"),
            rule(
                "hours",
                "off_hours",
                "keyring",
                1,
                r#"{"keyrings":{"notes":{"from":"08:00","to":"18:00"}}}"#,
            ),
            rule("honey", "honeytoken", "table", 1, "{}"),
            rule("info", "actions", "actor", 1, r#"{"actions":["export"]}"#),
        ]);
        // 1970-01-05 (a Monday) 09:00 UTC.
        let nine = 4 * 86_400 + 9 * 3600;
        assert!(
            ev.observe(
                &event(1, nine, Kind::Single, "decrypt", "ok"),
                &mut Utc,
                false
            )
            .is_empty(),
            "first address of a first actor: nothing"
        );
        let mut moved = event(2, nine, Kind::Single, "decrypt", "ok");
        moved.set_text(Field::ClientAddr, "203.0.113.7").unwrap();
        let f = ev.observe(&moved, &mut Utc, false);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, "addr");
        assert_eq!(ev.take_new_addresses().len(), 2);
        let night = 4 * 86_400 + 23 * 3600;
        let f = ev.observe(
            &event(3, night, Kind::Single, "decrypt", "ok"),
            &mut Utc,
            false,
        );
        assert_eq!(
            (f[0].rule.as_str(), f[0].subject.as_str()),
            ("hours", "notes")
        );
        let f = ev.observe(
            &event(4, nine, Kind::Single, HONEYTOKEN_ACTION, "ok"),
            &mut Utc,
            false,
        );
        assert_eq!(
            (f[0].rule.as_str(), f[0].subject.as_str()),
            ("honey", "public.notes")
        );
        let f = ev.observe(
            &event(5, nine, Kind::Single, "export", "ok"),
            &mut Utc,
            false,
        );
        assert_eq!(f[0].rule, "info");
        // An alert's own event is never evaluated.
        assert!(ev
            .observe(
                &event(6, nine, Kind::Single, ALERT_ACTION, "ok"),
                &mut Utc,
                false
            )
            .is_empty());
    }

    #[test]
    fn windows_stay_bounded_when_subjects_are_minted() {
        let mut ev = Evaluator::new(vec![rule("f", "failed_decrypts", "actor", 1000, "{}")]);
        for i in 0..(MAX_WINDOWS as u64 + 500) {
            let mut e = event(i + 1, 100, Kind::Single, "decrypt", "failed");
            e.set_text(Field::Actor, &format!("minted-{i}")).unwrap();
            ev.observe(&e, &mut Utc, false);
        }
        assert!(ev.windows.len() <= MAX_WINDOWS);
    }

    #[test]
    fn replayed_events_fill_windows_without_alerting() {
        let mut ev = Evaluator::new(vec![rule("u", "failed_unlocks", "keyring", 2, "{}")]);
        assert!(ev
            .observe(
                &event(1, 5, Kind::Single, "unlock", "failed"),
                &mut Utc,
                true
            )
            .is_empty());
        let f = ev.observe(
            &event(2, 6, Kind::Single, "unlock", "failed"),
            &mut Utc,
            false,
        );
        assert_eq!((f[0].count, f[0].first_seq), (2, 1));
    }
}
