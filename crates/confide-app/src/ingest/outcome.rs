//! What applying a delivery did: per item ([`Outcome`]) and per delivery ([`Applied`]).

/// What a delivery changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub messages: u64,
    pub statuses: u64,
    pub duplicates: u64,
    pub consent_events: u64,
    pub unattributable: u64,
    /// Media objects queued for fetching.
    pub media: u64,
}

impl Applied {
    pub fn add(&mut self, o: Applied) {
        self.messages += o.messages;
        self.statuses += o.statuses;
        self.duplicates += o.duplicates;
        self.consent_events += o.consent_events;
        self.unattributable += o.unattributable;
        self.media += o.media;
    }
}

/// What happened to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Message { media: bool, consent: u64 },
    Status { consent: u64 },
    Duplicate,
    Unattributable,
}

pub(super) fn tally(outcomes: &[Outcome]) -> Applied {
    let mut a = Applied::default();
    for o in outcomes {
        match o {
            Outcome::Message { media, consent } => {
                a.messages += 1;
                a.media += u64::from(*media);
                a.consent_events += consent;
            }
            Outcome::Status { consent } => {
                a.statuses += 1;
                a.consent_events += consent;
            }
            Outcome::Duplicate => a.duplicates += 1,
            Outcome::Unattributable => a.unattributable += 1,
        }
    }
    a
}
