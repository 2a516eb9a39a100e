//! The web app: server-rendered pages (askama templates under `templates/web/`, escaped by
//! default) for the inbox and everything around it. Every page calls the same `confide_app` use
//! cases as the JSON API; every core action is a plain form POST (so the app works without
//! JavaScript), and one first-party script (`static/app.js`) adds live updates from
//! `/api/v1/events` and conveniences. Nothing is loaded from another origin: the stylesheet,
//! script and icon are served from `/static/` by Confide itself, and the pages' CSP allows
//! nothing else ([`page::PAGE_CSP`]).
//!
//! - [`page`]: headers, who is looking ([`page::Viewer`]), the checks of every form POST.
//! - [`assets`]: the static files.
//! - [`account`]: sign-in (with 2FA), sign-out, the forced password change, 2FA enrolment, my
//!   sessions.
//! - [`inbox`]: the conversation list, a conversation, the composer, notes, assignment.
//! - [`contacts`]: search, detail with consent history, edit.
//! - [`admin`]: broadcasts, templates, channels, team, API keys, the audit log.
//! - [`media`]: the uploaded files and the upload form.

pub mod account;
pub mod admin;
pub mod assets;
pub mod contacts;
pub mod format;
pub mod inbox;
pub mod media;
pub mod page;

use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};
use confide_core::permissions::Permission;
use page::Viewer;

/// Whether `path` is a page (credentials are resolved for it): everything but the API, webhooks,
/// static files and health checks.
pub fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path.starts_with("/webhooks/")
        || path.starts_with("/static/")
        || path == "/healthz"
        || path == "/readyz")
}

/// The pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/{file}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .route("/", get(inbox::home))
        .route(
            "/sign-in",
            get(account::sign_in_page).post(account::sign_in),
        )
        .route("/sign-out", post(account::sign_out))
        .route(
            "/account/password",
            get(account::password_page).post(account::change_password),
        )
        .route("/account", get(account::account_page))
        .route(
            "/account/2fa",
            get(account::two_factor_page).post(account::enrol),
        )
        .route("/account/2fa/confirm", post(account::confirm))
        .route("/account/sessions/end", post(account::end_session))
        .route("/inbox", get(inbox::list_page))
        .route("/inbox/{id}", get(inbox::conversation_page))
        .route("/inbox/{id}/reply", post(inbox::reply))
        .route("/inbox/{id}/notes", post(inbox::add_note))
        .route("/inbox/{id}/update", post(inbox::update))
        .route("/contacts", get(contacts::list_page))
        .route(
            "/contacts/{id}",
            get(contacts::detail_page).post(contacts::edit),
        )
        .route("/contacts/{id}/consent", post(contacts::record_consent))
        .route(
            "/broadcasts",
            get(admin::broadcasts_page).post(admin::create_broadcast),
        )
        .route("/broadcasts/audience", post(admin::review_broadcast))
        .route("/broadcasts/{id}", get(admin::broadcast_page))
        .route("/broadcasts/{id}/change", post(admin::change_broadcast))
        .route(
            "/media",
            get(media::media_page)
                .post(media::upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::api::media::UPLOAD_BODY_LIMIT,
                )),
        )
        .route("/media/{id}/open", get(media::open))
        .route("/templates", get(admin::templates_page))
        .route("/templates/sync", post(admin::sync_templates))
        .route(
            "/channels",
            get(admin::channels_page).post(admin::connect_channel),
        )
        .route("/channels/{id}/secret", post(admin::rotate_secret))
        .route("/team", get(admin::team_page).post(admin::invite))
        .route("/api-keys", get(admin::keys_page).post(admin::create_key))
        .route("/api-keys/revoke", post(admin::revoke_key))
        .route("/audit", get(admin::audit_page))
}

/// The SVG path of a sidebar icon (24×24, stroked).
pub fn icon_path(name: &str) -> &'static str {
    match name {
        "inbox" => {
            "M22 12h-6l-2 3h-4l-2-3H2M5.5 5.1 2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.5-6.9A2 2 0 0 0 16.8 4H7.2a2 2 0 0 0-1.7 1.1z"
        }
        "users" => {
            "M16 21v-2a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v2M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM22 21v-2a4 4 0 0 0-3-3.9M16 3.1a4 4 0 0 1 0 7.8"
        }
        "megaphone" => "M3 11l18-5v12L3 14v-3zM11.6 16.8a3 3 0 1 1-5.8-1.6",
        "file" => {
            "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zM14 2v6h6M16 13H8M16 17H8"
        }
        "phone" => {
            "M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1.9.4 1.8.7 2.7a2 2 0 0 1-.5 2.1L8 9.8a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.7.7a2 2 0 0 1 1.7 2z"
        }
        "team" => {
            "M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM23 11h-6M20 8v6"
        }
        "key" => {
            "M21 2l-2 2m-7.6 7.6a5.5 5.5 0 1 1-7.8 7.8 5.5 5.5 0 0 1 7.8-7.8zm0 0L15.5 7.5m0 0 3 3L22 7l-3-3m-3.5 3.5L19 4"
        }
        "shield" => "M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z",
        "image" => {
            "M19 3H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V5a2 2 0 0 0-2-2zM8.5 10a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zM21 15l-5-5L5 21"
        }
        _ => "M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2M12 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z",
    }
}

/// One item of the sidebar.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub icon: &'static str,
    pub active: bool,
}

/// What the layout around every signed-in page needs.
pub struct Chrome {
    pub title: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    /// `data-live` on the body: the script refreshes the page's live regions on inbox events.
    pub live: bool,
}

impl Chrome {
    /// The layout for `viewer` with `section` (a nav href) highlighted.
    pub fn new(viewer: &Viewer, section: &str, title: impl Into<String>) -> Chrome {
        let items: [(&'static str, &'static str, &'static str, Option<Permission>); 10] = [
            ("/inbox", "Inbox", "inbox", Some(Permission::InboxRead)),
            (
                "/contacts",
                "Contacts",
                "users",
                Some(Permission::ContactsRead),
            ),
            (
                "/broadcasts",
                "Broadcasts",
                "megaphone",
                Some(Permission::InboxRead),
            ),
            (
                "/templates",
                "Templates",
                "file",
                Some(Permission::InboxRead),
            ),
            ("/media", "Media", "image", Some(Permission::MediaUpload)),
            (
                "/channels",
                "Channels",
                "phone",
                Some(Permission::InboxRead),
            ),
            ("/team", "Team", "team", Some(Permission::TeamManage)),
            (
                "/api-keys",
                "API keys",
                "key",
                Some(Permission::ApiKeysManage),
            ),
            ("/audit", "Audit log", "shield", Some(Permission::AuditRead)),
            ("/account", "My account", "user", None),
        ];
        let nav = items
            .into_iter()
            .filter(|(_, _, _, p)| p.is_none_or(|p| viewer.can(p)))
            .map(|(href, label, icon, _)| NavItem {
                href,
                label,
                icon: icon_path(icon),
                active: href == section,
            })
            .collect();
        Chrome {
            title: title.into(),
            csrf: viewer.csrf.clone(),
            nav,
            live: viewer.can(Permission::InboxRead),
        }
    }
}
