//! The identity of a key: 16 bytes derived from the key bytes with SHA-256.
//!
//! It lives at the bottom of the crate, beside [`crate::error`], because
//! error messages name keys (a missing store key, an unknown data key) and
//! everything above, [`crate::crypto`] included, reports errors. Ids are not
//! secret: they name a key in file headers and in error messages, and are a
//! function of the key bytes, so the same key always has the same id.

use std::fmt;

use sha2::{Digest, Sha256};

/// Identity of a key: 16 bytes derived from the key bytes with SHA-256,
/// shown as 32 hex digits. All zeros means "no key" (plaintext).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct KeyId([u8; 16]);

impl KeyId {
    /// The id of "no key" (plaintext files).
    pub const PLAINTEXT: KeyId = KeyId([0; 16]);

    /// Derives the id of a key from its bytes.
    pub fn of_key(bytes: &[u8]) -> KeyId {
        let mut h = Sha256::new();
        h.update(b"sealdb key id v1\0");
        h.update(bytes);
        let d = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&d[..16]);
        // Reserve all-zero for plaintext; a real key hashing to it is a
        // 2^-128 event, but make it impossible rather than unlikely.
        if id == [0; 16] {
            id[15] = 1;
        }
        KeyId(id)
    }

    /// Builds an id from its 16 raw bytes (as stored in file headers).
    pub fn from_bytes(bytes: [u8; 16]) -> KeyId {
        KeyId(bytes)
    }

    /// The 16 raw bytes of the id.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Whether this is the plaintext id.
    pub fn is_plaintext(&self) -> bool {
        self.0 == [0; 16]
    }

    /// Parses the 32-hex-digit form.
    pub fn parse_hex(s: &str) -> Option<KeyId> {
        let s = s.trim().as_bytes();
        if s.len() != 32 {
            return None;
        }
        let mut id = [0u8; 16];
        for (i, pair) in s.chunks_exact(2).enumerate() {
            let hex = std::str::from_utf8(pair).ok()?;
            id[i] = u8::from_str_radix(hex, 16).ok()?;
        }
        Some(KeyId(id))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_plaintext() {
            return f.write_str("plaintext");
        }
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}
