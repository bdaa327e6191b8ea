//! What a rule is, read from its row in `han_crypto.alert_rules`.

use std::collections::BTreeMap;

/// Which events a rule counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    /// Reads whose envelope failed to authenticate (outcome `failed`).
    FailedDecrypts,
    /// `unlock` with a wrong passphrase (outcome `failed`).
    FailedUnlocks,
    /// Reads refused to a non-member (outcome `denied`).
    DeniedReads,
    /// One statement reading more than `threshold` values.
    BulkReadStatement,
    /// More than `threshold` values read by one subject within the window.
    BulkReadWindow,
    /// An access to a keyring outside its allowed hours (`params.keyrings`).
    OffHours,
    /// An actor reading a keyring from a client address it never used
    /// for that keyring before (and it had used another).
    NewClientAddr,
    /// Any decryption of a honeytoken.
    Honeytoken,
    /// Each event of the actions in `params.actions` (exports, recovery,
    /// key destruction): informational.
    Actions,
}

impl RuleKind {
    pub const ALL: &'static [RuleKind] = &[
        RuleKind::FailedDecrypts,
        RuleKind::FailedUnlocks,
        RuleKind::DeniedReads,
        RuleKind::BulkReadStatement,
        RuleKind::BulkReadWindow,
        RuleKind::OffHours,
        RuleKind::NewClientAddr,
        RuleKind::Honeytoken,
        RuleKind::Actions,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RuleKind::FailedDecrypts => "failed_decrypts",
            RuleKind::FailedUnlocks => "failed_unlocks",
            RuleKind::DeniedReads => "denied_reads",
            RuleKind::BulkReadStatement => "bulk_read_statement",
            RuleKind::BulkReadWindow => "bulk_read_window",
            RuleKind::OffHours => "off_hours",
            RuleKind::NewClientAddr => "new_client_addr",
            RuleKind::Honeytoken => "honeytoken",
            RuleKind::Actions => "actions",
        }
    }

    pub fn parse(s: &str) -> Option<RuleKind> {
        RuleKind::ALL.iter().copied().find(|k| k.name() == s)
    }

    /// Whether the count must exceed the threshold (rows read) rather
    /// than reach it (events).
    pub fn exceeds(self) -> bool {
        matches!(self, RuleKind::BulkReadStatement | RuleKind::BulkReadWindow)
    }
}

/// Whose events a rule counts together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    Actor,
    ClientAddr,
    Keyring,
    Table,
}

impl Subject {
    pub fn name(self) -> &'static str {
        match self {
            Subject::Actor => "actor",
            Subject::ClientAddr => "client_addr",
            Subject::Keyring => "keyring",
            Subject::Table => "table",
        }
    }

    pub fn parse(s: &str) -> Option<Subject> {
        [
            Subject::Actor,
            Subject::ClientAddr,
            Subject::Keyring,
            Subject::Table,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        [Severity::Info, Severity::Warning, Severity::Critical]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// When a keyring may be used: minutes of the day in its time zone
/// (`to` before `from` spans midnight) and ISO weekdays (1 = Monday).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHours {
    pub time_zone: String,
    pub from_minute: u32,
    pub to_minute: u32,
    pub days: [bool; 7],
}

impl AllowedHours {
    /// Whether `minute` of ISO weekday `day` (1..=7) is inside.
    pub fn allows(&self, day: u32, minute: u32) -> bool {
        let day_ok = |d: u32| self.days[((d + 6) % 7) as usize];
        if self.from_minute <= self.to_minute {
            day_ok(day) && minute >= self.from_minute && minute < self.to_minute
        } else if minute >= self.from_minute {
            // The evening part of an overnight span belongs to its day.
            day_ok(day)
        } else {
            // The morning part belongs to the day before.
            minute < self.to_minute && day_ok(if day == 1 { 7 } else { day - 1 })
        }
    }
}

/// Why a rule row cannot be used (the writer logs it and skips the rule).
#[derive(Debug, PartialEq, Eq)]
pub struct RuleError(pub String);

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest window a rule may have: windows live in the writer's memory.
pub const MAX_WINDOW_US: i64 = 7 * 24 * 3600 * 1_000_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub kind: RuleKind,
    pub subject: Subject,
    pub threshold: i64,
    pub window_us: i64,
    pub severity: Severity,
    /// OffHours: per keyring name.
    pub hours: BTreeMap<String, AllowedHours>,
    /// Actions: the actions that alert.
    pub actions: Vec<String>,
}

impl Rule {
    /// A rule from its row's values; `params` is the row's jsonb as text.
    pub fn from_row(
        name: &str,
        kind: &str,
        subject: &str,
        threshold: i64,
        window_us: i64,
        severity: &str,
        params: &str,
    ) -> Result<Rule, RuleError> {
        let bad = |what: String| RuleError(format!("alert rule {name:?}: {what}"));
        let kind = RuleKind::parse(kind).ok_or_else(|| bad(format!("unknown kind {kind:?}")))?;
        let subject =
            Subject::parse(subject).ok_or_else(|| bad(format!("unknown subject {subject:?}")))?;
        let severity = Severity::parse(severity)
            .ok_or_else(|| bad(format!("unknown severity {severity:?}")))?;
        if threshold < 1 {
            return Err(bad("the threshold must be at least 1".into()));
        }
        if !(1..=MAX_WINDOW_US).contains(&window_us) {
            return Err(bad("the window must be positive and at most 7 days".into()));
        }
        let params: serde_json::Value =
            serde_json::from_str(params).map_err(|_| bad("params are not JSON".into()))?;
        let mut hours = BTreeMap::new();
        if kind == RuleKind::OffHours {
            if let Some(map) = params.get("keyrings").and_then(|k| k.as_object()) {
                for (keyring, spec) in map {
                    hours.insert(keyring.clone(), parse_hours(spec).map_err(&bad)?);
                }
            }
        }
        let actions = match params.get("actions") {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Ok(Rule {
            name: name.to_owned(),
            kind,
            subject,
            threshold,
            window_us,
            severity,
            hours,
            actions,
        })
    }
}

fn parse_minute(v: Option<&serde_json::Value>, what: &str) -> Result<u32, String> {
    let s = v
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("{what} must be a time such as \"08:00\""))?;
    let (h, m) = s
        .split_once(':')
        .ok_or_else(|| format!("{what} must be HH:MM"))?;
    let (h, m): (u32, u32) = (
        h.parse().map_err(|_| format!("{what} must be HH:MM"))?,
        m.parse().map_err(|_| format!("{what} must be HH:MM"))?,
    );
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        return Err(format!("{what} is not a time of day"));
    }
    Ok(h * 60 + m)
}

fn parse_hours(spec: &serde_json::Value) -> Result<AllowedHours, String> {
    let time_zone = spec
        .get("time_zone")
        .and_then(|v| v.as_str())
        .unwrap_or("UTC")
        .to_owned();
    if time_zone.is_empty()
        || time_zone.len() > 64
        || !time_zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+-:".contains(c))
    {
        return Err("time_zone is not a time zone name".into());
    }
    let from_minute = parse_minute(spec.get("from"), "from")?;
    let to_minute = parse_minute(spec.get("to"), "to")?;
    let mut days = [true; 7];
    if let Some(list) = spec.get("days") {
        let list = list
            .as_array()
            .ok_or("days must be a list of ISO weekdays (1 = Monday)")?;
        days = [false; 7];
        for d in list {
            match d.as_u64() {
                Some(d @ 1..=7) => days[(d - 1) as usize] = true,
                _ => return Err("days must be ISO weekdays, 1 (Monday) to 7".into()),
            }
        }
    }
    Ok(AllowedHours {
        time_zone,
        from_minute,
        to_minute,
        days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_parse_and_bad_rows_are_named() {
        let r = Rule::from_row(
            "h",
            "off_hours",
            "actor",
            1,
            60_000_000,
            "warning",
            r#"{"keyrings":{"notes":{"time_zone":"Europe/Berlin","from":"08:00","to":"18:00","days":[1,2,3,4,5]}}}"#,
        )
        .unwrap();
        let h = &r.hours["notes"];
        assert_eq!((h.from_minute, h.to_minute), (480, 1080));
        assert!(h.allows(1, 480) && !h.allows(1, 1080) && !h.allows(6, 600));
        for (kind, subject, threshold, window, severity, params) in [
            ("nope", "actor", 1, 1, "info", "{}"),
            ("honeytoken", "nobody", 1, 1, "info", "{}"),
            ("honeytoken", "actor", 0, 1, "info", "{}"),
            ("honeytoken", "actor", 1, 0, "info", "{}"),
            ("honeytoken", "actor", 1, MAX_WINDOW_US + 1, "info", "{}"),
            ("honeytoken", "actor", 1, 1, "loud", "{}"),
            ("honeytoken", "actor", 1, 1, "info", "not json"),
            (
                "off_hours",
                "actor",
                1,
                1,
                "info",
                r#"{"keyrings":{"k":{"from":"25:00","to":"08:00"}}}"#,
            ),
            (
                "off_hours",
                "actor",
                1,
                1,
                "info",
                r#"{"keyrings":{"k":{"from":"08:00","to":"09:00","time_zone":"x'; DROP"}}}"#,
            ),
        ] {
            assert!(
                Rule::from_row("r", kind, subject, threshold, window, severity, params).is_err(),
                "{kind} {subject} {threshold} {window} {severity} {params}"
            );
        }
    }

    #[test]
    fn overnight_hours_belong_to_the_evening_they_start() {
        let h =
            parse_hours(&serde_json::json!({"from": "22:00", "to": "06:00", "days": [5]})).unwrap();
        assert!(h.allows(5, 23 * 60)); // Friday night
        assert!(h.allows(6, 60)); // early Saturday, Friday's shift
        assert!(!h.allows(6, 23 * 60)); // Saturday night
        assert!(!h.allows(5, 60)); // early Friday, Thursday's shift
        assert!(!h.allows(6, 6 * 60));
    }
}
