//! `GET /api/v1/events`: Server-Sent Events for the inbox (`message.created`,
//! `message.status`, `conversation.updated`, `note.created`), each with ids only; the client
//! fetches what it may read. A client that fell behind gets `resync` and should refetch.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use confide_app::events::Next;
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::time::Duration;

/// The stream of the caller's tenant's inbox events; a comment every 15 s keeps proxies from
/// closing it.
pub async fn stream(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let subscription = state.subscribe_events(&principal)?;
    let events = stream::unfold(subscription, |mut sub| async move {
        let event = match sub.next().await {
            Next::Event(e) => Event::default().event(e.kind()).data(e.ids().to_string()),
            Next::Missed(n) => Event::default()
                .event("resync")
                .data(format!("{{\"missed\":{n}}}")),
            Next::Closed => return None,
        };
        Some((Ok(event), sub))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
