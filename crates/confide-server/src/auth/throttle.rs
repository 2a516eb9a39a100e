//! Sign-in throttling lives in the application layer (`confide_app::identity::throttle`); this
//! is its HTTP face for the handlers that still check passwords themselves: the 429 response,
//! and the error type of a throttled password check.

use crate::error::ApiError;
use axum::response::{IntoResponse, Response};
use confide_store::StoreError;

pub use confide_app::identity::throttle::*;

/// 429 `too_many_attempts` with `Retry-After` (at least 1 second).
pub fn too_many(retry_after: i64) -> Response {
    ApiError::from(confide_app::identity::throttle::too_many(retry_after)).into_response()
}

/// The error of a handler whose password check is throttled: an [`ApiError`], or a refusal by
/// the throttle (429 with `Retry-After`).
#[derive(Debug)]
pub enum CheckError {
    Api(ApiError),
    TooMany(i64),
}

impl IntoResponse for CheckError {
    fn into_response(self) -> Response {
        match self {
            CheckError::Api(e) => e.into_response(),
            CheckError::TooMany(secs) => too_many(secs),
        }
    }
}

impl From<ApiError> for CheckError {
    fn from(e: ApiError) -> Self {
        CheckError::Api(e)
    }
}

impl From<StoreError> for CheckError {
    fn from(e: StoreError) -> Self {
        CheckError::Api(e.into())
    }
}

impl From<confide_app::AppError> for CheckError {
    fn from(e: confide_app::AppError) -> Self {
        CheckError::Api(e.into())
    }
}
