//! The [`GraphClient`]: building one (base URL, token, allowlist of origins, the egress guard's
//! resolver, no redirects) and the one path every call takes: the allowlisted, guarded request
//! with the token, size-capped body reads, and Graph's answers turned into [`GraphError`]s.

use reqwest::header::{HeaderValue, LOCATION};
use reqwest::{Method, RequestBuilder, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::error::{ConfigError, GraphError, TransportKind};
use super::options::{GraphClientOptions, META_MEDIA_ORIGIN};
use crate::egress::EgressRefused;
use crate::errors::classify_http;
use crate::origin::{Allowlist, Origin, redact, redact_str};
use crate::send::{GraphErrorResponse, SendError, SuccessResponse};

/// Largest error body read before giving up on parsing it.
const MAX_ERROR_BODY: u64 = 64 * 1024;
/// Longest id accepted in a path segment.
const MAX_ID_LEN: usize = 128;

/// A Graph API client for one access token. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base: Url,
    version: String,
    token: std::sync::Arc<SecretString>,
    pub(super) allow: Allowlist,
    pub(super) opts: GraphClientOptions,
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
pub(super) fn check_id(field: &'static str, id: &str) -> Result<(), GraphError> {
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

pub(super) fn transport(e: reqwest::Error) -> GraphError {
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
pub(super) async fn read_limited(mut resp: Response, limit: u64) -> Result<Vec<u8>, GraphError> {
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
pub(super) async fn error_from(resp: Response) -> GraphError {
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

pub(super) fn redirect_error(resp: &Response) -> GraphError {
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
    pub(super) fn endpoint(&self, segments: &[&str]) -> Result<Url, GraphError> {
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
    pub(super) fn request(&self, method: Method, url: Url) -> Result<RequestBuilder, GraphError> {
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
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        rb: RequestBuilder,
    ) -> Result<T, GraphError> {
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

    pub(super) async fn expect_success(&self, rb: RequestBuilder) -> Result<(), GraphError> {
        let r: SuccessResponse = self.call(rb).await?;
        if r.success {
            Ok(())
        } else {
            Err(GraphError::Decode("Graph answered success: false".into()))
        }
    }
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
