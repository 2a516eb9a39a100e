//! A small JSON control API under `/_sim/`, so the standalone binary can be driven by demos and
//! benchmark scripts the way tests drive [`SimHandle`] in-process. Loopback use only: it has
//! no authentication, like the rest of the simulator's control surface.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::config::{NumberConfig, TemplateConfig, TemplateStatus, UserConfig};
use crate::error::SimError;
use crate::handle::SimHandle;
use crate::handle::customers::Preference;
use crate::inbound::InboundMessage;
use crate::script::{Mix, Script};
use crate::state::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sim/customer_sends", post(customer_sends))
        .route("/_sim/inbound", post(inbound))
        .route("/_sim/script", post(script))
        .route("/_sim/numbers", post(add_number))
        .route("/_sim/users", post(add_user))
        .route("/_sim/templates", post(add_template))
        .route("/_sim/template_status", post(template_status))
        .route("/_sim/user_changes_number", post(user_changes_number))
        .route("/_sim/user_preferences", post(user_preferences))
        .route("/_sim/sent", get(sent))
        .route("/_sim/rejected", get(rejected))
        .route("/_sim/events", get(events))
        .route("/_sim/deliveries", get(deliveries))
        .route("/_sim/pending", get(pending))
        .with_state(shared)
}

fn handle(shared: Arc<Shared>) -> SimHandle {
    SimHandle::borrowed(shared)
}

fn fail(e: &SimError) -> Response {
    let status = match e {
        SimError::UnknownNumber(_)
        | SimError::UnknownUser(_)
        | SimError::UnknownTemplate { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(json!({"error": e.to_string()}))).into_response()
}

fn reply<T: serde::Serialize>(r: Result<T, SimError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => fail(&e),
    }
}

#[derive(Deserialize)]
struct CustomerText {
    user: String,
    phone_number_id: String,
    text: String,
}

async fn customer_sends(State(s): State<Arc<Shared>>, Json(b): Json<CustomerText>) -> Response {
    reply(
        handle(s)
            .customer_sends(&b.user, &b.phone_number_id, &b.text)
            .map(|id| json!({"id": id})),
    )
}

#[derive(Deserialize)]
struct CustomerMessage {
    user: String,
    phone_number_id: String,
    message: InboundMessage,
}

async fn inbound(State(s): State<Arc<Shared>>, Json(b): Json<CustomerMessage>) -> Response {
    reply(
        handle(s)
            .customer_sends_message(&b.user, &b.phone_number_id, b.message)
            .map(|id| json!({"id": id})),
    )
}

#[derive(Deserialize)]
struct ScriptReq {
    phone_number_id: String,
    seed: u64,
    customers: usize,
    messages: usize,
    #[serde(default)]
    mix: Option<Mix>,
}

async fn script(State(s): State<Arc<Shared>>, Json(b): Json<ScriptReq>) -> Response {
    let script = Script {
        seed: b.seed,
        customers: b.customers,
        messages: b.messages,
        mix: b.mix.unwrap_or_default(),
    };
    reply(
        handle(s)
            .run_script(&b.phone_number_id, &script)
            .map(|ids| json!({"ids": ids})),
    )
}

async fn add_number(State(s): State<Arc<Shared>>, Json(b): Json<NumberConfig>) -> Response {
    handle(s).add_number(b);
    Json(json!({"success": true})).into_response()
}

async fn add_user(State(s): State<Arc<Shared>>, Json(b): Json<UserConfig>) -> Response {
    handle(s).add_user(b);
    Json(json!({"success": true})).into_response()
}

async fn add_template(State(s): State<Arc<Shared>>, Json(b): Json<TemplateConfig>) -> Response {
    let id = handle(s).add_template(b);
    Json(json!({"id": id})).into_response()
}

#[derive(Deserialize)]
struct TemplateStatusReq {
    waba_id: String,
    name: String,
    language: String,
    status: TemplateStatus,
    #[serde(default)]
    reason: Option<String>,
}

async fn template_status(
    State(s): State<Arc<Shared>>,
    Json(b): Json<TemplateStatusReq>,
) -> Response {
    reply(
        handle(s)
            .set_template_status(
                &b.waba_id,
                &b.name,
                &b.language,
                b.status,
                b.reason.as_deref().unwrap_or("NONE"),
            )
            .map(|()| json!({"success": true})),
    )
}

#[derive(Deserialize)]
struct NumberChange {
    user: String,
    phone_number_id: String,
    new_phone: String,
}

async fn user_changes_number(
    State(s): State<Arc<Shared>>,
    Json(b): Json<NumberChange>,
) -> Response {
    reply(
        handle(s)
            .user_changes_number(&b.user, &b.phone_number_id, &b.new_phone)
            .map(|id| json!({"user_id": id})),
    )
}

#[derive(Deserialize)]
struct PreferenceReq {
    user: String,
    phone_number_id: String,
    /// `stop` or `resume`.
    value: String,
}

async fn user_preferences(State(s): State<Arc<Shared>>, Json(b): Json<PreferenceReq>) -> Response {
    let pref = match b.value.as_str() {
        "stop" => Preference::Stop,
        "resume" => Preference::Resume,
        _ => return fail(&SimError::Config("value must be stop or resume".into())),
    };
    reply(
        handle(s)
            .user_preferences(&b.user, &b.phone_number_id, pref)
            .map(|()| json!({"success": true})),
    )
}

async fn sent(State(s): State<Arc<Shared>>) -> Response {
    Json(handle(s).sent_messages()).into_response()
}

async fn rejected(State(s): State<Arc<Shared>>) -> Response {
    Json(handle(s).rejected_requests()).into_response()
}

async fn events(State(s): State<Arc<Shared>>) -> Response {
    Json(handle(s).webhook_events()).into_response()
}

async fn deliveries(State(s): State<Arc<Shared>>) -> Response {
    Json(handle(s).deliveries()).into_response()
}

async fn pending(State(s): State<Arc<Shared>>) -> Response {
    Json(json!({"pending": handle(s).pending_deliveries()})).into_response()
}
