//! Opaque secrets: session tokens, API keys, invitation links.
//!
//! A token is 256 random bits shown once as `prefix + base64url` (no padding); only its SHA-256
//! ([`hash_token`]) is stored, so a stolen database cannot be replayed as tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use confide_core::entropy::Entropy;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A freshly generated token in its text form. Zeroized on drop; `Debug` hides it.
pub struct SecretToken(Zeroizing<String>);

impl SecretToken {
    /// 256 random bits as `prefix` followed by their unpadded base64url encoding
    /// (43 characters), e.g. `cfd_sess_…`.
    pub fn generate(entropy: &dyn Entropy, prefix: &str) -> Self {
        let mut random = Zeroizing::new([0u8; 32]);
        entropy.fill(random.as_mut_slice());
        let mut text = Zeroizing::new(String::with_capacity(prefix.len() + 43));
        text.push_str(prefix);
        URL_SAFE_NO_PAD.encode_string(random.as_slice(), &mut text);
        Self(text)
    }

    /// The text to hand to the client, once.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SHA-256 to store, same as [`hash_token`] of [`as_str`](Self::as_str).
    pub fn hash(&self) -> [u8; 32] {
        hash_token(&self.0)
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(..)")
    }
}

/// SHA-256 of a token's text, the form in which tokens are stored and looked up.
pub fn hash_token(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_core::entropy::{OsEntropy, SeededEntropy};

    #[test]
    fn tokens_are_prefix_plus_256_bits_of_base64url() {
        let t = SecretToken::generate(&OsEntropy, "cfd_sess_");
        let body = t.as_str().strip_prefix("cfd_sess_").unwrap();
        assert_eq!(body.len(), 43);
        assert!(
            body.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
    }

    #[test]
    fn tokens_come_from_the_entropy_source() {
        let a = SecretToken::generate(&SeededEntropy::new(1), "k_");
        let b = SecretToken::generate(&SeededEntropy::new(1), "k_");
        let c = SecretToken::generate(&SeededEntropy::new(2), "k_");
        assert_eq!(a.as_str(), b.as_str());
        assert_ne!(a.as_str(), c.as_str());
        let e = SeededEntropy::new(3);
        assert_ne!(
            SecretToken::generate(&e, "").as_str(),
            SecretToken::generate(&e, "").as_str()
        );
    }

    #[test]
    fn hash_is_sha256_of_the_text() {
        assert_eq!(
            hex::encode(hash_token("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = SecretToken::generate(&OsEntropy, "x_");
        assert_eq!(t.hash(), hash_token(t.as_str()));
        assert_ne!(t.hash(), hash_token(&t.as_str()[1..]));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"same", b"sam"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn debug_hides_the_token() {
        let t = SecretToken::generate(&OsEntropy, "cfd_");
        let shown = format!("{t:?}");
        assert_eq!(shown, "SecretToken(..)");
    }
}
