//! `contacts`: a new contact, whoever creates it (the API one at a time, ingest one at a time or
//! a batch at a time). A row whose identity (BSUID or phone blind index) another contact of the
//! tenant already holds is not inserted: the caller sees a row count short of what it asked for.

use super::{AnyQuery, TableRow};

/// A contact row, every personal field already sealed.
pub(crate) struct ContactRow {
    pub id: String,
    pub wa_user_bidx: Option<Vec<u8>>,
    pub wa_user_ct: Option<Vec<u8>>,
    pub phone_bidx: Option<Vec<u8>>,
    pub phone_ct: Option<Vec<u8>>,
    pub username_ct: Option<Vec<u8>>,
    pub name_ct: Option<Vec<u8>>,
    pub labels_ct: Option<Vec<u8>>,
    pub attributes_ct: Vec<u8>,
    /// Created and last updated.
    pub at: i64,
}

impl TableRow for ContactRow {
    const TABLE: &'static str = "contacts";
    /// `labels` is the clear column of rows written before labels were sealed: always empty.
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "contact_id",
        "wa_user_bidx",
        "wa_user_ct",
        "phone_bidx",
        "phone_ct",
        "username_ct",
        "name_ct",
        "labels_ct",
        "labels",
        "attributes_ct",
        "created_at",
        "updated_at",
    ];
    const ON_CONFLICT: &'static str = "ON CONFLICT DO NOTHING";

    fn bind<'q>(&self, q: AnyQuery<'q>, tenant: &str) -> AnyQuery<'q> {
        q.bind(tenant.to_string())
            .bind(self.id.clone())
            .bind(self.wa_user_bidx.clone())
            .bind(self.wa_user_ct.clone())
            .bind(self.phone_bidx.clone())
            .bind(self.phone_ct.clone())
            .bind(self.username_ct.clone())
            .bind(self.name_ct.clone())
            .bind(self.labels_ct.clone())
            .bind("[]".to_string())
            .bind(self.attributes_ct.clone())
            .bind(self.at)
            .bind(self.at)
    }
}
