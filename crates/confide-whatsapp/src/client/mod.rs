//! The Graph API client (whatsapp-cloud-api.md §2–§4): sends, mark-read, media upload and download,
//! templates.
//!
//! Outbound HTTP is guarded twice (SECURITY-CLAIMS C21):
//!
//! - per client, an allowlist of origins: the origin of the configured base URL, plus the media
//!   origins given in [`GraphClientOptions::media_origins`] (and Meta's media host,
//!   [`META_MEDIA_ORIGIN`], over https, when the base is `https://graph.facebook.com`). Redirects
//!   are never followed. A media URL that `GET /{media-id}` returns on any other origin (another
//!   host, plain http, a private address) is refused with [`GraphError::Disallowed`] before any
//!   connection is made. Plain http is refused except to loopback hosts, unless
//!   [`GraphClientOptions::allow_insecure_http`];
//! - per process, the one egress guard, [`crate::egress::EgressPolicy`] (carried by
//!   [`GraphClientOptions::egress`], so no client exists without it): no connection to a private,
//!   loopback, link-local or otherwise non-public address, checked on IP literals before the
//!   request and on resolved addresses when connecting, unless the origin is explicitly listed.
//!   A refusal is [`GraphError::EgressRefused`].
//!
//! The client does not retry: every error has a [`GraphError::class`] and
//! [`GraphError::retry_after`], and the caller's queue decides.

mod error;
mod media;
pub(crate) mod origin;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, LOCATION};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

pub use error::{ConfigError, GraphError, TransportKind};
pub use media::{MAX_MEDIA_BYTES, MediaInfo, PhoneNumberInfo, media_size_limit, parse_sha256};
use origin::{Allowlist, Origin, redact, redact_str};

use crate::egress::{EgressPolicy, EgressRefused};
use crate::errors::classify_http;
use crate::send::{
    GraphErrorResponse, MarkRead, OutboundMessage, SendError, SendResponse, SuccessResponse,
    TemplateInfo, TemplateList, TemplateStatus,
};

/// The API version used unless configured otherwise.
pub const DEFAULT_API_VERSION: &str = "v24.0";
/// Meta's Graph base URL.
pub const META_GRAPH_BASE: &str = "https://graph.facebook.com";
/// Where Meta serves media download URLs; allowed automatically with [`META_GRAPH_BASE`].
pub const META_MEDIA_ORIGIN: &str = "https://lookaside.fbsbx.com";

/// Largest error body read before giving up on parsing it.
const MAX_ERROR_BODY: u64 = 64 * 1024;
/// Longest id accepted in a path segment.
const MAX_ID_LEN: usize = 128;

/// How a [`GraphClient`] behaves. `Default` is right for production against Meta, except that a
/// server passes its own [`EgressPolicy`] (built from its `graph_allowed_origins`).
#[derive(Debug, Clone)]
pub struct GraphClientOptions {
    /// The egress guard every request and every connection of the client goes through. The
    /// default, [`EgressPolicy::public_only`], lists nothing: only public addresses are reached.
    pub egress: Arc<EgressPolicy>,
    /// The path prefix of every Graph call, e.g. `v24.0`.
    pub api_version: String,
    pub connect_timeout: Duration,
    /// Whole-request timeout of API calls.
    pub request_timeout: Duration,
    /// Whole-request timeout of a media download (up to 100 MB).
    pub download_timeout: Duration,
    pub user_agent: String,
    /// Allow plain http to non-loopback hosts. Off by default; http to 127.0.0.0/8, `::1` and
    /// `localhost` is always accepted here (tests, a local simulator), though the egress guard
    /// still refuses to connect there unless the origin is listed in [`Self::egress`].
    pub allow_insecure_http: bool,
    /// Further origins (`https://host[:port]`) media download URLs may point to. Meta's media host
    /// is added automatically when the base URL is `https://graph.facebook.com`.
    pub media_origins: Vec<String>,
    /// Cap on any media download, on top of the per-type limits of [`media_size_limit`].
    pub max_download_bytes: u64,
    /// Cap on a JSON response body.
    pub max_json_bytes: u64,
    /// [`GraphClient::list_templates`] fails with [`GraphError::TooManyPages`] beyond this.
    pub max_template_pages: usize,
    /// `limit` asked of each template page.
    pub template_page_size: u32,
}

impl Default for GraphClientOptions {
    fn default() -> Self {
        Self {
            egress: Arc::new(EgressPolicy::public_only()),
            api_version: DEFAULT_API_VERSION.to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            download_timeout: Duration::from_secs(120),
            user_agent: concat!("confide/", env!("CARGO_PKG_VERSION")).to_owned(),
            allow_insecure_http: false,
            media_origins: Vec::new(),
            max_download_bytes: MAX_MEDIA_BYTES,
            max_json_bytes: 8 * 1024 * 1024,
            max_template_pages: 50,
            template_page_size: 100,
        }
    }
}

/// `POST /{WABA_ID}/message_templates` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedTemplate {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    pub status: TemplateStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

#[derive(Deserialize)]
struct IdResponse {
    #[serde(deserialize_with = "string_or_number")]
    id: String,
}

/// A Graph API client for one access token. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base: Url,
    version: String,
    token: std::sync::Arc<SecretString>,
    allow: Allowlist,
    opts: GraphClientOptions,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let origins: Vec<String> = self.allow.origins().iter().map(|o| o.to_string()).collect();
        f.debug_struct("GraphClient")
            .field("base", &redact(&self.base))
            .field("version", &self.version)
            .field("allowed_origins", &origins)
            .field("token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

fn parse_origin(raw: &str, allow_insecure_http: bool) -> Result<Origin, ConfigError> {
    let url = Url::parse(raw).map_err(|_| ConfigError::MediaOrigin(redact_str(raw)))?;
    let o = Origin::of(&url).ok_or_else(|| ConfigError::MediaOrigin(redact(&url)))?;
    if !o.is_https() && !o.is_loopback() && !allow_insecure_http {
        return Err(ConfigError::InsecureHttp(o.to_string()));
    }
    Ok(o)
}

fn valid_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let digits =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    let major = parts.next();
    let minor = parts.next();
    digits(major) && (minor.is_none() || digits(minor))
}

/// An id that goes into a URL path: ASCII letters, digits, `_` or `-`, at most 128.
fn check_id(field: &'static str, id: &str) -> Result<(), GraphError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(GraphError::InvalidRequest(SendError::Invalid {
            field,
            reason: "must be 1 to 128 ASCII letters, digits, '_' or '-'",
        }))
    }
}

fn transport(e: reqwest::Error) -> GraphError {
    // The guarded resolver's refusal, somewhere in the chain: nothing was connected to.
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<EgressRefused>() {
            return GraphError::EgressRefused(refused.clone());
        }
        source = s.source();
    }
    let kind = if e.is_timeout() {
        TransportKind::Timeout
    } else if e.is_connect() {
        TransportKind::Connect
    } else if e.is_body() || e.is_decode() {
        TransportKind::Body
    } else {
        TransportKind::Other
    };
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    GraphError::Transport { kind, message }
}

/// Reads a body, stopping as soon as it exceeds `limit` (the announced length is checked first).
async fn read_limited(mut resp: Response, limit: u64) -> Result<Vec<u8>, GraphError> {
    let announced = resp.content_length();
    if let Some(len) = announced
        && len > limit
    {
        return Err(GraphError::TooLarge { limit, announced });
    }
    let initial = announced.unwrap_or(0).min(limit).min(1024 * 1024);
    let mut buf = Vec::with_capacity(usize::try_from(initial).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        let total = u64::try_from(buf.len().saturating_add(chunk.len())).unwrap_or(u64::MAX);
        if total > limit {
            return Err(GraphError::TooLarge { limit, announced });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Turns a non-success answer into an error: Meta's error shape if the body has it, else the
/// status alone.
async fn error_from(resp: Response) -> GraphError {
    let status = resp.status().as_u16();
    let body = read_limited(resp, MAX_ERROR_BODY).await.unwrap_or_default();
    match serde_json::from_slice::<GraphErrorResponse>(&body) {
        Ok(r) => {
            let class = r.error.class(Some(status));
            let details = r.error.details().map(str::to_owned);
            GraphError::Api {
                http_status: status,
                code: r.error.code,
                subcode: r.error.error_subcode,
                message: r.error.message,
                details,
                fbtrace_id: r.error.fbtrace_id,
                class,
            }
        }
        Err(_) => GraphError::Status {
            http_status: status,
            class: classify_http(Some(status)),
        },
    }
}

fn redirect_error(resp: &Response) -> GraphError {
    GraphError::Redirect {
        http_status: resp.status().as_u16(),
        location: resp
            .headers()
            .get(LOCATION)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(redact_str),
    }
}

impl GraphClient {
    /// A client for `base_url` (`https://graph.facebook.com`, or a simulator's
    /// `http://127.0.0.1:PORT`), authenticating with `access_token`.
    pub fn new(
        base_url: &str,
        access_token: SecretString,
        options: GraphClientOptions,
    ) -> Result<Self, ConfigError> {
        let base = Url::parse(base_url).map_err(|_| ConfigError::BaseUrl)?;
        if base.cannot_be_a_base() || base.query().is_some() || base.fragment().is_some() {
            return Err(ConfigError::BaseUrl);
        }
        let base_origin = Origin::of(&base).ok_or(ConfigError::BaseUrl)?;
        if !base_origin.is_https() && !base_origin.is_loopback() && !options.allow_insecure_http {
            return Err(ConfigError::InsecureHttp(base_origin.to_string()));
        }
        if !valid_version(&options.api_version) {
            return Err(ConfigError::ApiVersion);
        }
        let token = access_token.expose_secret();
        if token.trim().is_empty() || HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
            return Err(ConfigError::Token);
        }
        if HeaderValue::from_str(&options.user_agent).is_err() {
            return Err(ConfigError::UserAgent);
        }
        let mut origins = vec![base_origin.clone()];
        if base_origin.is_https() && base_origin.is_host("graph.facebook.com") {
            origins.push(parse_origin(META_MEDIA_ORIGIN, false)?);
        }
        for raw in &options.media_origins {
            let o = parse_origin(raw, options.allow_insecure_http)?;
            if !origins.contains(&o) {
                origins.push(o);
            }
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .user_agent(options.user_agent.clone())
            .dns_resolver(options.egress.resolver())
            .build()
            .map_err(|e| ConfigError::Http(e.without_url().to_string()))?;
        Ok(Self {
            http,
            base,
            version: options.api_version.clone(),
            token: std::sync::Arc::new(access_token),
            allow: Allowlist::new(origins),
            opts: options,
        })
    }

    /// The configured base URL.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    pub fn options(&self) -> &GraphClientOptions {
        &self.opts
    }

    /// Is `url` on the allowlist (would the client send a request there)?
    pub fn is_allowed(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| self.allow.allows(&u))
    }

    /// `{base}/{version}/{segments...}`; segments are path-escaped.
    fn endpoint(&self, segments: &[&str]) -> Result<Url, GraphError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| GraphError::Disallowed(redact(&self.base)))?
            .pop_if_empty()
            .push(&self.version)
            .extend(segments);
        Ok(url)
    }

    /// The one place requests are made: refuses any URL off the allowlist or refused by the
    /// egress guard (an IP-literal host; host names are checked as they resolve), adds the token.
    fn request(&self, method: Method, url: Url) -> Result<RequestBuilder, GraphError> {
        if !self.allow.allows(&url) {
            return Err(GraphError::Disallowed(redact(&url)));
        }
        self.opts.egress.check_url(&url)?;
        Ok(self
            .http
            .request(method, url)
            .bearer_auth(self.token.expose_secret()))
    }

    /// Sends, then decodes a success body as `T` or turns the answer into an error.
    async fn call<T: DeserializeOwned>(&self, rb: RequestBuilder) -> Result<T, GraphError> {
        let resp = rb.send().await.map_err(transport)?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(redirect_error(&resp));
        }
        if !status.is_success() {
            return Err(error_from(resp).await);
        }
        let body = read_limited(resp, self.opts.max_json_bytes).await?;
        serde_json::from_slice(&body).map_err(|e| GraphError::Decode(e.to_string()))
    }

    async fn expect_success(&self, rb: RequestBuilder) -> Result<(), GraphError> {
        let r: SuccessResponse = self.call(rb).await?;
        if r.success {
            Ok(())
        } else {
            Err(GraphError::Decode("Graph answered success: false".into()))
        }
    }

    /// `POST /{PHONE_NUMBER_ID}/messages`: the message is *accepted* (its outcome comes later as
    /// status webhooks). The body is validated first; the answer must carry a wamid.
    pub async fn send(
        &self,
        phone_number_id: &str,
        message: &OutboundMessage,
    ) -> Result<SendResponse, GraphError> {
        check_id("phone_number_id", phone_number_id)?;
        message.validate()?;
        let url = self.endpoint(&[phone_number_id, "messages"])?;
        let resp: SendResponse = self
            .call(self.request(Method::POST, url)?.json(message))
            .await?;
        if resp.wamid().is_none_or(str::is_empty) {
            return Err(GraphError::Decode(
                "the send answer carries no message id".into(),
            ));
        }
        Ok(resp)
    }

    /// Marks an inbound message (and those before it) as read.
    pub async fn mark_read(&self, phone_number_id: &str, wamid: &str) -> Result<(), GraphError> {
        check_id("phone_number_id", phone_number_id)?;
        let body = MarkRead::new(wamid)?;
        let url = self.endpoint(&[phone_number_id, "messages"])?;
        self.expect_success(self.request(Method::POST, url)?.json(&body))
            .await
    }

    /// `POST /{PHONE_NUMBER_ID}/media` (multipart: `messaging_product`, `type`, `file`); returns the
    /// media id. Refused before sending when the file exceeds its type's limit.
    pub async fn upload_media(
        &self,
        phone_number_id: &str,
        bytes: Vec<u8>,
        mime_type: &str,
        filename: &str,
    ) -> Result<String, GraphError> {
        check_id("phone_number_id", phone_number_id)?;
        if bytes.is_empty() {
            return Err(SendError::Empty { field: "file" }.into());
        }
        crate::send::check_text("filename", filename, crate::send::MAX_FILENAME, true)?;
        if filename.chars().any(char::is_control) {
            return Err(SendError::Invalid {
                field: "filename",
                reason: "must not contain control characters",
            }
            .into());
        }
        let limit = media_size_limit(mime_type).min(self.opts.max_download_bytes);
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if len > limit {
            return Err(GraphError::TooLarge {
                limit,
                announced: Some(len),
            });
        }
        let bad_mime = || SendError::Invalid {
            field: "type",
            reason: "not a MIME type",
        };
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(filename.to_owned())
            .mime_str(mime_type)
            .map_err(|_| bad_mime())?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime_type.to_owned())
            .part("file", part);
        let url = self.endpoint(&[phone_number_id, "media"])?;
        let rb = self
            .request(Method::POST, url)?
            .multipart(form)
            .timeout(self.opts.download_timeout);
        let r: IdResponse = self.call(rb).await?;
        Ok(r.id)
    }

    /// `GET /{PHONE_NUMBER_ID}`: the number's profile; Meta answers it only for a token that may
    /// act for the number, so this is the channel's token check (190 expired or invalid, 10 or
    /// 200–299 no permission, 368 or 131031 blocked).
    pub async fn phone_number(&self, phone_number_id: &str) -> Result<PhoneNumberInfo, GraphError> {
        check_id("phone number id", phone_number_id)?;
        let url = self.endpoint(&[phone_number_id])?;
        self.call(self.request(Method::GET, url)?).await
    }

    /// `GET /{MEDIA_ID}`: the media's (5-minute) download URL, type, checksum and size.
    pub async fn media_info(&self, media_id: &str) -> Result<MediaInfo, GraphError> {
        check_id("media id", media_id)?;
        let url = self.endpoint(&[media_id])?;
        self.call(self.request(Method::GET, url)?).await
    }

    /// Downloads `info.url` with the token. The URL must be on the allowlist (else
    /// [`GraphError::Disallowed`], nothing sent); the size is capped by type and by
    /// [`GraphClientOptions::max_download_bytes`] (announced size first, then a running count); the
    /// `sha256`, when given (hex or base64), must match. A 404 is [`GraphError::MediaUrlExpired`].
    pub async fn download_media(&self, info: &MediaInfo) -> Result<Vec<u8>, GraphError> {
        let url =
            Url::parse(&info.url).map_err(|_| GraphError::Disallowed(redact_str(&info.url)))?;
        if !self.allow.allows(&url) {
            return Err(GraphError::Disallowed(redact(&url)));
        }
        let limit = media_size_limit(&info.mime_type).min(self.opts.max_download_bytes);
        if let Some(size) = info.file_size
            && size > limit
        {
            return Err(GraphError::TooLarge {
                limit,
                announced: Some(size),
            });
        }
        let rb = self
            .request(Method::GET, url)?
            .timeout(self.opts.download_timeout);
        let resp = rb.send().await.map_err(transport)?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(redirect_error(&resp));
        }
        if status == StatusCode::NOT_FOUND {
            return Err(GraphError::MediaUrlExpired);
        }
        if !status.is_success() {
            return Err(error_from(resp).await);
        }
        let data = read_limited(resp, limit).await?;
        media::verify_sha256(info.sha256.as_deref(), &data)?;
        Ok(data)
    }

    /// [`Self::media_info`] then [`Self::download_media`], asking for a fresh URL once if the first
    /// one expired in between.
    pub async fn fetch_media(&self, media_id: &str) -> Result<(MediaInfo, Vec<u8>), GraphError> {
        let info = self.media_info(media_id).await?;
        match self.download_media(&info).await {
            Err(GraphError::MediaUrlExpired) => {
                let info = self.media_info(media_id).await?;
                let data = self.download_media(&info).await?;
                Ok((info, data))
            }
            other => other.map(|data| (info, data)),
        }
    }

    /// `DELETE /{MEDIA_ID}`.
    pub async fn delete_media(&self, media_id: &str) -> Result<(), GraphError> {
        check_id("media id", media_id)?;
        let url = self.endpoint(&[media_id])?;
        self.expect_success(self.request(Method::DELETE, url)?)
            .await
    }

    /// `GET /{WABA_ID}/message_templates`, every page: follows `paging.cursors.after` while
    /// `paging.next` says there is more, stopping on an empty page or a repeated cursor; fails with
    /// [`GraphError::TooManyPages`] beyond [`GraphClientOptions::max_template_pages`]. The `next` URL
    /// itself is never fetched (only the cursor is used, on the configured base).
    pub async fn list_templates(&self, waba_id: &str) -> Result<Vec<TemplateInfo>, GraphError> {
        check_id("waba_id", waba_id)?;
        let mut all = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut after: Option<String> = None;
        let limit = self.opts.template_page_size.max(1).to_string();
        for _ in 0..self.opts.max_template_pages.max(1) {
            let mut url = self.endpoint(&[waba_id, "message_templates"])?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("limit", &limit);
                if let Some(a) = &after {
                    q.append_pair("after", a);
                }
            }
            let page: TemplateList = self.call(self.request(Method::GET, url)?).await?;
            let has_next = page.paging.as_ref().is_some_and(|p| p.next.is_some());
            let next = page.next_cursor().map(str::to_owned);
            let empty = page.data.is_empty();
            all.extend(page.data);
            match next {
                Some(c) if has_next && !empty && seen.insert(c.clone()) => after = Some(c),
                _ => return Ok(all),
            }
        }
        Err(GraphError::TooManyPages {
            pages: self.opts.max_template_pages.max(1),
        })
    }

    /// `POST /{WABA_ID}/message_templates` with Meta's template definition (`name`, `language`,
    /// `category`, `components`); the template starts `PENDING`.
    pub async fn create_template<B: Serialize + ?Sized>(
        &self,
        waba_id: &str,
        body: &B,
    ) -> Result<CreatedTemplate, GraphError> {
        check_id("waba_id", waba_id)?;
        let url = self.endpoint(&[waba_id, "message_templates"])?;
        self.call(self.request(Method::POST, url)?.json(body)).await
    }
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(u64),
    }
    Ok(match Either::deserialize(d)? {
        Either::S(s) => s,
        Either::N(n) => n.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str, opts: GraphClientOptions) -> Result<GraphClient, ConfigError> {
        GraphClient::new(base, SecretString::from("EAAtoken"), opts)
    }

    #[test]
    fn base_url_rules() {
        let d = GraphClientOptions::default;
        assert!(client("https://graph.facebook.com", d()).is_ok());
        assert!(client("http://127.0.0.1:9", d()).is_ok());
        assert!(client("http://[::1]:9/", d()).is_ok());
        assert_eq!(
            client("http://graph.example.com", d()).unwrap_err(),
            ConfigError::InsecureHttp("http://graph.example.com:80".into())
        );
        let insecure = GraphClientOptions {
            allow_insecure_http: true,
            ..d()
        };
        assert!(client("http://graph.example.com", insecure).is_ok());
        for bad in [
            "graph.facebook.com",
            "ftp://graph.facebook.com",
            "https://u:p@graph.facebook.com",
            "https://graph.facebook.com/?x=1",
            "mailto:a@b",
        ] {
            assert_eq!(client(bad, d()).unwrap_err(), ConfigError::BaseUrl, "{bad}");
        }
        for v in ["24.0", "v", "v24.", "v24.0.1", "v2x"] {
            let o = GraphClientOptions {
                api_version: v.into(),
                ..d()
            };
            assert_eq!(
                client("https://graph.facebook.com", o).unwrap_err(),
                ConfigError::ApiVersion,
                "{v}"
            );
        }
        assert_eq!(
            GraphClient::new(
                "https://graph.facebook.com",
                SecretString::from("a\nb"),
                d()
            )
            .unwrap_err(),
            ConfigError::Token
        );
        let bad_media = GraphClientOptions {
            media_origins: vec!["http://media.example.com".into()],
            ..d()
        };
        assert!(matches!(
            client("https://graph.facebook.com", bad_media),
            Err(ConfigError::InsecureHttp(_))
        ));
    }

    #[test]
    fn meta_media_host_is_allowed_only_with_meta_base() {
        let c = client("https://graph.facebook.com", GraphClientOptions::default()).unwrap();
        assert!(c.is_allowed("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"));
        assert!(c.is_allowed("https://graph.facebook.com/v24.0/1"));
        assert!(!c.is_allowed("http://lookaside.fbsbx.com/x"));
        assert!(!c.is_allowed("http://169.254.169.254/latest/meta-data/"));
        let c = client("http://127.0.0.1:9", GraphClientOptions::default()).unwrap();
        assert!(!c.is_allowed("https://lookaside.fbsbx.com/x"));
        assert!(!c.is_allowed("http://127.0.0.1:10/x"), "another port");
        assert!(!c.is_allowed("http://localhost:9/x"), "another host name");
    }

    #[test]
    fn endpoints_are_escaped_and_prefixed() {
        let c = client("http://127.0.0.1:9/graph/", GraphClientOptions::default()).unwrap();
        assert_eq!(
            c.endpoint(&["123", "messages"]).unwrap().as_str(),
            "http://127.0.0.1:9/graph/v24.0/123/messages"
        );
        for bad in ["", "..", "1/2", "1?x", "a b", "1%2F"] {
            assert!(
                matches!(check_id("id", bad), Err(GraphError::InvalidRequest(_))),
                "{bad:?}"
            );
        }
        check_id("id", "1003383421387258").unwrap();
    }

    #[test]
    fn debug_hides_the_token() {
        let c = client("https://graph.facebook.com", GraphClientOptions::default()).unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("EAAtoken"), "{s}");
        assert!(s.contains("REDACTED"));
    }
}
