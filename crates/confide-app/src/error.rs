//! The one error type of every use case, and the one list of the API's error codes.
//!
//! Each code is a stable snake_case string written once, here, with the kind of failure it is;
//! the HTTP layer maps a [`Kind`] to a status in one place, and the OpenAPI document lists
//! [`Code::ALL`]. A code names what is wrong; where the same thing can be wrong in a query string
//! (400) and in a body (422), the code has one variant for each, so each (code, kind) pair is
//! still written once. Messages are plain sentences for the person calling; internal details go to
//! the log, never into a message.

use confide_store::StoreError;
use std::borrow::Cow;

/// What kind of failure an error is (the HTTP layer maps each to one status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The request itself cannot be read (400).
    BadRequest,
    /// No valid credentials (401).
    Unauthenticated,
    /// Authenticated, but not allowed (403).
    Forbidden,
    /// No such resource, or not this tenant's (404).
    NotFound,
    /// The state of the resource forbids it (409).
    Conflict,
    /// The body is too large (413).
    PayloadTooLarge,
    /// The media type is not accepted (415).
    UnsupportedMediaType,
    /// Well-formed, but a value is not acceptable (422).
    Unprocessable,
    /// Too many attempts or requests; retry later (429).
    TooManyRequests,
    /// Something failed on our side; logged (500).
    Internal,
    /// A dependency is down or the server is busy; retry shortly (503).
    Unavailable,
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $kind:ident, $doc:literal;)*) => {
        /// Every error code the API answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $doc] $variant,)*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable snake_case string clients see.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            pub fn kind(self) -> Kind {
                match self {
                    $(Code::$variant => Kind::$kind,)*
                }
            }

            /// What the code means, for the API's documentation.
            pub fn description(self) -> &'static str {
                match self {
                    $(Code::$variant => $doc,)*
                }
            }
        }
    };
}

codes! {
    // 400
    BadRequest = "bad_request", BadRequest, "The request could not be read.";
    InvalidJson = "invalid_json", BadRequest, "The body is not the expected JSON object.";
    BadPayload = "bad_payload", BadRequest, "A signed webhook whose body is not a WhatsApp delivery.";
    InvalidQuery = "invalid_query", BadRequest, "A query parameter has an invalid value.";
    InvalidCursor = "invalid_cursor", BadRequest, "The pagination cursor is not one this server issued.";
    InvalidLimit = "invalid_limit", BadRequest, "The page size is out of range.";
    InvalidStatusFilter = "invalid_status", BadRequest, "The status filter of a list is not one of its values.";
    InvalidAssigneeFilter = "invalid_assignee", BadRequest, "The assignee filter of a list is not a user id or none.";
    // 401
    Unauthenticated = "unauthenticated", Unauthenticated, "No valid session or API key.";
    InvalidCredentials = "invalid_credentials", Unauthenticated, "The email or password is wrong (never says which).";
    TotpRequired = "totp_required", Unauthenticated, "The account has two-factor authentication: send the code.";
    BadSignature = "bad_signature", Unauthenticated, "The webhook's X-Hub-Signature-256 does not match its body.";
    // 403
    Forbidden = "forbidden", Forbidden, "The caller lacks the permission this needs.";
    Csrf = "csrf", Forbidden, "A cookie-authenticated change without the CSRF token or from another origin.";
    PasswordChangeRequired = "password_change_required", Forbidden, "The one-time password must be changed first.";
    TwoFactorRequired = "two_factor_required", Forbidden, "The tenant requires two-factor authentication: enrol first.";
    ReauthenticationRequired = "reauthentication_required", Forbidden, "Sign in again (within 15 minutes) to do this.";
    WrongPassword = "wrong_password", Forbidden, "The current password is wrong.";
    AddressNotAllowed = "address_not_allowed", Forbidden, "The account's security settings do not let its UI and API be used from this address.";
    // 404
    NotFound = "not_found", NotFound, "No such resource.";
    // 409
    Conflict = "conflict", Conflict, "It already exists.";
    LastOwner = "last_owner", Conflict, "The last active owner cannot be removed or demoted.";
    BuiltinRole = "builtin_role", Conflict, "Built-in roles cannot be changed or deleted.";
    RoleInUse = "role_in_use", Conflict, "The role is still held by members or keys.";
    TwoFactorEnabled = "two_factor_enabled", Conflict, "Two-factor authentication is already on.";
    // 413
    PayloadTooLarge = "payload_too_large", PayloadTooLarge, "The body is larger than this route accepts.";
    MediaTooLarge = "media_too_large", PayloadTooLarge, "The file is larger than WhatsApp accepts for its type.";
    // 415
    UnsupportedMedia = "unsupported_media_type", UnsupportedMediaType, "The file's content is not a type WhatsApp accepts (decided by the content, not the name).";
    MediaTypeMismatch = "media_type_mismatch", UnsupportedMediaType, "The file's name or declared type says one type and its content another.";
    // 422
    InvalidChannel = "invalid_channel", Unprocessable, "A channel field is missing or invalid.";
    InvalidGraphBaseUrl = "invalid_graph_base_url", Unprocessable, "graph_base_url is not a usable Graph API URL.";
    GraphOriginNotAllowed = "graph_origin_not_allowed", Unprocessable, "graph_base_url is not one of the operator's graph_allowed_origins.";
    InvalidContact = "invalid_contact", Unprocessable, "contact_id names no contact of this account.";
    InvalidAssignee = "invalid_assignee", Unprocessable, "The assignee is not an active user of this account.";
    InvalidStatus = "invalid_status", Unprocessable, "The status is not one this resource can take.";
    InvalidPhone = "invalid_phone", Unprocessable, "The phone number is not a valid E.164 number.";
    InvalidName = "invalid_name", Unprocessable, "A name is missing or too long.";
    InvalidLabels = "invalid_labels", Unprocessable, "Labels are invalid (too many, too long or empty).";
    InvalidAttributes = "invalid_attributes", Unprocessable, "Attributes are invalid (too many, too large or not text).";
    InvalidPurpose = "invalid_purpose", Unprocessable, "The consent purpose is unknown.";
    InvalidSource = "invalid_source", Unprocessable, "The consent source is missing or too long.";
    InvalidEvidence = "invalid_evidence", Unprocessable, "The consent evidence is too large.";
    UnsearchableQuery = "invalid_query", Unprocessable, "The search text is neither a phone number, a WhatsApp user id, a username nor words of a name.";
    InvalidEmail = "invalid_email", Unprocessable, "The email address is not valid.";
    InvalidRole = "invalid_role", Unprocessable, "The role is unknown, or above what the caller may grant.";
    UnknownPermission = "unknown_permission", Unprocessable, "A permission name is unknown.";
    InvalidCode = "invalid_code", Unprocessable, "The two-factor code is wrong.";
    NoEnrolment = "no_enrolment", Unprocessable, "There is no two-factor enrolment to confirm.";
    TwoFactorDisabled = "two_factor_disabled", Unprocessable, "Two-factor authentication is not on.";
    InvalidHours = "invalid_hours", Unprocessable, "The duration in hours is out of range.";
    UnknownAdmin = "unknown_admin", Unprocessable, "No such platform administrator.";
    PasswordUnchanged = "password_unchanged", Unprocessable, "The new password equals the current one.";
    PasswordTooShort = "password_too_short", Unprocessable, "The password is shorter than the policy allows.";
    PasswordTooLong = "password_too_long", Unprocessable, "The password is longer than the policy allows.";
    PasswordTooCommon = "password_too_common", Unprocessable, "The password is on the list of common or breached passwords.";
    PasswordContainsEmail = "password_contains_email", Unprocessable, "The password contains the account's email.";
    InvalidMessage = "invalid_message", Unprocessable, "The message is empty, too long, or of a type that cannot be sent this way.";
    OutsideWindow = "outside_window", Unprocessable, "The send gate: more than 24 hours since the customer last wrote; only an approved template may be sent.";
    MessagingLimit = "messaging_limit", Unprocessable, "The send gate: the WhatsApp number's messaging limit (unique people reached outside a customer service window per rolling 24 hours) is used up.";
    NoConsent = "no_consent", Unprocessable, "The send gate: the contact opted out of (or never opted in to) this purpose.";
    TemplateNotApproved = "template_not_approved", Unprocessable, "The send gate: no APPROVED template of that name and language.";
    TemplateParams = "template_params", Unprocessable, "The send gate: the number of parameters is not the template's.";
    ChannelDisabled = "channel_disabled", Unprocessable, "The send gate: the channel is stopped (token refused, account blocked, or disabled).";
    InvalidBroadcast = "invalid_broadcast", Unprocessable, "A broadcast's audience or fields are missing or invalid.";
    InvalidShortcut = "invalid_shortcut", Unprocessable, "A canned response's shortcut is 1 to 32 letters, digits, - or _.";
    InvalidText = "invalid_text", Unprocessable, "The text is empty or longer than 4,096 characters.";
    InvalidSettings = "invalid_settings", Unprocessable, "A setting is out of range (too many or too long words, or an unknown language code).";
    EmptyMedia = "empty_media", Unprocessable, "The file is empty.";
    InvalidUpload = "invalid_upload", Unprocessable, "The upload is not multipart/form-data with one \"file\" part.";
    NoAddress = "no_address", Unprocessable, "The contact has neither a phone number nor a WhatsApp user id to send to.";
    InvalidNetwork = "invalid_network", Unprocessable, "A network is not a CIDR (10.0.0.0/8) or an address, or a list is longer than 100.";
    WouldLockOut = "would_lock_out", Unprocessable, "The lists would refuse the address this change is made from.";
    // 429
    TooManyAttempts = "too_many_attempts", TooManyRequests, "Too many failed attempts; wait before trying again.";
    RateLimited = "rate_limited", TooManyRequests, "Too many requests from this address or account; wait Retry-After seconds.";
    AddressBanned = "address_banned", TooManyRequests, "This address failed too often and is refused for a while; wait Retry-After seconds.";
    // 500
    Internal = "internal", Internal, "Something went wrong on our side; it has been logged.";
    // 503
    Unavailable = "unavailable", Unavailable, "The service is temporarily unavailable.";
    Busy = "busy", Unavailable, "Too many deliveries at once; retry shortly.";
    NotReady = "not_ready", Unavailable, "The server is not ready (database unreachable).";
}

impl Code {
    /// The code named `s` (of the first kind declared, where a code has two), if it is one.
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A use case's failure: a code and a plain message, and for throttling how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    pub code: Code,
    pub message: Cow<'static, str>,
    /// Seconds until a retry may succeed (429 and some 503s).
    pub retry_after: Option<u64>,
}

impl AppError {
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        AppError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn kind(&self) -> Kind {
        self.code.kind()
    }

    pub fn not_found() -> Self {
        Self::new(Code::NotFound, "No such resource.")
    }

    pub fn forbidden() -> Self {
        Self::new(Code::Forbidden, "You do not have permission to do this.")
    }

    pub fn internal() -> Self {
        Self::new(
            Code::Internal,
            "Something went wrong on our side; it has been logged.",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            Code::Unavailable,
            "The service is temporarily unavailable; try again shortly.",
        )
    }

    /// 422 with `code`.
    pub fn invalid(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(code, message)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AppError {}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::not_found(),
            StoreError::Conflict(what) => {
                AppError::new(Code::Conflict, format!("{what} already exists."))
            }
            e if e.is_unavailable() => {
                tracing::error!(error = %e, "database unavailable");
                AppError::unavailable()
            }
            e => {
                tracing::error!(error = %e, "store error");
                AppError::internal()
            }
        }
    }
}

impl From<confide_store::inbox::InboxError> for AppError {
    fn from(e: confide_store::inbox::InboxError) -> Self {
        use confide_store::inbox::InboxError;
        match e {
            InboxError::InvalidAssignee => AppError::invalid(
                Code::InvalidAssignee,
                "assignee must be an active user of this account, or null.",
            ),
            InboxError::InvalidContact => AppError::invalid(
                Code::InvalidContact,
                "contact_id names no contact of this account.",
            ),
            InboxError::InvalidChannel => AppError::invalid(
                Code::InvalidChannel,
                "channel_id names no channel of this account.",
            ),
            InboxError::Store(e) => e.into(),
        }
    }
}

impl From<confide_crypto::password_policy::PolicyError> for AppError {
    fn from(e: confide_crypto::password_policy::PolicyError) -> Self {
        let code = Code::parse(e.code()).unwrap_or(Code::PasswordTooShort);
        AppError::invalid(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_and_kind_is_declared_once_in_snake_case() {
        let mut seen = HashSet::new();
        for c in Code::ALL {
            let s = c.as_str();
            assert!(seen.insert((s, c.kind())), "{s} twice with one kind");
            assert!(
                !s.is_empty()
                    && s.chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
                "{s}"
            );
            assert_eq!(Code::parse(s).map(Code::as_str), Some(s));
            assert!(!c.description().is_empty());
        }
    }

    #[test]
    fn password_policy_codes_are_api_codes() {
        use confide_crypto::password_policy::PolicyError;
        for e in [
            PolicyError::TooShort(15),
            PolicyError::TooLong,
            PolicyError::Common,
            PolicyError::ContainsEmail,
        ] {
            assert_eq!(AppError::from(e).code.as_str(), e.code());
        }
    }
}
