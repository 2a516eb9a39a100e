//! The business number's profile, `GET /{PHONE_NUMBER_ID}`: how a channel's token is checked.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::de::string_or_number;
use super::error::GraphError;
use super::graph_client::{GraphClient, check_id};

/// `GET /{PHONE_NUMBER_ID}`: the business number as Meta sees it. Asking for it is how a
/// channel's token is checked: it answers only for a token allowed to act for the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumberInfo {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub verified_name: Option<String>,
    #[serde(default)]
    pub quality_rating: Option<String>,
}

impl GraphClient {
    /// `GET /{PHONE_NUMBER_ID}`: the number's profile; Meta answers it only for a token that may
    /// act for the number, so this is the channel's token check (190 expired or invalid, 10 or
    /// 200–299 no permission, 368 or 131031 blocked).
    pub async fn phone_number(&self, phone_number_id: &str) -> Result<PhoneNumberInfo, GraphError> {
        check_id("phone number id", phone_number_id)?;
        let url = self.endpoint(&[phone_number_id])?;
        self.call(self.request(Method::GET, url)?).await
    }
}
