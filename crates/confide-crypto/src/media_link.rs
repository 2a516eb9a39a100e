//! Signed media links: `GET /m/{token}`.
//!
//! A token is `base64url(payload ‖ HMAC-SHA256(link key, label ‖ method ‖ path prefix ‖ payload))`
//! with the payload
//!
//! ```text
//! [version 0x01][key id length u8][key id][tenant 16][object 16][link id 16][expires_at i64 BE][flags u8]
//! ```
//!
//! The link key is derived from the keyring's key-encryption key named by the key id
//! ([`Keyring::link_key`]), so rotating the keyring rotates link keys and a removed KEK revokes its
//! links. The MAC is checked in constant time before anything in the payload is believed; the
//! expiry is checked after. Single-use links carry their random link id, which the server records
//! on the first successful fetch.

use crate::keyring::Keyring;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};

use sha2::Sha256;

const VERSION: u8 = 0x01;
const MAC_LABEL: &[u8] = b"confide-media-link-v1";
/// Links are served under this path.
pub const PATH_PREFIX: &str = "/m/";
/// Download links of full exports are served under this path. The prefix is part of the MAC, so
/// a media link is no export link and the other way round.
pub const EXPORT_PATH_PREFIX: &str = "/x/";
const MAC_LEN: usize = 32;
const FLAG_SINGLE_USE: u8 = 0b01;
const FLAG_INLINE: u8 = 0b10;
/// Longest token accepted (a key id is at most 64 bytes).
const MAX_TOKEN_LEN: usize = 256;

/// What a link grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClaims {
    pub tenant: [u8; 16],
    pub object: [u8; 16],
    /// Random, unique per link: what a single-use fetch consumes.
    pub link_id: [u8; 16],
    /// Unix seconds.
    pub expires_at: i64,
    pub single_use: bool,
    /// Served inline (images shown in the inbox) rather than as an attachment.
    pub inline: bool,
}

/// Why a token was refused. The server answers every one the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("malformed link")]
    Malformed,
    #[error("link signed with an unknown key")]
    UnknownKey,
    #[error("bad link signature")]
    BadSignature,
    #[error("link expired")]
    Expired,
}

fn mac(key: &[u8; 32], method: &str, prefix: &str, payload: &[u8]) -> Hmac<Sha256> {
    let mut m =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    m.update(MAC_LABEL);
    m.update(&(method.len() as u64).to_be_bytes());
    m.update(method.as_bytes());
    m.update(prefix.as_bytes());
    m.update(payload);
    m
}

/// HMAC takes keys of any length; this is never reached.
#[cold]
fn unreachable_hmac() -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new(&Default::default())
}

/// Signs a link for `method` with the keyring's primary key.
pub fn sign(keyring: &Keyring, method: &str, claims: &LinkClaims) -> String {
    sign_for(keyring, method, PATH_PREFIX, claims)
}

/// Signs a link served under `prefix` ([`PATH_PREFIX`] or [`EXPORT_PATH_PREFIX`]).
pub fn sign_for(keyring: &Keyring, method: &str, prefix: &str, claims: &LinkClaims) -> String {
    let kid = keyring.primary_kek_id().as_bytes();
    let kid = &kid[..kid.len().min(64)];
    let mut payload = Vec::with_capacity(2 + kid.len() + 48 + 9 + MAC_LEN);
    payload.push(VERSION);
    payload.push(kid.len() as u8);
    payload.extend_from_slice(kid);
    payload.extend_from_slice(&claims.tenant);
    payload.extend_from_slice(&claims.object);
    payload.extend_from_slice(&claims.link_id);
    payload.extend_from_slice(&claims.expires_at.to_be_bytes());
    let mut flags = 0;
    if claims.single_use {
        flags |= FLAG_SINGLE_USE;
    }
    if claims.inline {
        flags |= FLAG_INLINE;
    }
    payload.push(flags);
    // The primary KEK always exists, so its link key does too.
    let tag = keyring
        .link_key(std::str::from_utf8(kid).unwrap_or_default())
        .map(|key| {
            mac(&key, method, prefix, &payload)
                .finalize()
                .into_bytes()
                .to_vec()
        })
        .unwrap_or_default();
    payload.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(payload)
}

/// Verifies a token for `method` at `now` (unix seconds): signature first, in constant time, then
/// expiry.
pub fn verify(
    keyring: &Keyring,
    method: &str,
    token: &str,
    now: i64,
) -> Result<LinkClaims, LinkError> {
    verify_for(keyring, method, PATH_PREFIX, token, now)
}

/// Verifies a token served under `prefix` (see [`verify`]).
pub fn verify_for(
    keyring: &Keyring,
    method: &str,
    prefix: &str,
    token: &str,
    now: i64,
) -> Result<LinkClaims, LinkError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(LinkError::Malformed);
    }
    let raw = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| LinkError::Malformed)?;
    if raw.len() < 2 + MAC_LEN {
        return Err(LinkError::Malformed);
    }
    let (payload, tag) = raw.split_at(raw.len() - MAC_LEN);
    if payload[0] != VERSION {
        return Err(LinkError::Malformed);
    }
    let kid_len = payload[1] as usize;
    let body_len = 2 + kid_len + 48 + 8 + 1;
    if payload.len() != body_len {
        return Err(LinkError::Malformed);
    }
    let kid = std::str::from_utf8(&payload[2..2 + kid_len]).map_err(|_| LinkError::Malformed)?;
    let key = keyring.link_key(kid).ok_or(LinkError::UnknownKey)?;
    mac(&key, method, prefix, payload)
        .verify_slice(tag)
        .map_err(|_| LinkError::BadSignature)?;
    let rest = &payload[2 + kid_len..];
    let take16 = |at: usize| -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&rest[at..at + 16]);
        a
    };
    let mut exp = [0u8; 8];
    exp.copy_from_slice(&rest[48..56]);
    let flags = rest[56];
    let claims = LinkClaims {
        tenant: take16(0),
        object: take16(16),
        link_id: take16(32),
        expires_at: i64::from_be_bytes(exp),
        single_use: flags & FLAG_SINGLE_USE != 0,
        inline: flags & FLAG_INLINE != 0,
    };
    if now >= claims.expires_at {
        return Err(LinkError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_core::clock::ManualClock;
    use confide_core::entropy::SeededEntropy;

    fn claims() -> LinkClaims {
        LinkClaims {
            tenant: [1; 16],
            object: [2; 16],
            link_id: [3; 16],
            expires_at: 1_000,
            single_use: true,
            inline: false,
        }
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let clock = ManualClock::new(time::OffsetDateTime::UNIX_EPOCH);
        let kr = Keyring::generate(&clock, &SeededEntropy::new(1));
        let t = sign(&kr, "GET", &claims());
        assert_eq!(verify(&kr, "GET", &t, 999), Ok(claims()));
        assert_eq!(verify(&kr, "GET", &t, 1_000), Err(LinkError::Expired));
    }

    #[test]
    fn tampering_another_method_another_key_or_garbage_is_refused() {
        let clock = ManualClock::new(time::OffsetDateTime::UNIX_EPOCH);
        let mut kr = Keyring::generate(&clock, &SeededEntropy::new(1));
        let t = sign(&kr, "GET", &claims());
        assert_eq!(verify(&kr, "PUT", &t, 0), Err(LinkError::BadSignature));
        let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        let n = raw.len();
        raw[n - 40] ^= 1; // the expiry
        let forged = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(verify(&kr, "GET", &forged, 0), Err(LinkError::BadSignature));
        let other = Keyring::generate(&clock, &SeededEntropy::new(2));
        assert!(verify(&other, "GET", &t, 0).is_err());
        for junk in ["", "..%2f..%2fetc%2fpasswd", "AAAA", &"A".repeat(300)] {
            assert!(verify(&kr, "GET", junk, 0).is_err(), "{junk}");
        }
        // Rotation: old links verify while the old key is kept, and stop once it is removed.
        let old = kr.primary_kek_id().to_owned();
        kr.rotate(&clock, &SeededEntropy::new(3));
        assert_eq!(verify(&kr, "GET", &t, 0), Ok(claims()));
        let fresh = sign(&kr, "GET", &claims());
        kr.remove(&old).unwrap();
        assert_eq!(verify(&kr, "GET", &t, 0), Err(LinkError::UnknownKey));
        assert_eq!(verify(&kr, "GET", &fresh, 0), Ok(claims()));
    }

    #[test]
    fn a_media_link_is_no_export_link_and_the_other_way_round() {
        let clock = ManualClock::new(time::OffsetDateTime::UNIX_EPOCH);
        let kr = Keyring::generate(&clock, &SeededEntropy::new(1));
        let media = sign(&kr, "GET", &claims());
        let export = sign_for(&kr, "GET", EXPORT_PATH_PREFIX, &claims());
        assert_eq!(
            verify_for(&kr, "GET", EXPORT_PATH_PREFIX, &export, 0),
            Ok(claims())
        );
        assert_eq!(
            verify_for(&kr, "GET", EXPORT_PATH_PREFIX, &media, 0),
            Err(LinkError::BadSignature)
        );
        assert_eq!(verify(&kr, "GET", &export, 0), Err(LinkError::BadSignature));
    }
}
