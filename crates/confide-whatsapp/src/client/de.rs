//! Lenient deserialisation of Graph's answers: ids come as strings or as numbers.

use serde::{Deserialize, Deserializer};

/// An id as a string, whether Graph sent a string or a number.
pub(super) fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(u64),
    }
    Ok(match Either::deserialize(d)? {
        Either::S(s) => s,
        Either::N(n) => n.to_string(),
    })
}
