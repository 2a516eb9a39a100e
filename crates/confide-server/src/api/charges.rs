//! `GET /api/v1/charges?month=YYYY-MM`: what Meta's status webhooks say the month's messages
//! cost, per channel number and category. The use case is `confide_app::charges`.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

/// Which month.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ChargesQuery {
    /// `YYYY-MM` (UTC); the current month when absent.
    pub month: Option<String>,
}

/// `GET /api/v1/charges?month=` → `{"month","totals":[{"phone_number_id","category",
/// "billable","free"}]}`.
pub async fn monthly(
    State(state): State<AppState>,
    Caller(principal): Caller,
    q: Result<Query<ChargesQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = super::conversations::query(q)?;
    let m = state
        .monthly_charges(&principal, q.month.as_deref())
        .await?;
    Ok(Json(json!({
        "month": m.month,
        "totals": m.totals.iter().map(|t| json!({
            "phone_number_id": t.phone_number_id,
            "category": t.category,
            "billable": t.billable,
            "free": t.free,
        })).collect::<Vec<_>>(),
    })))
}
