//! The JSON API and the public routes around it.

pub mod audit;
pub mod broadcasts;
pub mod channels;
pub mod charges;
pub mod contacts;
pub mod conversations;
pub mod events;
pub mod exports;
pub mod health;
pub mod json;
pub mod keys;
pub mod me;
pub mod media;
pub mod notes;
pub mod openapi;
pub mod platform;
pub mod security;
pub mod session;
pub mod settings;
pub mod table;
pub mod team;
pub mod templates;

use crate::state::AppState;
use axum::Router;
use axum::routing::get;
use confide_core::permissions::Permission as P;
use table::{Access, RouteSpec, RouteTable, Verb};

/// Every `/api/v1` route and the access it requires: the one place routes declare permissions.
pub fn table() -> RouteTable {
    use Access::*;
    use Verb::*;
    RouteTable::new()
        // sign-in and sessions
        .route(Post, "/api/v1/session", Public, session::login)
        .route(Delete, "/api/v1/session", Account, session::logout)
        .route(Get, "/api/v1/sessions", Account, session::list)
        .route(Delete, "/api/v1/sessions", Account, session::end_others)
        .route(Delete, "/api/v1/sessions/{id}", Account, session::end_one)
        // my account
        .route(Get, "/api/v1/me", Authenticated, me::me)
        .route(Post, "/api/v1/me/password", Account, me::change_password)
        .route(Post, "/api/v1/me/2fa/enroll", Account, me::enroll)
        .route(Post, "/api/v1/me/2fa/confirm", Account, me::confirm)
        .route(Post, "/api/v1/me/2fa/disable", Account, me::disable)
        .route(
            Post,
            "/api/v1/me/2fa/recovery-codes",
            Account,
            me::regenerate_codes,
        )
        // team, roles, keys
        .route(Get, "/api/v1/users", Perm(P::TeamManage), team::list_users)
        .route(
            Post,
            "/api/v1/users",
            Perm(P::TeamManage),
            team::create_user,
        )
        .route(
            Patch,
            "/api/v1/users/{id}",
            Perm(P::TeamManage),
            team::update_user,
        )
        .route(
            Delete,
            "/api/v1/users/{id}",
            Perm(P::TeamManage),
            team::delete_user,
        )
        .route(Get, "/api/v1/permissions", Authenticated, team::permissions)
        .route(Get, "/api/v1/roles", Perm(P::RolesManage), team::list_roles)
        .route(
            Post,
            "/api/v1/roles",
            Perm(P::RolesManage),
            team::create_role,
        )
        .route(
            Patch,
            "/api/v1/roles/{id}",
            Perm(P::RolesManage),
            team::update_role,
        )
        .route(
            Delete,
            "/api/v1/roles/{id}",
            Perm(P::RolesManage),
            team::delete_role,
        )
        .route(Get, "/api/v1/api-keys", Perm(P::ApiKeysManage), keys::list)
        .route(
            Post,
            "/api/v1/api-keys",
            Perm(P::ApiKeysManage),
            keys::create,
        )
        .route(
            Delete,
            "/api/v1/api-keys/{id}",
            Perm(P::ApiKeysManage),
            keys::revoke,
        )
        // channels (WhatsApp numbers)
        .route(Get, "/api/v1/channels", Perm(P::InboxRead), channels::list)
        .route(
            Post,
            "/api/v1/channels",
            Perm(P::ChannelsManage),
            channels::create,
        )
        .route(
            Get,
            "/api/v1/channels/{id}",
            Perm(P::InboxRead),
            channels::get,
        )
        .route(
            Patch,
            "/api/v1/channels/{id}",
            Perm(P::ChannelsManage),
            channels::update,
        )
        .route(
            Delete,
            "/api/v1/channels/{id}",
            Perm(P::ChannelsManage),
            channels::delete,
        )
        .route(
            Post,
            "/api/v1/channels/{id}/rotate-secret",
            Perm(P::ChannelsManage),
            channels::rotate_secret,
        )
        .route(
            Post,
            "/api/v1/channels/{id}/finish-rotation",
            Perm(P::ChannelsManage),
            channels::finish_rotation,
        )
        // the inbox
        .route(
            Get,
            "/api/v1/conversations",
            Perm(P::InboxRead),
            conversations::list,
        )
        .route(
            Post,
            "/api/v1/conversations",
            Perm(P::InboxReply),
            conversations::start,
        )
        .route(
            Get,
            "/api/v1/conversations/{id}",
            Perm(P::InboxRead),
            conversations::get,
        )
        .route(
            Patch,
            "/api/v1/conversations/{id}",
            Perm(P::InboxAssign),
            conversations::update,
        )
        .route(
            Get,
            "/api/v1/conversations/{id}/messages",
            Perm(P::InboxRead),
            conversations::messages,
        )
        .route(
            Post,
            "/api/v1/conversations/{id}/messages",
            Perm(P::InboxReply),
            conversations::send,
        )
        .route(
            Post,
            "/api/v1/conversations/{id}/read",
            Perm(P::InboxRead),
            conversations::read,
        )
        .route(
            Get,
            "/api/v1/conversations/{id}/notes",
            Perm(P::InboxRead),
            notes::list,
        )
        .route(
            Post,
            "/api/v1/conversations/{id}/notes",
            Perm(P::InboxReply),
            notes::add,
        )
        .route(
            Get,
            "/api/v1/canned-responses",
            Perm(P::InboxRead),
            notes::canned_list,
        )
        .route(
            Post,
            "/api/v1/canned-responses",
            Perm(P::InboxReply),
            notes::canned_create,
        )
        .route(
            Patch,
            "/api/v1/canned-responses/{id}",
            Perm(P::InboxReply),
            notes::canned_update,
        )
        .route(
            Delete,
            "/api/v1/canned-responses/{id}",
            Perm(P::InboxReply),
            notes::canned_delete,
        )
        .route(Get, "/api/v1/events", Perm(P::InboxRead), events::stream)
        .route(Get, "/api/v1/charges", Perm(P::AuditRead), charges::monthly)
        // broadcasts
        .route(
            Get,
            "/api/v1/broadcasts",
            Perm(P::InboxRead),
            broadcasts::list,
        )
        .route(
            Post,
            "/api/v1/broadcasts",
            Perm(P::BroadcastsSend),
            broadcasts::create,
        )
        .route(
            Get,
            "/api/v1/broadcasts/{id}",
            Perm(P::InboxRead),
            broadcasts::get,
        )
        .route(
            Post,
            "/api/v1/broadcasts/{id}/pause",
            Perm(P::BroadcastsSend),
            broadcasts::pause,
        )
        .route(
            Post,
            "/api/v1/broadcasts/{id}/resume",
            Perm(P::BroadcastsSend),
            broadcasts::resume,
        )
        .route(
            Post,
            "/api/v1/broadcasts/{id}/cancel",
            Perm(P::BroadcastsSend),
            broadcasts::cancel,
        )
        // templates
        .route(
            Get,
            "/api/v1/templates",
            Perm(P::InboxRead),
            templates::list,
        )
        .route(
            Post,
            "/api/v1/templates/preview",
            Perm(P::InboxRead),
            templates::preview,
        )
        .route(
            Post,
            "/api/v1/templates/sync",
            Perm(P::TemplatesManage),
            templates::sync,
        )
        // contacts and their consent ledger
        .route(
            Get,
            "/api/v1/contacts",
            Perm(P::ContactsRead),
            contacts::list,
        )
        .route(
            Post,
            "/api/v1/contacts",
            Perm(P::ContactsWrite),
            contacts::create,
        )
        .route(
            Post,
            "/api/v1/contacts/import",
            Perm(P::ContactsWrite),
            contacts::import,
        )
        .route(
            Get,
            "/api/v1/contacts/export",
            Perm(P::ContactsExport),
            contacts::export,
        )
        .route(
            Get,
            "/api/v1/contacts/{id}",
            Perm(P::ContactsRead),
            contacts::get,
        )
        .route(
            Patch,
            "/api/v1/contacts/{id}",
            Perm(P::ContactsWrite),
            contacts::update,
        )
        .route(
            Delete,
            "/api/v1/contacts/{id}",
            Perm(P::DataErase),
            contacts::erase,
        )
        .route(
            Get,
            "/api/v1/contacts/{id}/consent",
            Perm(P::ContactsRead),
            contacts::consent,
        )
        .route(
            Post,
            "/api/v1/contacts/{id}/consent",
            Perm(P::ConsentWrite),
            contacts::record_consent,
        )
        // full exports (GDPR Art. 15 and 20)
        .route(
            Post,
            "/api/v1/exports",
            Perm(P::DataExport),
            exports::create,
        )
        .route(
            Get,
            "/api/v1/exports/{id}",
            Perm(P::DataExport),
            exports::get,
        )
        // opt-out keywords
        .route(
            Get,
            "/api/v1/settings/opt-out",
            Perm(P::ContactsRead),
            settings::get_opt_out,
        )
        .route(
            Put,
            "/api/v1/settings/opt-out",
            Perm(P::ConsentWrite),
            settings::put_opt_out,
        )
        // tenant security and support access
        .route(
            Get,
            "/api/v1/security",
            Perm(P::SecurityManage),
            security::get_settings,
        )
        .route(
            Put,
            "/api/v1/security",
            Perm(P::SecurityManage),
            security::put_settings,
        )
        .route(
            Get,
            "/api/v1/support-grants",
            Perm(P::SecurityManage),
            security::list_grants,
        )
        .route(
            Post,
            "/api/v1/support-grants",
            Perm(P::SecurityManage),
            security::create_grant,
        )
        .route(
            Delete,
            "/api/v1/support-grants/{id}",
            Perm(P::SecurityManage),
            security::revoke_grant,
        )
        // media
        .route_with_body_limit(
            Post,
            "/api/v1/media",
            Perm(P::MediaUpload),
            media::UPLOAD_BODY_LIMIT,
            media::upload,
        )
        .route(
            Get,
            "/api/v1/media/usage",
            Perm(P::MediaUpload),
            media::usage,
        )
        .route(Get, "/api/v1/media/{id}", Authenticated, media::get)
        .route(Get, "/api/v1/media/{id}/link", Authenticated, media::link)
        // the audit log
        .route(Get, "/api/v1/audit", Perm(P::AuditRead), audit::list)
        .route(
            Get,
            "/api/v1/audit/verify",
            Perm(P::AuditRead),
            audit::verify,
        )
        // the platform operator
        .route(Post, "/api/v1/platform/session", Public, platform::login)
        .route(
            Delete,
            "/api/v1/platform/session",
            PlatformAccount,
            platform::logout,
        )
        .route(
            Post,
            "/api/v1/platform/password",
            PlatformAccount,
            platform::change_password,
        )
        .route(
            Get,
            "/api/v1/platform/tenants",
            Platform,
            platform::list_tenants,
        )
        .route(
            Post,
            "/api/v1/platform/tenants",
            Platform,
            platform::create_tenant,
        )
        .route(
            Post,
            "/api/v1/platform/tenants/{id}/disable",
            Platform,
            platform::disable_tenant,
        )
        .route(
            Post,
            "/api/v1/platform/tenants/{id}/enable",
            Platform,
            platform::enable_tenant,
        )
        .route(
            Post,
            "/api/v1/platform/tenants/{id}/support-session",
            Platform,
            platform::support_session,
        )
        // the contract: the OpenAPI document of this table
        .route(Get, "/api/v1/openapi.json", Public, openapi::serve)
}

/// Every route of the table with its declared access (for the authorization matrix).
pub fn route_specs() -> Vec<RouteSpec> {
    table().specs().to_vec()
}

/// Routes of the public listener.
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        // Signed media links: the token is the credential.
        // Any method reaches the check, so a link used with another method is refused (403) as
        // a bad link rather than told apart (405).
        .route("/m/{token}", axum::routing::any(media::serve))
        // Export downloads: the same kind of signed link, its own path (bound into the MAC).
        .route("/x/{token}", axum::routing::any(exports::download))
        .merge(table().into_router())
}

/// Routes of the admin listener.
pub fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(health::metrics))
        .route("/healthz", get(health::healthz))
        .route("/bans", get(health::bans))
}
