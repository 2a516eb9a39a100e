//! The secrets Confide hands to people, generated in one place from the injected entropy: the
//! one-time passwords of invitations and resets, and API keys.

use confide_core::entropy::{Entropy, random_array};
use confide_crypto::token::SecretToken;

/// Prefix of API keys (lets secret scanners recognise a leaked one).
pub const API_KEY_PREFIX: &str = "cfd_key_";

/// A random one-time password of 20 characters from an alphabet without look-alikes (about
/// 115 bits), for invitations and resets; the person must change it at first sign-in.
pub fn one_time_password(entropy: &dyn Entropy) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let b: [u8; 1] = random_array(entropy);
        // Rejection sampling: no bias towards the first letters.
        if usize::from(b[0]) < 256 - 256 % ALPHABET.len() {
            out.push(char::from(ALPHABET[usize::from(b[0]) % ALPHABET.len()]));
        }
    }
    out
}

/// A new API key (shown once; only its hash is stored).
pub fn api_key(entropy: &dyn Entropy) -> SecretToken {
    SecretToken::generate(entropy, API_KEY_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_core::entropy::OsEntropy;

    #[test]
    fn one_time_passwords_are_long_unambiguous_and_different() {
        let a = one_time_password(&OsEntropy);
        let b = one_time_password(&OsEntropy);
        assert_eq!(a.chars().count(), 20);
        assert_ne!(a, b);
        assert!(!a.chars().any(|c| "0O1lI".contains(c)), "{a}");
    }

    #[test]
    fn api_keys_carry_the_prefix() {
        assert!(api_key(&OsEntropy).as_str().starts_with(API_KEY_PREFIX));
    }
}
