//! The static files, compiled into the binary and served by Confide itself (no CDN, no other
//! origin): the stylesheet, the one script, and the icon. Fonts are the system's own (a system
//! font stack), so no font file is fetched.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const APP_CSS: &str = include_str!("static/app.css");
const APP_JS: &str = include_str!("static/app.js");
const ICON_SVG: &str = include_str!("static/icon.svg");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Short-lived: a new version is picked up within minutes of an upgrade.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// `GET /static/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.css" => asset(APP_CSS, "text/css; charset=utf-8"),
        "app.js" => asset(APP_JS, "text/javascript; charset=utf-8"),
        "icon.svg" => asset(ICON_SVG, "image/svg+xml"),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /favicon.ico`: the icon (browsers ask for it on their own).
pub async fn favicon() -> Response {
    asset(ICON_SVG, "image/svg+xml")
}
