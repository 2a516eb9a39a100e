//! The one place that reads randomness. Everything else takes an [`Entropy`].
//!
//! Production uses the operating system's CSPRNG ([`OsEntropy`]); tests may use [`SeededEntropy`],
//! a deterministic generator (SHA-256 in counter mode), to make ids and tokens reproducible.

use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// A source of random bytes.
pub trait Entropy: Send + Sync + std::fmt::Debug {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);

    fn array<const N: usize>(&self) -> [u8; N]
    where
        Self: Sized,
    {
        let mut out = [0u8; N];
        self.fill(&mut out);
        out
    }
}

/// Fills a fixed-size array from any (possibly unsized) entropy source.
pub fn random_array<const N: usize>(e: &dyn Entropy) -> [u8; N] {
    let mut out = [0u8; N];
    e.fill(&mut out);
    out
}

pub type SharedEntropy = Arc<dyn Entropy>;

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        // getrandom only fails when the OS has no entropy source at all; there is no safe way
        // to continue, and no input can cause it.
        if let Err(e) = getrandom::fill(buf) {
            #[allow(clippy::panic)]
            {
                panic!("the operating system's random source failed: {e}");
            }
        }
    }
}

/// Deterministic bytes from a seed, for tests and the simulator's scripted mode. Never for keys.
#[derive(Debug)]
pub struct SeededEntropy {
    state: Mutex<(u64, [u8; 32])>,
}

impl SeededEntropy {
    pub fn new(seed: u64) -> Self {
        let mut h = Sha256::new();
        h.update(b"confide-seeded-entropy");
        h.update(seed.to_le_bytes());
        Self {
            state: Mutex::new((0, h.finalize().into())),
        }
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, buf: &mut [u8]) {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        for chunk in buf.chunks_mut(32) {
            let (counter, key) = &mut *guard;
            let mut h = Sha256::new();
            h.update(*key);
            h.update(counter.to_le_bytes());
            *counter += 1;
            let block: [u8; 32] = h.finalize().into();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_reproducible_and_seed_dependent() {
        let a: [u8; 48] = SeededEntropy::new(7).array();
        let b: [u8; 48] = SeededEntropy::new(7).array();
        let c: [u8; 48] = SeededEntropy::new(8).array();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn os_entropy_is_not_constant() {
        let a: [u8; 32] = OsEntropy.array();
        let b: [u8; 32] = OsEntropy.array();
        assert_ne!(a, b);
    }
}
