//! Typed ids. Every id is a UUIDv7 made from the injected clock and entropy, shown as its
//! hyphenated lowercase text (the form stored and sent over the API).

use crate::clock::Clock;
use crate::entropy::{Entropy, random_array};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Makes a UUIDv7 from the given clock and entropy.
pub fn new_uuid(clock: &dyn Clock, entropy: &dyn Entropy) -> Uuid {
    let now = clock.now();
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let rand: [u8; 10] = random_array(entropy);
    uuid::Builder::from_unix_timestamp_millis(millis, &rand).into_uuid()
}

/// An id that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct BadId;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new(clock: &dyn Clock, entropy: &dyn Entropy) -> Self {
                Self(new_uuid(clock, entropy))
            }
            pub fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = BadId;
            fn from_str(s: &str) -> Result<Self, BadId> {
                Uuid::try_parse(s).map(Self).map_err(|_| BadId)
            }
        }
    };
}

id_type!(/// A tenant: one business and everything it owns.
    TenantId);
id_type!(/// A team member of a tenant.
    UserId);
id_type!(/// A role (built-in or custom) of a tenant.
    RoleId);
id_type!(/// A WhatsApp business number connected to a tenant.
    ChannelId);
id_type!(/// A customer in a tenant's contact book.
    ContactId);
id_type!(/// A thread between a contact and a channel.
    ConversationId);
id_type!(/// One inbound or outbound message.
    MessageId);
id_type!(/// One entry of the consent ledger.
    ConsentEventId);
id_type!(/// A message template known to a tenant.
    TemplateId);
id_type!(/// An internal note in a conversation's thread.
    NoteId);
id_type!(/// A template sent to an audience.
    BroadcastId);
id_type!(/// A canned response (a saved reply).
    CannedResponseId);
id_type!(/// A login session.
    SessionId);
id_type!(/// An API key.
    ApiKeyId);
id_type!(/// A stored media object.
    MediaId);
id_type!(/// A full export of a tenant's (or one contact's) data.
    ExportId);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::entropy::SeededEntropy;

    #[test]
    fn ids_parse_back_and_reject_garbage() {
        let c = ManualClock::at_epoch_2026();
        let e = SeededEntropy::new(1);
        let id = TenantId::new(&c, &e);
        assert_eq!(id.to_string().parse::<TenantId>(), Ok(id));
        assert_eq!("nope".parse::<TenantId>(), Err(BadId));
        assert_eq!(id.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn ids_sort_by_clock() {
        let c = ManualClock::at_epoch_2026();
        let e = SeededEntropy::new(1);
        let a = MessageId::new(&c, &e);
        c.advance(time::Duration::milliseconds(1));
        let b = MessageId::new(&c, &e);
        assert!(a < b);
    }
}
