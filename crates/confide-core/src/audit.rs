//! The audit chain (written next).
