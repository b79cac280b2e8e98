//! The data-key registry: every data key the store has made, wrapped (the
//! registry file is encrypted) by the active store key.
//!
//! This module holds the registry's state, its byte encoding and its rotation
//! rules; `vfs::sealed_dir` stores it in the `KEYREGISTRY` file, atomically.
//!
//! Rules (modelled on CockroachDB's Encryption at Rest):
//! - the active data key has the size of the active store key;
//! - a new active data key is made when the rotation period has passed since
//!   the active one was made, when the store key changes, or when the cipher
//!   changes (a new key size);
//! - switching to plaintext makes "no key" active and marks every existing
//!   data key as *exposed*: from then on the registry, and so those keys, are
//!   stored unencrypted;
//! - old data keys are kept as long as some file may use them; only
//!   [`DataKeyRegistry::retain`] removes keys, given the set still in use;
//! - the registry remembers whether plaintext files may exist (the store was
//!   plaintext at some point and not every such file has been rewritten);
//!   while it says no, a file whose header claims "plaintext" is a forgery.
//!
//! Encoding (little-endian, inside one sealed record; version frozen at 1):
//!
//! ```text
//!   u32 version | u32 flags (bit 0: plaintext files may exist)
//!   | [16] store key id | [16] active data key id | u32 count
//!   count × ( [16] id | u8 cipher | u64 created (unix s) | [16] store key id
//!             | u8 flags (bit 0: exposed) | u8 len | len × key byte )
//! ```

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use zeroize::Zeroizing;

use super::keys::{Cipher, KeyBytes, KeyId};
use super::provider::ActiveStoreKey;
use super::FileKeys;
use crate::error::Result;

const VERSION: u32 = 1;

/// Public facts about one data key (never its bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataKeyInfo {
    /// The key's id (as written in file headers).
    pub id: KeyId,
    /// Its cipher.
    pub cipher: Cipher,
    /// When it was made (seconds since the Unix epoch).
    pub created_unix: u64,
    /// The store key that was active when it was made.
    pub store_key_id: KeyId,
    /// Whether it has ever been stored unencrypted (after a switch to
    /// plaintext): data under it should be considered readable by anyone
    /// who saw the disk since.
    pub exposed: bool,
}

struct Entry {
    info: DataKeyInfo,
    bytes: KeyBytes,
    keys: Arc<FileKeys>,
}

/// The set of data keys and which one is active.
pub struct DataKeyRegistry {
    store_key_id: KeyId,
    active: KeyId,
    plaintext_ok: bool,
    entries: BTreeMap<KeyId, Entry>,
}

impl DataKeyRegistry {
    /// An empty registry: plaintext, no keys. [`Self::reconcile`] makes the
    /// first data key.
    pub(crate) fn empty() -> Self {
        DataKeyRegistry {
            store_key_id: KeyId::PLAINTEXT,
            active: KeyId::PLAINTEXT,
            plaintext_ok: false,
            entries: BTreeMap::new(),
        }
    }

    /// Id of the store key that protects the registry (plaintext id if none).
    pub fn store_key_id(&self) -> KeyId {
        self.store_key_id
    }

    /// Id of the active data key (plaintext id if new files are unencrypted).
    pub fn active_id(&self) -> KeyId {
        self.active
    }

    /// Whether plaintext files may legitimately exist in the store.
    pub fn plaintext_files_allowed(&self) -> bool {
        self.plaintext_ok
    }

    /// Facts about every data key, oldest id order.
    pub fn keys(&self) -> Vec<DataKeyInfo> {
        let mut v: Vec<_> = self.entries.values().map(|e| e.info.clone()).collect();
        v.sort_by_key(|i| (i.created_unix, i.id));
        v
    }

    /// The working keys of the active data key, `None` for plaintext.
    pub(crate) fn active_keys(&self) -> Option<Arc<FileKeys>> {
        self.entries.get(&self.active).map(|e| e.keys.clone())
    }

    /// The working keys of data key `id`.
    pub(crate) fn keys_for(&self, id: &KeyId) -> Option<Arc<FileKeys>> {
        self.entries.get(id).map(|e| e.keys.clone())
    }

    /// Brings the registry in line with the provider's active store key and
    /// the rotation period. Returns whether anything changed (and so the
    /// registry must be written again, under the new store key).
    pub(crate) fn reconcile(
        &mut self,
        active: &ActiveStoreKey,
        now_unix: u64,
        period_secs: u64,
    ) -> Result<bool> {
        match active {
            ActiveStoreKey::Key(sk) => {
                let current = self.entries.get(&self.active).map(|e| &e.info);
                // A change of store key (including plaintext → encrypted)
                // always makes a new data key: keys that were stored under
                // another (or no) store key may be known to someone else.
                let rotate = match current {
                    None => true,
                    Some(_) if self.store_key_id != sk.id() => true,
                    Some(info) => {
                        info.store_key_id != sk.id()
                            || info.cipher != sk.cipher()
                            || now_unix >= info.created_unix.saturating_add(period_secs)
                    }
                };
                let changed = rotate || self.store_key_id != sk.id();
                if rotate {
                    let id = self.generate(sk.cipher(), sk.id(), now_unix)?;
                    self.active = id;
                }
                self.store_key_id = sk.id();
                Ok(changed)
            }
            ActiveStoreKey::DangerousPlaintext => {
                let mut changed = !self.store_key_id.is_plaintext()
                    || !self.active.is_plaintext()
                    || !self.plaintext_ok;
                self.plaintext_ok = true;
                for e in self.entries.values_mut() {
                    changed |= !e.info.exposed;
                    e.info.exposed = true;
                }
                self.store_key_id = KeyId::PLAINTEXT;
                self.active = KeyId::PLAINTEXT;
                Ok(changed)
            }
        }
    }

    fn generate(&mut self, cipher: Cipher, store_key_id: KeyId, now_unix: u64) -> Result<KeyId> {
        let bytes = KeyBytes::random(cipher.key_len())?;
        let id = KeyId::of_key(bytes.expose());
        let keys = Arc::new(FileKeys::derive(cipher, id, &bytes)?);
        let info = DataKeyInfo {
            id,
            cipher,
            created_unix: now_unix,
            store_key_id,
            exposed: false,
        };
        self.entries.insert(id, Entry { info, bytes, keys });
        Ok(id)
    }

    /// Drops data keys that no file uses any more (the active key is always
    /// kept). Returns whether any key was dropped.
    pub(crate) fn retain(&mut self, in_use: &HashSet<KeyId>) -> bool {
        let before = self.entries.len();
        let active = self.active;
        self.entries
            .retain(|id, _| *id == active || in_use.contains(id));
        before != self.entries.len()
    }

    /// The registry's bytes (secret: they hold the data keys).
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(44 + self.entries.len() * 80));
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&u32::from(self.plaintext_ok).to_le_bytes());
        out.extend_from_slice(self.store_key_id.as_bytes());
        out.extend_from_slice(self.active.as_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in self.entries.values() {
            out.extend_from_slice(e.info.id.as_bytes());
            out.push(e.info.cipher as u8);
            out.extend_from_slice(&e.info.created_unix.to_le_bytes());
            out.extend_from_slice(e.info.store_key_id.as_bytes());
            out.push(u8::from(e.info.exposed));
            out.push(e.bytes.len() as u8);
            out.extend_from_slice(e.bytes.expose());
        }
        out
    }

    /// Parses [`Self::encode`]'s output. The error says what is malformed.
    pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let version = r.u32()?;
        if version != VERSION {
            return Err(format!("unsupported key registry version {version}"));
        }
        let flags = r.u32()?;
        let store_key_id = r.id()?;
        let active = r.id()?;
        let count = r.u32()? as usize;
        let mut entries = BTreeMap::new();
        for _ in 0..count {
            let id = r.id()?;
            let cipher = Cipher::from_u8(r.u8()?).ok_or("unknown cipher in key registry")?;
            let created_unix = r.u64()?;
            let creator = r.id()?;
            let flags = r.u8()?;
            let len = r.u8()? as usize;
            let bytes = KeyBytes::from_slice(r.take(len)?);
            if KeyId::of_key(bytes.expose()) != id {
                return Err(format!("data key {id} does not match its id"));
            }
            let keys = Arc::new(FileKeys::derive(cipher, id, &bytes).map_err(|e| e.to_string())?);
            let info = DataKeyInfo {
                id,
                cipher,
                created_unix,
                store_key_id: creator,
                exposed: flags & 1 != 0,
            };
            if entries.insert(id, Entry { info, bytes, keys }).is_some() {
                return Err(format!("data key {id} appears twice"));
            }
        }
        if r.pos != bytes.len() {
            return Err("trailing bytes after the key registry".into());
        }
        if !active.is_plaintext() && !entries.contains_key(&active) {
            return Err(format!(
                "active data key {active} is missing from the registry"
            ));
        }
        Ok(DataKeyRegistry {
            store_key_id,
            active,
            plaintext_ok: flags & 1 != 0,
            entries,
        })
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| format!("key registry ends early at byte {}", self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> std::result::Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> std::result::Result<u32, String> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> std::result::Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn id(&mut self) -> std::result::Result<KeyId, String> {
        let mut a = [0u8; 16];
        a.copy_from_slice(self.take(16)?);
        Ok(KeyId::from_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::StoreKey;

    fn store_key(len: usize, fill: u8) -> ActiveStoreKey {
        ActiveStoreKey::Key(StoreKey::new(KeyBytes::from_slice(&vec![fill; len])).expect("key"))
    }

    #[test]
    fn rotation_rules() -> Result<()> {
        let mut r = DataKeyRegistry::empty();
        assert!(r.reconcile(&store_key(32, 1), 1000, 100)?);
        let first = r.active_id();
        assert_eq!(r.keys()[0].cipher, Cipher::Aes256Ctr);
        assert!(!r.reconcile(&store_key(32, 1), 1099, 100)?, "within period");
        assert_eq!(r.active_id(), first);
        assert!(r.reconcile(&store_key(32, 1), 1100, 100)?, "period passed");
        let second = r.active_id();
        assert_ne!(second, first);
        assert!(r.reconcile(&store_key(16, 2), 1101, 100)?, "new store key");
        assert_eq!(
            r.keys_for(&r.active_id()).map(|k| k.cipher()),
            Some(Cipher::Aes128Ctr)
        );
        assert_eq!(r.keys().len(), 3);
        assert!(r.reconcile(&ActiveStoreKey::DangerousPlaintext, 1102, 100)?);
        assert!(r.active_id().is_plaintext());
        assert!(r.keys().iter().all(|k| k.exposed));
        assert!(!r.reconcile(&ActiveStoreKey::DangerousPlaintext, 1103, 100)?);
        Ok(())
    }

    #[test]
    fn encode_decode_round_trip_and_rejects_damage() -> Result<()> {
        let mut r = DataKeyRegistry::empty();
        r.reconcile(&store_key(24, 1), 5, 10)?;
        r.reconcile(&store_key(24, 1), 50, 10)?;
        let bytes = r.encode();
        let back = DataKeyRegistry::decode(&bytes).expect("decode");
        assert_eq!(back.keys(), r.keys());
        assert_eq!(back.active_id(), r.active_id());
        assert_eq!(back.store_key_id(), r.store_key_id());
        for cut in 0..bytes.len() {
            assert!(
                DataKeyRegistry::decode(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut flipped = bytes.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(
            DataKeyRegistry::decode(&flipped).is_err(),
            "key bytes no longer match id"
        );
        Ok(())
    }
}
