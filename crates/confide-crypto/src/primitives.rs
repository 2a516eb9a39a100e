//! The primitives everything else is built from: AES-256-GCM with random 96-bit nonces,
//! HKDF-SHA256, HMAC-SHA256, and an unambiguous encoding of associated data.

use crate::error::CryptoError;
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{self, AeadInOut, KeyInit};
use confide_core::entropy::{Entropy, random_array};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// Length of an AES-GCM nonce.
const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
const TAG_LEN: usize = 16;
/// Bytes [`seal`] adds to a plaintext.
pub(crate) const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// A fresh random 256-bit key, filled in place so no copy is left behind.
pub(crate) fn random_key(entropy: &dyn Entropy) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    entropy.fill(key.as_mut_slice());
    key
}

/// Encrypts `plaintext` with AES-256-GCM under a random nonce and appends
/// `nonce || ciphertext || tag` to `out`.
pub(crate) fn seal(
    key: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
    entropy: &dyn Entropy,
    out: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    let cipher = Aes256Gcm::new(key.into());
    let nonce: [u8; NONCE_LEN] = random_array(entropy);
    let start = out.len();
    out.reserve(plaintext.len() + SEAL_OVERHEAD);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let body = &mut out[start + NONCE_LEN..];
    match cipher.encrypt_inout_detached((&nonce).into(), aad, body.into()) {
        Ok(tag) => {
            out.extend_from_slice(&tag);
            Ok(())
        }
        Err(aead::Error) => {
            // Only a plaintext over AES-GCM's 64 GiB limit gets here; wipe the copy we made.
            out[start..].zeroize();
            out.truncate(start);
            Err(CryptoError::TooLong)
        }
    }
}

/// Decrypts `nonce || ciphertext || tag` as written by [`seal`].
pub(crate) fn open(
    key: &[u8; 32],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (nonce, rest) = sealed
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(CryptoError::Malformed)?;
    let (ciphertext, tag) = rest
        .split_last_chunk::<TAG_LEN>()
        .ok_or(CryptoError::Malformed)?;
    let cipher = Aes256Gcm::new(key.into());
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    cipher
        .decrypt_inout_detached(nonce.into(), aad, buf.as_mut_slice().into(), tag.into())
        .map_err(|aead::Error| CryptoError::Authentication)?;
    Ok(buf)
}

/// Associated data from `parts`, each prefixed with its length (u64 big-endian), so no two
/// different sequences of parts encode to the same bytes.
pub(crate) fn encode_aad(parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| 8 + p.len()).sum();
    let mut out = Vec::with_capacity(len);
    for part in parts {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// HKDF-SHA256 (RFC 5869, no salt) of `ikm`, with `info` the concatenation of `info` parts.
fn hkdf_sha256<const N: usize>(ikm: &[u8], info: &[&[u8]]) -> Zeroizing<[u8; N]> {
    let mut okm = Zeroizing::new([0u8; N]);
    let expanded = Hkdf::<Sha256>::new(None, ikm).expand_multi_info(info, okm.as_mut_slice());
    // HKDF-SHA256 yields up to 255 × 32 bytes; callers ask for at most 64.
    debug_assert!(expanded.is_ok(), "HKDF output length {N} out of range");
    okm
}

/// A keyed blind index: HMAC-SHA256 of `value` under HKDF(`key`, `label` || `purpose`).
///
/// `label` is a fixed domain string, so `label || purpose` is unambiguous. The derived HMAC key
/// is one SHA-256 block (64 bytes), which HMAC uses as is.
pub(crate) fn blind_index(key: &[u8; 32], label: &[u8], purpose: &str, value: &[u8]) -> [u8; 32] {
    let mac_key = hkdf_sha256::<64>(key, &[label, purpose.as_bytes()]);
    let mut mac = <Hmac<Sha256> as KeyInit>::new((&*mac_key).into());
    mac.update(value);
    mac.finalize().into_bytes().into()
}

/// A 32-byte key derived from `key` with `info` parts (HKDF-SHA256).
pub(crate) fn hkdf_expand_32(key: &[u8; 32], info: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    hkdf_sha256::<32>(key, info)
}

/// A 32-byte secret derived from `key` for one purpose (HKDF-SHA256).
pub(crate) fn derive_secret(key: &[u8; 32], label: &[u8]) -> Zeroizing<[u8; 32]> {
    hkdf_sha256::<32>(key, &[label])
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_core::entropy::SeededEntropy;

    #[test]
    fn seal_open_round_trip_and_layout() {
        let e = SeededEntropy::new(1);
        let key = random_key(&e);
        let mut out = b"head".to_vec();
        seal(&key, b"aad", b"hello", &e, &mut out).unwrap();
        assert_eq!(&out[..4], b"head");
        assert_eq!(out.len(), 4 + 5 + SEAL_OVERHEAD);
        assert_eq!(open(&key, b"aad", &out[4..]).unwrap().as_slice(), b"hello");
        assert_eq!(
            open(&key, b"other", &out[4..]),
            Err(CryptoError::Authentication)
        );
        assert_eq!(open(&key, b"aad", &out[4..20]), Err(CryptoError::Malformed));
    }

    #[test]
    fn aad_encoding_is_unambiguous() {
        assert_ne!(encode_aad(&[b"ab", b"c"]), encode_aad(&[b"a", b"bc"]));
        assert_ne!(encode_aad(&[b"", b"x"]), encode_aad(&[b"x", b""]));
    }

    #[test]
    fn hkdf_matches_rfc5869_test_case_3() {
        // RFC 5869 A.3: SHA-256, zero-length salt and info.
        let ikm = [0x0bu8; 22];
        let okm = hkdf_sha256::<42>(&ikm, &[]);
        assert_eq!(
            hex::encode(okm.as_slice()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d\
             9d201395faa4b61a96c8"
        );
    }

    #[test]
    fn blind_index_depends_on_key_label_purpose_and_value() {
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        let base = blind_index(&k1, b"L", "email", b"a@b");
        assert_eq!(base, blind_index(&k1, b"L", "email", b"a@b"));
        assert_ne!(base, blind_index(&k2, b"L", "email", b"a@b"));
        assert_ne!(base, blind_index(&k1, b"M", "email", b"a@b"));
        assert_ne!(base, blind_index(&k1, b"L", "phone", b"a@b"));
        assert_ne!(base, blind_index(&k1, b"L", "email", b"a@c"));
    }
}
