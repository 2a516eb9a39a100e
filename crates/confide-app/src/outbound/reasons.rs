//! Why an outbound message failed, in words a team member understands: one place for the
//! dispatcher (Graph's answer to a send) and for `failed` status webhooks.

/// Meta's error `code`, in plain words.
pub fn meta_error(code: i64) -> String {
    let text = match code {
        131047 => {
            "More than 24 hours have passed since the customer last wrote; only an approved template can be sent."
        }
        131026 => {
            "WhatsApp could not deliver to this number (it may not be on WhatsApp, or the customer's app is too old)."
        }
        131050 => "The customer has stopped marketing messages from this business.",
        131049 => {
            "WhatsApp did not deliver this marketing message to keep the customer's experience good; try again later."
        }
        131056 => "Too many messages to this customer in a short time; WhatsApp refused this one.",
        130429 => "WhatsApp's rate limit for this number was reached.",
        131048 => {
            "WhatsApp limited this number for spam; check its quality rating in WhatsApp Manager."
        }
        132000 | 132001 | 132005 | 132007 | 132012 | 132015 | 132016 => {
            "The template does not match what WhatsApp approved (name, language or parameters)."
        }
        190 => "WhatsApp refused the number's access token; reconnect the number.",
        368 | 131031 => "WhatsApp blocked or locked the business account.",
        10 | 200..=299 => "The access token lacks the permission to send.",
        _ => return format!("WhatsApp refused the message (error {code})."),
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_are_explained_and_others_name_their_code() {
        assert!(meta_error(131047).contains("24 hours"));
        assert!(meta_error(190).contains("access token"));
        assert_eq!(
            meta_error(4242),
            "WhatsApp refused the message (error 4242)."
        );
    }
}
