//! Configuration: defaults → TOML file → `CONFIDE_*` environment (`__` nests) → `CONFIDE_*_FILE`
//! secrets. Unknown `CONFIDE_*` variables are reported (as warnings, once logging is up); unknown
//! keys in the TOML file are errors. Every bad value stops start-up with one line naming it.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Meta's Graph API: the one origin channels may call unless the operator lists others.
pub const DEFAULT_GRAPH_ORIGIN: &str = "https://graph.facebook.com";

/// Everything `confide` can be told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Public listener (web UI, API, webhooks, media links).
    pub listen: SocketAddr,
    /// Admin listener (metrics); keep it on loopback or a private network.
    pub admin_listen: SocketAddr,
    /// `sqlite://./data/confide.db` (default) or `postgres://user@host/db`.
    pub database_url: String,
    /// Where media is kept (sealed): `file://./data/media` (default).
    pub media_url: String,
    /// The keyring file (key-encryption keys), created on first start when missing.
    pub keyring_path: PathBuf,
    /// The keyring itself, as JSON (for environments that inject secrets: `CONFIDE_KEYRING` or
    /// `CONFIDE_KEYRING_FILE`). When set, `keyring_path` is not read.
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_secret")]
    pub keyring: Option<SecretString>,
    /// The only origins (`scheme://host[:port]`) a channel's `graph_base_url` may name. Default:
    /// Meta's `https://graph.facebook.com`; tests and `serve --demo` add their simulator's
    /// loopback origin. An origin listed here is also the only way an outbound call may reach a
    /// private, loopback or link-local address. In the environment: comma-separated.
    #[serde(deserialize_with = "list::deserialize")]
    pub graph_allowed_origins: Vec<String>,
    /// CIDRs (or single addresses) of reverse proxies whose `X-Forwarded-For` and
    /// `X-Forwarded-Proto` are believed; from any other peer the TCP address is the client.
    /// Empty by default. In the environment: comma-separated.
    #[serde(deserialize_with = "list::deserialize")]
    pub trusted_proxies: Vec<String>,
    pub database: DatabaseConfig,
    pub password: PasswordConfig,
    pub auth: AuthConfig,
    pub log: LogConfig,
    pub outbound: OutboundConfig,
    /// Built-in TLS on the public listener.
    pub tls: TlsConfig,
    /// Timeouts, connection caps and body limits of the public listener.
    pub limits: LimitsConfig,
    /// Requests per minute per client address and per tenant, by route class.
    pub rate_limits: RateLimitsConfig,
    /// Automatic temporary bans of addresses that keep failing.
    pub bans: BansConfig,
    /// Global CIDR allow and deny lists of the public listener.
    pub access: AccessConfig,
    /// What `/.well-known/security.txt` says (RFC 9116).
    pub security_txt: SecurityTxtConfig,
    pub media: crate::media::config::MediaConfig,
    /// Set by `confide serve --demo` (not a setting): plain HTTP is allowed on any address.
    #[serde(skip)]
    pub demo: bool,
}

/// Built-in TLS (rustls: TLS 1.2 and 1.3 only). Both `cert` and `key`, or neither.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM file of the certificate chain (leaf first).
    pub cert: Option<PathBuf>,
    /// PEM file of the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// A plain-HTTP listener that only redirects to HTTPS (e.g. `0.0.0.0:80`); none by default.
    pub redirect_listen: Option<SocketAddr>,
    /// How often the files are checked for a new certificate (seconds; default 30).
    pub reload_interval_secs: u64,
}

/// Slow-client protection and size limits of the public listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// A request's headers must arrive within this (seconds; default 10).
    pub header_read_timeout_secs: u64,
    /// A request's body must arrive within this (seconds; default 30).
    pub body_read_timeout_secs: u64,
    /// A request must be answered within this (seconds; default 60; event streams count until
    /// their headers are sent).
    pub request_timeout_secs: u64,
    /// Instead of `request_timeout_secs`, for contact imports (`POST /api/v1/contacts/import`),
    /// body included (seconds; default 1,800).
    pub import_timeout_secs: u64,
    /// Instead of `request_timeout_secs`, for exports (`GET /api/v1/contacts/export` and
    /// `/api/v1/exports...`) (seconds; default 1,800).
    pub export_timeout_secs: u64,
    /// Open connections to the public listener, in all (default 10,000).
    pub max_connections: usize,
    /// Open connections from one address (default 64; trusted proxies are not capped).
    pub max_connections_per_address: usize,
    /// Requests other than webhooks being answered at once; more are shed with 503 `busy`
    /// (default 1,024; webhooks are never shed).
    pub max_in_flight: usize,
    /// Sign-ins being answered or waiting for a password hash at once; more are shed with 503
    /// `busy` (0, the default: four per core).
    pub sign_in_in_flight: usize,
    /// Largest API body (bytes; default 1 MiB).
    pub api_body_bytes: usize,
    /// Largest webhook body (bytes; default 3 MiB, Meta's maximum).
    pub webhook_body_bytes: usize,
}

/// Requests per minute by route class; per client address and, once authenticated, per tenant.
/// 0 turns a limit off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    pub sign_in_per_address: u32,
    pub api_per_address: u32,
    pub api_per_tenant: u32,
    pub webhooks_per_address: u32,
    pub media_per_address: u32,
    pub exports_per_address: u32,
    pub exports_per_tenant: u32,
}

/// An address that fails `threshold` times within `window_secs` (bad webhook signatures, failed
/// sign-ins, refused authorizations) is refused everything for `duration_secs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BansConfig {
    /// Failures that ban (0 turns bans off).
    pub threshold: u32,
    pub window_secs: u64,
    pub duration_secs: u64,
    /// On PostgreSQL, bans and counters are shared by every instance; each instance reads the
    /// bans in force again when its copy is older than this (milliseconds; default 1,000): a ban
    /// made elsewhere holds here within this time.
    pub shared_refresh_ms: u64,
}

/// Global CIDR lists of the public listener. A denied address gets nothing (its connection is
/// closed unread); with an allow list, only listed addresses are served.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    #[serde(deserialize_with = "list::deserialize")]
    pub allow: Vec<String>,
    #[serde(deserialize_with = "list::deserialize")]
    pub deny: Vec<String>,
}

/// `/.well-known/security.txt` (RFC 9116).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityTxtConfig {
    /// `mailto:` or `https:` URIs, first preferred.
    #[serde(deserialize_with = "list::deserialize")]
    pub contact: Vec<String>,
    /// The disclosure policy's URL.
    pub policy: String,
    /// Languages reports may be written in (`en, pt`).
    pub preferred_languages: String,
    /// The file's own canonical URL(s), when published at a fixed address.
    #[serde(deserialize_with = "list::deserialize")]
    pub canonical: Vec<String>,
    /// A key to encrypt reports with (an `https:` or `openpgp4fpr:` URI), if any.
    pub encryption: Option<String>,
    /// Days the file stays valid (`Expires` is that far from now; at most 365).
    pub expires_days: u32,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert: None,
            key: None,
            redirect_listen: None,
            reload_interval_secs: 30,
        }
    }
}

/// Sessions and login (see docs/security/auth.md for why these values).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// A session unused this long ends (seconds; default 1 hour).
    pub session_idle_timeout_secs: i64,
    /// A session ends this long after login, used or not (seconds; default 24 hours).
    pub session_absolute_timeout_secs: i64,
    /// Concurrent password hashes; 0 means one per core.
    pub hashing_permits: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_idle_timeout_secs: 60 * 60,
            session_absolute_timeout_secs: 24 * 60 * 60,
            hashing_permits: 0,
        }
    }
}

/// Database tuning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub max_connections: u32,
    /// SQLite `synchronous`: `full` (default; survives power loss) or `normal`.
    pub sqlite_synchronous: String,
    /// PostgreSQL role the server switches to (row-level security applies to it).
    pub postgres_app_role: String,
}

/// argon2id cost. The defaults are OWASP's minimum for argon2id; lower only in tests.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordConfig {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

/// Sending.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Messages per second the dispatcher hands Graph for each channel: Meta's default
    /// throughput is 80; a number upgraded by Meta takes up to 1,000.
    pub throughput_per_second: u32,
    /// The messaging-limit tier of a channel that has none set (`PATCH /api/v1/channels/{id}`
    /// `messaging_limit`): unique users reached outside a customer service window per rolling
    /// 24 hours, `250`, `2000`, `10000`, `100000` or `unlimited` (the default: Confide does not
    /// know a number's tier until it is told; set it to what WhatsApp Manager shows).
    pub messaging_limit: String,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            throughput_per_second: crate::outbound::dispatcher::DEFAULT_THROUGHPUT,
            messaging_limit: "unlimited".to_string(),
        }
    }
}

impl OutboundConfig {
    /// The default tier (validated at start; unlimited if it could not be read).
    pub fn default_messaging_limit(&self) -> confide_core::send_gate::MessagingLimit {
        confide_core::send_gate::MessagingLimit::parse(&self.messaging_limit)
            .unwrap_or(confide_core::send_gate::MessagingLimit::Unlimited)
    }
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `auto` (JSON unless stderr is a terminal), `json` or `pretty`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `confide=debug,info` (`RUST_LOG` wins when set).
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            database_url: "sqlite://./data/confide.db".to_string(),
            media_url: "file://./data/media".to_string(),
            keyring_path: PathBuf::from("./keys/keyring.json"),
            keyring: None,
            graph_allowed_origins: vec![DEFAULT_GRAPH_ORIGIN.to_string()],
            trusted_proxies: Vec::new(),
            database: DatabaseConfig::default(),
            password: PasswordConfig::default(),
            auth: AuthConfig::default(),
            log: LogConfig::default(),
            outbound: OutboundConfig::default(),
            tls: TlsConfig::default(),
            limits: LimitsConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            bans: BansConfig::default(),
            access: AccessConfig::default(),
            security_txt: SecurityTxtConfig::default(),
            media: crate::media::config::MediaConfig::default(),
            demo: false,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            request_timeout_secs: 60,
            import_timeout_secs: 30 * 60,
            export_timeout_secs: 30 * 60,
            max_connections: 10_000,
            max_connections_per_address: 64,
            max_in_flight: 1_024,
            sign_in_in_flight: 0,
            api_body_bytes: 1024 * 1024,
            webhook_body_bytes: 3 * 1024 * 1024,
        }
    }
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            sign_in_per_address: 60,
            api_per_address: 1_200,
            api_per_tenant: 6_000,
            // Meta delivers from few addresses; signatures and bans guard this route.
            webhooks_per_address: 0,
            media_per_address: 600,
            exports_per_address: 30,
            exports_per_tenant: 10,
        }
    }
}

impl RateLimitsConfig {
    /// Every limit off (tests that are not about limits; a load test).
    pub fn off() -> Self {
        RateLimitsConfig {
            sign_in_per_address: 0,
            api_per_address: 0,
            api_per_tenant: 0,
            webhooks_per_address: 0,
            media_per_address: 0,
            exports_per_address: 0,
            exports_per_tenant: 0,
        }
    }
}

impl Default for BansConfig {
    fn default() -> Self {
        BansConfig {
            threshold: 50,
            window_secs: 10 * 60,
            duration_secs: 15 * 60,
            shared_refresh_ms: 1_000,
        }
    }
}

impl Default for SecurityTxtConfig {
    fn default() -> Self {
        SecurityTxtConfig {
            contact: vec!["mailto:security@confide.example".to_string()],
            policy: "https://confide.example/security-policy".to_string(),
            preferred_languages: "en, pt".to_string(),
            canonical: Vec::new(),
            encryption: None,
            expires_days: 180,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            max_connections: 16,
            sqlite_synchronous: "full".to_string(),
            postgres_app_role: "confide_app".to_string(),
        }
    }
}

impl Default for PasswordConfig {
    fn default() -> Self {
        PasswordConfig {
            m_cost_kib: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "auto".to_string(),
            level: "info".to_string(),
        }
    }
}

/// A configuration that could not be loaded: one line, naming the setting.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The loaded configuration and what deserves a warning.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

const PREFIX: &str = "CONFIDE_";
/// Variables of the test suites and the CLI itself, not settings.
const NOT_SETTINGS: &[&str] = &[
    "CONFIDE_CONFIG",
    "CONFIDE_TEST_POSTGRES_URL",
    "CONFIDE_TEST_S3_URL",
];

/// Loads the configuration from `file` (if given) and the process environment.
pub fn load(file: Option<&Path>) -> Result<Loaded, ConfigError> {
    load_from(file, std::env::vars().collect())
}

/// Loads with an explicit environment (tests).
pub fn load_from(file: Option<&Path>, env: Vec<(String, String)>) -> Result<Loaded, ConfigError> {
    let known = known_keys();
    let mut warnings = Vec::new();
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError(format!(
                "--config {}: no such file",
                path.display()
            )));
        }
        fig = fig.merge(Toml::file_exact(path));
    }
    let mut plain: Vec<(String, String)> = Vec::new();
    let mut files: Vec<(String, String)> = Vec::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if NOT_SETTINGS.contains(&name.as_str()) {
            continue;
        }
        let key = rest.to_lowercase().replace("__", ".");
        if known.contains(&key) {
            plain.push((key, value));
        } else if let Some(base) = key.strip_suffix("_file").filter(|b| known.contains(*b)) {
            let contents = std::fs::read_to_string(&value)
                .map_err(|e| ConfigError(format!("{name}: cannot read {value}: {e}")))?;
            files.push((
                base.to_string(),
                contents.trim_end_matches(['\n', '\r']).to_string(),
            ));
        } else {
            warnings.push(format!("unknown environment variable {name} ignored"));
        }
    }
    // Environment values are strings; `extract_lossy` parses numbers and booleans from them.
    for (key, value) in plain {
        fig = fig.merge(Serialized::global(&key, value));
    }
    for (key, value) in files {
        fig = fig.merge(Serialized::global(&key, value));
    }
    let config: Config = fig.extract_lossy().map_err(|e| ConfigError(one_line(&e)))?;
    config.validate()?;
    Ok(Loaded { config, warnings })
}

fn one_line(e: &figment::Error) -> String {
    let mut msg = e.to_string().replace('\n', " ");
    if let Some(path) = e.path.first()
        && !msg.contains(path.as_str())
    {
        msg = format!("{}: {msg}", e.path.join("."));
    }
    msg
}

/// Every settable key, dotted (`database.max_connections`).
fn known_keys() -> BTreeSet<String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut BTreeSet<String>) {
        if let serde_json::Value::Object(m) = v {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(&key, v, out);
                out.insert(key);
            }
        }
    }
    let mut out = BTreeSet::new();
    if let Ok(v) = serde_json::to_value(Config::default()) {
        walk("", &v, &mut out);
    }
    out.insert("keyring".to_string());
    out
}

impl Config {
    /// Checks values figment cannot (URL schemes, ranges).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=1_000).contains(&self.outbound.throughput_per_second) {
            return Err(ConfigError(
                "outbound.throughput_per_second: must be 1 to 1000 (Meta's highest tier)".into(),
            ));
        }
        if confide_core::send_gate::MessagingLimit::parse(&self.outbound.messaging_limit).is_none()
        {
            return Err(ConfigError(
                "outbound.messaging_limit: must be one of Meta's tiers: 250, 2000, 10000, 100000 or unlimited".into(),
            ));
        }
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres:")
            || self.database_url.starts_with("postgresql:"))
        {
            return Err(ConfigError(format!(
                "database_url: {:?} is not a sqlite: or postgres: URL",
                redact_url(&self.database_url)
            )));
        }
        self.media.validate(&self.media_url).map_err(ConfigError)?;
        for origin in &self.graph_allowed_origins {
            parse_origin(origin).map_err(|e| ConfigError(format!("graph_allowed_origins: {e}")))?;
        }
        for proxy in &self.trusted_proxies {
            parse_cidr(proxy).map_err(|e| ConfigError(format!("trusted_proxies: {e}")))?;
        }
        for (name, list) in [
            ("access.allow", &self.access.allow),
            ("access.deny", &self.access.deny),
        ] {
            for cidr in list {
                parse_cidr(cidr).map_err(|e| ConfigError(format!("{name}: {e}")))?;
            }
        }
        self.validate_edge()?;
        if !["full", "normal"].contains(&self.database.sqlite_synchronous.as_str()) {
            return Err(ConfigError(
                "database.sqlite_synchronous: must be full or normal".into(),
            ));
        }
        if !["auto", "json", "pretty"].contains(&self.log.format.as_str()) {
            return Err(ConfigError(
                "log.format: must be auto, json or pretty".into(),
            ));
        }
        if self.password.m_cost_kib < 8 || self.password.t_cost < 1 || self.password.p_cost < 1 {
            return Err(ConfigError(
                "password: m_cost_kib >= 8, t_cost >= 1 and p_cost >= 1 are required".into(),
            ));
        }
        if self.auth.session_idle_timeout_secs < 60
            || self.auth.session_absolute_timeout_secs < self.auth.session_idle_timeout_secs
        {
            return Err(ConfigError(
                "auth: session_idle_timeout_secs >= 60 and session_absolute_timeout_secs >= it are required".into(),
            ));
        }
        Ok(())
    }

    /// The edge's settings: TLS files in pairs, limits above zero, security.txt fields usable.
    fn validate_edge(&self) -> Result<(), ConfigError> {
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(ConfigError(
                "tls: set both tls.cert and tls.key, or neither".into(),
            ));
        }
        if self.tls.redirect_listen.is_some() && self.tls.cert.is_none() {
            return Err(ConfigError(
                "tls.redirect_listen: needs tls.cert and tls.key (it redirects to HTTPS)".into(),
            ));
        }
        if self.tls.reload_interval_secs == 0 {
            return Err(ConfigError(
                "tls.reload_interval_secs: must be at least 1".into(),
            ));
        }
        let l = &self.limits;
        if l.header_read_timeout_secs == 0
            || l.body_read_timeout_secs == 0
            || l.request_timeout_secs == 0
            || l.import_timeout_secs == 0
            || l.export_timeout_secs == 0
        {
            return Err(ConfigError(
                "limits: timeouts must be at least 1 second".into(),
            ));
        }
        if l.max_connections == 0 || l.max_connections_per_address == 0 || l.max_in_flight == 0 {
            return Err(ConfigError(
                "limits: max_connections, max_connections_per_address and max_in_flight must be at least 1".into(),
            ));
        }
        if l.api_body_bytes < 1024 || l.webhook_body_bytes < 1024 {
            return Err(ConfigError(
                "limits: api_body_bytes and webhook_body_bytes must be at least 1024".into(),
            ));
        }
        if self.bans.threshold > 0 && (self.bans.window_secs == 0 || self.bans.duration_secs == 0) {
            return Err(ConfigError(
                "bans: window_secs and duration_secs must be at least 1".into(),
            ));
        }
        if !(1..=60_000).contains(&self.bans.shared_refresh_ms) {
            return Err(ConfigError(
                "bans.shared_refresh_ms: must be 1 to 60000".into(),
            ));
        }
        let t = &self.security_txt;
        if t.contact.is_empty() {
            return Err(ConfigError(
                "security_txt.contact: at least one mailto: or https: URI".into(),
            ));
        }
        for c in &t.contact {
            if !(c.starts_with("mailto:") || c.starts_with("https://") || c.starts_with("tel:"))
                || c.contains(['\r', '\n'])
            {
                return Err(ConfigError(format!(
                    "security_txt.contact: {c:?} is not a mailto:, https: or tel: URI"
                )));
            }
        }
        let https = |name: &str, v: &str| {
            if v.starts_with("https://") && !v.contains(['\r', '\n', ' ']) {
                Ok(())
            } else {
                Err(ConfigError(format!("{name}: {v:?} is not an https:// URL")))
            }
        };
        https("security_txt.policy", &t.policy)?;
        for c in &t.canonical {
            https("security_txt.canonical", c)?;
        }
        if let Some(e) = &t.encryption
            && !(e.starts_with("https://")
                || e.starts_with("openpgp4fpr:")
                || e.starts_with("dns:"))
        {
            return Err(ConfigError(format!(
                "security_txt.encryption: {e:?} is not an https:, openpgp4fpr: or dns: URI"
            )));
        }
        if t.preferred_languages.contains(['\r', '\n']) || t.preferred_languages.trim().is_empty() {
            return Err(ConfigError(
                "security_txt.preferred_languages: a list like \"en, pt\"".into(),
            ));
        }
        if !(1..=365).contains(&t.expires_days) {
            return Err(ConfigError(
                "security_txt.expires_days: must be 1 to 365 (RFC 9116 advises under a year)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Where things are, for the one start-up log line (no secrets: passwords in URLs are masked).
    pub fn describe(&self) -> String {
        let keyring = if self.keyring.is_some() {
            "from the environment".to_string()
        } else {
            self.keyring_path.display().to_string()
        };
        format!(
            "database {}, media {}, keyring {}, public {}://{}, admin http://{}",
            redact_url(&self.database_url),
            self.media_url,
            keyring,
            if self.tls.cert.is_some() {
                "https"
            } else {
                "http"
            },
            self.listen,
            self.admin_listen
        )
    }
}

/// An origin as the operator writes it: `https://host[:port]` (or `http://` for a loopback
/// simulator), with no path beyond `/`, no query, no credentials. Returned normalised
/// (`scheme://host:port`, lowercase host, explicit port).
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let bad = || format!("{raw:?} is not an origin like https://graph.facebook.com");
    let raw = raw.trim();
    let (scheme, rest) = raw.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return Err(bad()),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', '\\']) {
        return Err(bad());
    }
    // `[v6]:port`, `[v6]`, `host:port` or `host`.
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or_else(bad)?;
        addr.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse::<u16>().map_err(|_| bad())?,
            None if after.is_empty() => default_port,
            None => return Err(bad()),
        };
        (format!("[{}]", addr.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (authority, default_port),
        };
        let ok = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !ok {
            return Err(bad());
        }
        (host.to_ascii_lowercase(), port)
    };
    if port == 0 {
        return Err(bad());
    }
    Ok(format!("{scheme}://{host}:{port}"))
}

/// A CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address (`192.0.2.7`).
pub fn parse_cidr(raw: &str) -> Result<ipnet::IpNet, String> {
    let raw = raw.trim();
    if let Ok(net) = raw.parse::<ipnet::IpNet>() {
        return Ok(net.trunc());
    }
    raw.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| format!("{raw:?} is not an address or a CIDR like 10.0.0.0/8"))
}

/// A list setting: an array in TOML, a comma-separated string in the environment.
mod list {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let items = match Raw::deserialize(d)? {
            Raw::One(s) => s.split(',').map(str::to_string).collect(),
            Raw::Many(v) => v,
        };
        Ok(items
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect())
    }
}

/// Masks the password of a URL (`postgres://user:secret@host` → `postgres://user:***@host`).
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}://{}:***{}",
            &url[..scheme_end],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

pub(crate) mod opt_secret {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(secret) => s.serialize_some(secret.expose_secret()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(SecretString::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_nothing() {
        let l = load_from(None, Vec::new()).unwrap();
        assert_eq!(l.config.database_url, "sqlite://./data/confide.db");
        assert_eq!(l.config.listen.to_string(), "127.0.0.1:8080");
        assert!(l.warnings.is_empty());
    }

    #[test]
    fn layers_apply_in_order_and_nesting_uses_double_underscore() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("confide.toml");
        std::fs::write(
            &file,
            "database_url = \"sqlite://from-file.db\"\n[database]\nmax_connections = 3\n",
        )
        .unwrap();
        let secret = dir.path().join("keyring.json");
        std::fs::write(&secret, "{\"format\":1}\n").unwrap();
        let l = load_from(
            Some(&file),
            env(&[
                ("CONFIDE_DATABASE__MAX_CONNECTIONS", "7"),
                ("CONFIDE_LISTEN", "127.0.0.1:0"),
                ("CONFIDE_KEYRING_FILE", secret.to_str().unwrap()),
                ("CONFIDE_TYPO", "x"),
                ("OTHER", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(
            l.config.database_url, "sqlite://from-file.db",
            "file over defaults"
        );
        assert_eq!(l.config.database.max_connections, 7, "env over file");
        assert_eq!(l.config.listen.port(), 0);
        let keyring = l
            .config
            .keyring
            .as_ref()
            .map(|s| secrecy::ExposeSecret::expose_secret(s).to_string());
        assert_eq!(
            keyring.as_deref(),
            Some("{\"format\":1}"),
            "*_FILE read, newline trimmed"
        );
        assert_eq!(
            l.warnings,
            vec!["unknown environment variable CONFIDE_TYPO ignored".to_string()]
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = load_from(None, env(&[("CONFIDE_DATABASE_URL", "mysql://x")]))
            .unwrap_err()
            .0;
        assert!(err.starts_with("database_url:"), "{err}");
        let err = load_from(None, env(&[("CONFIDE_LISTEN", "not-an-address")]))
            .unwrap_err()
            .0;
        assert!(err.contains("listen"), "{err}");
        let err = load_from(None, env(&[("CONFIDE_KEYRING_FILE", "/nonexistent/k")]))
            .unwrap_err()
            .0;
        assert!(err.starts_with("CONFIDE_KEYRING_FILE:"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "databse_url = \"x\"\n").unwrap();
        let err = load_from(Some(&file), Vec::new()).unwrap_err().0;
        assert!(err.contains("databse_url"), "{err}");
    }

    #[test]
    fn lists_come_from_toml_arrays_or_comma_separated_variables() {
        let l = load_from(None, Vec::new()).unwrap();
        assert_eq!(l.config.graph_allowed_origins, vec![DEFAULT_GRAPH_ORIGIN]);
        assert!(l.config.trusted_proxies.is_empty());
        let l = load_from(
            None,
            env(&[
                (
                    "CONFIDE_GRAPH_ALLOWED_ORIGINS",
                    "https://graph.facebook.com, http://127.0.0.1:4000",
                ),
                ("CONFIDE_TRUSTED_PROXIES", "10.0.0.0/8,192.0.2.7"),
            ]),
        )
        .unwrap();
        assert_eq!(
            l.config.graph_allowed_origins,
            vec!["https://graph.facebook.com", "http://127.0.0.1:4000"]
        );
        assert_eq!(l.config.trusted_proxies, vec!["10.0.0.0/8", "192.0.2.7"]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "trusted_proxies = [\"::1\", \"172.16.0.0/12\"]\n").unwrap();
        let l = load_from(Some(&file), Vec::new()).unwrap();
        assert_eq!(l.config.trusted_proxies, vec!["::1", "172.16.0.0/12"]);
        for bad in ["10.0.0.0/33", "proxy.example", "10.0.0"] {
            let err = load_from(None, env(&[("CONFIDE_TRUSTED_PROXIES", bad)]))
                .unwrap_err()
                .0;
            assert!(err.starts_with("trusted_proxies:"), "{bad}: {err}");
        }
        for bad in [
            "graph.facebook.com",
            "ftp://x",
            "https://x/path",
            "https://u@x",
            "https://x:0",
        ] {
            let err = load_from(None, env(&[("CONFIDE_GRAPH_ALLOWED_ORIGINS", bad)]))
                .unwrap_err()
                .0;
            assert!(err.starts_with("graph_allowed_origins:"), "{bad}: {err}");
        }
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            parse_origin("https://Graph.Facebook.com/").unwrap(),
            "https://graph.facebook.com:443"
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:4000").unwrap(),
            "http://127.0.0.1:4000"
        );
        assert_eq!(parse_origin("http://[::1]:9").unwrap(), "http://[::1]:9");
        assert!(parse_origin("https://graph.facebook.com.evil.example").is_ok());
        assert!(parse_origin("https://x?y").is_err());
    }

    #[test]
    fn secrets_do_not_show_in_debug_or_description() {
        let l = load_from(
            None,
            env(&[
                ("CONFIDE_KEYRING", "{\"secret\":\"k3y\"}"),
                ("CONFIDE_DATABASE_URL", "postgres://app:hunter2@db/confide"),
            ]),
        )
        .unwrap();
        assert!(!format!("{:?}", l.config).contains("k3y"));
        let d = l.config.describe();
        assert!(!d.contains("hunter2") && d.contains("app:***@db"), "{d}");
    }
}
