//! What the simulator is configured with: phone numbers, users, templates, and how it delivers
//! webhooks. Every type here deserializes from the binary's TOML or JSON config file.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;
use time::OffsetDateTime;

use crate::error::SimError;

/// Messaging throughput of a business number (messages per second, outbound).
pub const THROUGHPUT_DEFAULT: u32 = 80;
/// Throughput of an upgraded number.
pub const THROUGHPUT_UPGRADED: u32 = 1000;

/// How a free-form send outside the 24-hour window is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowMode {
    /// HTTP 400 with code 131047 on the send itself.
    #[default]
    Sync400,
    /// HTTP 200, then a `failed` status webhook with code 131047.
    FailedWebhook,
}

/// A business phone number and the app around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberConfig {
    pub phone_number_id: String,
    /// Digits only, as Meta shows it in `metadata.display_phone_number`.
    pub display_phone_number: String,
    pub waba_id: String,
    pub access_token: String,
    /// When the access token stops working (`401`, code 190, subcode 463). Unix seconds in files.
    #[serde(default, with = "time::serde::timestamp::option")]
    pub token_expires_at: Option<OffsetDateTime>,
    /// Signs every webhook POST (`X-Hub-Signature-256`).
    pub app_secret: String,
    /// Where webhooks go; none means they are only recorded.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// Used by [`crate::SimHandle::verify_callback`].
    #[serde(default)]
    pub verify_token: Option<String>,
    /// Messages per second (80 default, 1000 upgraded).
    #[serde(default = "default_throughput")]
    pub throughput: u32,
    #[serde(default)]
    pub window_mode: WindowMode,
    /// Shown in `GET /{phone_number_id}`.
    #[serde(default)]
    pub verified_name: Option<String>,
}

fn default_throughput() -> u32 {
    THROUGHPUT_DEFAULT
}

impl NumberConfig {
    pub fn new(
        phone_number_id: impl Into<String>,
        display_phone_number: impl Into<String>,
        waba_id: impl Into<String>,
        access_token: impl Into<String>,
        app_secret: impl Into<String>,
    ) -> Self {
        Self {
            phone_number_id: phone_number_id.into(),
            display_phone_number: display_phone_number.into(),
            waba_id: waba_id.into(),
            access_token: access_token.into(),
            token_expires_at: None,
            app_secret: app_secret.into(),
            callback_url: None,
            verify_token: None,
            throughput: THROUGHPUT_DEFAULT,
            window_mode: WindowMode::Sync400,
            verified_name: None,
        }
    }

    pub fn with_callback(mut self, url: impl Into<String>) -> Self {
        self.callback_url = Some(url.into());
        self
    }

    pub fn with_window_mode(mut self, mode: WindowMode) -> Self {
        self.window_mode = mode;
        self
    }

    pub fn with_throughput(mut self, per_second: u32) -> Self {
        self.throughput = per_second;
        self
    }

    pub fn with_token_expiry(mut self, at: OffsetDateTime) -> Self {
        self.token_expires_at = Some(at);
        self
    }

    pub fn with_verify_token(mut self, token: impl Into<String>) -> Self {
        self.verify_token = Some(token.into());
        self
    }
}

/// A WhatsApp user as a business sees them: a BSUID always, phone and username optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserConfig {
    /// The business-scoped user id, `CC.<digits>`.
    pub user_id: String,
    /// Profile name.
    pub name: String,
    /// Digits only (a leading `+` is stripped).
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// The phone is not shown to the business (`wa_id`/`from` omitted) unless it exchanged a
    /// message with the user by phone in the last 30 days.
    #[serde(default)]
    pub phone_withheld: bool,
    /// `contacts[].parent_user_id`, when the portfolio has linked BSUIDs.
    #[serde(default)]
    pub parent_user_id: Option<String>,
}

impl UserConfig {
    /// A user whose phone the business sees.
    pub fn with_phone(
        user_id: impl Into<String>,
        name: impl Into<String>,
        phone: impl Into<String>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            name: name.into(),
            phone: Some(digits_only(&phone.into())),
            username: None,
            phone_withheld: false,
            parent_user_id: None,
        }
    }

    /// A user with a username whose phone is withheld.
    pub fn with_username(
        user_id: impl Into<String>,
        name: impl Into<String>,
        username: impl Into<String>,
        phone: Option<String>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            name: name.into(),
            phone: phone.map(|p| digits_only(&p)),
            username: Some(username.into()),
            phone_withheld: true,
            parent_user_id: None,
        }
    }
}

/// Keeps the ASCII digits of a phone number (`+1 (650) 555-1234` → `16505551234`).
pub fn digits_only(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateCategory {
    Marketing,
    Utility,
    Authentication,
}

impl TemplateCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Marketing => "MARKETING",
            Self::Utility => "UTILITY",
            Self::Authentication => "AUTHENTICATION",
        }
    }

    /// The lowercase form used in `pricing.category`.
    pub fn pricing_name(self) -> &'static str {
        match self {
            Self::Marketing => "marketing",
            Self::Utility => "utility",
            Self::Authentication => "authentication",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "MARKETING" => Some(Self::Marketing),
            "UTILITY" => Some(Self::Utility),
            "AUTHENTICATION" => Some(Self::Authentication),
            _ => None,
        }
    }
}

/// Template review statuses are the product's own (the send gate's): one list of Meta's names.
pub use confide_core::send_gate::TemplateStatus;

/// A message template of a WABA. Placeholders are `{{1}}..{{n}}` (or named `{{name}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateConfig {
    pub waba_id: String,
    pub name: String,
    /// e.g. `en_US`.
    pub language: String,
    pub category: TemplateCategory,
    pub status: TemplateStatus,
    pub body: String,
    /// A text header, which may have its own placeholders.
    #[serde(default)]
    pub header: Option<String>,
    /// Meta's numeric id; generated when absent.
    #[serde(default)]
    pub id: Option<String>,
}

impl TemplateConfig {
    pub fn new(
        waba_id: impl Into<String>,
        name: impl Into<String>,
        language: impl Into<String>,
        category: TemplateCategory,
        status: TemplateStatus,
        body: impl Into<String>,
    ) -> Self {
        Self {
            waba_id: waba_id.into(),
            name: name.into(),
            language: language.into(),
            category,
            status,
            body: body.into(),
            header: None,
            id: None,
        }
    }
}

/// How status webhooks follow an accepted send (probabilities in `[0, 1]`, drawn from the seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusConfig {
    /// `delivered` is skipped (read while the chat was open).
    pub skip_delivered: f64,
    /// `read` is queued before `delivered`.
    pub swap_delivered_read: f64,
    /// A `read` follows at all.
    pub read: f64,
}

impl Default for StatusConfig {
    fn default() -> Self {
        Self {
            skip_delivered: 0.0,
            swap_delivered_read: 0.0,
            read: 1.0,
        }
    }
}

/// How webhooks are delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookConfig {
    /// Most changes in one POST (Meta: up to 1,000).
    pub max_batch: usize,
    /// POSTs in flight at once per phone number; 1 keeps the queue order.
    pub max_in_flight: usize,
    /// Chance that a delivered batch is POSTed again later, byte for byte.
    pub duplicate_probability: f64,
    /// Chance that a batch is taken out of order.
    pub reorder_probability: f64,
    /// First retry delay; doubles per attempt.
    pub retry_base_delay_ms: u64,
    pub retry_max_delay_ms: u64,
    /// A delivery older than this (by the simulator's clock) is dropped (Meta: 7 days).
    pub max_age_secs: u64,
    /// Drop after this many attempts (Meta has no such limit; useful in tests).
    pub max_attempts: Option<u32>,
    pub request_timeout_ms: u64,
    /// Keep each delivery's body in the delivery log (turn off for long benchmarks).
    pub record_bodies: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            max_batch: 10,
            max_in_flight: 1,
            duplicate_probability: 0.0,
            reorder_probability: 0.0,
            retry_base_delay_ms: 1_000,
            retry_max_delay_ms: 600_000,
            max_age_secs: 7 * 24 * 3600,
            max_attempts: None,
            request_timeout_ms: 10_000,
            record_bodies: true,
        }
    }
}

impl WebhookConfig {
    /// Retries in milliseconds, for tests.
    pub fn fast() -> Self {
        Self {
            retry_base_delay_ms: 5,
            retry_max_delay_ms: 100,
            request_timeout_ms: 5_000,
            ..Self::default()
        }
    }
}

/// Everything the simulator starts with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// Seeds ids, status variations and delivery quirks.
    pub seed: u64,
    /// Where to listen; `127.0.0.1:0` when absent.
    pub listen: Option<SocketAddr>,
    /// Base of media download URLs; the bound address when absent.
    pub public_base_url: Option<String>,
    pub numbers: Vec<NumberConfig>,
    pub users: Vec<UserConfig>,
    pub templates: Vec<TemplateConfig>,
    pub webhooks: WebhookConfig,
    pub statuses: StatusConfig,
    /// How many entries each inspection log keeps (sent messages, events, deliveries, ...);
    /// the oldest go first. 100,000 when absent.
    pub log_limit: Option<usize>,
}

impl SimConfig {
    /// Reads a TOML (`.toml`) or JSON (anything else) config file.
    pub fn load(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::Config(format!("{}: {e}", path.display())))?;
        let is_toml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        if is_toml {
            Self::from_toml(&text)
        } else {
            Self::from_json(&text)
        }
    }

    pub fn from_toml(text: &str) -> Result<Self, SimError> {
        toml::from_str(text).map_err(|e| SimError::Config(e.to_string()))
    }

    pub fn from_json(text: &str) -> Result<Self, SimError> {
        serde_json::from_str(text).map_err(|e| SimError::Config(e.to_string()))
    }
}
