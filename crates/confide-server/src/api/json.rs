//! Small helpers every API handler uses: a JSON body extractor whose errors follow the API's
//! error shape, id parsing that answers 404, and timestamps.

use crate::error::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// `Json<T>` with `{"error":{...}}` rejections (400 `invalid_json`).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    /// Every API body is a JSON object: anything else (an array, which serde would otherwise
    /// read into a struct positionally, a number, a string) is refused before it is decoded.
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let invalid = |detail: String| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("The request body is not the expected JSON: {detail}"),
            )
        };
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            // A body over the route's limit is 413, not a JSON problem.
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::from(confide_app::Code::PayloadTooLarge));
            }
            Err(e) => return Err(invalid(e.body_text())),
        };
        if !value.is_object() {
            return Err(invalid("expected a JSON object".into()));
        }
        serde_json::from_value(value)
            .map(JsonBody)
            .map_err(|e| invalid(e.to_string()))
    }
}

/// An id from the path; anything that does not parse is simply not found.
pub fn id<T: std::str::FromStr>(text: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::not_found())
}

/// RFC 3339 text of a stored time (Unix microseconds).
pub fn ts(micros: i64) -> String {
    confide_core::clock::from_micros(micros)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub fn ts_opt(micros: Option<i64>) -> Option<String> {
    micros.map(ts)
}

/// 422 with a code.
pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// For `PATCH` bodies (`#[serde(default, deserialize_with = "present")]` on an
/// `Option<Option<T>>`): an absent field stays `None` (unchanged) while `null` becomes
/// `Some(None)` (clear it).
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}
