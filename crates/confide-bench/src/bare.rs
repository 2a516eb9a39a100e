//! The baseline: an axum endpoint that reads the body and answers 200, nothing else.

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;

pub async fn serve() -> Result<(), String> {
    let app = Router::new().route(
        "/webhooks/whatsapp/{channel}",
        post(|_body: Bytes| async { "ok" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("{{\"public\":\"{addr}\"}}");
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}
