//! Scripted, seeded traffic: "customer N sends message M", the same sequence for the same seed.

use serde::{Deserialize, Serialize};

use crate::config::UserConfig;
use crate::inbound::{ContactCard, InboundMessage, MediaBlob};
use crate::rng::SimRng;

/// Relative weights of inbound message kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mix {
    pub text: u32,
    pub image: u32,
    pub video: u32,
    pub audio: u32,
    pub document: u32,
    pub sticker: u32,
    pub location: u32,
    pub contacts: u32,
    pub reaction: u32,
    pub button_reply: u32,
    pub list_reply: u32,
    pub template_button: u32,
    pub unsupported: u32,
}

impl Default for Mix {
    /// Mostly text, as real inboxes are.
    fn default() -> Self {
        Self {
            text: 60,
            image: 10,
            video: 2,
            audio: 6,
            document: 4,
            sticker: 2,
            location: 3,
            contacts: 2,
            reaction: 5,
            button_reply: 3,
            list_reply: 1,
            template_button: 1,
            unsupported: 1,
        }
    }
}

impl Mix {
    pub fn text_only() -> Self {
        Self {
            text: 1,
            image: 0,
            video: 0,
            audio: 0,
            document: 0,
            sticker: 0,
            location: 0,
            contacts: 0,
            reaction: 0,
            button_reply: 0,
            list_reply: 0,
            template_button: 0,
            unsupported: 0,
        }
    }

    fn weights(&self) -> [u32; 13] {
        [
            self.text,
            self.image,
            self.video,
            self.audio,
            self.document,
            self.sticker,
            self.location,
            self.contacts,
            self.reaction,
            self.button_reply,
            self.list_reply,
            self.template_button,
            self.unsupported,
        ]
    }
}

/// A deterministic run: `customers` users, `messages` inbound messages drawn by `mix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    pub seed: u64,
    pub customers: usize,
    pub messages: usize,
    pub mix: Mix,
}

/// One step: customer index (into [`Script::customers`]) and what they send.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptStep {
    pub customer: usize,
    pub message: InboundMessage,
}

const FIRST: &[&str] = &[
    "Sheena", "Pablo", "José", "Zoë", "Søren", "Ana", "Mehmet", "Priya", "Chidi", "Łukasz", "Aiko",
    "Fatima", "Björn", "Camille", "Dmitri", "Nguyễn",
];
const LAST: &[&str] = &[
    "Nelson",
    "Morales",
    "Álvarez",
    "Müller",
    "Lima",
    "Yılmaz",
    "Sharma",
    "Okafor",
    "Nowak",
    "Tanaka",
    "Haddad",
    "Larsen",
    "Dubois",
    "Иванов",
    "李",
    "Silva",
];
const COUNTRIES: &[(&str, &str)] = &[
    ("US", "1"),
    ("BR", "55"),
    ("DE", "49"),
    ("IN", "91"),
    ("MX", "52"),
    ("GB", "44"),
    ("NG", "234"),
    ("JP", "81"),
];
const PHRASES: &[&str] = &[
    "Does it come in another color?",
    "Hola, ¿tienen envío a Monterrey?",
    "Grüße aus Berlin ✓ wann kommt meine Bestellung?",
    "Can I change my delivery address?",
    "Obrigado! 🙏",
    "Where is my order #{n}?",
    "Ça marche, merci beaucoup 😊",
    "I'd like a refund for order {n}",
    "Is the store open on Sunday?",
    "こんにちは、在庫はありますか？",
    "ok 👍",
    "My package arrived damaged 😞 photo follows",
];

impl Script {
    pub fn new(seed: u64, customers: usize, messages: usize) -> Self {
        Self {
            seed,
            customers,
            messages,
            mix: Mix::default(),
        }
    }

    /// The customers, the same for the same seed: every fifth has a username and a withheld phone.
    pub fn customers(&self) -> Vec<UserConfig> {
        make_customers(self.seed, self.customers)
    }

    /// The steps, the same for the same seed.
    pub fn steps(&self) -> Vec<ScriptStep> {
        let mut rng = SimRng::new(self.seed ^ 0x5C81_0000_0000_0001);
        (0..self.messages)
            .map(|i| ScriptStep {
                customer: rng.below(self.customers.max(1)),
                message: random_message(&mut rng, &self.mix, i),
            })
            .collect()
    }
}

/// `n` customers from a seed.
pub fn make_customers(seed: u64, n: usize) -> Vec<UserConfig> {
    let mut rng = SimRng::new(seed ^ 0xC057_0E55_0000_0002);
    (0..n)
        .map(|i| {
            let (cc, dial) = COUNTRIES[rng.below(COUNTRIES.len())];
            let name = format!(
                "{} {}",
                FIRST[rng.below(FIRST.len())],
                LAST[rng.below(LAST.len())]
            );
            let user_id = format!("{cc}.{}", rng.digits(19));
            let phone = format!("{dial}{}", rng.digits(10));
            if i % 5 == 4 {
                let username = format!("user_{}", rng.alnum(8).to_ascii_lowercase());
                UserConfig::with_username(user_id, name, username, Some(phone))
            } else {
                UserConfig::with_phone(user_id, name, phone)
            }
        })
        .collect()
}

fn blob(rng: &mut SimRng, mime: &str, min: usize, max: usize) -> MediaBlob {
    let len = rng.between(min, max);
    MediaBlob::new(mime, rng.bytes(len))
}

fn fake_wamid(rng: &mut SimRng) -> String {
    crate::ids::wamid(rng, "15550783881")
}

/// One message of the mix.
pub fn random_message(rng: &mut SimRng, mix: &Mix, index: usize) -> InboundMessage {
    let weights = mix.weights();
    let total: u32 = weights.iter().sum();
    let mut pick = if total == 0 {
        0
    } else {
        u32::try_from(rng.below(usize::try_from(total).unwrap_or(1))).unwrap_or(0)
    };
    let mut kind = 0;
    for (k, w) in weights.iter().enumerate() {
        if pick < *w {
            kind = k;
            break;
        }
        pick -= w;
    }
    let phrase = PHRASES[rng.below(PHRASES.len())].replace("{n}", &(1000 + index).to_string());
    match kind {
        1 => InboundMessage::Image {
            media: blob(rng, "image/jpeg", 64, 512),
            caption: rng.chance(0.5).then(|| phrase.clone()),
        },
        2 => InboundMessage::Video {
            media: blob(rng, "video/mp4", 256, 1024),
            caption: None,
        },
        3 => InboundMessage::Audio {
            media: blob(rng, "audio/ogg; codecs=opus", 128, 512),
            voice: true,
        },
        4 => InboundMessage::Document {
            media: blob(rng, "application/pdf", 128, 1024),
            filename: format!("invoice-{index}.pdf"),
            caption: None,
        },
        5 => InboundMessage::Sticker {
            media: blob(rng, "image/webp", 64, 256),
            animated: false,
        },
        6 => InboundMessage::Location {
            latitude: 52.520008 + f64::from(u32::try_from(rng.below(1000)).unwrap_or(0)) / 1e4,
            longitude: 13.404954,
            name: Some("Alexanderplatz".into()),
            address: Some("10178 Berlin".into()),
        },
        7 => InboundMessage::Contacts {
            cards: vec![ContactCard {
                formatted_name: "Ana Lima".into(),
                phone: Some("+55 11 91234-5678".into()),
                wa_id: Some("5511912345678".into()),
                email: None,
            }],
        },
        8 => InboundMessage::Reaction {
            message_id: fake_wamid(rng),
            emoji: if rng.chance(0.9) {
                Some("👍".into())
            } else {
                None
            },
        },
        9 => InboundMessage::ButtonReply {
            context_id: fake_wamid(rng),
            id: format!("confirm-order-{index}"),
            title: "Confirm".into(),
        },
        10 => InboundMessage::ListReply {
            context_id: fake_wamid(rng),
            id: "slot-0900".into(),
            title: "09:00".into(),
            description: Some("Tomorrow morning".into()),
        },
        11 => InboundMessage::TemplateButton {
            context_id: fake_wamid(rng),
            payload: "STOP_PROMOTIONS".into(),
            text: "Stop promotions".into(),
        },
        12 => InboundMessage::Unsupported {
            kind: "poll_update".into(),
        },
        _ => InboundMessage::Text { body: phrase },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_script() {
        let a = Script::new(7, 10, 50);
        assert_eq!(a.customers(), Script::new(7, 10, 50).customers());
        assert_eq!(a.steps(), Script::new(7, 10, 50).steps());
        assert_ne!(a.steps(), Script::new(8, 10, 50).steps());
    }

    #[test]
    fn some_customers_withhold_their_phone() {
        let c = make_customers(1, 10);
        assert_eq!(c.iter().filter(|u| u.phone_withheld).count(), 2);
        assert!(c.iter().all(|u| crate::graph::is_bsuid(&u.user_id)));
    }
}
