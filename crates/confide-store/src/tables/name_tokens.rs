//! `contact_name_tokens`: the keyed blind indexes of the words of a contact's name
//! (`crate::name_tokens`), written wherever a name is written (the API, imports, ingest one at a
//! time or a batch at a time).

use super::{AnyQuery, TableRow};

/// One token of one contact's name.
pub(crate) struct NameTokenRow {
    pub token: Vec<u8>,
    pub contact: String,
}

impl TableRow for NameTokenRow {
    const TABLE: &'static str = "contact_name_tokens";
    const COLUMNS: &'static [&'static str] = &["tenant_id", "token", "contact_id"];
    const ON_CONFLICT: &'static str = "ON CONFLICT DO NOTHING";

    fn bind<'q>(&self, q: AnyQuery<'q>, tenant: &str) -> AnyQuery<'q> {
        q.bind(tenant.to_string())
            .bind(self.token.clone())
            .bind(self.contact.clone())
    }
}
