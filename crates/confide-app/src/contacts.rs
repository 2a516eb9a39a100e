//! Contacts and their consent ledgers (C19).
//!
//! The contact book is listed newest first (keyset-paginated), searched exactly by phone number
//! or WhatsApp user id through blind indexes (names and other personal data are sealed, so they
//! cannot be searched), created, read and changed. The consent ledger is append-only: there is
//! no use case to change or remove an event. Every append is audited in the same transaction
//! (C22), with the purpose only (never the source or the evidence, free text that may quote the
//! person).

use crate::error::{AppError, Code};
use crate::paging::{self, Page};
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::audit::AuditEvent;
use confide_core::ids::ContactId;
use confide_core::permissions::Permission;
use confide_core::phone::Phone;
use confide_core::send_gate::{ConsentLedger, ConsentStatus, Purpose};
use confide_store::consent::NewConsent;
use confide_store::contacts::{ContactChange, ContactCursor, NewContact};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub use confide_store::consent::ConsentEvent;
pub use confide_store::contacts::Contact;

/// The longest `source` accepted, in characters.
pub const MAX_SOURCE_CHARS: usize = 100;
/// The longest `evidence` accepted, in characters.
pub const MAX_EVIDENCE_CHARS: usize = 2_000;
/// The most labels a contact carries.
pub const MAX_LABELS: usize = 50;
/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 50;
/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The largest `attributes` object, serialized as JSON, in bytes.
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

const CONTACT_CURSOR: &str = "k1";

/// A list of contacts, as asked for (text, as it came).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ContactQuery {
    /// A phone number (with its country code) or a WhatsApp user id, looked up exactly; or
    /// words of a name: contacts with a word of their name starting with each of them (3
    /// letters or more; shorter ones match a whole word), case and accents ignored. Names are
    /// sealed: the search goes through keyed blind indexes of their words.
    pub q: Option<String>,
    /// Keeps contacts carrying exactly this label.
    pub label: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<String>,
}

/// A contact to create; `labels` and `attributes` as the JSON they came as.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    /// A phone number with its country code, normalised to E.164.
    pub phone: Option<String>,
    /// The contact's name.
    pub name: Option<String>,
    /// An array of label strings.
    pub labels: Option<Value>,
    /// An object of text values.
    pub attributes: Option<Value>,
}

/// A change to a contact: absent (`None`) leaves a field unchanged, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ContactEdit {
    pub phone: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub labels: Option<Option<Value>>,
    pub attributes: Option<Option<Value>>,
}

/// A consent event to append.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// `marketing`, `utility` or `service`.
    pub purpose: Option<String>,
    /// `opted_in` or `opted_out`.
    pub status: Option<String>,
    /// Where the consent was given (e.g. `web_form`).
    pub source: Option<String>,
    /// Free-text evidence of the consent.
    pub evidence: Option<String>,
}

/// A contact's ledger, oldest first, and the current consent per purpose (`None`: never asked).
#[derive(Debug, Clone)]
pub struct ConsentHistory {
    pub contact: ContactId,
    pub events: Vec<ConsentEvent>,
    pub current: Vec<(Purpose, Option<ConsentStatus>)>,
}

/// What `q` looks up, through blind indexes.
enum Lookup {
    Phone(Phone),
    WaUser(String),
    /// Words of a name (each the start of a word of the contact's name).
    Name(String),
}

/// `q` is a phone number (normalised to E.164), a WhatsApp user id (BSUID), or words of a name
/// (found through the keyed name tokens, `confide_store::name_tokens`); a `q` without a letter
/// or digit is `unsearchable_query`.
fn lookup(q: &str) -> Result<Lookup, AppError> {
    if let Ok(p) = Phone::parse(q) {
        return Ok(Lookup::Phone(p));
    }
    if confide_whatsapp::is_bsuid(q) {
        return Ok(Lookup::WaUser(q.to_string()));
    }
    if q.chars().count() <= 200 && !confide_core::names::query_tokens(q).is_empty() {
        return Ok(Lookup::Name(q.to_string()));
    }
    Err(AppError::invalid(
        Code::UnsearchableQuery,
        "q searches by phone number (with its country code), WhatsApp user id, or words of a name.",
    ))
}

/// At most this many contacts found by name (capped at one page) feed the inbox's search.
const NAME_SEARCH_MAX: i64 = 500;

/// The ids of the contacts a search text finds, as `q` of the contact list does (the inbox's
/// search uses it, so both find the same people).
pub(crate) async fn search_ids(
    s: &mut confide_store::Scope<'_>,
    text: &str,
) -> Result<Vec<ContactId>, AppError> {
    let found = match lookup(text)? {
        Lookup::Phone(p) => s.contacts().find_by_phone(&p).await?,
        Lookup::WaUser(w) => s.contacts().find_by_wa_user(&w).await?,
        Lookup::Name(words) => {
            // The newest contacts whose name has these words (enough for a list to show).
            let page = s
                .contacts()
                .search(None, Some(&words), None, NAME_SEARCH_MAX)
                .await?;
            return Ok(page.items.into_iter().map(|c| c.id).collect());
        }
    };
    Ok(found.into_iter().map(|c| c.id).collect())
}

fn contact_id(id: &str) -> Result<ContactId, AppError> {
    id.parse().map_err(|_| AppError::not_found())
}

fn check_phone(p: &str) -> Result<Phone, AppError> {
    Phone::parse(p).map_err(|_| {
        AppError::invalid(
            Code::InvalidPhone,
            "phone must be a phone number with its country code, e.g. +16505551234.",
        )
    })
}

/// A trimmed name; empty is no name.
pub(crate) fn check_name(n: &str) -> Result<Option<String>, AppError> {
    let n = n.trim();
    if n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control) {
        return Err(AppError::invalid(
            Code::InvalidName,
            format!(
                "name must be at most {MAX_NAME_CHARS} characters, without control characters."
            ),
        ));
    }
    Ok((!n.is_empty()).then(|| n.to_string()))
}

/// An array of labels, each trimmed, 1 to 50 characters, at most 50; repeats are dropped.
pub(crate) fn check_labels(v: &Value) -> Result<Vec<String>, AppError> {
    let invalid = || {
        AppError::invalid(
            Code::InvalidLabels,
            format!(
                "labels must be an array of at most {MAX_LABELS} strings of 1 to {MAX_LABEL_CHARS} characters."
            ),
        )
    };
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) if items.len() <= MAX_LABELS => items,
        _ => return Err(invalid()),
    };
    let mut labels: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let l = item.as_str().map(str::trim).ok_or_else(invalid)?;
        let n = l.chars().count();
        if n == 0 || n > MAX_LABEL_CHARS || l.chars().any(char::is_control) {
            return Err(invalid());
        }
        if !labels.iter().any(|x| x == l) {
            labels.push(l.to_string());
        }
    }
    Ok(labels)
}

/// A JSON object of at most 16 KiB serialized.
pub(crate) fn check_attributes(v: &Value) -> Result<Map<String, Value>, AppError> {
    match v {
        Value::Null => Ok(Map::new()),
        Value::Object(m) if v.to_string().len() <= MAX_ATTRIBUTES_BYTES => Ok(m.clone()),
        _ => Err(AppError::invalid(
            Code::InvalidAttributes,
            format!(
                "attributes must be a JSON object of at most {MAX_ATTRIBUTES_BYTES} bytes serialized."
            ),
        )),
    }
}

/// A checked consent event.
pub(crate) struct CheckedConsent {
    pub(crate) purpose: Purpose,
    pub(crate) status: ConsentStatus,
    pub(crate) source: String,
    pub(crate) evidence: Option<String>,
}

pub(crate) fn check_consent(b: ConsentInput) -> Result<CheckedConsent, AppError> {
    let purpose = b
        .purpose
        .as_deref()
        .and_then(|p| p.parse::<Purpose>().ok())
        .ok_or_else(|| {
            AppError::invalid(
                Code::InvalidPurpose,
                "purpose must be marketing, utility or service.",
            )
        })?;
    let status = b
        .status
        .as_deref()
        .and_then(|s| s.parse::<ConsentStatus>().ok())
        .ok_or_else(|| {
            AppError::invalid(Code::InvalidStatus, "status must be opted_in or opted_out.")
        })?;
    let source = b.source.as_deref().map(str::trim).unwrap_or_default();
    let source_chars = source.chars().count();
    if source_chars == 0 || source_chars > MAX_SOURCE_CHARS || source.chars().any(char::is_control)
    {
        return Err(AppError::invalid(
            Code::InvalidSource,
            format!(
                "source is required: 1 to {MAX_SOURCE_CHARS} characters saying where the consent came from."
            ),
        ));
    }
    let evidence = match b.evidence {
        Some(e) if e.chars().count() > MAX_EVIDENCE_CHARS => {
            return Err(AppError::invalid(
                Code::InvalidEvidence,
                format!("evidence must be at most {MAX_EVIDENCE_CHARS} characters."),
            ));
        }
        Some(e) if e.trim().is_empty() => None,
        other => other,
    };
    Ok(CheckedConsent {
        purpose,
        status,
        source: source.to_string(),
        evidence,
    })
}

impl App {
    /// The contact book, newest first; `q` a phone or BSUID (an exact lookup: at most one
    /// contact, no next page) or words of a name (every contact with a name word starting with
    /// each of them, paged like the book).
    pub async fn list_contacts(
        &self,
        p: &Principal,
        q: ContactQuery,
    ) -> Result<Page<Contact>, AppError> {
        p.require(Permission::ContactsRead)?;
        let limit = paging::limit(q.limit.as_deref())?;
        let after = q
            .cursor
            .as_deref()
            .map(|c| paging::decode(CONTACT_CURSOR, c))
            .transpose()?
            .map(|(created_at, id)| ContactCursor { created_at, id });
        let label = q.label.as_deref().filter(|l| !l.is_empty());
        let lookup =
            q.q.as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(lookup)
                .transpose()?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let (items, next) = match lookup {
            None => {
                let page = s.contacts().list(label, after, limit).await?;
                (page.items, page.next)
            }
            Some(Lookup::Name(words)) => {
                let page = s
                    .contacts()
                    .search(label, Some(&words), after, limit)
                    .await?;
                (page.items, page.next)
            }
            Some(l) => {
                let found = match l {
                    Lookup::Phone(p) => s.contacts().find_by_phone(&p).await?,
                    Lookup::WaUser(w) => s.contacts().find_by_wa_user(&w).await?,
                    Lookup::Name(_) => None,
                };
                // At most one: the filters and the cursor still apply, and no page follows.
                let found = found.filter(|c| {
                    label.is_none_or(|l| c.labels.iter().any(|x| x == l))
                        && after.is_none_or(|a| (c.created_at, c.id) < (a.created_at, a.id))
                });
                (found.into_iter().collect(), None)
            }
        };
        s.commit().await?;
        Ok(Page {
            items,
            next_cursor: next
                .map(|c| paging::encode(CONTACT_CURSOR, c.created_at, &c.id.to_string())),
        })
    }

    /// Creates a contact (phone normalised to E.164; `conflict` when the tenant already has one
    /// with that phone). Created and audited (`contact.created`, ids only) in one transaction.
    pub async fn create_contact(
        &self,
        p: &Principal,
        input: ContactInput,
    ) -> Result<Contact, AppError> {
        p.require(Permission::ContactsWrite)?;
        let phone = input.phone.as_deref().map(check_phone).transpose()?;
        let name = input.name.as_deref().map(check_name).transpose()?.flatten();
        let labels = input.labels.as_ref().map(check_labels).transpose()?;
        let attributes = input
            .attributes
            .as_ref()
            .map(check_attributes)
            .transpose()?;
        let new = NewContact {
            phone,
            name,
            labels: labels.unwrap_or_default(),
            attributes: attributes.unwrap_or_default(),
            ..Default::default()
        };
        let mut s = self.store.scope(p.tenant).await?;
        let c = s.contacts().create(new, p.actor()).await?;
        s.commit().await?;
        Ok(c)
    }

    /// Changes a contact, validated as on create. Audited (`contact.updated`) with the names of
    /// the changed fields only, in the same transaction.
    pub async fn update_contact(
        &self,
        p: &Principal,
        id: &str,
        edit: ContactEdit,
    ) -> Result<Contact, AppError> {
        p.require(Permission::ContactsWrite)?;
        let id = contact_id(id)?;
        let change = ContactChange {
            phone: edit
                .phone
                .map(|p| p.as_deref().map(check_phone).transpose())
                .transpose()?,
            name: edit
                .name
                .map(|n| {
                    n.as_deref()
                        .map(check_name)
                        .transpose()
                        .map(Option::flatten)
                })
                .transpose()?,
            labels: edit
                .labels
                .map(|l| check_labels(&l.unwrap_or(Value::Null)))
                .transpose()?,
            attributes: edit
                .attributes
                .map(|a| check_attributes(&a.unwrap_or(Value::Null)))
                .transpose()?,
        };
        let mut s = self.store.scope(p.tenant).await?;
        let (c, _) = s.contacts().update(id, change, p.actor()).await?;
        s.commit().await?;
        Ok(c)
    }

    /// One contact, decrypted.
    pub async fn get_contact(&self, p: &Principal, id: &str) -> Result<Contact, AppError> {
        p.require(Permission::ContactsRead)?;
        let id = contact_id(id)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let c = s.contacts().get(id).await?;
        s.commit().await?;
        Ok(c)
    }

    /// A contact's consent ledger with the current consent per purpose, folded by the send
    /// gate's own ledger so what is shown and what the gate enforces agree. A row the gate cannot
    /// read is an error, never a silent skip.
    pub async fn consent_history(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<ConsentHistory, AppError> {
        p.require(Permission::ContactsRead)?;
        let id = contact_id(id)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        s.contacts().get(id).await?;
        let events = s.consent().history(id).await?;
        // What the gate folds: the ledger after any opt-out an erased contact with the same
        // number left behind.
        let rows = s.consent_rows(id).await?;
        s.commit().await?;
        let ledger = ConsentLedger::from_rows(
            rows.iter()
                .map(|(purpose, status, at)| (purpose.as_str(), status.as_str(), *at)),
        )
        .map_err(|e| {
            tracing::error!(error = %e, "unreadable consent ledger");
            AppError::internal()
        })?;
        let current = Purpose::ALL
            .iter()
            .map(|p| (*p, ledger.status(*p)))
            .collect();
        Ok(ConsentHistory {
            contact: id,
            events,
            current,
        })
    }

    /// Appends a consent event; the append and its audit entry (`consent.opted_in` /
    /// `consent.opted_out`, with the purpose only) are one transaction.
    pub async fn record_consent(
        &self,
        p: &Principal,
        id: &str,
        input: ConsentInput,
        request_id: Option<String>,
    ) -> Result<ConsentEvent, AppError> {
        p.require(Permission::ConsentWrite)?;
        let contact = contact_id(id)?;
        let c = check_consent(input)?;
        let actor = p.actor();
        let at = self.clock.now_micros();
        let mut s = self.store.scope(p.tenant).await?;
        s.contacts().get(contact).await?;
        let new = NewConsent {
            purpose: c.purpose.as_str().to_string(),
            status: c.status.as_str().to_string(),
            source: c.source.clone(),
            evidence: c.evidence.clone(),
            actor: actor.to_string(),
            at_micros: at,
            dedupe_key: None,
        };
        let Some(event_id) = s.consent().append(contact, new).await? else {
            tracing::error!("a consent event without a dedupe key was not appended");
            return Err(AppError::internal());
        };
        let audit = AuditEvent::new(
            actor.clone(),
            format!("consent.{}", c.status.as_str()),
            format!("contact:{contact}"),
        )
        // Ids and enumerated values only: the source is free text and stays in the sealed ledger.
        .with_details(json!({"purpose": c.purpose.as_str()}))
        .with_request_id(request_id);
        s.audit(&audit).await?;
        s.commit().await?;
        Ok(ConsentEvent {
            id: event_id,
            contact_id: contact,
            purpose: c.purpose.as_str().to_string(),
            status: c.status.as_str().to_string(),
            source: c.source,
            evidence: c.evidence,
            actor: actor.to_string(),
            created_at: at,
        })
    }
}
