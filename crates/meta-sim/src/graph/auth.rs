//! Access tokens: the phone numbers and WABAs a token may act for (unexpired), and the 401, 403
//! or unknown-object error Meta gives otherwise.

use time::OffsetDateTime;

use super::error::GraphError;
use crate::state::State;

/// The phone number ids a token may act for (unexpired), or the 401 Meta gives.
pub(crate) fn authorize(
    st: &State,
    token: Option<&str>,
    now: OffsetDateTime,
) -> Result<Vec<String>, GraphError> {
    let Some(token) = token else {
        return Err(GraphError::token_invalid());
    };
    let mut valid = Vec::new();
    let mut expired_at = None;
    for n in st.numbers.values() {
        if n.config.access_token == token {
            match n.config.token_expires_at {
                Some(at) if at <= now => expired_at = Some(at),
                _ => valid.push(n.config.phone_number_id.clone()),
            }
        }
    }
    if !valid.is_empty() {
        return Ok(valid);
    }
    match expired_at {
        Some(at) => Err(GraphError::token_expired(at, now)),
        None => Err(GraphError::token_invalid()),
    }
}

/// Authorizes a token for one phone number.
pub(crate) fn authorize_number(
    st: &State,
    token: Option<&str>,
    pnid: &str,
    now: OffsetDateTime,
) -> Result<(), GraphError> {
    let allowed = authorize(st, token, now)?;
    if allowed.iter().any(|p| p == pnid) {
        return Ok(());
    }
    if st.numbers.contains_key(pnid) {
        Err(GraphError::permission())
    } else {
        Err(GraphError::no_object(pnid, "post"))
    }
}

/// Authorizes a token for a WABA (any of its numbers' tokens).
pub(crate) fn authorize_waba(
    st: &State,
    token: Option<&str>,
    waba_id: &str,
    method: &str,
    now: OffsetDateTime,
) -> Result<(), GraphError> {
    let allowed = authorize(st, token, now)?;
    let ok = allowed.iter().any(|p| {
        st.numbers
            .get(p)
            .is_some_and(|n| n.config.waba_id == waba_id)
    });
    if ok {
        Ok(())
    } else if st.numbers.values().any(|n| n.config.waba_id == waba_id) {
        Err(GraphError::permission())
    } else {
        Err(GraphError::no_object(waba_id, method))
    }
}
