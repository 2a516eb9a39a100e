//! Media objects, sealed in chunks so they stream in and out with bounded memory.
//!
//! Layout of a sealed object:
//!
//! ```text
//! header: [format 0x02][data key version, u32 BE][32-byte random salt]
//! chunk i: [ciphertext of up to CHUNK bytes || 16-byte tag]   (every chunk but the last is full)
//! ```
//!
//! Each object gets its own AES-256-GCM key, HKDF-SHA256(tenant data key, label ‖ tenant ‖ object
//! id ‖ salt): the random salt makes the key fresh even if an object id were ever written twice, so
//! the nonce can be the chunk index. Every chunk's associated data holds the object id, the chunk
//! index and whether it is the last chunk: a chunk moved to another place, another object, or a
//! stream cut short after a full chunk fails to decrypt.
//!
//! Because every chunk but the last has the same size, a byte range of the plaintext maps to a
//! range of sealed chunks ([`sealed_range`]): range requests decrypt only what they serve.

use crate::envelope::TenantKeys;
use crate::error::CryptoError;
use crate::primitives;
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{self, AeadInOut, KeyInit};
use confide_core::entropy::{Entropy, random_array};
use zeroize::Zeroizing;

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
/// Bytes of a sealed chunk beyond its plaintext.
pub const CHUNK_OVERHEAD: usize = 16;
/// Bytes of a sealed full chunk.
pub const SEALED_CHUNK: usize = CHUNK + CHUNK_OVERHEAD;
/// Bytes of the header before the first chunk.
pub const HEADER_LEN: usize = 1 + 4 + 32;
/// The media object format.
const FORMAT_MEDIA_V1: u8 = 0x02;
const KEY_LABEL: &[u8] = b"confide-media-key-v1";
const AAD_LABEL: &[u8] = b"confide-media-chunk-v1";

/// The sealed size of a `plain_len`-byte object (an empty object is one empty final chunk).
pub fn sealed_len(plain_len: u64) -> u64 {
    let chunks = chunk_count(plain_len);
    HEADER_LEN as u64 + plain_len + chunks * CHUNK_OVERHEAD as u64
}

/// Chunks of a `plain_len`-byte object.
pub fn chunk_count(plain_len: u64) -> u64 {
    plain_len.div_ceil(CHUNK as u64).max(1)
}

/// The chunks `[first, last]` holding plaintext bytes `[start, end)` (end > start) and the byte
/// range of the sealed object they occupy.
pub fn sealed_range(plain_len: u64, start: u64, end: u64) -> (u64, u64, std::ops::Range<u64>) {
    let chunk = CHUNK as u64;
    let first = start / chunk;
    let last = (end.saturating_sub(1) / chunk).min(chunk_count(plain_len) - 1);
    let from = HEADER_LEN as u64 + first * SEALED_CHUNK as u64;
    let to = (HEADER_LEN as u64 + (last + 1) * SEALED_CHUNK as u64).min(sealed_len(plain_len));
    (first, last, from..to)
}

/// Seals one object chunk by chunk. Feed it the plaintext in any pieces with [`push`](Self::push)
/// and take what it has sealed so far; [`finish`](Self::finish) seals the last chunk.
pub struct MediaSealer {
    cipher: Aes256Gcm,
    aad: AadBase,
    next: u64,
    buf: Zeroizing<Vec<u8>>,
    header: Option<Vec<u8>>,
}

/// Opens one object's chunks, given its header.
pub struct MediaOpener {
    cipher: Aes256Gcm,
    aad: AadBase,
}

struct AadBase {
    tenant: String,
    object: String,
}

impl AadBase {
    fn for_chunk(&self, index: u64, last: bool) -> Vec<u8> {
        primitives::encode_aad(&[
            AAD_LABEL,
            self.tenant.as_bytes(),
            self.object.as_bytes(),
            &index.to_be_bytes(),
            &[u8::from(last)],
        ])
    }
}

fn nonce(index: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&index.to_be_bytes());
    n
}

fn object_cipher(
    keys: &TenantKeys,
    version: u32,
    object: &str,
    salt: &[u8; 32],
) -> Result<Aes256Gcm, CryptoError> {
    let key = keys.data_key(version)?;
    let info =
        primitives::encode_aad(&[KEY_LABEL, keys.tenant().as_bytes(), object.as_bytes(), salt]);
    let okm = primitives::hkdf_expand_32(key.expose(), &[&info]);
    Ok(Aes256Gcm::new((&*okm).into()))
}

impl MediaSealer {
    /// A sealer for object `object` of this tenant, with the current data key.
    pub fn new(
        keys: &TenantKeys,
        object: &str,
        entropy: &dyn Entropy,
    ) -> Result<MediaSealer, CryptoError> {
        let version = keys.current_version();
        let salt: [u8; 32] = random_array(entropy);
        let cipher = object_cipher(keys, version, object, &salt)?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.push(FORMAT_MEDIA_V1);
        header.extend_from_slice(&version.to_be_bytes());
        header.extend_from_slice(&salt);
        Ok(MediaSealer {
            cipher,
            aad: AadBase {
                tenant: keys.tenant().to_owned(),
                object: object.to_owned(),
            },
            next: 0,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK)),
            header: Some(header),
        })
    }

    /// Takes `plain` and appends to `out` the header (the first time) and every chunk that is
    /// now full. A chunk is sealed only once the next byte is known to exist, so the last chunk
    /// is always sealed by `finish` and marked last.
    pub fn push(&mut self, mut plain: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        if let Some(h) = self.header.take() {
            out.extend_from_slice(&h);
        }
        while !plain.is_empty() {
            if self.buf.len() == CHUNK {
                self.seal_buffer(false, out)?;
            }
            let room = CHUNK - self.buf.len();
            let take = room.min(plain.len());
            self.buf.extend_from_slice(&plain[..take]);
            plain = &plain[take..];
        }
        Ok(())
    }

    /// Seals the last chunk (possibly empty) into `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), CryptoError> {
        if let Some(h) = self.header.take() {
            out.extend_from_slice(&h);
        }
        self.seal_buffer(true, out)
    }

    fn seal_buffer(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), CryptoError> {
        let aad = self.aad.for_chunk(self.next, last);
        let start = out.len();
        out.extend_from_slice(&self.buf);
        let tag = self
            .cipher
            .encrypt_inout_detached(
                (&nonce(self.next)).into(),
                &aad,
                out[start..].as_mut().into(),
            )
            .map_err(|aead::Error| CryptoError::TooLong)?;
        out.extend_from_slice(&tag);
        self.buf.clear();
        self.next += 1;
        Ok(())
    }
}

impl MediaOpener {
    /// An opener for object `object` of this tenant, from the object's first [`HEADER_LEN`]
    /// bytes.
    pub fn new(keys: &TenantKeys, object: &str, header: &[u8]) -> Result<MediaOpener, CryptoError> {
        if header.len() < HEADER_LEN {
            return Err(CryptoError::Malformed);
        }
        if header[0] != FORMAT_MEDIA_V1 {
            return Err(CryptoError::UnknownFormat(header[0]));
        }
        let mut v = [0u8; 4];
        v.copy_from_slice(&header[1..5]);
        let mut salt = [0u8; 32];
        salt.copy_from_slice(&header[5..HEADER_LEN]);
        Ok(MediaOpener {
            cipher: object_cipher(keys, u32::from_be_bytes(v), object, &salt)?,
            aad: AadBase {
                tenant: keys.tenant().to_owned(),
                object: object.to_owned(),
            },
        })
    }

    /// Decrypts sealed chunk `index` (`last` when it is the object's final chunk).
    pub fn open_chunk(
        &self,
        index: u64,
        last: bool,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < CHUNK_OVERHEAD || sealed.len() > SEALED_CHUNK {
            return Err(CryptoError::Malformed);
        }
        if !last && sealed.len() != SEALED_CHUNK {
            return Err(CryptoError::Malformed);
        }
        let (body, tag) = sealed
            .split_last_chunk::<CHUNK_OVERHEAD>()
            .ok_or(CryptoError::Malformed)?;
        let mut buf = Zeroizing::new(body.to_vec());
        self.cipher
            .decrypt_inout_detached(
                (&nonce(index)).into(),
                &self.aad.for_chunk(index, last),
                buf.as_mut_slice().into(),
                tag.into(),
            )
            .map_err(|aead::Error| CryptoError::Authentication)?;
        Ok(buf)
    }

    /// Decrypts a whole sealed object held in memory (header included).
    pub fn open_all(
        keys: &TenantKeys,
        object: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let opener = MediaOpener::new(keys, object, sealed)?;
        let body = &sealed[HEADER_LEN..];
        if body.len() < CHUNK_OVERHEAD {
            return Err(CryptoError::Malformed);
        }
        let mut out = Zeroizing::new(Vec::with_capacity(body.len()));
        let chunks: Vec<&[u8]> = body.chunks(SEALED_CHUNK).collect();
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            out.extend_from_slice(&opener.open_chunk(i as u64, i + 1 == n, c)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::DataKey;
    use confide_core::entropy::SeededEntropy;
    use std::collections::BTreeMap;

    fn keys(tenant: &str) -> TenantKeys {
        let e = SeededEntropy::new(7);
        let mut data = BTreeMap::new();
        data.insert(1, DataKey::generate(&e));
        TenantKeys::new(tenant, data, 1, DataKey::generate(&e)).unwrap()
    }

    fn seal(keys: &TenantKeys, object: &str, plain: &[u8], piece: usize) -> Vec<u8> {
        let e = SeededEntropy::new(9);
        let mut s = MediaSealer::new(keys, object, &e).unwrap();
        let mut out = Vec::new();
        for p in plain.chunks(piece.max(1)) {
            s.push(p, &mut out).unwrap();
        }
        s.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn round_trips_at_every_boundary_and_has_the_predicted_length() {
        let k = keys("t1");
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let sealed = seal(&k, "obj", &plain, 1000);
            assert_eq!(sealed.len() as u64, sealed_len(len as u64), "len {len}");
            let opened = MediaOpener::open_all(&k, "obj", &sealed).unwrap();
            assert_eq!(opened.as_slice(), plain.as_slice(), "len {len}");
        }
    }

    #[test]
    fn swapped_dropped_or_foreign_chunks_and_truncation_fail() {
        let k = keys("t1");
        let plain = vec![5u8; 3 * CHUNK + 10];
        let sealed = seal(&k, "obj", &plain, 4096);
        let h = HEADER_LEN;
        let c = |i: usize| {
            &sealed[h + i * SEALED_CHUNK..(h + (i + 1) * SEALED_CHUNK).min(sealed.len())]
        };
        // Swap chunks 0 and 1.
        let mut swapped = sealed[..h].to_vec();
        swapped.extend_from_slice(c(1));
        swapped.extend_from_slice(c(0));
        swapped.extend_from_slice(c(2));
        swapped.extend_from_slice(c(3));
        assert_eq!(
            MediaOpener::open_all(&k, "obj", &swapped),
            Err(CryptoError::Authentication)
        );
        // Drop chunk 1.
        let mut dropped = sealed[..h].to_vec();
        dropped.extend_from_slice(c(0));
        dropped.extend_from_slice(c(2));
        dropped.extend_from_slice(c(3));
        assert_eq!(
            MediaOpener::open_all(&k, "obj", &dropped),
            Err(CryptoError::Authentication)
        );
        // Cut after a full chunk: the last full chunk was not sealed as last.
        let cut = &sealed[..h + 2 * SEALED_CHUNK];
        assert_eq!(
            MediaOpener::open_all(&k, "obj", cut),
            Err(CryptoError::Authentication)
        );
        // Another object's id, another tenant's keys.
        assert_eq!(
            MediaOpener::open_all(&k, "other", &sealed),
            Err(CryptoError::Authentication)
        );
        assert!(MediaOpener::open_all(&keys("t2"), "obj", &sealed).is_err());
        // A chunk from another object sealed with the same key.
        let other = seal(&k, "obj2", &plain, 4096);
        let mut foreign = sealed.clone();
        foreign[h..h + SEALED_CHUNK].copy_from_slice(&other[h..h + SEALED_CHUNK]);
        assert_eq!(
            MediaOpener::open_all(&k, "obj", &foreign),
            Err(CryptoError::Authentication)
        );
        // One flipped bit.
        let mut flipped = sealed.clone();
        flipped[h + 100] ^= 1;
        assert_eq!(
            MediaOpener::open_all(&k, "obj", &flipped),
            Err(CryptoError::Authentication)
        );
    }

    #[test]
    fn a_range_maps_to_the_chunks_that_hold_it() {
        let len = 3 * CHUNK as u64 + 10;
        let (first, last, r) = sealed_range(len, 0, 1);
        assert_eq!((first, last), (0, 0));
        assert_eq!(r, HEADER_LEN as u64..(HEADER_LEN + SEALED_CHUNK) as u64);
        let (first, last, r) = sealed_range(len, CHUNK as u64, len);
        assert_eq!((first, last), (1, 3));
        assert_eq!(r.end, sealed_len(len));
        let k = keys("t1");
        let plain: Vec<u8> = (0..len).map(|i| (i % 13) as u8).collect();
        let sealed = seal(&k, "o", &plain, 65536);
        let opener = MediaOpener::new(&k, "o", &sealed).unwrap();
        let (first, last, r) = sealed_range(len, 2 * CHUNK as u64 + 5, len);
        let part = &sealed[r.start as usize..r.end as usize];
        let mut got = Vec::new();
        for (i, c) in part.chunks(SEALED_CHUNK).enumerate() {
            let index = first + i as u64;
            got.extend_from_slice(&opener.open_chunk(index, index == 3, c).unwrap());
        }
        assert_eq!(last, 3);
        assert_eq!(got.as_slice(), &plain[2 * CHUNK..]);
    }
}
