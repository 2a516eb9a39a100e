//! What the route table does not know about each operation: its summary, description, request
//! body and query types, answers and main error codes ([`table_ops`]), the routes outside the
//! table ([`extra_ops`]), and the tags. A lookup keyed by (method, path); the document is built
//! from it in the parent module.

use super::super::table::Verb;
use super::super::{
    broadcasts, channels, charges, contacts, conversations, me, notes, platform, security,
};
use axum::http::Method;
use confide_app::Code;
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
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, Required};
use utoipa::{IntoParams, ToSchema};

/// How a success answer's body looks.
#[derive(Clone, Copy)]
pub(super) enum Content {
    Json,
    Text,
    Empty,
}

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) description: &'static str,
    pub(super) content: Content,
}

/// A schema and the schemas it refers to, named for `components.schemas`.
pub(super) struct NamedSchema {
    pub(super) name: String,
    pub(super) schema: RefOr<Schema>,
    pub(super) refs: Vec<(String, RefOr<Schema>)>,
}

pub(super) fn named<T: ToSchema>() -> NamedSchema {
    let mut refs = Vec::new();
    T::schemas(&mut refs);
    NamedSchema {
        name: T::name().into_owned(),
        schema: T::schema(),
        refs,
    }
}

pub(super) fn query_params<T: IntoParams>() -> Vec<Parameter> {
    T::into_params(|| Some(ParameterIn::Query))
}

/// What the document says about one operation beyond what the route table declares.
pub(super) struct Op {
    pub(super) method: Method,
    pub(super) path: &'static str,
    pub(super) id: &'static str,
    pub(super) tag: &'static str,
    pub(super) summary: &'static str,
    pub(super) description: &'static str,
    pub(super) body: Option<fn() -> NamedSchema>,
    pub(super) query: Option<fn() -> Vec<Parameter>>,
    /// Parameters other than the path's and the query type's (webhook headers and query).
    pub(super) params: Vec<Parameter>,
    pub(super) answers: Vec<Answer>,
    /// Codes worth naming for this operation (beyond the ones its access, body and path imply).
    pub(super) errors: &'static [Code],
}

pub(super) fn op(
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

    fn accepted(self, description: &'static str) -> Self {
        self.answer(202, description, Content::Json)
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
pub(super) fn table_ops() -> Vec<Op> {
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
            .ok("`{\"conversations\":[{...,\"unread\"}],\"next_cursor\":...,\"unread_conversations\"}`: each conversation's `unread` counts the customer's messages since the team last opened it (`POST .../read`); `unread_conversations` (first page only) how many conversations have any.")
            .errors(&[C::InvalidQuery, C::InvalidStatusFilter, C::InvalidAssigneeFilter, C::InvalidCursor, C::InvalidLimit]),
        op(Post, "/api/v1/conversations", "conversations_start", "inbox", "Start (or find) a conversation")
            .doc("The open conversation for the contact and channel, to start a business-initiated thread.")
            .body::<conversations::StartBody>()
            .ok("It was already open: the conversation.")
            .created("Opened now: the conversation.")
            .errors(&[C::InvalidContact, C::InvalidChannel]),
        op(Get, "/api/v1/conversations/{id}", "conversations_get", "inbox", "Read a conversation")
            .ok("`{\"id\",\"contact_id\",\"channel_id\",\"status\",\"assignee\",\"last_message_at\",\"last_inbound_at\",\"created_at\",\"window_open_until\",\"unread\",\"contact\":{...}}`."),
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
        op(Post, "/api/v1/conversations/{id}/messages", "conversations_send", "inbox", "Send a message")
            .doc("Through the send gate (role, channel health, template and its parameters — body positional `params:[...]` or named `params:{name:value}`, `header` `{type:text,text}` or `{type:image|video|document, media_id|link}`, `buttons` `[{index,type:quick_reply,payload}|{index,type:url,text}]`, checked against the synced template —, consent, the 24-hour window, and the number's messaging limit for business-initiated sends), then queued for the dispatcher, which sends it to WhatsApp at the channel's pace; status webhooks move it on (`queued` → `sent` → `delivered` → `read`, or `failed` with `error` in plain words; `needs_review` when the instance sending it stopped between the hand-over to WhatsApp and its record: never sent again automatically). An `Idempotency-Key` header makes a repeated request return the first one's message and send nothing more.")
            .body::<conversations::SendBody>()
            .accepted("The queued message: `{\"id\",\"conversation_id\",\"direction\":\"outbound\",\"wamid\":null,\"kind\",\"body\",\"status\":\"queued\",\"error\",\"created_at\"}`.")
            .errors(&[C::InvalidMessage, C::OutsideWindow, C::NoConsent, C::TemplateNotApproved, C::TemplateParams, C::MessagingLimit, C::ChannelDisabled, C::NoAddress, C::Conflict]),
        op(Post, "/api/v1/conversations/{id}/read", "conversations_read", "inbox", "Mark the customer's messages read on WhatsApp")
            .doc("The conversation's `unread` count goes to 0, and Graph's `status: read` for the customer's latest message is sent in the background as a team member opens the conversation. 202 when a receipt is on its way; 204 when there is nothing to mark (the customer has not written, or the channel is stopped).")
            .answer(202, "A read receipt is on its way.", Content::Empty)
            .no_content("Nothing to mark."),
        // the team's tools
        op(Get, "/api/v1/conversations/{id}/notes", "notes_list", "inbox", "List a conversation's internal notes")
            .ok("`{\"notes\":[{\"id\",\"conversation_id\",\"author\",\"text\",\"created_at\"}]}`, oldest first."),
        op(Post, "/api/v1/conversations/{id}/notes", "notes_add", "inbox", "Add an internal note")
            .doc("Shown in the thread to the team, never sent to the customer; sealed at rest; audited with ids only.")
            .body::<notes::NoteBody>()
            .created("The note.")
            .errors(&[C::InvalidText]),
        op(Get, "/api/v1/canned-responses", "canned_list", "inbox", "List canned responses")
            .ok("`{\"canned_responses\":[{\"id\",\"shortcut\",\"text\",\"created_at\",\"updated_at\"}]}`, by shortcut."),
        op(Post, "/api/v1/canned-responses", "canned_create", "inbox", "Save a canned response")
            .body::<notes::CannedBody>()
            .created("The canned response.")
            .errors(&[C::InvalidShortcut, C::InvalidText, C::Conflict]),
        op(Patch, "/api/v1/canned-responses/{id}", "canned_update", "inbox", "Change a canned response")
            .body::<notes::CannedPatch>()
            .ok("The canned response.")
            .errors(&[C::InvalidShortcut, C::InvalidText, C::Conflict]),
        op(Delete, "/api/v1/canned-responses/{id}", "canned_delete", "inbox", "Delete a canned response")
            .no_content("Deleted."),
        op(Get, "/api/v1/events", "events_stream", "inbox", "Live inbox updates (Server-Sent Events)")
            .doc("`text/event-stream` of `message.created`, `message.status`, `conversation.updated` and `note.created`, each with ids only (`conversation_id`, `message_id`, `wamid`, `note_id`) for the caller's tenant; `resync` when the client fell behind. A comment every 15 s keeps the connection open.")
            .ok("An event stream."),
        op(Get, "/api/v1/charges", "charges_monthly", "audit", "A month's charges")
            .doc("What Meta's status webhooks say the month's messages cost (`pricing`), once per message, per channel number and category; the billable ones are also listed in `charges.recorded` audit entries.")
            .query::<charges::ChargesQuery>()
            .ok("`{\"month\",\"totals\":[{\"phone_number_id\",\"category\",\"billable\",\"free\"}]}`.")
            .errors(&[C::InvalidQuery]),
        // broadcasts
        op(Get, "/api/v1/broadcasts", "broadcasts_list", "broadcasts", "List broadcasts")
            .ok("`{\"broadcasts\":[...]}`, newest first, each with its counts."),
        op(Post, "/api/v1/broadcasts", "broadcasts_create", "broadcasts", "Send a template to an audience")
            .doc("Every recipient passes the send gate: an opted-out (or not opted-in, for marketing) contact is counted `refused_no_consent` and never sent; the rest are queued behind conversation replies. A template, parameter or channel problem refuses the whole broadcast.")
            .body::<broadcasts::CreateBody>()
            .accepted("`{\"id\",\"channel_id\",\"template\",\"language\",\"params\",\"purpose\",\"audience\",\"state\",\"recipients\",\"counts\":{\"queued\",\"sent\",\"delivered\",\"read\",\"failed\",\"refused_no_consent\",\"refused_other\"}}`.")
            .errors(&[C::InvalidBroadcast, C::InvalidChannel, C::InvalidContact, C::InvalidPurpose, C::InvalidMessage, C::TemplateNotApproved, C::TemplateParams, C::ChannelDisabled]),
        op(Get, "/api/v1/broadcasts/{id}", "broadcasts_get", "broadcasts", "Read a broadcast and its progress")
            .ok("The broadcast with its counts."),
        op(Post, "/api/v1/broadcasts/{id}/pause", "broadcasts_pause", "broadcasts", "Pause a broadcast")
            .doc("Its queued messages wait; 409 `conflict` unless it is running.")
            .ok("The broadcast.")
            .errors(&[C::Conflict]),
        op(Post, "/api/v1/broadcasts/{id}/resume", "broadcasts_resume", "broadcasts", "Resume a paused broadcast")
            .ok("The broadcast.")
            .errors(&[C::Conflict]),
        op(Post, "/api/v1/broadcasts/{id}/cancel", "broadcasts_cancel", "broadcasts", "Cancel a broadcast")
            .doc("Its unsent messages fail as cancelled; a cancelled broadcast stays cancelled.")
            .ok("The broadcast.")
            .errors(&[C::Conflict]),
        // templates
        op(Get, "/api/v1/templates", "templates_list", "templates", "List message templates")
            .doc("Every channel's templates as Graph last listed them (kept current by status webhooks): `status` (`APPROVED`, `PENDING`, `REJECTED`, ...), `category`, `params` (the body's placeholders).")
            .ok("`{\"templates\":[{\"id\",\"channel_id\",\"name\",\"language\",\"category\",\"status\",\"params\",\"components\",\"updated_at\"}]}`."),
        op(Post, "/api/v1/templates/preview", "templates_preview", "templates", "Preview a template with its parameters")
            .doc("Renders a synced template's header, body, footer and buttons with the body's parameters (positional `[...]` or named `{...}`), as the customer would see it; `missing` names placeholders left empty (a send would be refused with `template_params`).")
            .body::<confide_app::templates::PreviewInput>()
            .ok("`{\"name\",\"language\",\"status\",\"category\",\"header\",\"body\",\"footer\",\"buttons\",\"missing\"}`.")
            .errors(&[C::TemplateNotApproved, C::InvalidChannel]),
        op(Post, "/api/v1/templates/sync", "templates_sync", "templates", "Sync templates from Graph")
            .doc("Every channel's templates, all pages of `GET /{WABA_ID}/message_templates`; audited. 503 `unavailable` when no channel's Graph could be asked.")
            .ok("`{\"channels\",\"templates\",\"new\",\"failed_channels\"}`.")
            .errors(&[C::Unavailable]),
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
        op(Post, "/api/v1/contacts/import", "contacts_import", "contacts", "Import contacts from CSV")
            .doc("A `text/csv` body (at most 64 MiB), read as it arrives: a header row (`phone`, `wa_user_id`, `name`, `labels` separated by `;`, `attributes` as a JSON object or `attr:KEY` columns, `consent` = `opted_in`/`opted_out` with `consent_purpose`, `consent_source`, `consent_evidence`; the export's own columns import back; `map=Their Column=phone,...` renames others), then one contact per row. Phone numbers are read with libphonenumber's metadata, local ones in `region` (default: the tenant's); a Brazilian mobile with or without its ninth digit is one number. A row whose phone number or WhatsApp user id is already a contact's updates it. `partial` imports every good row and reports each bad one; `all_or_nothing` imports nothing unless every row is good (`committed:false`). Audited as `contacts.imported` per transaction.")
            .query::<confide_app::data::import::ImportOptions>()
            .ok("`{\"mode\",\"imported\",\"updated\",\"rejected\":[{\"line\",\"reason\"}],\"committed\"}`.")
            .errors(&[C::InvalidQuery, C::BadRequest, C::PayloadTooLarge]),
        op(Get, "/api/v1/contacts/export", "contacts_export", "contacts", "Export the contact book")
            .doc("The whole contact book, streamed: CSV (`text/csv`, columns `id,phone,wa_user_id,username,name,labels,attributes,created_at,updated_at`; labels joined by `;`, attributes as JSON) or JSON (`{\"version\":1,\"contacts\":[...]}`). CSV cells starting with `=`, `+`, `-`, `@`, a tab or a carriage return are neutralised with a leading `'` (the import reads them back). Audited as `contacts.exported`.")
            .query::<contacts::ExportQuery>()
            .answer(200, "The contact book as a file (`Content-Disposition: attachment`).", Content::Text)
            .errors(&[C::InvalidQuery]),
        op(Get, "/api/v1/contacts/{id}", "contacts_get", "contacts", "Read a contact")
            .ok("The contact."),
        op(Patch, "/api/v1/contacts/{id}", "contacts_update", "contacts", "Change a contact")
            .doc("Validated as on create; 409 `conflict` when the phone is another contact's.")
            .body::<contacts::PatchBody>()
            .ok("The contact.")
            .errors(&[C::InvalidPhone, C::InvalidName, C::InvalidLabels, C::InvalidAttributes, C::Conflict]),
        op(Delete, "/api/v1/contacts/{id}", "contacts_erase", "contacts", "Erase a contact")
            .doc("Erases the contact and everything of that person (GDPR Art. 17): conversations, messages, statuses, notes, attributes, labels, media and blind-index entries. An opt-out survives only as a tombstone of keyed hashes, so sends to the same number stay refused. Audited with counts only. A person needs a sign-in from the last 15 minutes.")
            .ok("`{\"id\",\"erased\":{\"conversations\",\"messages\",\"notes\",\"consent_events\",\"media\",\"opt_outs_kept\":[purpose]}}`.")
            .errors(&[C::ReauthenticationRequired]),
        op(Get, "/api/v1/contacts/{id}/consent", "contacts_consent", "contacts", "Read a contact's consent ledger")
            .ok("`{\"contact_id\",\"events\":[{\"id\",\"purpose\",\"status\",\"source\",\"evidence\",\"actor\",\"created_at\"}],\"current\":{purpose: status|null}}`, events oldest first."),
        op(Post, "/api/v1/contacts/{id}/consent", "contacts_record_consent", "contacts", "Record an opt-in or opt-out")
            .doc("The ledger is append-only.")
            .body::<ConsentInput>()
            .created("The appended event.")
            .errors(&[C::InvalidPurpose, C::InvalidStatus, C::InvalidSource, C::InvalidEvidence]),
        // full exports
        op(Post, "/api/v1/exports", "exports_create", "exports", "Export the account's data, or one contact's")
            .doc("Queues a full export, run in the background: `{}` (or no body) for the whole account, `{\"contact_id\"}` for one person's data (a data-subject access request). The zip holds JSON documents described by the versioned schema `docs/privacy/export-schema.json` (contacts with labels and attributes, labels, consent ledgers, conversations, messages, notes, templates, charges, audit entries, media descriptions), `contacts.csv` and `messages.csv` (cells starting with `=`, `+`, `-`, `@`, a tab or a carriage return neutralised with `'`), and the media bytes under `media/`. Audited as `export.requested`. Exports are deleted 24 hours after they finish.")
            .body::<confide_app::data::tenant_export::ExportRequest>()
            .accepted("`{\"id\",\"status\":\"queued\",\"scope\":\"tenant\"|\"contact\",\"progress\":{\"done\",\"total\"},\"created_at\",\"download_url\":null}`.")
            .errors(&[C::InvalidContact]),
        op(Get, "/api/v1/exports/{id}", "exports_get", "exports", "An export's progress and download link")
            .doc("`status` is `queued`, `running`, `ready` or `failed`; `progress` counts rows written. When `ready`, `download_url` is a signed path on this server (`/x/<token>`, valid for 5 minutes; ask again for a fresh one) that serves the zip.")
            .ok("`{\"id\",\"status\",\"scope\",\"progress\":{\"done\",\"total\"},\"created_at\",\"download_url\"}`."),
        // media
        op(Post, "/api/v1/media", "media_upload", "media", "Upload a file to send")
            .doc("`multipart/form-data` with one part named `file`, streamed and sealed (AES-256-GCM in 64 KiB chunks with the tenant's key) into private storage. The type is decided by the content's first bytes, never by the name or declared type: JPEG/PNG images (5 MB), MP4/3GP video, AAC/AMR/MP3/M4A/Ogg audio (16 MB), PDF, text and Office documents (100 MB), WebP stickers (100 KB, 500 KB animated). A name or declared type that says otherwise is refused. The file name is kept sealed.")
            .created("`{\"id\",\"kind\",\"content_type\",\"byte_size\",\"file_name\",\"created_at\"}`.")
            .errors(&[C::InvalidUpload, C::EmptyMedia, C::UnsupportedMedia, C::MediaTypeMismatch, C::MediaTooLarge, C::Unavailable]),
        op(Get, "/api/v1/media/usage", "media_usage", "media", "The account's media usage")
            .ok("`{\"objects\",\"bytes\"}`: what the account stores (sealed), uploads and inbound media together."),
        op(Get, "/api/v1/media/{id}", "media_get", "media", "Read a media object's type, size and name")
            .ok("`{\"id\",\"kind\",\"content_type\",\"byte_size\",\"file_name\",\"created_at\"}`."),
        op(Get, "/api/v1/media/{id}/link", "media_link", "media", "A short-lived signed link to a media object")
            .doc("`GET` of the `url` serves the bytes until `expires_at` (5 minutes by default): `Cache-Control: private, no-store`, `nosniff`, `Content-Disposition: attachment` (inline for images), ranges for audio and video. Tampered, expired or other links get 403 and no bytes. Needs `inbox.read` or `media.upload`.")
            .ok("`{\"url\",\"expires_at\"}`."),
        // tenant security
        op(Get, "/api/v1/settings/opt-out", "settings_opt_out_get", "contacts", "Read the opt-out keywords")
            .ok("`{\"keywords\":{\"es\":[\"basta\"]},\"confirmations\":{\"es\":\"...\",\"default\":\"...\"},\"confirm\":true,\"built_in_keywords\":[...]}`."),
        op(Put, "/api/v1/settings/opt-out", "settings_opt_out_put", "contacts", "Change the opt-out keywords")
            .doc("A customer whose message is only one of these words (or a built-in one: STOP, UNSUBSCRIBE, BAJA, ...; case, accents and punctuation do not matter) is opted out of marketing, with the message as evidence, and sent at most one confirmation (in the language of the word: `confirmations[language]`, else `confirmations.default`, else a built-in English text; none when `confirm` is false) through the send gate and the outbox. A second keyword while opted out is recorded and not answered. Audited with the languages only.")
            .body::<confide_app::optout::OptOutSettings>()
            .ok("The settings.")
            .errors(&[C::InvalidSettings]),
        op(Get, "/api/v1/security", "security_get", "security", "Read the security settings")
            .ok("`{\"require_2fa\",\"access\":{\"allow\":[],\"deny\":[]}}`."),
        op(Put, "/api/v1/security", "security_put", "security", "Change the security settings")
            .doc("People only, signed in within the last 15 minutes. Each field is optional. `access` replaces the tenant's CIDR lists for its UI and API: with an allow list, this tenant's sessions and API keys work only from the addresses it lists; a denied address never (403 `address_not_allowed` on every request; webhooks and media links are not subject to them). A change that would refuse the address it is made from is refused. Audited (`security.access_lists`, with the lists).")
            .body::<security::Settings>()
            .ok("`{\"require_2fa\",\"access\":{\"allow\":[],\"deny\":[]}}`.")
            .errors(&[C::ReauthenticationRequired, C::InvalidNetwork, C::WouldLockOut]),
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
pub(super) fn extra_ops() -> Vec<Op> {
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
        op(Get, "/m/{token}", "media_serve", "media", "A signed media link")
            .doc("The object's bytes if the token's signature is valid, it has not expired and (links handed to Meta) it was not used before. Every refusal is 403 with no bytes. `Range: bytes=a-b` gives 206 for audio and video players.")
            .answer(200, "The bytes, with the stored content type.", Content::Text)
            .answer(206, "The requested range.", Content::Text)
            .errors(&[C::Forbidden, C::NotFound, C::Unavailable]),
        op(Get, "/x/{token}", "exports_download", "exports", "A signed export download link")
            .doc("The export's zip (`application/zip`, `Content-Disposition: attachment`) if the token's signature is valid and it has not expired. Every refusal is 403 with no bytes; 404 once the export is deleted. Each fetch is audited as `export.downloaded`.")
            .answer(200, "The zip.", Content::Text)
            .errors(&[C::Forbidden, C::NotFound, C::Unavailable]),
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

pub(super) const TAGS: &[(&str, &str)] = &[
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
    (
        "exports",
        "Full exports of the account's data, or one contact's.",
    ),
    ("security", "Tenant security settings and support access."),
    ("audit", "The tenant's audit log."),
    ("media", "Files to send, and signed links to stored media."),
    ("platform", "The platform operator (separate identity)."),
    ("meta", "This document."),
    ("health", "Liveness and readiness (no authentication)."),
    (
        "webhooks",
        "Meta's webhook deliveries (signed, no session).",
    ),
];

pub(super) fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}
