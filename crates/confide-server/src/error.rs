//! Errors are typed per layer and mapped to HTTP once, here. Clients get a stable code and a plain
//! message; internal details go to the log with the request id, never to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_store::StoreError;
use serde::Serialize;

/// An error a handler returns.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "No such resource.")
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side; it has been logged.",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service is temporarily unavailable; try again shortly.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found(),
            StoreError::Conflict(what) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists."),
            ),
            e if e.is_unavailable() => {
                tracing::error!(error = %e, "database unavailable");
                ApiError::unavailable()
            }
            e => {
                tracing::error!(error = %e, "store error");
                ApiError::internal()
            }
        }
    }
}

impl From<confide_store::inbox::InboxError> for ApiError {
    fn from(e: confide_store::inbox::InboxError) -> Self {
        use confide_store::inbox::InboxError;
        let unprocessable =
            |code, message: &str| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
        match e {
            InboxError::InvalidAssignee => unprocessable(
                "invalid_assignee",
                "assignee must be an active user of this account, or null.",
            ),
            InboxError::InvalidContact => unprocessable(
                "invalid_contact",
                "contact_id names no contact of this account.",
            ),
            InboxError::InvalidChannel => unprocessable(
                "invalid_channel",
                "channel_id names no channel of this account.",
            ),
            InboxError::Store(e) => e.into(),
        }
    }
}

/// The JSON answer to a path that does not exist.
pub async fn fallback() -> ApiError {
    ApiError::not_found()
}
