//! Meta's error shape: `{"error":{"message","type","code","error_subcode","error_data","fbtrace_id"}}`.

use axum::http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// A Graph API error before it gets its `fbtrace_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub http: u16,
    pub code: i64,
    pub subcode: Option<i64>,
    pub message: String,
    /// `error_data.details`; none leaves `error_data` out (auth errors).
    pub details: Option<String>,
}

impl GraphError {
    /// A WhatsApp error: message `(#code) title`, `error_data.details`.
    pub fn wa(http: u16, code: i64, title: &str, details: impl Into<String>) -> Self {
        Self {
            http,
            code,
            subcode: None,
            message: format!("(#{code}) {title}"),
            details: Some(details.into()),
        }
    }

    /// Code 100, invalid parameter, with Meta's specific wording as the message.
    pub fn param(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            http: 400,
            code: 100,
            subcode: None,
            message: format!("(#100) {text}"),
            details: Some(text),
        }
    }

    pub fn with_subcode(mut self, subcode: i64) -> Self {
        self.subcode = Some(subcode);
        self
    }

    /// 401, code 190: no token, or one the simulator does not know.
    pub fn token_invalid() -> Self {
        Self {
            http: 401,
            code: 190,
            subcode: None,
            message: "Invalid OAuth access token - Cannot parse access token".into(),
            details: None,
        }
    }

    /// 401, code 190, subcode 463: the token expired.
    pub fn token_expired(at: OffsetDateTime, now: OffsetDateTime) -> Self {
        Self {
            http: 401,
            code: 190,
            subcode: Some(463),
            message: format!(
                "Error validating access token: Session has expired at unix time {}. The current unix time is {}.",
                at.unix_timestamp(),
                now.unix_timestamp()
            ),
            details: None,
        }
    }

    /// 403, code 200: a valid token without access to this object.
    pub fn permission() -> Self {
        Self {
            http: 403,
            code: 200,
            subcode: None,
            message: "(#200) Permissions error".into(),
            details: Some("The access token has no permission on this object.".into()),
        }
    }

    /// 400, code 100, subcode 33: no such object (or no access to it).
    pub fn no_object(id: &str, method: &str) -> Self {
        Self {
            http: 400,
            code: 100,
            subcode: Some(33),
            message: format!(
                "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
            details: None,
        }
    }

    /// 400, code 2500: a path the simulator does not serve.
    pub fn unknown_path(path: &str) -> Self {
        Self {
            http: 400,
            code: 2500,
            subcode: None,
            message: format!("Unknown path components: {path}"),
            details: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.http).unwrap_or(StatusCode::BAD_REQUEST)
    }

    /// The JSON body.
    pub fn body(&self, fbtrace_id: &str) -> Value {
        let mut e = json!({
            "message": self.message,
            "type": "OAuthException",
            "code": self.code,
            "fbtrace_id": fbtrace_id,
        });
        if let Some(s) = self.subcode {
            e["error_subcode"] = json!(s);
        }
        if let Some(d) = &self.details {
            e["error_data"] = json!({"messaging_product": "whatsapp", "details": d});
        }
        json!({ "error": e })
    }
}
