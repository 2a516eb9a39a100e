//! `X-Hub-Signature-256` (whatsapp-cloud-api.md §1, SECURITY-CLAIMS C17).
//!
//! Meta signs every webhook POST with `sha256=` + lowercase hex HMAC-SHA256(raw body, app secret).
//! Verify over the bytes **as received**, before parsing, never over re-serialised JSON.
//!
//! The header is read strictly: exactly `sha256=` followed by 64 lowercase hex digits, nothing
//! before or after. Meta documents and sends lowercase; an uppercase digest is refused as
//! [`SignatureError::Malformed`] rather than normalised, because accepting several spellings of one
//! signature buys nothing and widens what a forger may try. Surrounding whitespace is not trimmed
//! here (HTTP libraries already strip it from header values).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

/// The header Meta sends the signature in.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
const PREFIX: &str = "sha256=";
const HEX_LEN: usize = 64;

/// Why a signature was refused. Every variant answers the same 401; the distinction is for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the webhook signature header is missing")]
    Missing,
    #[error("the webhook signature header is malformed")]
    Malformed,
    #[error("the webhook signature does not match")]
    Mismatch,
}

/// Verifies `header` (the `X-Hub-Signature-256` value) over `body` against each secret in
/// `secrets` (two during a rotation). Every secret is tried, in constant time with respect to the
/// digest. An empty secret never matches: a channel without a secret must not accept anything.
pub fn verify_signature(
    header: Option<&str>,
    body: &[u8],
    secrets: &[&[u8]],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let expected = parse_header(header)?;
    let mut matched = Choice::from(0);
    for secret in secrets {
        let computed = digest(body, secret);
        let usable = Choice::from(u8::from(!secret.is_empty()));
        matched |= computed.as_slice().ct_eq(expected.as_slice()) & usable;
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header value for `body` signed with `secret`: `sha256=<64 lowercase hex>`.
pub fn sign(body: &[u8], secret: &[u8]) -> String {
    let mut out = String::with_capacity(PREFIX.len() + HEX_LEN);
    out.push_str(PREFIX);
    out.push_str(&hex::encode(digest(body, secret)));
    out
}

fn digest(body: &[u8], secret: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this never fails; an error would leave a zero digest,
    // which no header can match by accident only with probability 2^-256.
    let mut out = [0u8; 32];
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) {
        mac.update(body);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

fn parse_header(header: &str) -> Result<[u8; 32], SignatureError> {
    let hex = header
        .strip_prefix(PREFIX)
        .ok_or(SignatureError::Malformed)?;
    let bytes = hex.as_bytes();
    if bytes.len() != HEX_LEN {
        return Err(SignatureError::Malformed);
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Ok(out)
}

fn nibble(c: u8) -> Result<u8, SignatureError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(SignatureError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"what do ya want for nothing?", b"Jefe"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn empty_secret_never_matches() {
        let h = sign(b"body", b"");
        assert_eq!(
            verify_signature(Some(&h), b"body", &[b""]),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(Some(&h), b"body", &[]),
            Err(SignatureError::Mismatch)
        );
    }
}
