//! Opening a backup: unlock its data key, authenticate its manifest,
//! follow the parent links of an incremental chain, and read a data file
//! while checking everything the manifest says about it.
//!
//! What each check catches (the error names the file):
//!
//! ```text
//!   INCOMPLETE present, or no BACKUP    an unfinished backup           Incomplete
//!   no wrap opens                       wrong passphrase or key        BackupKey (every wrap, why)
//!   BACKUP under another key            BACKUP-KEYS of another backup  Corruption
//!   BACKUP record MAC                   an edited manifest             Authentication
//!   a listed file is absent             a missing file                 Corruption "missing"
//!   header IV ≠ the listed one          files swapped or replaced      Corruption
//!   size                                a truncated or extended file   Truncated / Corruption
//!   record MACs                         an edited or moved record      Authentication
//!   digest of header and record tags    any change to its bytes        Corruption "digest"
//!     (version 1: SHA-256 of every byte, checked before the records)
//!   descriptor (backup, role, number)   a file copied from elsewhere   Corruption
//!   record count and payload bytes      records cut or added           Corruption
//!   parent id and manifest digest       a chain mixed up               Corruption
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::storage::INCOMPLETE_MARKER;
use crate::vfs::{slot_len, FileKind, ReadFile, SealedReader, Vfs, HEADER_LEN};

use super::manifest::{decode_descriptor, hex, FileDigest, FileEntry, Manifest, MANIFEST_FILE};
use super::wrap::{self, DataKey, WrapKind, KEYS_FILE};
use super::BackupKeys;

/// A backup whose key is unlocked and whose manifest is authenticated.
pub(crate) struct Opened {
    pub(crate) dir: PathBuf,
    pub(crate) manifest: Manifest,
    pub(crate) key: DataKey,
    pub(crate) wraps: Vec<WrapKind>,
    /// SHA-256 of the `BACKUP` file (what a child records of its parent).
    pub(crate) manifest_sha256: [u8; 32],
}

fn read_all(vfs: &dyn Vfs, path: &Path) -> Result<Vec<u8>> {
    let f = vfs.open(path)?;
    let mut buf = vec![0u8; f.len() as usize];
    f.read_exact_at(0, &mut buf)?;
    Ok(buf)
}

/// Opens the backup in `dir` with `keys`.
pub(crate) fn open(vfs: &dyn Vfs, dir: &Path, keys: &BackupKeys) -> Result<Opened> {
    if !vfs.exists(dir)? {
        return Err(Error::InvalidArgument {
            what: format!("there is no backup at {}", dir.display()),
        });
    }
    let names = vfs.list(dir)?;
    let has = |n: &str| names.iter().any(|x| x == n);
    if has(INCOMPLETE_MARKER) {
        return Err(Error::Incomplete {
            path: dir.to_path_buf(),
            what: format!(
                "it holds the {INCOMPLETE_MARKER} marker: the backup did not finish (interrupted, or the disk filled up); make it again"
            ),
        });
    }
    if !has(MANIFEST_FILE) {
        if names.is_empty() {
            return Err(Error::InvalidArgument {
                what: format!("{} is empty: there is no backup there", dir.display()),
            });
        }
        return Err(Error::Incomplete {
            path: dir.to_path_buf(),
            what: format!("it has no {MANIFEST_FILE} manifest: not a finished backup"),
        });
    }
    if !has(KEYS_FILE) {
        return Err(Error::corruption(
            dir.join(KEYS_FILE),
            0,
            "missing: the backup's key wraps are gone",
        ));
    }
    let wraps = wrap::decode(&read_all(vfs, &dir.join(KEYS_FILE))?, &dir.join(KEYS_FILE))?;
    let (key, wrapped_for) = wrap::unlock(&wraps, keys, dir)?;
    let path = dir.join(MANIFEST_FILE);
    let bytes = read_all(vfs, &path)?;
    let manifest_sha256: [u8; 32] = Sha256::digest(&bytes).into();
    let file: Arc<dyn ReadFile> = Arc::new(Bytes(bytes));
    let reader = SealedReader::open(file, path.clone(), FileKind::Backup, |h| {
        if h.key_id != key.id() {
            return Err(Error::corruption(
                dir.join(KEYS_FILE),
                0,
                format!(
                    "the key wraps unlock key {} but {MANIFEST_FILE} is under key {}: {KEYS_FILE} belongs to another backup",
                    key.id(),
                    h.key_id
                ),
            ));
        }
        Ok(Some(key.keys()))
    })?;
    let (payload, next) = reader
        .read_record(0)?
        .ok_or_else(|| Error::corruption(&path, HEADER_LEN, "the manifest has no record"))?;
    if next != reader.body_len() {
        return Err(Error::corruption(
            &path,
            HEADER_LEN + next,
            "unexpected bytes after the manifest",
        ));
    }
    let manifest = Manifest::decode(&payload)
        .ok_or_else(|| Error::corruption(&path, HEADER_LEN, "malformed backup manifest"))?;
    if manifest.id != wrapped_for {
        return Err(Error::corruption(
            dir.join(KEYS_FILE),
            0,
            "the key wraps were made for another backup",
        ));
    }
    Ok(Opened {
        dir: dir.to_path_buf(),
        manifest,
        key,
        wraps: wraps.into_iter().map(|w| w.kind).collect(),
        manifest_sha256,
    })
}

/// The chain ending in `newest`: newest first, every parent link checked
/// (id and manifest digest). A parent is looked for where it was when the
/// child was made, then beside the child (a moved collection).
pub(crate) fn chain(vfs: &dyn Vfs, newest: Opened, keys: &BackupKeys) -> Result<Vec<Opened>> {
    let mut out = vec![newest];
    let mut seen = HashSet::new();
    while let Some(last) = out.last() {
        seen.insert(last.manifest.id);
        let Some(link) = last.manifest.parent.clone() else {
            break;
        };
        if seen.contains(&link.id) {
            return Err(Error::corruption(
                last.dir.join(MANIFEST_FILE),
                0,
                "the chain of parents loops",
            ));
        }
        let recorded = PathBuf::from(&link.location);
        let mut candidates = vec![recorded.clone()];
        if let (Some(name), Some(beside)) = (recorded.file_name(), last.dir.parent()) {
            let b = beside.join(name);
            if b != recorded {
                candidates.push(b);
            }
        }
        let mut found = None;
        for c in &candidates {
            if !vfs.exists(&c.join(MANIFEST_FILE))? {
                continue;
            }
            let p = open(vfs, c, keys)?;
            if p.manifest.id != link.id || p.manifest_sha256 != link.manifest_sha256 {
                return Err(Error::corruption(
                    c.join(MANIFEST_FILE),
                    0,
                    format!(
                        "not the parent backup {} was made from (it expects backup {} with manifest digest {})",
                        last.dir.display(),
                        hex(&link.id),
                        hex(&link.manifest_sha256)
                    ),
                ));
            }
            found = Some(p);
            break;
        }
        let Some(p) = found else {
            return Err(Error::corruption(
                last.dir.join(MANIFEST_FILE),
                0,
                format!(
                    "its parent backup {} is not at {}; an incremental backup needs its whole chain",
                    hex(&link.id),
                    candidates
                        .iter()
                        .map(|c| c.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        };
        out.push(p);
    }
    Ok(out)
}

/// Reads data file `entry` of backup `b`, checking it against the manifest
/// (see the module doc), and hands every payload after the descriptor to
/// `each`. One buffer serves every record. Returns the number of payload
/// bytes.
pub(crate) fn read_file(
    vfs: &dyn Vfs,
    b: &Opened,
    entry: &FileEntry,
    mut each: impl FnMut(&[u8]) -> Result<()>,
) -> Result<u64> {
    let mut slot = Vec::new();
    read_file_in_place(vfs, b, entry, |len, read| {
        slot.resize(slot_len(len), 0);
        read(&mut slot)?;
        each(&slot[..len])
    })
}

/// [`read_file`] where the caller says where each record goes: `each`
/// gets the payload length `len` and a function that reads the record
/// into a slot of [`slot_len`]`(len)` bytes, authenticated, decrypted and
/// checked (the slot [`crate::vfs::SealedWriter::append_record_in_place`]
/// hands out, so a restore copies each record once). `each` must call
/// it exactly once.
pub(crate) fn read_file_in_place(
    vfs: &dyn Vfs,
    b: &Opened,
    entry: &FileEntry,
    mut each: impl FnMut(usize, &mut dyn FnMut(&mut [u8]) -> Result<()>) -> Result<()>,
) -> Result<u64> {
    let path = b.dir.join(&entry.name);
    if !vfs.exists(&path)? {
        return Err(Error::corruption(&path, 0, "missing from the backup"));
    }
    let file = vfs.open_immutable(&path)?;
    // The header first: another file under this name (swapped, or copied
    // from elsewhere) is named as such, whatever its size.
    let mut header = [0u8; HEADER_LEN as usize];
    if file.len() >= HEADER_LEN {
        file.read_exact_at(0, &mut header)?;
        if let Ok(h) = crate::vfs::FileHeader::decode(&header, &path) {
            if h.iv != entry.iv {
                return Err(Error::corruption(
                    &path,
                    32,
                    "not the file the manifest lists (files swapped or replaced)",
                ));
            }
        }
    }
    if file.len() != entry.size {
        if file.len() < entry.size {
            return Err(Error::Truncated {
                file: path,
                offset: file.len(),
                needed: entry.size,
                len: file.len(),
            });
        }
        return Err(Error::corruption(
            &path,
            entry.size,
            format!(
                "the file is {} bytes, the manifest says {}",
                file.len(),
                entry.size
            ),
        ));
    }
    let digest_mismatch = || {
        Error::corruption(
            &path,
            0,
            "digest mismatch: the file was altered or replaced",
        )
    };
    if b.manifest.file_digest == FileDigest::WholeFile && sha256_of(&*file)? != entry.sha256 {
        return Err(digest_mismatch());
    }
    let reader = SealedReader::open(file, path.clone(), FileKind::Backup, |h| {
        if h.key_id != b.key.id() || !h.cipher.is_encrypted() {
            return Err(Error::corruption(
                &path,
                16,
                "not a file of this backup (another key)",
            ));
        }
        if h.iv != entry.iv {
            return Err(Error::corruption(
                &path,
                32,
                "not the file the manifest lists (files swapped or replaced)",
            ));
        }
        Ok(Some(b.key.keys()))
    })?;
    // Version 2's digest: the header, then each record's tag (verified
    // by the reader before the record is handed on).
    let mut digest = Sha256::new();
    digest.update(header);
    let Some((descriptor, mut at, tag)) = reader.read_record_tagged(0)? else {
        return Err(Error::corruption(
            &path,
            HEADER_LEN,
            "the file has no records",
        ));
    };
    digest.update(tag);
    if decode_descriptor(&descriptor) != Some((b.manifest.id, entry.role, entry.number)) {
        return Err(Error::corruption(
            &path,
            HEADER_LEN,
            format!(
                "its descriptor does not say {:?} {} of backup {}",
                entry.role,
                entry.number,
                hex(&b.manifest.id)
            ),
        ));
    }
    let (mut count, mut bytes) = (0u64, 0u64);
    while let Some(head) = reader.read_head(at)? {
        let len = head.payload_len();
        let mut read = None;
        each(len, &mut |slot| {
            read = Some(reader.read_body(&head, slot)?);
            Ok(())
        })?;
        let r = read.ok_or_else(|| Error::Poisoned {
            reason: format!(
                "a record of {} was not read by its consumer",
                path.display()
            ),
        })?;
        digest.update(r.tag);
        at = r.next;
        count += 1;
        bytes += len as u64;
    }
    if b.manifest.file_digest == FileDigest::RecordTags
        && <[u8; 32]>::from(digest.finalize()) != entry.sha256
    {
        return Err(digest_mismatch());
    }
    if count != entry.records || bytes != entry.payload_bytes {
        return Err(Error::corruption(
            &path,
            0,
            format!(
                "holds {count} records of {bytes} bytes, the manifest says {} of {}",
                entry.records, entry.payload_bytes
            ),
        ));
    }
    Ok(bytes)
}

fn sha256_of(f: &dyn ReadFile) -> Result<[u8; 32]> {
    if let Some(s) = f.as_slice() {
        return Ok(Sha256::digest(s).into());
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < f.len() {
        let n = ((f.len() - at) as usize).min(buf.len());
        f.read_exact_at(at, &mut buf[..n])?;
        h.update(&buf[..n]);
        at += n as u64;
    }
    Ok(h.finalize().into())
}

/// A file already read into memory.
struct Bytes(Vec<u8>);

impl ReadFile for Bytes {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start
            .checked_add(buf.len())
            .and_then(|e| self.0.get(start..e))
        {
            Some(s) => {
                buf.copy_from_slice(s);
                Ok(())
            }
            None => Err(Error::Truncated {
                file: MANIFEST_FILE.into(),
                offset,
                needed: buf.len() as u64,
                len: self.0.len() as u64,
            }),
        }
    }
    fn as_slice(&self) -> Option<&[u8]> {
        Some(&self.0)
    }
}
