//! Media settings (`[media]` in the TOML file, `CONFIDE_MEDIA__*` in the environment).

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// How media is stored and linked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// S3-compatible endpoint for `media_url = "s3://..."` (e.g. `https://s3.eu-west-1.amazonaws.com`
    /// or a MinIO address); Amazon's own when unset.
    pub s3_endpoint: Option<String>,
    pub s3_region: String,
    pub s3_access_key_id: Option<String>,
    /// A secret: set it through `CONFIDE_MEDIA__S3_SECRET_ACCESS_KEY_FILE` in production.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::config::opt_secret"
    )]
    pub s3_secret_access_key: Option<SecretString>,
    /// Allow a plain-http endpoint (a local test server only).
    pub s3_allow_http: bool,
    /// How long a media link works (seconds; default 300, at most 3600).
    pub link_ttl_secs: i64,
    /// The address Meta fetches outbound media links from, e.g. `https://inbox.example.com`.
    /// Unset: the public listener's own address.
    pub public_url: Option<String>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            s3_endpoint: None,
            s3_region: "us-east-1".to_string(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_allow_http: false,
            link_ttl_secs: 300,
            public_url: None,
        }
    }
}

impl MediaConfig {
    /// One line naming the first bad value.
    pub fn validate(&self, media_url: &str) -> Result<(), String> {
        if !(media_url.starts_with("file://") && media_url.len() > "file://".len()
            || media_url.starts_with("s3://") && media_url.len() > "s3://".len())
        {
            return Err(format!(
                "media_url: {media_url:?} is neither file://PATH nor s3://bucket/prefix"
            ));
        }
        if !(10..=3600).contains(&self.link_ttl_secs) {
            return Err("media.link_ttl_secs: must be 10 to 3600 seconds".into());
        }
        if let Some(u) = &self.public_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err("media.public_url: must be an http(s):// URL".into());
        }
        Ok(())
    }
}
