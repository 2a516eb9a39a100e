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

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!(
                    "The request body is not the expected JSON: {}",
                    e.body_text()
                ),
            )),
        }
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
