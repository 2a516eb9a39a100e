//! C27: the admin listener (metrics, bans) is separate from the public one and on loopback by
//! default; the public listener does not serve its routes.

use crate::harness::{Auth, TestApp, send_to};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};

#[tokio::test]
async fn metrics_and_bans_are_only_on_the_admin_listener_which_is_loopback_by_default() {
    let defaults = confide_server::Config::default();
    assert!(defaults.admin_listen.ip().is_loopback());
    assert_ne!(defaults.admin_listen, defaults.listen);
    let app = TestApp::new().await;
    for path in ["/metrics", "/bans"] {
        let r = app.call(Method::GET, path, &Auth::None, None).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{path} on the public listener"
        );
        let admin = confide_server::Application::admin_router(app.state.clone());
        let r = send_to(
            &admin,
            "127.0.0.1".parse().unwrap(),
            Request::get(path).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{path} on the admin listener");
    }
}
