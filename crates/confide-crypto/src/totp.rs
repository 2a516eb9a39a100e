//! Time-based one-time passwords (RFC 6238, over HOTP of RFC 4226) for the second factor.
//!
//! Production uses HMAC-SHA1, 6 digits and a 30-second step, which is what every authenticator
//! app understands; SHA-256 and SHA-512 exist for the RFC's test vectors. A code is accepted in
//! the step it was made for and one step either side (clock drift), and only for a step later
//! than the last one accepted, so a code works once ([`Totp::verify`] returns the step to store).
//! Secrets are 160 random bits, shown to the user as base32 inside an `otpauth://` URI.

use confide_core::entropy::Entropy;
use hmac::{Hmac, KeyInit, Mac};
use std::fmt;
use zeroize::Zeroizing;

macro_rules! hmac_bytes {
    ($digest:ty, $key:expr, $msg:expr) => {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        match <Hmac<$digest> as KeyInit>::new_from_slice($key) {
            Ok(mut mac) => {
                mac.update($msg);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    };
}

/// The HMAC behind the codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }
}

/// Length of a generated secret in bytes (RFC 4226 recommends 160 bits).
pub const SECRET_LEN: usize = 20;
/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Steps accepted either side of the current one.
pub const DRIFT_STEPS: i64 = 1;

/// A TOTP generator/verifier for one secret. `Debug` hides the secret.
pub struct Totp {
    secret: Zeroizing<Vec<u8>>,
    algorithm: Algorithm,
    digits: u32,
    step: i64,
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .finish_non_exhaustive()
    }
}

impl Totp {
    /// The production setting: SHA-1, 6 digits, 30-second steps.
    pub fn new(secret: &[u8]) -> Self {
        Self::with(secret, Algorithm::Sha1, 6)
    }

    /// Any algorithm and 6–9 digits (clamped), 30-second steps.
    pub fn with(secret: &[u8], algorithm: Algorithm, digits: u32) -> Self {
        Totp {
            secret: Zeroizing::new(secret.to_vec()),
            algorithm,
            digits: digits.clamp(6, 9),
            step: STEP_SECONDS,
        }
    }

    /// A fresh random secret.
    pub fn generate_secret(entropy: &dyn Entropy) -> Zeroizing<Vec<u8>> {
        let mut s = Zeroizing::new(vec![0u8; SECRET_LEN]);
        entropy.fill(&mut s);
        s
    }

    /// The step number of a Unix time.
    pub fn step_at(&self, unix_seconds: i64) -> i64 {
        unix_seconds.div_euclid(self.step)
    }

    /// The code for a step (HOTP with the step as counter), zero-padded to `digits`.
    pub fn code_for_step(&self, step: i64) -> String {
        let counter = u64::try_from(step).unwrap_or(0).to_be_bytes();
        let mac = match self.algorithm {
            Algorithm::Sha1 => hmac_bytes!(sha1::Sha1, &self.secret, &counter),
            Algorithm::Sha256 => hmac_bytes!(sha2::Sha256, &self.secret, &counter),
            Algorithm::Sha512 => hmac_bytes!(sha2::Sha512, &self.secret, &counter),
        };
        // Dynamic truncation (RFC 4226 §5.3).
        let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
        let bytes: [u8; 4] = mac
            .get(offset..offset + 4)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; 4]);
        let binary = u32::from_be_bytes(bytes) & 0x7fff_ffff;
        let modulus = 10u64.pow(self.digits);
        let value = u64::from(binary) % modulus;
        format!("{value:0width$}", width = self.digits as usize)
    }

    /// The code at a Unix time.
    pub fn code_at(&self, unix_seconds: i64) -> String {
        self.code_for_step(self.step_at(unix_seconds))
    }

    /// Checks `code` at `unix_seconds`, accepting the current step ± [`DRIFT_STEPS`], but only
    /// steps after `last_used_step` (a code works once). Returns the matched step, which the
    /// caller stores as the new `last_used_step`.
    pub fn verify(
        &self,
        code: &str,
        unix_seconds: i64,
        last_used_step: Option<i64>,
    ) -> Option<i64> {
        let code = code.trim();
        if code.len() != self.digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = self.step_at(unix_seconds);
        let mut found = None;
        // Check every candidate (no early exit) so timing does not tell which step matched.
        for step in (now - DRIFT_STEPS)..=(now + DRIFT_STEPS) {
            let candidate = self.code_for_step(step);
            if crate::token::constant_time_eq(candidate.as_bytes(), code.as_bytes())
                && last_used_step.is_none_or(|last| step > last)
                && found.is_none()
            {
                found = Some(step);
            }
        }
        found
    }

    /// The `otpauth://totp/...` URI an authenticator app reads from a QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm={}&digits={}&period={}",
            percent_encode(issuer),
            percent_encode(account),
            base32_encode(&self.secret),
            percent_encode(issuer),
            self.algorithm.name(),
            self.digits,
            self.step
        )
    }
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (the form otpauth URIs use).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 (case-insensitive, spaces and padding ignored); `None` on other characters.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let c = c.to_ascii_uppercase();
        let v = BASE32.iter().position(|&b| char::from(b) == c)?;
        buffer = (buffer << 5) | v as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_core::entropy::SeededEntropy;

    const SEED_SHA1: &[u8] = b"12345678901234567890";
    const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
    const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    /// RFC 6238 Appendix B: (time, code) for SHA1, SHA256, SHA512 with 8 digits.
    const VECTORS: &[(i64, &str, &str, &str)] = &[
        (59, "94287082", "46119246", "90693936"),
        (1_111_111_109, "07081804", "68084774", "25091201"),
        (1_111_111_111, "14050471", "67062674", "99943326"),
        (1_234_567_890, "89005924", "91819424", "93441116"),
        (2_000_000_000, "69279037", "90698825", "38618901"),
        (20_000_000_000, "65353130", "77737706", "47863826"),
    ];

    #[test]
    fn rfc6238_test_vectors() {
        let sha1 = Totp::with(SEED_SHA1, Algorithm::Sha1, 8);
        let sha256 = Totp::with(SEED_SHA256, Algorithm::Sha256, 8);
        let sha512 = Totp::with(SEED_SHA512, Algorithm::Sha512, 8);
        for &(t, c1, c256, c512) in VECTORS {
            assert_eq!(sha1.code_at(t), c1, "SHA1 at {t}");
            assert_eq!(sha256.code_at(t), c256, "SHA256 at {t}");
            assert_eq!(sha512.code_at(t), c512, "SHA512 at {t}");
        }
    }

    #[test]
    fn six_digit_codes_are_the_last_six_digits_of_the_vectors() {
        let t = Totp::new(SEED_SHA1);
        assert_eq!(t.code_at(59), "287082");
        assert_eq!(t.code_at(1_111_111_109), "081804");
        assert_eq!(t.code_at(1_234_567_890), "005924");
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        // RFC 4226 Appendix D: counter 0..9, 6 digits.
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        let t = Totp::new(SEED_SHA1);
        for (i, code) in expected.iter().enumerate() {
            assert_eq!(t.code_for_step(i as i64), *code);
        }
    }

    #[test]
    fn a_code_works_once_and_within_one_step_of_drift() {
        let t = Totp::new(SEED_SHA1);
        let now = 1_234_567_890;
        let code = t.code_at(now);
        let step = t.verify(&code, now, None).unwrap();
        assert_eq!(step, t.step_at(now));
        assert_eq!(t.verify(&code, now, Some(step)), None, "replayed");
        assert_eq!(t.verify(&code, now + 30, None), Some(step), "one step late");
        assert_eq!(t.verify(&code, now + 90, None), None, "three steps late");
        let next = t.code_at(now + 30);
        assert_eq!(t.verify(&next, now + 30, Some(step)), Some(step + 1));
        assert_eq!(t.verify("12345", now, None), None);
        assert_eq!(t.verify("abcdef", now, None), None);
    }

    #[test]
    fn base32_round_trips_and_matches_rfc4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(base32_encode(SEED_SHA1), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let s = Totp::generate_secret(&SeededEntropy::new(1));
        assert_eq!(s.len(), 20);
        assert_eq!(base32_decode(&base32_encode(&s)).unwrap(), s.to_vec());
        assert_eq!(base32_decode("mzxw6ytboi").unwrap(), b"foobar");
        assert!(base32_decode("MZ1").is_none());
    }

    #[test]
    fn otpauth_uri_is_qr_ready() {
        let t = Totp::new(SEED_SHA1);
        let uri = t.otpauth_uri("Confide", "ana@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/Confide:ana@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Confide&algorithm=SHA1&digits=6&period=30"
        );
        assert!(!format!("{t:?}").contains("GEZ"));
    }
}
