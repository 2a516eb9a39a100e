//! The consent ledger as the gate sees it: the current consent per purpose, computed from the
//! contact's append-only events.
//!
//! The latest event for a purpose (greatest `at`) is that purpose's current consent. Two events
//! with the same `at` are ordered by their place in the ledger: the one recorded later wins. Events
//! may be fed in any time order; [`ConsentLedger::record`] must be called in ledger order (the
//! store's `ORDER BY created_at, event_id`), since that order breaks the ties.
//!
//! Every recorded event counts, whatever its time relative to the decision's `now`: the ledger is
//! what the business was told, and an opt-out must never be ignored because a clock disagreed.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a message is for; consent is given and withdrawn per purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Promotions, offers, newsletters: always needs an explicit, current opt-in.
    Marketing,
    /// Updates about something the person did (orders, appointments, codes): needs an opt-in when
    /// the business starts the conversation.
    Utility,
    /// Answers inside a conversation the customer started: needs no opt-in, only no opt-out.
    Service,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [Purpose::Marketing, Purpose::Utility, Purpose::Service];

    /// The stored and API name: `marketing`, `utility` or `service`.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Marketing => "marketing",
            Purpose::Utility => "utility",
            Purpose::Service => "service",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Purpose {
    type Err = UnknownConsentValue;
    fn from_str(s: &str) -> Result<Self, UnknownConsentValue> {
        match s {
            "marketing" => Ok(Purpose::Marketing),
            "utility" => Ok(Purpose::Utility),
            "service" => Ok(Purpose::Service),
            _ => Err(UnknownConsentValue {
                field: "purpose",
                value: s.to_string(),
            }),
        }
    }
}

/// One consent event's direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    OptedIn,
    OptedOut,
}

impl ConsentStatus {
    pub const ALL: [ConsentStatus; 2] = [ConsentStatus::OptedIn, ConsentStatus::OptedOut];

    /// The stored and API name: `opted_in` or `opted_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentStatus::OptedIn => "opted_in",
            ConsentStatus::OptedOut => "opted_out",
        }
    }
}

impl fmt::Display for ConsentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConsentStatus {
    type Err = UnknownConsentValue;
    fn from_str(s: &str) -> Result<Self, UnknownConsentValue> {
        match s {
            "opted_in" => Ok(ConsentStatus::OptedIn),
            "opted_out" => Ok(ConsentStatus::OptedOut),
            _ => Err(UnknownConsentValue {
                field: "status",
                value: s.to_string(),
            }),
        }
    }
}

/// A purpose or status name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown consent {field} {value:?}")]
pub struct UnknownConsentValue {
    /// `purpose` or `status`.
    pub field: &'static str,
    pub value: String,
}

/// A stored ledger row that cannot be read: the caller must not send (fail closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("consent ledger row {index}: {source}")]
pub struct BadConsentRow {
    /// Position of the row in the ledger (0 = oldest).
    pub index: usize,
    pub source: UnknownConsentValue,
}

/// One ledger event, as far as the gate cares: its purpose, its direction and its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsentEvent {
    pub purpose: Purpose,
    pub status: ConsentStatus,
    /// Unix microseconds.
    pub at: i64,
}

/// The current consent for one purpose: the status of its latest event and that event's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentConsent {
    pub status: ConsentStatus,
    /// Unix microseconds of the event that decided it.
    pub since: i64,
}

/// A contact's current consent per purpose, folded from its ledger.
///
/// ```
/// use confide_core::send_gate::{ConsentLedger, ConsentStatus, Purpose};
///
/// // (purpose, status, created_at) rows as the store returns them, oldest first.
/// let ledger = ConsentLedger::from_rows([
///     ("marketing", "opted_in", 10),
///     ("marketing", "opted_out", 20),
///     ("utility", "opted_in", 20),
/// ])?;
/// assert_eq!(ledger.status(Purpose::Marketing), Some(ConsentStatus::OptedOut));
/// assert_eq!(ledger.status(Purpose::Utility), Some(ConsentStatus::OptedIn));
/// assert_eq!(ledger.status(Purpose::Service), None);
/// # Ok::<(), confide_core::send_gate::BadConsentRow>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsentLedger {
    marketing: Option<CurrentConsent>,
    utility: Option<CurrentConsent>,
    service: Option<CurrentConsent>,
    events: usize,
}

impl ConsentLedger {
    /// A contact who never gave or withdrew consent.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds events given in ledger order (their times may be in any order).
    pub fn from_events<I: IntoIterator<Item = ConsentEvent>>(events: I) -> Self {
        let mut ledger = Self::new();
        ledger.extend(events);
        ledger
    }

    /// Folds stored rows `(purpose, status, at)` given in ledger order. An unknown purpose or
    /// status is an error naming the row, never a silent skip.
    pub fn from_rows<I, P, S>(rows: I) -> Result<Self, BadConsentRow>
    where
        I: IntoIterator<Item = (P, S, i64)>,
        P: AsRef<str>,
        S: AsRef<str>,
    {
        let mut ledger = Self::new();
        for (index, (purpose, status, at)) in rows.into_iter().enumerate() {
            let purpose = purpose
                .as_ref()
                .parse()
                .map_err(|source| BadConsentRow { index, source })?;
            let status = status
                .as_ref()
                .parse()
                .map_err(|source| BadConsentRow { index, source })?;
            ledger.record(ConsentEvent {
                purpose,
                status,
                at,
            });
        }
        Ok(ledger)
    }

    /// Adds the next event of the ledger. It becomes current for its purpose unless a strictly
    /// later event is already known (an equal time loses to this later-recorded event).
    pub fn record(&mut self, event: ConsentEvent) {
        self.events = self.events.saturating_add(1);
        let slot = match event.purpose {
            Purpose::Marketing => &mut self.marketing,
            Purpose::Utility => &mut self.utility,
            Purpose::Service => &mut self.service,
        };
        let newer = match slot {
            Some(current) => event.at >= current.since,
            None => true,
        };
        if newer {
            *slot = Some(CurrentConsent {
                status: event.status,
                since: event.at,
            });
        }
    }

    /// The current consent for a purpose; `None` if the ledger has no event for it.
    pub fn current(&self, purpose: Purpose) -> Option<CurrentConsent> {
        match purpose {
            Purpose::Marketing => self.marketing,
            Purpose::Utility => self.utility,
            Purpose::Service => self.service,
        }
    }

    /// The current status for a purpose; `None` if the ledger has no event for it.
    pub fn status(&self, purpose: Purpose) -> Option<ConsentStatus> {
        self.current(purpose).map(|c| c.status)
    }

    /// Whether the latest event for the purpose is an opt-in.
    pub fn is_opted_in(&self, purpose: Purpose) -> bool {
        self.status(purpose) == Some(ConsentStatus::OptedIn)
    }

    /// Whether the latest event for the purpose is an opt-out.
    pub fn is_opted_out(&self, purpose: Purpose) -> bool {
        self.status(purpose) == Some(ConsentStatus::OptedOut)
    }

    /// How many events were folded in.
    pub fn len(&self) -> usize {
        self.events
    }

    pub fn is_empty(&self) -> bool {
        self.events == 0
    }
}

impl Extend<ConsentEvent> for ConsentLedger {
    fn extend<I: IntoIterator<Item = ConsentEvent>>(&mut self, events: I) {
        for e in events {
            self.record(e);
        }
    }
}

impl FromIterator<ConsentEvent> for ConsentLedger {
    fn from_iter<I: IntoIterator<Item = ConsentEvent>>(events: I) -> Self {
        Self::from_events(events)
    }
}
