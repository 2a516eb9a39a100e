//! The secrets Confide hands to people, generated in one place from the injected entropy: the
//! one-time passwords of invitations and resets, API keys, and 2FA recovery codes.

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

/// Recovery codes per user.
pub const RECOVERY_CODES: usize = 10;

/// Ten recovery codes, each 12 characters (about 60 bits) in groups of four: `abcd-efgh-jkmn`.
pub fn recovery_codes(entropy: &dyn Entropy) -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut out = String::with_capacity(14);
            let mut n: u32 = 0;
            while n < 12 {
                let b: [u8; 1] = random_array(entropy);
                if usize::from(b[0]) < 256 - 256 % ALPHABET.len() {
                    if n > 0 && n.is_multiple_of(4) {
                        out.push('-');
                    }
                    out.push(char::from(ALPHABET[usize::from(b[0]) % ALPHABET.len()]));
                    n += 1;
                }
            }
            out
        })
        .collect()
}

/// The stored form of a recovery code: SHA-256 of its normalised text (lowercase, no dashes or
/// spaces). A code has 60 random bits, so a plain hash is enough; it is also single-use.
pub fn recovery_code_hash(code: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut h = Sha256::new();
    h.update(b"confide-recovery-v1");
    h.update(normal.as_bytes());
    h.finalize().into()
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
