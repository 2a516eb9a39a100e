//! The OpenAPI 3.1 document of the API (`GET /api/v1/openapi.json`, committed as
//! `docs/openapi.json` and diffed in CI), generated from the code:
//!
//! - the operations are the routes of [`super::table()`], walked one by one, each with the security
//!   requirement and permission its [`Access`] declares, plus the routes outside the table
//!   (`/healthz`, `/readyz`, the WhatsApp webhook);
//! - what the table does not know (a summary, the request body and query types, the answers) comes
//!   from [`table_ops`], a lookup keyed by (method, path): a route without an entry still appears,
//!   marked `x-undocumented`, and [`problems`] (checked by a test) names it;
//! - request bodies and query parameters are the handlers' own types (`utoipa::ToSchema`,
//!   `utoipa::IntoParams`);
//! - errors are one `Error` schema whose `code` enumerates [`Code::ALL`], one shared response per
//!   [`Kind`] (its status from [`status_of`], the one mapping the server uses) and the
//!   `x-error-codes` extension of `components`: every code with its status and description.
//!
//! The JSON is canonical (object keys sorted, pretty-printed, a trailing newline), so the served
//! bytes and the committed file compare exactly.

use super::table::{Access, Verb};
use super::{channels, contacts, conversations, me, platform, security};
use crate::auth::{CSRF_HEADER, PLATFORM_COOKIE, SESSION_COOKIE};
use crate::error::{ApiError, status_of};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use confide_app::audit::AuditQuery;
use confide_app::channels::{ChannelChange, NewChannelInput};
use confide_app::contacts::{ConsentInput, ContactInput, ContactQuery};
use confide_app::conversations::{ConversationQuery, MessageQuery};
use confide_app::identity::account::{PasswordAndCode, PasswordChange};
use confide_app::identity::session::Credentials;
use confide_app::keys::NewKey;
use confide_app::platform::{NewTenant, PlatformCredentials};
use confide_app::security::NewGrant;
use confide_app::team::{Invite, MemberChange, RoleInput};
use confide_app::{Code, Kind};
use confide_core::permissions::Permission;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use utoipa::openapi::extensions::{Extensions, ExtensionsBuilder};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Required, ResponsesBuilder, SecurityRequirement,
};
use utoipa::{IntoParams, ToSchema};

/// `GET /api/v1/openapi.json`: this document (public; built once per process).
pub async fn serve() -> Result<Response, ApiError> {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let text = match DOCUMENT.get() {
        Some(text) => text.as_str(),
        None => {
            let text = document_json().map_err(|e| {
                tracing::error!(error = %e, "the OpenAPI document does not serialize");
                ApiError::internal()
            })?;
            DOCUMENT.get_or_init(|| text).as_str()
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

/// The document as served and committed: canonical JSON, pretty-printed, with a trailing newline.
pub fn document_json() -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(&document()?)?;
    text.push('\n');
    Ok(text)
}

/// The document as a JSON value with its object keys sorted (utoipa keeps extensions in hash
/// maps, whose order changes from one process to the next).
pub fn document() -> Result<Value, serde_json::Error> {
    Ok(canonical(serde_json::to_value(build().0)?))
}

/// What is wrong with the metadata: a route of the table without an entry in [`table_ops`], an
/// entry naming no route, an operation id used twice, two body types with one schema name.
/// Empty when the document covers the API.
pub fn problems() -> Vec<String> {
    build().1
}

/// The routes outside the route table that the document lists: (method, path).
pub fn extra_routes() -> Vec<(Method, &'static str)> {
    extra_ops()
        .into_iter()
        .map(|o| (o.method, o.path))
        .collect()
}

/// Who may call an operation.
#[derive(Clone, Copy)]
enum Guard {
    /// A route of the table, behind the guard for its access.
    Table(Access),
    /// A route outside the table that authenticates itself (a webhook) or not at all.
    Open,
}

/// How a success answer's body looks.
#[derive(Clone, Copy)]
enum Content {
    Json,
    Text,
    Empty,
}

struct Answer {
    status: u16,
    description: &'static str,
    content: Content,
}

/// A schema and the schemas it refers to, named for `components.schemas`.
struct NamedSchema {
    name: String,
    schema: RefOr<Schema>,
    refs: Vec<(String, RefOr<Schema>)>,
}

fn named<T: ToSchema>() -> NamedSchema {
    let mut refs = Vec::new();
    T::schemas(&mut refs);
    NamedSchema {
        name: T::name().into_owned(),
        schema: T::schema(),
        refs,
    }
}

fn query_params<T: IntoParams>() -> Vec<Parameter> {
    T::into_params(|| Some(ParameterIn::Query))
}

/// What the document says about one operation beyond what the route table declares.
struct Op {
    method: Method,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: &'static str,
    body: Option<fn() -> NamedSchema>,
    query: Option<fn() -> Vec<Parameter>>,
    /// Parameters other than the path's and the query type's (webhook headers and query).
    params: Vec<Parameter>,
    answers: Vec<Answer>,
    /// Codes worth naming for this operation (beyond the ones its access, body and path imply).
    errors: &'static [Code],
}

fn op(
    verb: Verb,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
) -> Op {
    Op {
        method: verb.method(),
        path,
        id,
        tag,
        summary,
        description: "",
        body: None,
        query: None,
        params: Vec::new(),
        answers: Vec::new(),
        errors: &[],
    }
}

impl Op {
    fn doc(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    fn body<T: ToSchema>(mut self) -> Self {
        self.body = Some(named::<T>);
        self
    }

    fn query<T: IntoParams>(mut self) -> Self {
        self.query = Some(query_params::<T>);
        self
    }

    fn param(mut self, at: ParameterIn, name: &str, required: bool, description: &str) -> Self {
        self.params.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(at)
                .required(if required {
                    Required::True
                } else {
                    Required::False
                })
                .description(Some(description))
                .schema(Some(string()))
                .build(),
        );
        self
    }

    fn answer(mut self, status: u16, description: &'static str, content: Content) -> Self {
        self.answers.push(Answer {
            status,
            description,
            content,
        });
        self
    }

    fn ok(self, description: &'static str) -> Self {
        self.answer(200, description, Content::Json)
    }

    fn created(self, description: &'static str) -> Self {
        self.answer(201, description, Content::Json)
    }

    fn no_content(self, description: &'static str) -> Self {
        self.answer(204, description, Content::Empty)
    }

    fn errors(mut self, codes: &'static [Code]) -> Self {
        self.errors = codes;
        self
    }
}

/// The metadata of every route of the table, keyed by (method, path).
fn table_ops() -> Vec<Op> {
    use Code as C;
    use Verb::*;
    vec![
        // sign-in and sessions
        op(Post, "/api/v1/session", "session_create", "session", "Sign in")
            .doc("Checks the email, password and (when the account has 2FA) the code, and sets the `__Host-confide_session` cookie. Unknown emails and wrong passwords answer alike; repeated failures are throttled (429 with `Retry-After`).")
            .body::<Credentials>()
            .ok("The session: `{\"session_id\",\"user_id\",\"tenant_id\",\"csrf_token\",\"expires_at\",\"must_change_password\",\"two_factor_enrolment_required\"}`, and its cookie.")
            .errors(&[C::InvalidCredentials, C::TotpRequired, C::TooManyAttempts]),
        op(Delete, "/api/v1/session", "session_delete", "session", "Sign out")
            .doc("Deletes the server-side session and clears its cookie.")
            .no_content("Signed out."),
        op(Get, "/api/v1/sessions", "sessions_list", "session", "List my sessions")
            .ok("`{\"sessions\":[{\"id\",\"created_at\",\"last_seen_at\",\"expires_at\",\"user_agent\",\"ip\",\"current\"}]}`."),
        op(Delete, "/api/v1/sessions", "sessions_end_others", "session", "End my other sessions")
            .ok("`{\"ended\":N}`."),
        op(Delete, "/api/v1/sessions/{id}", "sessions_end_one", "session", "End one of my sessions")
            .doc("Another user's session id is `not_found`.")
            .no_content("Ended."),
        // my account
        op(Get, "/api/v1/me", "me_get", "account", "Who I am")
            .doc("The caller (a member, an API key or a support session), their tenant, role and permissions, the session's CSRF token, and what they still owe (`pending`: `password_change`, `two_factor_enrolment` or null).")
            .ok("`{\"kind\",\"user\",\"tenant\",\"role\",\"permissions\",\"csrf_token\",\"pending\"}`."),
        op(Post, "/api/v1/me/password", "me_change_password", "account", "Change my password")
            .doc("Needs the current password (checked under the sign-in throttle); my other sessions end.")
            .body::<PasswordChange>()
            .no_content("Changed.")
            .errors(&[
                C::WrongPassword,
                C::PasswordUnchanged,
                C::PasswordTooShort,
                C::PasswordTooLong,
                C::PasswordTooCommon,
                C::PasswordContainsEmail,
                C::TooManyAttempts,
            ]),
        op(Post, "/api/v1/me/2fa/enroll", "me_2fa_enroll", "account", "Start two-factor enrolment")
            .doc("A new TOTP secret to scan; not active until confirmed.")
            .body::<me::PasswordOnly>()
            .ok("`{\"secret\",\"otpauth_uri\"}`.")
            .errors(&[C::WrongPassword, C::TwoFactorEnabled, C::TooManyAttempts]),
        op(Post, "/api/v1/me/2fa/confirm", "me_2fa_confirm", "account", "Confirm two-factor enrolment")
            .doc("Turns 2FA on with a code from the new secret; returns the recovery codes, once. My other sessions end.")
            .body::<me::CodeOnly>()
            .ok("`{\"recovery_codes\":[...]}`.")
            .errors(&[C::NoEnrolment, C::InvalidCode]),
        op(Post, "/api/v1/me/2fa/disable", "me_2fa_disable", "account", "Turn two-factor authentication off")
            .doc("Refused while the tenant requires 2FA.")
            .body::<PasswordAndCode>()
            .no_content("Turned off.")
            .errors(&[
                C::WrongPassword,
                C::InvalidCode,
                C::TwoFactorDisabled,
                C::TwoFactorRequired,
                C::TooManyAttempts,
            ]),
        op(Post, "/api/v1/me/2fa/recovery-codes", "me_2fa_recovery_codes", "account", "New recovery codes")
            .doc("Ten new recovery codes; the old ones stop working.")
            .body::<PasswordAndCode>()
            .ok("`{\"recovery_codes\":[...]}`.")
            .errors(&[
                C::WrongPassword,
                C::InvalidCode,
                C::TwoFactorDisabled,
                C::TooManyAttempts,
            ]),
        // team, roles, keys
        op(Get, "/api/v1/users", "users_list", "team", "List team members")
            .ok("`{\"users\":[{\"id\",\"email\",\"role_id\",\"status\",\"two_factor_enabled\",\"must_change_password\",\"created_at\",\"updated_at\"}]}`."),
        op(Post, "/api/v1/users", "users_create", "team", "Invite a team member")
            .doc("Nobody grants a role with permissions they do not hold; handing out a powerful role needs a recent sign-in.")
            .body::<Invite>()
            .created("`{\"user\":{...},\"one_time_password\"}`: the one-time password is shown only here.")
            .errors(&[C::InvalidEmail, C::InvalidRole, C::Conflict, C::ReauthenticationRequired]),
        op(Patch, "/api/v1/users/{id}", "users_update", "team", "Change a team member")
            .doc("Role, status (`active`/`disabled`) or a password reset (the new one-time password is returned once). The last active owner stays.")
            .body::<MemberChange>()
            .ok("`{\"user\":{...},\"one_time_password\"?}`.")
            .errors(&[C::InvalidRole, C::InvalidStatus, C::LastOwner, C::ReauthenticationRequired]),
        op(Delete, "/api/v1/users/{id}", "users_delete", "team", "Remove a team member")
            .no_content("Removed.")
            .errors(&[C::LastOwner]),
        op(Get, "/api/v1/permissions", "permissions_list", "team", "List the permissions")
            .ok("`{\"permissions\":[{\"name\",\"description\"}]}`."),
        op(Get, "/api/v1/roles", "roles_list", "team", "List roles")
            .ok("`{\"roles\":[{\"id\",\"name\",\"permissions\",\"builtin\",\"created_at\"}]}`."),
        op(Post, "/api/v1/roles", "roles_create", "team", "Create a custom role")
            .body::<RoleInput>()
            .created("The role.")
            .errors(&[C::InvalidName, C::UnknownPermission, C::Conflict]),
        op(Patch, "/api/v1/roles/{id}", "roles_update", "team", "Change a custom role")
            .body::<RoleInput>()
            .ok("The role.")
            .errors(&[C::InvalidName, C::UnknownPermission, C::BuiltinRole, C::Conflict]),
        op(Delete, "/api/v1/roles/{id}", "roles_delete", "team", "Delete a custom role")
            .doc("Only a custom role that no member or key holds.")
            .no_content("Deleted.")
            .errors(&[C::BuiltinRole, C::RoleInUse]),
        op(Get, "/api/v1/api-keys", "api_keys_list", "api-keys", "List API keys")
            .ok("`{\"api_keys\":[{\"id\",\"name\",\"role_id\",\"created_at\",\"last_used_at\",\"revoked_at\"}]}`."),
        op(Post, "/api/v1/api-keys", "api_keys_create", "api-keys", "Create an API key")
            .body::<NewKey>()
            .created("`{\"id\",\"key\",\"api_key\":{...}}`: the key is shown only here.")
            .errors(&[C::InvalidName, C::InvalidRole]),
        op(Delete, "/api/v1/api-keys/{id}", "api_keys_revoke", "api-keys", "Revoke an API key")
            .no_content("Revoked."),
        // channels
        op(Get, "/api/v1/channels", "channels_list", "channels", "List channels")
            .ok("`{\"channels\":[{\"id\",\"phone_number_id\",\"waba_id\",\"display_phone_number\",\"graph_base_url\",\"status\",\"rotating_secret\",\"health\",\"health_detail\",\"webhook_path\",\"created_at\"}]}`; secrets are never returned."),
        op(Post, "/api/v1/channels", "channels_create", "channels", "Connect a WhatsApp number")
            .doc("`phone_number_id` is unique within the tenant only. `graph_base_url` defaults to Meta's and must be one of the operator's `graph_allowed_origins`. The token is checked with Graph in the background (`health`).")
            .body::<NewChannelInput>()
            .created("The channel (no secrets) and its `webhook_path`.")
            .errors(&[C::InvalidChannel, C::InvalidGraphBaseUrl, C::GraphOriginNotAllowed, C::Conflict]),
        op(Get, "/api/v1/channels/{id}", "channels_get", "channels", "Read a channel")
            .ok("The channel (no secrets)."),
        op(Patch, "/api/v1/channels/{id}", "channels_update", "channels", "Change a channel")
            .body::<ChannelChange>()
            .ok("The channel (no secrets).")
            .errors(&[C::InvalidChannel, C::InvalidGraphBaseUrl, C::GraphOriginNotAllowed]),
        op(Delete, "/api/v1/channels/{id}", "channels_delete", "channels", "Delete a channel")
            .no_content("Deleted."),
        op(Post, "/api/v1/channels/{id}/rotate-secret", "channels_rotate_secret", "channels", "Start rotating the app secret")
            .doc("Both the old and the new secret verify webhooks until `finish-rotation`.")
            .body::<channels::RotateBody>()
            .ok("The channel (no secrets).")
            .errors(&[C::InvalidChannel]),
        op(Post, "/api/v1/channels/{id}/finish-rotation", "channels_finish_rotation", "channels", "Finish rotating the app secret")
            .doc("Only the new secret verifies from now on.")
            .ok("The channel (no secrets)."),
        // the inbox
        op(Get, "/api/v1/conversations", "conversations_list", "inbox", "List conversations")
            .doc("Most recent activity first, keyset-paginated.")
            .query::<ConversationQuery>()
            .ok("`{\"conversations\":[...],\"next_cursor\":...}`.")
            .errors(&[C::InvalidQuery, C::InvalidStatusFilter, C::InvalidAssigneeFilter, C::InvalidCursor, C::InvalidLimit]),
        op(Post, "/api/v1/conversations", "conversations_start", "inbox", "Start (or find) a conversation")
            .doc("The open conversation for the contact and channel, to start a business-initiated thread.")
            .body::<conversations::StartBody>()
            .ok("It was already open: the conversation.")
            .created("Opened now: the conversation.")
            .errors(&[C::InvalidContact, C::InvalidChannel]),
        op(Get, "/api/v1/conversations/{id}", "conversations_get", "inbox", "Read a conversation")
            .ok("`{\"id\",\"contact_id\",\"channel_id\",\"status\",\"assignee\",\"last_message_at\",\"last_inbound_at\",\"created_at\",\"window_open_until\",\"contact\":{...}}`."),
        op(Patch, "/api/v1/conversations/{id}", "conversations_update", "inbox", "Assign, resolve or reopen a conversation")
            .doc("Reopening is refused (409 `conflict`) when the contact already has an open conversation on the channel.")
            .body::<conversations::PatchBody>()
            .ok("The conversation.")
            .errors(&[C::InvalidStatus, C::InvalidAssignee, C::Conflict]),
        op(Get, "/api/v1/conversations/{id}/messages", "conversations_messages", "inbox", "List a conversation's messages")
            .doc("Newest first, keyset-paginated.")
            .query::<MessageQuery>()
            .ok("`{\"messages\":[{\"id\",\"conversation_id\",\"direction\",\"wamid\",\"kind\",\"body\",\"status\",\"created_at\",\"media\"}],\"next_cursor\":...}`.")
            .errors(&[C::InvalidQuery, C::InvalidCursor, C::InvalidLimit]),
        // contacts
        op(Get, "/api/v1/contacts", "contacts_list", "contacts", "List or search contacts")
            .doc("Newest first, keyset-paginated. `q` looks a contact up exactly through the blind indexes (personal data is sealed at rest).")
            .query::<ContactQuery>()
            .ok("`{\"contacts\":[...],\"next_cursor\":...}`.")
            .errors(&[C::InvalidQuery, C::UnsearchableQuery, C::InvalidCursor, C::InvalidLimit]),
        op(Post, "/api/v1/contacts", "contacts_create", "contacts", "Create a contact")
            .body::<ContactInput>()
            .created("`{\"id\",\"phone\",\"wa_user_id\",\"username\",\"name\",\"labels\",\"attributes\",\"created_at\",\"updated_at\"}`.")
            .errors(&[C::InvalidPhone, C::InvalidName, C::InvalidLabels, C::InvalidAttributes, C::Conflict]),
        op(Get, "/api/v1/contacts/{id}", "contacts_get", "contacts", "Read a contact")
            .ok("The contact."),
        op(Patch, "/api/v1/contacts/{id}", "contacts_update", "contacts", "Change a contact")
            .doc("Validated as on create; 409 `conflict` when the phone is another contact's.")
            .body::<contacts::PatchBody>()
            .ok("The contact.")
            .errors(&[C::InvalidPhone, C::InvalidName, C::InvalidLabels, C::InvalidAttributes, C::Conflict]),
        op(Get, "/api/v1/contacts/{id}/consent", "contacts_consent", "contacts", "Read a contact's consent ledger")
            .ok("`{\"contact_id\",\"events\":[{\"id\",\"purpose\",\"status\",\"source\",\"evidence\",\"actor\",\"created_at\"}],\"current\":{purpose: status|null}}`, events oldest first."),
        op(Post, "/api/v1/contacts/{id}/consent", "contacts_record_consent", "contacts", "Record an opt-in or opt-out")
            .doc("The ledger is append-only.")
            .body::<ConsentInput>()
            .created("The appended event.")
            .errors(&[C::InvalidPurpose, C::InvalidStatus, C::InvalidSource, C::InvalidEvidence]),
        // tenant security
        op(Get, "/api/v1/security", "security_get", "security", "Read the security settings")
            .ok("`{\"require_2fa\"}`."),
        op(Put, "/api/v1/security", "security_put", "security", "Change the security settings")
            .doc("People only, signed in within the last 15 minutes.")
            .body::<security::Settings>()
            .ok("`{\"require_2fa\"}`.")
            .errors(&[C::ReauthenticationRequired]),
        op(Get, "/api/v1/support-grants", "support_grants_list", "security", "List support grants")
            .ok("`{\"support_grants\":[{\"id\",\"platform_admin_id\",\"role_id\",\"created_by\",\"created_at\",\"expires_at\",\"revoked_at\"}]}`."),
        op(Post, "/api/v1/support-grants", "support_grants_create", "security", "Grant support access")
            .doc("Lets one platform administrator act in this tenant with a role, for at most 72 hours. People only, signed in within the last 15 minutes; audited; revocable.")
            .body::<NewGrant>()
            .created("The grant.")
            .errors(&[C::UnknownAdmin, C::InvalidRole, C::InvalidHours, C::ReauthenticationRequired]),
        op(Delete, "/api/v1/support-grants/{id}", "support_grants_revoke", "security", "Revoke a support grant")
            .doc("Ends the support sessions it allowed.")
            .no_content("Revoked."),
        // the audit log
        op(Get, "/api/v1/audit", "audit_list", "audit", "List the audit log")
            .doc("Newest first, keyset-paginated.")
            .query::<AuditQuery>()
            .ok("`{\"entries\":[{\"seq\",\"at\",\"actor\",\"action\",\"target\",\"details\",\"hash\"}],\"next_cursor\":...}`.")
            .errors(&[C::InvalidQuery, C::InvalidCursor, C::InvalidLimit]),
        op(Get, "/api/v1/audit/verify", "audit_verify", "audit", "Verify the audit chain")
            .doc("A broken chain is the answer, not an error.")
            .ok("`{\"ok\":true,\"entries\":N}` or `{\"ok\":false,\"entries\":N,\"break\":{\"seq\",\"kind\",\"message\"}}`."),
        // the platform operator
        op(Post, "/api/v1/platform/session", "platform_session_create", "platform", "Platform administrator sign-in")
            .doc("A separate identity and cookie (`__Host-confide_platform`); throttled like tenant sign-in, with the same answers.")
            .body::<PlatformCredentials>()
            .ok("`{\"session_id\",\"admin_id\",\"csrf_token\",\"must_change_password\"}`, and the cookie.")
            .errors(&[C::InvalidCredentials, C::TooManyAttempts]),
        op(Delete, "/api/v1/platform/session", "platform_session_delete", "platform", "Platform administrator sign-out")
            .no_content("Signed out."),
        op(Post, "/api/v1/platform/password", "platform_change_password", "platform", "Change the platform administrator's password")
            .doc("The current password is checked under the platform sign-in throttle.")
            .body::<platform::PasswordChange>()
            .no_content("Changed.")
            .errors(&[
                C::WrongPassword,
                C::PasswordUnchanged,
                C::PasswordTooShort,
                C::PasswordTooLong,
                C::PasswordTooCommon,
                C::PasswordContainsEmail,
                C::TooManyAttempts,
            ]),
        op(Get, "/api/v1/platform/tenants", "platform_tenants_list", "platform", "List tenants")
            .doc("Metadata only.")
            .ok("`{\"tenants\":[{\"id\",\"name\",\"status\",\"created_at\"}]}`."),
        op(Post, "/api/v1/platform/tenants", "platform_tenants_create", "platform", "Create a tenant")
            .body::<NewTenant>()
            .created("`{\"tenant_id\",\"owner_user_id\",\"owner_password\"}`: a one-time password the owner must change.")
            .errors(&[C::InvalidName, C::InvalidEmail, C::Conflict]),
        op(Post, "/api/v1/platform/tenants/{id}/disable", "platform_tenants_disable", "platform", "Disable a tenant")
            .no_content("Disabled."),
        op(Post, "/api/v1/platform/tenants/{id}/enable", "platform_tenants_enable", "platform", "Enable a tenant")
            .no_content("Enabled."),
        op(Post, "/api/v1/platform/tenants/{id}/support-session", "platform_support_session", "platform", "Start a support session")
            .doc("Only with an active grant from that tenant to this administrator; the session carries the grant's role and ends with it. Sets the tenant session cookie.")
            .ok("`{\"session_id\",\"tenant_id\",\"grant_id\",\"csrf_token\",\"expires_at\"}`."),
        // the contract
        op(Get, "/api/v1/openapi.json", "openapi", "meta", "This OpenAPI document")
            .doc("Generated from the route table and the handlers' types; committed as `docs/openapi.json`.")
            .ok("The OpenAPI 3.1 document."),
    ]
}

/// The routes outside the table: health checks and the WhatsApp webhook.
fn extra_ops() -> Vec<Op> {
    use Code as C;
    use Verb::*;
    vec![
        op(Get, "/healthz", "healthz", "health", "Liveness")
            .doc("The process answers.")
            .ok("`{\"status\":\"ok\"}`."),
        op(Get, "/readyz", "readyz", "health", "Readiness")
            .doc("The database answers and its migrations are current.")
            .ok("`{\"status\":\"ready\",\"database\":...}`.")
            .errors(&[C::NotReady, C::Unavailable]),
        op(Get, "/webhooks/whatsapp/{channel_id}", "webhook_verify", "webhooks", "Webhook verification handshake")
            .doc("Meta's subscription handshake: the challenge is echoed when the channel exists, `hub.mode` is `subscribe` and `hub.verify_token` matches.")
            .param(ParameterIn::Query, "hub.mode", false, "`subscribe`.")
            .param(ParameterIn::Query, "hub.verify_token", false, "The channel's verify token.")
            .param(ParameterIn::Query, "hub.challenge", false, "The text to echo (at most 256 characters).")
            .answer(200, "The challenge, as `text/plain`.", Content::Text)
            .answer(403, "Refused: the text `forbidden`.", Content::Text)
            .errors(&[C::Internal, C::Unavailable]),
        op(Post, "/webhooks/whatsapp/{channel_id}", "webhook_receive", "webhooks", "Signed webhook delivery")
            .doc("Meta's delivery, signed with the channel's app secret. The body is at most 3 MB. 200 only once the delivery is committed; 503 `busy` asks Meta to retry.")
            .param(ParameterIn::Header, "X-Hub-Signature-256", true, "`sha256=` and the hex HMAC-SHA256 of the body with the channel's app secret.")
            .ok("`{\"status\":\"ok\"}`: stored.")
            .errors(&[
                C::BadRequest,
                C::BadPayload,
                C::BadSignature,
                C::NotFound,
                C::PayloadTooLarge,
                C::Busy,
                C::Unavailable,
                C::Internal,
            ]),
    ]
}

const TAGS: &[(&str, &str)] = &[
    ("session", "Sign-in and sessions of team members."),
    (
        "account",
        "The caller's own account: password and second factor.",
    ),
    ("team", "Team members, roles and permissions."),
    ("api-keys", "API keys for integrations."),
    ("channels", "WhatsApp business numbers."),
    ("inbox", "Conversations and their messages."),
    ("contacts", "The contact book and consent ledgers."),
    ("security", "Tenant security settings and support access."),
    ("audit", "The tenant's audit log."),
    ("platform", "The platform operator (separate identity)."),
    ("meta", "This document."),
    ("health", "Liveness and readiness (no authentication)."),
    (
        "webhooks",
        "Meta's webhook deliveries (signed, no session).",
    ),
];

const SESSION: &str = "session_cookie";
const API_KEY: &str = "api_key";
const PLATFORM: &str = "platform_cookie";
const CSRF: &str = "csrf_token";

fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn http_method(m: &Method) -> Option<HttpMethod> {
    Some(match *m {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        Method::TRACE => HttpMethod::Trace,
        _ => return None,
    })
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn no_scopes() -> Vec<String> {
    Vec::new()
}

/// The security requirement an access implies (alternatives; each one all of its schemes).
fn security_of(guard: Guard, method: &Method) -> Vec<SecurityRequirement> {
    let cookie = |scheme: &str| {
        let r = SecurityRequirement::new(scheme, no_scopes());
        if changes_state(method) {
            r.add(CSRF, no_scopes())
        } else {
            r
        }
    };
    match guard {
        Guard::Open | Guard::Table(Access::Public) => Vec::new(),
        Guard::Table(Access::Account) => vec![cookie(SESSION)],
        Guard::Table(Access::Authenticated | Access::Perm(_)) => vec![
            cookie(SESSION),
            SecurityRequirement::new(API_KEY, no_scopes()),
        ],
        Guard::Table(Access::Platform | Access::PlatformAccount) => vec![cookie(PLATFORM)],
    }
}

/// `x-access` and, for a permission, `x-permission`, and a sentence for the description.
fn access_of(guard: Guard, method: &Method) -> (&'static str, Option<Permission>, String) {
    match guard {
        Guard::Open => (
            "public",
            None,
            "No session: open to anyone (a webhook authenticates by its signature).".into(),
        ),
        Guard::Table(Access::Public) if changes_state(method) => (
            "public",
            None,
            "Public: no credentials. A browser's call must come from this origin (`Origin`/`Referer`), else 403 `csrf`.".into(),
        ),
        Guard::Table(Access::Public) => ("public", None, "Public: no credentials.".into()),
        Guard::Table(Access::Account) => (
            "account",
            None,
            "The signed-in member's own account (session cookie only: API keys and support sessions get 403 `forbidden`), allowed even while they owe a password change or 2FA enrolment.".into(),
        ),
        Guard::Table(Access::Authenticated) => (
            "authenticated",
            None,
            "Any principal of the tenant: a session cookie or an API key.".into(),
        ),
        Guard::Table(Access::Perm(p)) => (
            "permission",
            Some(p),
            format!(
                "Requires the `{}` permission ({}): a session cookie or an API key.",
                p.as_str(),
                p.description().trim_end_matches('.')
            ),
        ),
        Guard::Table(Access::Platform) => (
            "platform",
            None,
            "A platform administrator (platform cookie) who has changed their one-time password.".into(),
        ),
        Guard::Table(Access::PlatformAccount) => (
            "platform_account",
            None,
            "A platform administrator (platform cookie), even one who still owes a password change.".into(),
        ),
    }
}

/// The name of a kind's shared response in `components.responses`.
fn kind_name(kind: Kind) -> String {
    format!("{kind:?}")
}

/// Every kind that has codes, in the order of [`Code::ALL`].
fn kinds() -> Vec<Kind> {
    let mut out: Vec<Kind> = Vec::new();
    for c in Code::ALL {
        if !out.contains(&c.kind()) {
            out.push(c.kind());
        }
    }
    out
}

fn status_u16(kind: Kind) -> u16 {
    status_of(kind).as_u16()
}

/// The error kinds an operation may answer with.
fn error_kinds(guard: Guard, o: &Op) -> Vec<Kind> {
    let mut out = Vec::new();
    if let Guard::Table(access) = guard {
        if access != Access::Public {
            out.push(Kind::Unauthenticated);
            out.push(Kind::Forbidden);
        } else if changes_state(&o.method) {
            out.push(Kind::Forbidden);
        }
        if o.body.is_some() || o.query.is_some() {
            out.push(Kind::BadRequest);
        }
        if o.path.contains('{') {
            out.push(Kind::NotFound);
        }
        out.push(Kind::Internal);
        out.push(Kind::Unavailable);
    }
    out.extend(o.errors.iter().map(|c| c.kind()));
    out
}

/// The path parameters of a path template (`{id}` and the like).
fn path_params(path: &str) -> Vec<Parameter> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        let description = match (name, i.checked_sub(1).and_then(|j| segments.get(j))) {
            ("channel_id", _) => "The channel's id (its `webhook_path`).".to_string(),
            (_, Some(collection)) => {
                let what = collection.strip_suffix('s').unwrap_or(collection);
                format!(
                    "The {}'s id. An id of another tenant is 404 `not_found`.",
                    what.replace('-', " ")
                )
            }
            (_, None) => "An id.".to_string(),
        };
        out.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(string()))
                .build(),
        );
    }
    out
}

fn error_ref() -> Ref {
    Ref::from_schema_name("Error")
}

/// The `Error` schema: `{"error":{"code","message"}}` with every code.
fn error_schema() -> ObjectBuilder {
    let mut codes: Vec<&str> = Vec::new();
    for c in Code::ALL {
        if !codes.contains(&c.as_str()) {
            codes.push(c.as_str());
        }
    }
    let inner = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "code",
            string()
                .description(Some(
                    "A stable snake_case code (see `x-error-codes` in `components`).",
                ))
                .enum_values(Some(codes)),
        )
        .required("code")
        .property(
            "message",
            string().description(Some("A plain sentence for the person calling.")),
        )
        .required("message");
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "Every error answer: a stable code and a plain message (details go to the server log with the request id, never here).",
        ))
        .property("error", inner)
        .required("error")
}

/// The shared response of one kind: its status and every code of that kind.
fn kind_response(kind: Kind) -> utoipa::openapi::Response {
    let status = status_of(kind);
    let codes: Vec<String> = Code::ALL
        .iter()
        .filter(|c| c.kind() == kind)
        .map(|c| format!("`{}`: {}", c.as_str(), c.description()))
        .collect();
    let listed: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| c.kind() == kind)
        .map(|c| c.as_str())
        .collect();
    let response = if kind == Kind::TooManyRequests {
        ResponseBuilder::new().header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some("Seconds to wait before trying again."))
                .build(),
        )
    } else {
        ResponseBuilder::new()
    };
    response
        .description(format!(
            "{} {}. The code is one of:\n\n- {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            codes.join("\n- ")
        ))
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(error_ref())).build(),
        )
        .extensions(Some(
            ExtensionsBuilder::new()
                .add("x-error-codes", json!(listed))
                .build(),
        ))
        .build()
}

fn object_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

/// The document, and what is wrong with its metadata (see [`problems`]).
fn build() -> (OpenApi, Vec<String>) {
    let mut problems = Vec::new();
    let mut paths = Paths::new();
    let mut schemas: BTreeMap<String, RefOr<Schema>> = BTreeMap::new();
    let mut ids = BTreeSet::new();

    let mut add_schema = |problems: &mut Vec<String>, name: String, schema: RefOr<Schema>| {
        match schemas.get(&name) {
            Some(existing) if *existing != schema => {
                problems.push(format!("two different schemas are named {name}"));
            }
            Some(_) => {}
            None => {
                schemas.insert(name, schema);
            }
        }
    };

    let table_specs = super::table().specs().to_vec();
    let mut known = table_ops();
    let mut entries: Vec<(Guard, Op)> = Vec::new();
    for spec in &table_specs {
        let found = known
            .iter()
            .position(|o| o.method == spec.method && o.path == spec.path);
        let o = match found {
            Some(i) => known.swap_remove(i),
            None => {
                problems.push(format!(
                    "{} {} has no entry in api::openapi::table_ops",
                    spec.method, spec.path
                ));
                let mut o = op(Verb::Get, spec.path, "", "", "");
                o.method = spec.method.clone();
                o
            }
        };
        entries.push((Guard::Table(spec.access), o));
    }
    for stale in &known {
        problems.push(format!(
            "api::openapi::table_ops describes {} {}, which is not in the route table",
            stale.method, stale.path
        ));
    }
    entries.extend(extra_ops().into_iter().map(|o| (Guard::Open, o)));

    for (guard, o) in entries {
        let Some(method) = http_method(&o.method) else {
            problems.push(format!("{} {}: no OpenAPI method", o.method, o.path));
            continue;
        };
        let undocumented = o.id.is_empty();
        if !undocumented && !ids.insert(o.id) {
            problems.push(format!("operation id {} is used twice", o.id));
        }
        let (access, permission, access_text) = access_of(guard, &o.method);
        let mut description = String::new();
        if !o.description.is_empty() {
            description.push_str(o.description);
            description.push_str("\n\n");
        }
        description.push_str(&access_text);
        if !o.errors.is_empty() {
            let named: Vec<String> = o
                .errors
                .iter()
                .map(|c| format!("`{}` ({})", c.as_str(), status_u16(c.kind())))
                .collect();
            description.push_str(&format!("\n\nNotable errors: {}.", named.join(", ")));
        }

        let mut ext = ExtensionsBuilder::new().add("x-access", access);
        if let Some(p) = permission {
            ext = ext.add("x-permission", p.as_str());
        }
        if !o.errors.is_empty() {
            let listed: Vec<Value> = o
                .errors
                .iter()
                .map(|c| json!({"code": c.as_str(), "status": status_u16(c.kind())}))
                .collect();
            ext = ext.add("x-error-codes", listed);
        }
        if undocumented {
            ext = ext.add("x-undocumented", true);
        }

        let mut parameters = path_params(o.path);
        if let Some(q) = o.query {
            parameters.extend(q());
        }
        parameters.extend(o.params.iter().cloned());

        let mut responses = ResponsesBuilder::new();
        let mut statuses = BTreeSet::new();
        for a in &o.answers {
            statuses.insert(a.status);
            let r = ResponseBuilder::new().description(a.description);
            let r = match a.content {
                Content::Json => r.content(
                    "application/json",
                    ContentBuilder::new().schema(Some(object_schema())).build(),
                ),
                Content::Text => r.content(
                    "text/plain",
                    ContentBuilder::new().schema(Some(string())).build(),
                ),
                Content::Empty => r,
            };
            responses = responses.response(a.status.to_string(), r.build());
        }
        if o.answers.is_empty() {
            responses = responses.response(
                "200",
                ResponseBuilder::new().description("Success (undocumented)."),
            );
        }
        for kind in error_kinds(guard, &o) {
            let status = status_u16(kind);
            if statuses.insert(status) {
                responses = responses
                    .response(status.to_string(), Ref::from_response_name(kind_name(kind)));
            }
        }

        let mut operation = OperationBuilder::new()
            .summary(Some(if undocumented {
                format!("{} {} (undocumented)", o.method, o.path)
            } else {
                o.summary.to_string()
            }))
            .description(Some(description))
            .parameters(Some(parameters))
            .responses(responses.build())
            .securities(Some(security_of(guard, &o.method)))
            .extensions(Some(ext.build()));
        if !undocumented {
            operation = operation.operation_id(Some(o.id)).tag(o.tag);
        }
        if let Some(body) = o.body {
            let b = body();
            add_schema(&mut problems, b.name.clone(), b.schema);
            for (name, schema) in b.refs {
                add_schema(&mut problems, name, schema);
            }
            operation = operation.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(b.name)))
                            .build(),
                    )
                    .build(),
            ));
        }
        paths.add_path_operation(o.path, vec![method], operation.build());
    }

    add_schema(&mut problems, "Error".into(), error_schema().into());
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "A team member's session, set by `POST /api/v1/session`. A state change also sends the session's `csrf_token` in `x-csrf-token` and a same-origin `Origin` (or `Referer`).",
            ))),
        )
        .security_scheme(
            API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <api key>` (from `POST /api/v1/api-keys`): no cookie, no CSRF token.",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            PLATFORM,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                PLATFORM_COOKIE,
                "A platform administrator's session, set by `POST /api/v1/platform/session`; state changes need `x-csrf-token` and a same-origin `Origin` as for the session cookie.",
            ))),
        )
        .security_scheme(
            CSRF,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                CSRF_HEADER,
                "The `csrf_token` of the cookie's session, on every cookie-authenticated state change (with a same-origin `Origin` or `Referer`), else 403 `csrf`.",
            ))),
        );
    for kind in kinds() {
        components = components.response(kind_name(kind), kind_response(kind));
    }
    for (name, schema) in schemas {
        components = components.schema(name, schema);
    }
    let error_codes: Vec<Value> = Code::ALL
        .iter()
        .map(|c| {
            json!({
                "code": c.as_str(),
                "status": status_u16(c.kind()),
                "description": c.description(),
            })
        })
        .collect();
    let permissions: Vec<Value> = Permission::ALL
        .iter()
        .map(|p| json!({"name": p.as_str(), "description": p.description()}))
        .collect();
    let extensions: Extensions = ExtensionsBuilder::new()
        .add("x-error-codes", error_codes)
        .add("x-permissions", permissions)
        .build();
    let components = components.extensions(Some(extensions)).build();

    let info = InfoBuilder::new()
        .title("Confide API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "The HTTP API of Confide, a self-hosted WhatsApp Business inbox. JSON under `/api/v1`, authenticated by a session cookie (with CSRF protection on state changes) or `Authorization: Bearer <api key>`. Unauthenticated is 401 `unauthenticated`, lacking a permission 403 `forbidden`, another tenant's id 404 `not_found`. Errors are always `{\"error\":{\"code\",\"message\"}}`; `components.x-error-codes` lists every code with its status. Generated from the code: `GET /api/v1/openapi.json`.",
        ))
        .build();
    let tags = TAGS
        .iter()
        .map(|(name, d)| TagBuilder::new().name(*name).description(Some(*d)).build());
    let doc = OpenApiBuilder::new()
        .info(info)
        .paths(paths)
        .components(Some(components))
        .tags(Some(tags))
        .build();
    (doc, problems)
}

/// `v` with the keys of every object sorted.
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let sorted: BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect::<Map<String, Value>>())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        v => v,
    }
}
