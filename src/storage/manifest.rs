//! The manifest: an append-only log of [`VersionEdit`]s, so the live table
//! set survives restarts.
//!
//! ```text
//!   CURRENT            sealed, one record: the name of the live manifest,
//!                      a 0 byte, its header IV (16, BE) and key id (16)
//!   MANIFEST-000042    sealed (kind Manifest), records = encoded edits;
//!                      the first is a snapshot of the whole version
//! ```
//!
//! CURRENT names the manifest by its identity as well as its name, so an
//! older manifest copied under the live name is refused. The manifest in
//! turn records the identity of every table (version.rs) and of the oldest
//! live log segment, and the newest log segment that may hold commits;
//! the segments chain themselves (wal.rs).
//!
//! Every run that writes starts a new manifest (a snapshot, then edits)
//! and switches CURRENT to it atomically — at open if the log held
//! commits, else before the run's first write (`open.rs`) — so a manifest
//! is never appended to after a restart (which would reuse keystream) and
//! old manifests are deleted.
//! An edit is synced before anything acts on it, so a record torn by a
//! crash was never relied on and recovery may stop there.

use crate::crypto::KeyId;
use crate::error::{Error, Result};
use crate::vfs::{FileKind, SealedDir, SealedWriter};

use super::version::{Version, VersionEdit};

/// Name of the pointer file.
pub(crate) const CURRENT: &str = "CURRENT";

pub(crate) fn manifest_name(number: u64) -> String {
    format!("MANIFEST-{number:06}")
}

/// What recovery found.
pub(crate) struct Recovered {
    pub(crate) version: Version,
    pub(crate) log_number: u64,
    pub(crate) next_file: u64,
    pub(crate) last_seq: u64,
    /// IV of the segment `log_number` names (`None` before any segment).
    pub(crate) log_iv: Option<u128>,
    /// Newest log segment that may hold commits.
    pub(crate) newest_log: u64,
    /// Number of the live manifest.
    pub(crate) manifest_number: u64,
}

/// The payload of CURRENT: the manifest's name and identity.
pub(crate) fn encode_current(name: &str, iv: u128, key_id: KeyId) -> Vec<u8> {
    let mut out = name.as_bytes().to_vec();
    out.push(0);
    out.extend_from_slice(&iv.to_be_bytes());
    out.extend_from_slice(key_id.as_bytes());
    out
}

/// Parses CURRENT's payload: (manifest number, IV, key id).
pub(crate) fn decode_current(payload: &[u8]) -> Option<(u64, u128, KeyId)> {
    let nul = payload.iter().position(|&b| b == 0)?;
    let (name, rest) = (
        std::str::from_utf8(&payload[..nul]).ok()?,
        &payload[nul + 1..],
    );
    let digits = name.strip_prefix("MANIFEST-")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) || rest.len() != 32 {
        return None;
    }
    let number = digits.parse().ok()?;
    let iv = u128::from_be_bytes(rest[..16].try_into().ok()?);
    let key_id = KeyId::from_bytes(rest[16..].try_into().ok()?);
    Some((number, iv, key_id))
}

/// The manifest being appended to.
pub(crate) struct Manifest {
    w: SealedWriter,
}

impl Manifest {
    /// Starts manifest `number` with `snapshot`, makes it durable, and
    /// points CURRENT at it.
    /// On failure, says whether CURRENT may name the new manifest (the
    /// rename may have happened): if not, the new manifest is removed; if
    /// so, it stays, and so must every file it names.
    pub(crate) fn create(
        dir: &SealedDir,
        number: u64,
        snapshot: &VersionEdit,
    ) -> std::result::Result<Manifest, (Error, bool)> {
        let name = manifest_name(number);
        let made = (|| {
            let mut w = dir.create_file(&name, FileKind::Manifest)?;
            w.append_record(&snapshot.encode())?;
            w.sync()?;
            dir.vfs().sync_dir(dir.dir())?;
            Ok(w)
        })();
        let w = match made {
            Ok(w) => w,
            Err(e) => {
                super::remove_partial(dir, &name);
                return Err((e, false));
            }
        };
        let current = encode_current(&name, w.header().iv, w.header().key_id);
        match dir.write_atomic(CURRENT, FileKind::Manifest, &current) {
            Ok(()) => Ok(Manifest { w }),
            Err(e) => {
                let tmp = format!("{CURRENT}.tmp");
                let renamed = !dir.vfs().exists(&dir.dir().join(&tmp)).unwrap_or(true);
                if renamed {
                    Err((e, true))
                } else {
                    super::remove_partial(dir, &tmp);
                    super::remove_partial(dir, &name);
                    Err((e, false))
                }
            }
        }
    }

    /// Appends an edit and syncs it. On failure, says whether the edit
    /// may be on disk all the same: not if writing it failed (then at most
    /// a torn prefix of it is, which recovery ignores), maybe if only the
    /// fsync failed.
    pub(crate) fn append(&mut self, edit: &VersionEdit) -> std::result::Result<(), (Error, bool)> {
        self.w
            .append_record(&edit.encode())
            .and_then(|_| self.w.flush())
            .map_err(|e| (e, false))?;
        self.w.sync().map_err(|e| (e, true))
    }

    /// Reads CURRENT and replays the manifest it names. `Ok(None)` if there
    /// is no CURRENT (a new store). `names` are the directory's files.
    pub(crate) fn recover(dir: &SealedDir, names: &[String]) -> Result<Option<Recovered>> {
        let listed = |name: &str| names.iter().any(|n| n == name);
        if !listed(CURRENT) {
            return Ok(None);
        }
        let current = dir.read_single(CURRENT, FileKind::Manifest)?;
        let (number, iv, key_id) = decode_current(&current).ok_or_else(|| {
            Error::corruption(
                dir.dir().join(CURRENT),
                0,
                "CURRENT does not name a manifest",
            )
        })?;
        let name = manifest_name(number);
        if !listed(&name) {
            return Err(Error::corruption(
                dir.dir().join(&name),
                0,
                "the manifest CURRENT names is missing",
            ));
        }
        let reader = dir.open_file(&name, FileKind::Manifest)?;
        if reader.header().iv != iv || reader.header().key_id != key_id {
            return Err(Error::corruption(
                reader.path(),
                0,
                "not the manifest CURRENT names (another IV or key): an older manifest put in its place?",
            ));
        }
        let mut rec = Recovered {
            version: Version::new(),
            log_number: 0,
            next_file: number + 1,
            last_seq: 0,
            log_iv: None,
            newest_log: 0,
            manifest_number: number,
        };
        let mut any = false;
        for item in reader.records() {
            let (offset, payload) = match item {
                Ok(r) => r,
                // Lengths are authenticated, so this is an authentic edit
                // running past the physical end of the file: a torn final
                // edit, never synced, so never acted upon.
                Err(Error::Truncated { .. }) if any => break,
                Err(e) => return Err(e),
            };
            let edit = VersionEdit::decode(&payload).ok_or_else(|| {
                Error::corruption(reader.path(), offset, "malformed manifest edit")
            })?;
            rec.version = rec
                .version
                .apply(&edit)
                .map_err(|what| Error::corruption(reader.path(), offset, what))?;
            if let Some(n) = edit.log_number {
                rec.log_number = n;
                rec.log_iv = edit.log_iv;
            }
            if let Some(n) = edit.newest_log {
                rec.newest_log = rec.newest_log.max(n);
            }
            if let Some(n) = edit.next_file {
                rec.next_file = rec.next_file.max(n);
            }
            if let Some(s) = edit.last_seq {
                rec.last_seq = rec.last_seq.max(s);
            }
            any = true;
        }
        if !any {
            return Err(Error::corruption(
                reader.path(),
                0,
                "manifest has no records",
            ));
        }
        for (_, f) in rec.version.all_files() {
            rec.next_file = rec.next_file.max(f.number + 1);
        }
        Ok(Some(rec))
    }
}
