//! A sealed directory: the files of one store and the key registry that
//! unlocks them.
//!
//! [`SealedDir`] is what upper layers use to make and read files: it picks
//! the active data key for new files, finds the right data key for old ones,
//! keeps the `KEYREGISTRY` file current, rotates data keys, and reports the
//! encryption status.
//!
//! The registry file is replaced atomically:
//!
//! ```text
//!   KEYREGISTRY.tmp  ──write, fsync──►  rename over KEYREGISTRY  ──►  fsync dir
//! ```
//!
//! and a new data key is used for a file only after the registry holding it
//! is durable, so a crash can never leave a file whose key is lost. If the
//! registry is missing while sealed files exist, opening fails rather than
//! starting a new registry that could not read them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;

use crate::crypto::{
    ActiveStoreKey, Cipher, DataKeyInfo, DataKeyRegistry, FileKeys, KeyId, KeyProvider,
};
use crate::error::{Error, Result};

use super::sealed::{FileHeader, FileKind, SealedReader, SealedWriter, HEADER_LEN};
use super::{key_derivation_file, Vfs};

/// Name of the key registry file.
pub const REGISTRY_FILE: &str = "KEYREGISTRY";

/// Names of audit log segments start with this (`AUDIT-000001.log`); the
/// store keeps their data keys.
pub const AUDIT_FILE_PREFIX: &str = "AUDIT-";
const REGISTRY_TMP: &str = "KEYREGISTRY.tmp";

/// Seconds since the Unix epoch, from whatever clock the caller trusts.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Key-management settings of a store.
#[derive(Clone)]
pub struct KeyOptions {
    /// How long a data key stays active before a new one is made (default
    /// 7 days). Checked on open and whenever [`SealedDir::maybe_rotate`] runs.
    pub rotation_period: Duration,
    /// The clock used for rotation (default: the system clock).
    pub clock: Clock,
    /// Allows opening an unencrypted store with an encryption key, which
    /// encrypts it from then on (default `false`: such an open fails with
    /// [`Error::PlaintextStore`], because an attacker who replaced the key
    /// registry with a plaintext one would otherwise pick the data keys).
    pub migrate_from_plaintext: bool,
}

impl Default for KeyOptions {
    fn default() -> Self {
        KeyOptions {
            rotation_period: Duration::from_secs(7 * 24 * 3600),
            clock: Arc::new(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            }),
            migrate_from_plaintext: false,
        }
    }
}

/// One file in an encryption status report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStatus {
    /// File name within the store directory.
    pub name: String,
    /// What the file is for.
    pub kind: FileKind,
    /// Its cipher.
    pub cipher: Cipher,
    /// The data key it is encrypted under (plaintext id if none).
    pub key_id: KeyId,
    /// Size on disk in bytes.
    pub size: u64,
}

/// Which keys protect what (DESIGN.md: "an encryption status report").
#[derive(Clone, Debug)]
pub struct EncryptionStatus {
    /// The store key protecting the key registry (plaintext id if none).
    pub store_key_id: KeyId,
    /// The data key new files are written under (plaintext id if none).
    pub active_data_key_id: KeyId,
    /// The cipher of new files.
    pub active_cipher: Cipher,
    /// Every data key in the registry.
    pub data_keys: Vec<DataKeyInfo>,
    /// Every file reported, by name.
    pub files: Vec<FileStatus>,
}

impl EncryptionStatus {
    /// Total bytes of the reported files.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Bytes of the reported files that are under the active data key.
    pub fn active_bytes(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| f.key_id == self.active_data_key_id)
            .map(|f| f.size)
            .sum()
    }

    /// Share (0.0 – 1.0) of bytes under the active data key; 1.0 when there
    /// are no files.
    pub fn active_share(&self) -> f64 {
        let total = self.total_bytes();
        if total == 0 {
            1.0
        } else {
            self.active_bytes() as f64 / total as f64
        }
    }
}

/// A directory of sealed files and its key registry.
pub struct SealedDir {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    provider: Arc<dyn KeyProvider>,
    registry: RwLock<DataKeyRegistry>,
    options: KeyOptions,
    /// Opened with [`SealedDir::open_read_only`]: every change is refused.
    read_only: bool,
}

impl SealedDir {
    /// Opens (or creates) the sealed directory `dir`: reads the key registry
    /// with the provider's keys, rotates data keys if due, and makes the
    /// registry durable under the active store key.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        dir: impl Into<PathBuf>,
        provider: Arc<dyn KeyProvider>,
        options: KeyOptions,
    ) -> Result<SealedDir> {
        SealedDir::open_in(vfs, dir.into(), provider, options, None)
    }

    /// [`SealedDir::open`] of a directory that exists and whose file names
    /// are `names` (the store's open lists it under its lock, so nothing
    /// else changes it): the names answer which files exist, where each
    /// answer was a system call.
    pub(crate) fn open_listed(
        vfs: Arc<dyn Vfs>,
        dir: PathBuf,
        provider: Arc<dyn KeyProvider>,
        options: KeyOptions,
        names: &[String],
    ) -> Result<SealedDir> {
        SealedDir::open_in(vfs, dir, provider, options, Some(names))
    }

    fn open_in(
        vfs: Arc<dyn Vfs>,
        dir: PathBuf,
        provider: Arc<dyn KeyProvider>,
        options: KeyOptions,
        listed: Option<&[String]>,
    ) -> Result<SealedDir> {
        let exists = |name: &str| -> Result<bool> {
            match listed {
                Some(names) => Ok(names.iter().any(|n| n == name)),
                None => vfs.exists(&dir.join(name)),
            }
        };
        if listed.is_none() {
            vfs.create_dir_all(&dir)?;
        }
        // A passphrase provider first derives its keys with the store's
        // salt (or a new one, kept once the registry is known to open).
        let stored_kdf = if exists(key_derivation_file::KEY_DERIVATION_FILE)? {
            key_derivation_file::read_present(&*vfs, &dir)?
        } else {
            None
        };
        let new_kdf = provider
            .key_derivation(stored_kdf.as_ref())?
            .filter(|h| Some(h) != stored_kdf.as_ref());
        let reg_path = dir.join(REGISTRY_FILE);
        // Nothing below writes the registry before `fresh` is decided.
        let fresh = !exists(REGISTRY_FILE)?;
        let registry = if !fresh {
            let reg = read_registry(&*vfs, &reg_path, &*provider)?;
            let wants_key = matches!(provider.active_key()?, ActiveStoreKey::Key(_));
            if reg.store_key_id().is_plaintext() && wants_key && !options.migrate_from_plaintext {
                return Err(Error::PlaintextStore { path: dir });
            }
            reg
        } else {
            let sealed: Vec<String> = vfs
                .list(&dir)?
                .into_iter()
                .filter(|n| n != REGISTRY_TMP && read_header(&*vfs, &dir.join(n)).is_ok())
                .collect();
            if let Some(first) = sealed.first() {
                return Err(Error::corruption(
                    reg_path,
                    0,
                    format!(
                        "the key registry is missing, but {} sealed file(s) exist (e.g. {first}); restore it from a backup",
                        sealed.len()
                    ),
                ));
            }
            DataKeyRegistry::empty()
        };
        if let Some(h) = &new_kdf {
            key_derivation_file::write(&*vfs, &dir, h)?;
        }
        let me = SealedDir {
            vfs,
            dir,
            provider,
            registry: RwLock::new(registry),
            options,
            read_only: false,
        };
        let changed = me.maybe_rotate_inner()?;
        if fresh && !changed {
            me.write_registry(&me.registry.read())?;
        }
        Ok(me)
    }

    /// Opens the sealed directory `dir` for reading only: reads the key
    /// registry with the provider's keys and writes nothing (no rotation,
    /// no rewrite under a new store key). A missing registry is
    /// [`Error::NotAStore`]. Files may be read; creating one fails.
    pub fn open_read_only(
        vfs: Arc<dyn Vfs>,
        dir: impl Into<PathBuf>,
        provider: Arc<dyn KeyProvider>,
        options: KeyOptions,
    ) -> Result<SealedDir> {
        let dir = dir.into();
        let reg_path = dir.join(REGISTRY_FILE);
        if !vfs.exists(&reg_path)? {
            return Err(Error::NotAStore { path: dir });
        }
        let registry = read_registry(&*vfs, &reg_path, &*provider)?;
        let wants_key = matches!(provider.active_key()?, ActiveStoreKey::Key(_));
        if registry.store_key_id().is_plaintext() && wants_key && !options.migrate_from_plaintext {
            return Err(Error::PlaintextStore { path: dir });
        }
        Ok(SealedDir {
            vfs,
            dir,
            provider,
            registry: RwLock::new(registry),
            options,
            read_only: true,
        })
    }

    /// Whether it was opened with [`SealedDir::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn check_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file system underneath.
    pub fn vfs(&self) -> &Arc<dyn Vfs> {
        &self.vfs
    }

    /// The key provider the store key comes from (a checkpoint opens its
    /// copy with it; a backup wraps its own key with the store key).
    pub fn key_provider(&self) -> &Arc<dyn KeyProvider> {
        &self.provider
    }

    /// The key-management settings the directory was opened with.
    pub fn key_options(&self) -> &KeyOptions {
        &self.options
    }

    /// Asks the provider for the active store key again and applies the
    /// rotation rules. Returns whether a new data key became active.
    pub fn maybe_rotate(&self) -> Result<bool> {
        self.check_writable()?;
        let before = self.registry.read().active_id();
        self.maybe_rotate_inner()?;
        Ok(self.registry.read().active_id() != before)
    }

    fn maybe_rotate_inner(&self) -> Result<bool> {
        let active = self.provider.active_key()?;
        let now = (self.options.clock)();
        let mut reg = self.registry.write();
        // Work on a copy so a failed write leaves the registry as on disk.
        let mut next = DataKeyRegistry::decode(&reg.encode())
            .map_err(|what| Error::corruption(self.dir.join(REGISTRY_FILE), 0, what))?;
        let changed = next.reconcile(&active, now, self.options.rotation_period.as_secs())?;
        if changed {
            self.write_registry_with(&next, &active)?;
            *reg = next;
        }
        Ok(changed)
    }

    fn write_registry(&self, reg: &DataKeyRegistry) -> Result<()> {
        let active = self.provider.active_key()?;
        self.write_registry_with(reg, &active)
    }

    fn write_registry_with(&self, reg: &DataKeyRegistry, active: &ActiveStoreKey) -> Result<()> {
        let keys = match active {
            ActiveStoreKey::Key(sk) => Some(Arc::new(FileKeys::derive(
                sk.cipher(),
                sk.id(),
                sk.bytes(),
            )?)),
            ActiveStoreKey::DangerousPlaintext => None,
        };
        let payload = reg.encode();
        self.write_atomic_with(
            REGISTRY_FILE,
            REGISTRY_TMP,
            FileKind::KeyRegistry,
            keys,
            &payload,
        )
    }

    /// Replaces file `name` with one holding `payload` as a single record,
    /// atomically and durably (temp file, fsync, rename, directory fsync).
    pub fn write_atomic(&self, name: &str, kind: FileKind, payload: &[u8]) -> Result<()> {
        let tmp = format!("{name}.tmp");
        let keys = self.registry.read().active_keys();
        self.write_atomic_with(name, &tmp, kind, keys, payload)
    }

    fn write_atomic_with(
        &self,
        name: &str,
        tmp: &str,
        kind: FileKind,
        keys: Option<Arc<FileKeys>>,
        payload: &[u8],
    ) -> Result<()> {
        self.check_writable()?;
        let tmp_path = self.dir.join(tmp);
        if self.vfs.exists(&tmp_path)? {
            self.vfs.remove(&tmp_path)?;
        }
        let file = self.vfs.create(&tmp_path)?;
        let mut w = SealedWriter::create(file, tmp_path.clone(), kind, keys)?;
        w.append_record(payload)?;
        w.sync()?;
        drop(w);
        self.vfs.rename(&tmp_path, &self.dir.join(name))?;
        self.vfs.sync_dir(&self.dir)
    }

    /// Reads a file written by [`Self::write_atomic`]: its single record.
    pub fn read_single(&self, name: &str, kind: FileKind) -> Result<Vec<u8>> {
        let r = self.open_file(name, kind)?;
        read_single_record(&r)
    }

    /// Creates the new file `name` under the active data key.
    pub fn create_file(&self, name: &str, kind: FileKind) -> Result<SealedWriter> {
        self.check_writable()?;
        let path = self.dir.join(name);
        let keys = self.registry.read().active_keys();
        let file = self.vfs.create(&path)?;
        SealedWriter::create(file, path, kind, keys)
    }

    /// Opens the existing file `name`, which must be of `kind`.
    pub fn open_file(&self, name: &str, kind: FileKind) -> Result<SealedReader> {
        let path = self.dir.join(name);
        let file = self.vfs.open(&path)?;
        SealedReader::open(file, path.clone(), kind, |h| self.keys_for(h, &path))
    }

    /// Like [`Self::open_file`], for files that will not change again
    /// (memory-mapped where the file system allows).
    pub fn open_immutable(&self, name: &str, kind: FileKind) -> Result<SealedReader> {
        let path = self.dir.join(name);
        let file = self.vfs.open_immutable(&path)?;
        SealedReader::open(file, path.clone(), kind, |h| self.keys_for(h, &path))
    }

    fn keys_for(&self, h: &FileHeader, path: &Path) -> Result<Option<Arc<FileKeys>>> {
        if !h.cipher.is_encrypted() {
            // A plaintext file in a store that never had any is a forgery:
            // it carries no MAC, so nothing else would catch it.
            if !self.registry.read().plaintext_files_allowed() {
                return Err(Error::Authentication {
                    file: path.to_path_buf(),
                    offset: 0,
                });
            }
            return Ok(None);
        }
        self.registry
            .read()
            .keys_for(&h.key_id)
            .map(Some)
            .ok_or_else(|| Error::DataKeyUnknown {
                key_id: h.key_id,
                file: path.to_path_buf(),
            })
    }

    /// The header of file `name` (cheap: reads 64 bytes).
    pub fn file_header(&self, name: &str) -> Result<FileHeader> {
        read_header(&*self.vfs, &self.dir.join(name))
    }

    /// Encryption status of every sealed file in the directory for which
    /// `include(name)` holds (the storage layer passes its live-file set).
    /// The key registry itself is never listed: it is under the store key.
    pub fn encryption_status(&self, include: impl Fn(&str) -> bool) -> Result<EncryptionStatus> {
        let mut files = Vec::new();
        for name in self.vfs.list(&self.dir)? {
            if name == REGISTRY_FILE || name.ends_with(".tmp") || !include(&name) {
                continue;
            }
            let path = self.dir.join(&name);
            let Ok(h) = read_header(&*self.vfs, &path) else {
                continue;
            };
            let size = self.vfs.open(&path)?.len();
            files.push(FileStatus {
                name,
                kind: h.kind,
                cipher: h.cipher,
                key_id: h.key_id,
                size,
            });
        }
        let reg = self.registry.read();
        let active_cipher = reg.active_keys().map_or(Cipher::Plaintext, |k| k.cipher());
        Ok(EncryptionStatus {
            store_key_id: reg.store_key_id(),
            active_data_key_id: reg.active_id(),
            active_cipher,
            data_keys: reg.keys(),
            files,
        })
    }

    /// Forgets data keys that no file in `in_use` needs any more, so that an
    /// old (possibly leaked) key stops being stored at all. Pass the key ids
    /// of every live file.
    pub fn retain_data_keys(&self, in_use: &HashSet<KeyId>) -> Result<bool> {
        self.check_writable()?;
        let mut reg = self.registry.write();
        let mut next = DataKeyRegistry::decode(&reg.encode())
            .map_err(|what| Error::corruption(self.dir.join(REGISTRY_FILE), 0, what))?;
        if !next.retain(in_use) {
            return Ok(false);
        }
        self.write_registry(&next)?;
        *reg = next;
        Ok(true)
    }

    /// Id of the active data key (plaintext id if none).
    pub fn active_data_key(&self) -> KeyId {
        self.registry.read().active_id()
    }

    /// Id of the store key that wraps the data keys (plaintext id if none).
    pub fn store_key_id(&self) -> KeyId {
        self.registry.read().store_key_id()
    }
}

fn read_header(vfs: &dyn Vfs, path: &Path) -> Result<FileHeader> {
    let f = vfs.open(path)?;
    let mut h = [0u8; HEADER_LEN as usize];
    if f.len() < HEADER_LEN {
        return Err(Error::Truncated {
            file: path.to_path_buf(),
            offset: 0,
            needed: HEADER_LEN,
            len: f.len(),
        });
    }
    f.read_exact_at(0, &mut h)?;
    FileHeader::decode(&h, path)
}

fn read_single_record(r: &SealedReader) -> Result<Vec<u8>> {
    let (payload, next) = r
        .read_record(0)?
        .ok_or_else(|| Error::corruption(r.path(), HEADER_LEN, "file has no record"))?;
    if next != r.body_len() {
        return Err(Error::corruption(
            r.path(),
            HEADER_LEN + next,
            "unexpected bytes after the record",
        ));
    }
    Ok(payload)
}

fn read_registry(
    vfs: &dyn Vfs,
    path: &Path,
    provider: &dyn KeyProvider,
) -> Result<DataKeyRegistry> {
    let file = vfs.open(path)?;
    let reader = SealedReader::open(file, path.to_path_buf(), FileKind::KeyRegistry, |h| {
        if !h.cipher.is_encrypted() {
            return Ok(None);
        }
        let key = match provider.active_key()? {
            ActiveStoreKey::Key(k) if k.id() == h.key_id => k,
            _ => provider
                .key_by_id(&h.key_id)?
                .ok_or(Error::KeyUnavailable { key_id: h.key_id })?,
        };
        if key.cipher() != h.cipher {
            return Err(Error::KeyUnavailable { key_id: h.key_id });
        }
        Ok(Some(Arc::new(FileKeys::derive(
            key.cipher(),
            key.id(),
            key.bytes(),
        )?)))
    })?;
    let payload = zeroize::Zeroizing::new(read_single_record(&reader)?);
    let reg = DataKeyRegistry::decode(&payload)
        .map_err(|what| Error::corruption(path, HEADER_LEN, what))?;
    // A genuine plaintext registry has no active data key and every key in
    // it is marked exposed; anything else was written by someone else.
    if reader.header().key_id.is_plaintext()
        && (!reg.active_id().is_plaintext() || reg.keys().iter().any(|k| !k.exposed))
    {
        return Err(Error::Authentication {
            file: path.to_path_buf(),
            offset: 0,
        });
    }
    if reg.store_key_id() != reader.header().key_id {
        return Err(Error::corruption(
            path,
            HEADER_LEN,
            "key registry names a different store key than its header",
        ));
    }
    Ok(reg)
}
